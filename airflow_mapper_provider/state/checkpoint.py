"""The high-water mark (``mapper_checkpoint``) and the run lock (``mapper_lock``) of a mapref.

The checkpoint is written by finalize in the transaction that closes the job log, only when every chunk
succeeded. The lock row names the run that owns the mapref (and where its tasks are in Airflow): plan takes it
when its owner has finished or is dead, chunks and finalize check they still own it, under ``FOR SHARE`` on
PostgreSQL so a competing plan waits for them. A plan that finds a live owner raises :class:`RunLockedError`;
the plan operator then waits for it (reschedule) up to ``lock_timeout``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.errors import PERMANENT, DbError, classify
from airflow_mapper_provider.exceptions import RunLockedError
from airflow_mapper_provider.state.ledger import _replace, utcnow
from airflow_mapper_provider.state.tables import MapperTables

_NOT_A_LOCK = DbError(None, PERMANENT, "", "")

#: Job log states of a run that will write nothing more (an abandoned run's rows were taken over by a later run).
FINISHED = ("success", "failed", "abandoned")


@dataclass(frozen=True)
class LockOwner:
    """The run owning a mapref, as its lock row and job log tell (``dag_id``/``task_group`` None: written by an
    earlier version, or by a caller outside Airflow)."""

    run_id: str
    since: Any
    status: str | None
    dag_id: str | None = None
    task_group: str | None = None


#: Decides whether an unfinished owner still lives: ``judge(owner, executing)`` with ``executing`` True when a
#: task of it holds its session lock, False when none does, None when the database cannot tell. Returns None when
#: the owner is dead (taken over), else why it is live.
Judge = Callable[[LockOwner, "bool | None"], "str | None"]


def executing_only(owner: LockOwner, executing: bool | None) -> str | None:
    """The judge without Airflow: live only while a task of it executes (unknown counts as dead)."""
    return "a task of it is executing" if executing else None


class CheckpointStore:
    """Read and write the stored checkpoint of one mapref (values encoded as ``{"t": type, "v": text}``)."""

    def __init__(self, tables: MapperTables, mapref: str) -> None:
        self.tables = tables
        self.mapref = mapref

    def read(self, sess: Session) -> tuple[str | None, dict[str, str] | None]:
        """(checkpoint column, encoded value) or (None, None) before the first successful run."""
        sql = sess.dialect.select_sql(self.tables.checkpoint, ["checkpoint_column", "value", "value_type"], ["mapref"])
        found = sess.query(sql, {"mapref": self.mapref})
        if not found or found[0][1] is None:
            return None, None
        column, value, value_type = found[0]
        return column, {"t": value_type, "v": value}

    def write(self, sess: Session, column: str, value: dict[str, str], run_id: str) -> None:
        row = {"mapref": self.mapref, "checkpoint_column": column, "value": value["v"], "value_type": value["t"],
               "run_id": run_id, "updated_at": utcnow()}  # fmt: skip
        _replace(sess, self.tables.checkpoint, row, ("mapref",))


class RunLock:
    """Which run owns a mapref.

    :param owner_dag_id: / :param owner_task_group: where this process's run has its tasks in Airflow (written
        into the lock row it takes, so that a waiting run can ask Airflow about them).
    """

    def __init__(
        self, tables: MapperTables, mapref: str, owner_dag_id: str | None = None, owner_task_group: str | None = None
    ) -> None:
        self.tables = tables
        self.mapref = mapref
        self.dag_id = owner_dag_id
        self.task_group = owner_task_group

    def announce(self, sess: Session, run_id: str) -> None:
        """Say, for as long as ``sess`` is open, that a task of ``run_id`` is executing (a shared session lock
        where the database has one): a later run does not take over a run with a live task."""
        d = sess.dialect
        if sql := d.alive_lock_sql():
            sess.query(sql, {"alive": self._alive_key(run_id)})

    def executing(self, sess: Session, run_id: str) -> bool | None:
        """Does a task of ``run_id`` execute now? None where the database cannot tell (no session locks)."""
        d, key = sess.dialect, {"alive": self._alive_key(run_id)}
        probe = d.alive_probe_sql()
        if not probe:
            return None
        if not sess.scalar(probe, key):
            return True
        sess.query(d.alive_release_sql(), key)
        return False

    def take(self, sess: Session, run_id: str, status_of: Any, judge: Judge = executing_only) -> str | None:
        """Own the mapref for ``run_id`` (plan). Another unfinished run owning it blocks (:class:`RunLockedError`)
        unless ``judge`` finds it dead: then it is taken over and its id returned, as is the id of a failed owner
        (the caller accounts for their committed chunks); None when the mapref was free, succeeded or already ours.
        """
        d = sess.dialect
        if serialize := d.mapref_lock_sql(self.tables.lock):  # two plans must not both find no owner and both insert
            sess.query(serialize, {"mapref": self.mapref})
        cols = ["run_id", "acquired_at", "dag_id", "task_group"]
        select = d.select_sql(self.tables.lock, cols, ["mapref"])
        found = sess.query(select, {"mapref": self.mapref})
        if found and found[0][0] != run_id:  # wait for no chunk transaction of the owner: a live owner blocks
            owner = LockOwner(found[0][0], found[0][1], status_of(found[0][0]), found[0][2], found[0][3])
            try:
                found = sess.query(select + d.for_update_nowait(), {"mapref": self.mapref})
            except Exception as exc:
                if (classify(exc) or _NOT_A_LOCK).code not in d.lock_not_available:
                    raise
                raise RunLockedError(owner, "a chunk transaction of it is in flight", self.mapref) from None
        values = {"mapref": self.mapref, "run_id": run_id, "acquired_at": utcnow(), "dag_id": self.dag_id,
                  "task_group": self.task_group}  # fmt: skip
        taken = None
        if found and found[0][0] != run_id:
            owner = LockOwner(found[0][0], found[0][1], status_of(found[0][0]), found[0][2], found[0][3])
            taken = owner.run_id if owner.status == "failed" else None  # its committed chunks may need accounting
            if owner.status not in FINISHED and owner.status is not None:
                why = judge(owner, self.executing(sess, owner.run_id))
                if why is not None:
                    raise RunLockedError(owner, why, self.mapref)
                taken = owner.run_id
        if not found or found[0][0] != run_id:
            self._write_owner(sess, values, first=not found)
        return taken

    def _write_owner(self, sess: Session, values: dict[str, Any], first: bool) -> None:
        try:
            _replace(sess, self.tables.lock, values, ("mapref",))
        except Exception as exc:  # a database without a mapref lock: another plan inserted the first row too
            if not first or (classify(exc) or _NOT_A_LOCK).code not in sess.dialect.unique_violation:
                raise
            sess.rollback()
            raise RunLockedError(LockOwner("another plan", utcnow(), "planning"), "it took the mapref at the "
                                 "same moment; this plan waits and looks again", self.mapref) from None  # fmt: skip

    def _alive_key(self, run_id: str) -> str:
        return f"airflow_mapper_provider.alive:{self.mapref}:{run_id}"

    def holds(self, sess: Session, run_id: str) -> str | None:
        """The owning run id (locked FOR SHARE until the caller's transaction ends); None if nobody owns it."""
        d = sess.dialect
        sql = d.select_sql(self.tables.lock, ["run_id"], ["mapref"]) + d.for_share()
        found = sess.query(sql, {"mapref": self.mapref})
        return found[0][0] if found else None

    def check(self, sess: Session, run_id: str) -> None:
        """Fail unless ``run_id`` owns the mapref (chunks and finalize, before they write)."""
        owner = self.holds(sess, run_id)
        if owner != run_id:
            raise RunLockedError(
                None,
                f"run {run_id!r} no longer owns {self.mapref}: run {owner!r} took it over after this run failed; "
                "this run's remaining chunks cannot be resumed",
                self.mapref,
            )
