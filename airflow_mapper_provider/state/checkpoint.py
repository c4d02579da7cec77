"""The high-water mark (``mapper_checkpoint``) and the run lock (``mapper_lock``) of a mapref.

The checkpoint is written by finalize in the transaction that closes the job log, only when every chunk
succeeded. The lock row names the run that owns the mapref: plan takes it (when its owner has finished), chunks
and finalize check they still own it, under ``FOR SHARE`` on PostgreSQL so a competing plan waits for them.
"""

from __future__ import annotations

from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.exceptions import MapperError
from airflow_mapper_provider.state.ledger import _replace, utcnow
from airflow_mapper_provider.state.tables import MapperTables

#: Job log states of a run that will write nothing more (an abandoned run's rows were taken over by a later run).
FINISHED = ("success", "failed", "abandoned")


class RunLockedError(MapperError):
    """Another run of the same mapref owns it: runs of one mapref never overlap."""


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
    """Which run owns a mapref. :param status_of: run_id -> job log status (None when unknown)."""

    def __init__(self, tables: MapperTables, mapref: str) -> None:
        self.tables = tables
        self.mapref = mapref

    def announce(self, sess: Session, run_id: str) -> None:
        """Say, for as long as ``sess`` is open, that a task of ``run_id`` is executing (a shared session lock
        where the database has one): a later run does not take over a run with a live task."""
        d = sess.dialect
        if sql := d.alive_lock_sql():
            sess.query(sql, {"alive": self._alive_key(run_id)})

    def alive(self, sess: Session, run_id: str) -> bool:
        """Does a task of ``run_id`` execute now? (False where the database cannot tell: then only the row locks
        of in-flight chunk transactions, which :meth:`take` waits for, protect a live run.)"""
        d, key = sess.dialect, {"alive": self._alive_key(run_id)}
        probe = d.alive_probe_sql()
        if not probe:
            return False
        if not sess.scalar(probe, key):
            return True
        sess.query(d.alive_release_sql(), key)
        return False

    def take(self, sess: Session, run_id: str, status_of: Any) -> str | None:
        """Own the mapref for ``run_id`` (plan). Another run owning it that has not finished blocks, unless no
        task of it executes: then it is taken over and its id returned, as is the id of a failed owner (the caller
        accounts for their committed chunks); None when the mapref was free, succeeded or already ours."""
        d = sess.dialect
        if serialize := d.mapref_lock_sql():  # two plans must not both find no owner and both insert
            sess.query(serialize, {"mapref": self.mapref})
        sql = d.select_sql(self.tables.lock, ["run_id", "acquired_at"], ["mapref"]) + d.for_update()
        found = sess.query(sql, {"mapref": self.mapref})
        values = {"mapref": self.mapref, "run_id": run_id, "acquired_at": utcnow()}
        taken = None
        if found and found[0][0] != run_id:
            owner, since = found[0]
            status = status_of(owner)
            taken = owner if status == "failed" else None  # its committed chunks may still need accounting for
            if status not in FINISHED and status is not None:
                if self.alive(sess, owner):
                    raise RunLockedError(
                        f"run {owner!r} of {self.mapref} owns this mapref since {since}, its job log says "
                        f"{status!r} and a task of it is executing: runs of one mapref never overlap. Wait for it "
                        "to finish (or stop it); once none of its tasks runs, a new run takes over its unfinished "
                        "work by itself"
                    )
                taken = owner
        if not found or found[0][0] != run_id:
            _replace(sess, self.tables.lock, values, ("mapref",))
        return taken

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
                f"run {run_id!r} no longer owns {self.mapref}: run {owner!r} took it over after this run failed; "
                "this run's remaining chunks cannot be resumed"
            )
