"""Job log and chunk ledger rows: written in the transaction whose work they record."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import COUNTERS, ChunkResult, RunSummary
from airflow_mapper_provider.progress import chunk_estimate
from airflow_mapper_provider.state.tables import (
    JOBLOG_COLUMNS,
    MapperTables,
)

_CHUNK_FIELDS = ("chunk_index", "status", "lower_bound", "upper_bound", "attempt", *COUNTERS,
                 "seconds_read", "seconds_apply", "path", "checkpoint_max")  # fmt: skip


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ChunkLedger:
    """Reads and writes ``mapper_chunklog`` and ``mapper_joblog`` for one mapref.

    :param tables: where the mapper tables live.
    :param mapref: the job identity.
    """

    def __init__(self, tables: MapperTables, mapref: str) -> None:
        self.tables = tables
        self.mapref = mapref

    # ---- chunk ledger -----------------------------------------------------------------------------------
    def lookup(self, sess: Session, run_id: str, index: int, lower: str, upper: str) -> ChunkResult | None:
        """The recorded successful result of chunk ``index`` (with these bounds) in ``run_id``, if any."""
        where = {"run_id": run_id, "chunk_index": index, "status": "success", "lower_bound": lower,
                 "upper_bound": upper}  # fmt: skip
        found = self._chunks(sess, where)
        return found[0] if found else None

    def results(self, sess: Session, run_id: str) -> list[ChunkResult]:
        """Every ledger row of the run, by chunk index."""
        return self._chunks(sess, {"run_id": run_id})

    def record_chunk(
        self, sess: Session, run_id: str, result: ChunkResult, started: dt.datetime, msg: str = ""
    ) -> None:
        """Upsert the chunk's ledger row (caller's transaction)."""
        values: dict[str, Any] = {
            "mapref": self.mapref, "run_id": run_id, "chunk_index": result.index,
            "lower_bound": result.lower, "upper_bound": result.upper, "status": result.status,
            "attempt": result.attempt, "started_at": started, "finished_at": utcnow(),
            "seconds_read": result.seconds_read, "seconds_apply": result.seconds_apply,
            "path": result.path, "message": msg[:2000],
            "checkpoint_max": json.dumps(result.checkpoint) if result.checkpoint else None,
            **{name: getattr(result, name) for name in COUNTERS},
        }  # fmt: skip
        _replace(sess, self.tables.chunklog, values, ("mapref", "run_id", "chunk_index"))

    def _chunks(self, sess: Session, where: dict[str, Any]) -> list[ChunkResult]:
        where = {"mapref": self.mapref, **where}
        sql = sess.dialect.select_sql(self.tables.chunklog, _CHUNK_FIELDS, list(where), order_by="chunk_index")
        out = []
        for row in sess.query(sql, where):
            data = {k: v for k, v in zip(_CHUNK_FIELDS, row, strict=True) if v is not None}
            data["index"] = data.pop("chunk_index")
            data["lower"], data["upper"] = data.pop("lower_bound", ""), data.pop("upper_bound", "")
            if "checkpoint_max" in data:
                data["checkpoint"] = json.loads(data.pop("checkpoint_max"))
            out.append(ChunkResult.from_dict(data))
        return out

    # ---- job log ----------------------------------------------------------------------------------------
    def start_run(
        self,
        sess: Session,
        run_id: str,
        strategy: str,
        table: str,
        plan: list[dict[str, Any]],
        checkpoint_before: dict[str, str] | None = None,
    ) -> None:
        """The run's job log row, status 'running', holding the frozen plan (replaces an earlier try's row)."""
        values = {
            "checkpoint_before": checkpoint_before["v"] if checkpoint_before else None,
            "mapref": self.mapref, "run_id": run_id, "status": "running", "chunks_planned": len(plan),
            "chunks_succeeded": 0, "started_at": utcnow(), "load_strategy": strategy, "target_table": table,
            "plan_json": json.dumps(plan, separators=(",", ":")), **{name: 0 for name in COUNTERS},
            "rows_estimated": sum(chunk_estimate(c) for c in plan), "chunks_done": 0, "chunks_running": 0,
            "rows_so_far": 0,
        }  # fmt: skip
        _replace(sess, self.tables.joblog, values, ("mapref", "run_id"))

    def claim_run(self, sess: Session, run_id: str, strategy: str, table: str) -> None:
        """Say 'running' for ``run_id`` from the moment it takes the run lock (caller's transaction): the lock row
        commits before the plan is frozen, and a lock row whose run has no job log row would not block another
        plan. An earlier try's row keeps its frozen plan (only its status changes)."""
        key = {"w_mapref": self.mapref, "w_run_id": run_id}
        sql = sess.dialect.update_sql(self.tables.joblog, ["status"], ["mapref", "run_id"])
        if sess.execute(sql, {"status": "running", **key}) == 0:
            values = {"mapref": self.mapref, "run_id": run_id, "status": "running", "chunks_planned": 0,
                      "chunks_succeeded": 0, "started_at": utcnow(), "load_strategy": strategy, "target_table": table,
                      **{name: 0 for name in COUNTERS}}  # fmt: skip
            sess.execute(sess.dialect.insert_sql(self.tables.joblog, list(values)), values)

    def plan_of(self, sess: Session, run_id: str) -> list[dict[str, Any]] | None:
        """The chunk dicts the run's plan froze (None if its plan never finished)."""
        sql = sess.dialect.select_sql(self.tables.joblog, ["plan_json"], ["mapref", "run_id"])
        found = sess.query(sql, {"mapref": self.mapref, "run_id": run_id})
        return list(json.loads(found[0][0])) if found and found[0][0] else None

    def latest_plan(self, sess: Session, tries: int = 5) -> list[dict[str, Any]] | None:
        """The chunk dicts of the mapref's most recently started run that has a plan (None if none; only the
        ``tries`` latest runs are looked at, runs whose plan failed have none)."""
        sql = sess.dialect.select_sql(self.tables.joblog, ["run_id"], ["mapref"], order_by="started_at")
        runs = [r[0] for r in sess.query(sql, {"mapref": self.mapref})]
        for run_id in reversed(runs[-tries:]):
            plan = self.plan_of(sess, run_id)
            if plan:
                return plan
        return None

    def frozen_plan(self, sess: Session, run_id: str) -> list[dict[str, Any]] | None:
        """The plan an earlier try of this run froze, if any of its chunks already committed (else None)."""
        if not self._chunks(sess, {"run_id": run_id, "status": "success"}):
            return None
        plan = self.plan_of(sess, run_id)
        if plan is None:
            return None
        sess.execute(sess.dialect.update_sql(self.tables.joblog, ["status"], ["mapref", "run_id"]),
                     {"status": "running", "w_mapref": self.mapref, "w_run_id": run_id})  # fmt: skip
        return plan

    def finish_run(
        self,
        sess: Session,
        run_id: str,
        summary: RunSummary,
        message: str = "",
        started_at: dt.datetime | None = None,
    ) -> None:
        """Close the run's job log row with the reconciled totals (creates it if plan never wrote it).

        :param started_at: when the run started (the DAG run's start, an aware datetime), written only when this
            creates the row (the plan failed before writing it); default: now. A row the plan wrote keeps its start.
        """
        values: dict[str, Any] = {
            "checkpoint_after": summary.checkpoint_after,
            "status": summary.status, "chunks_planned": summary.chunks_planned,
            "chunks_succeeded": summary.chunks_succeeded, "finished_at": utcnow(), "message": message[:2000],
            **{name: getattr(summary, name) for name in COUNTERS},
            # the live progress columns end with the run's totals: nothing runs any more
            "chunks_done": summary.chunks_succeeded, "chunks_running": 0, "rows_so_far": summary.rows_read,
            "rows_per_s": None, "eta_seconds": None,
        }  # fmt: skip
        sql = sess.dialect.update_sql(self.tables.joblog, list(values), ["mapref", "run_id"])
        if sess.execute(sql, {**values, "w_mapref": self.mapref, "w_run_id": run_id}) == 0:
            started = values["finished_at"] if started_at is None else started_at.astimezone(dt.timezone.utc)
            row = {"mapref": self.mapref, "run_id": run_id, "started_at": started, **values}
            _replace(sess, self.tables.joblog, row, ("mapref", "run_id"))

    def job_row(self, sess: Session, run_id: str) -> dict[str, Any] | None:
        """The run's job log row as a dict."""
        names = [n for n, _ in JOBLOG_COLUMNS]
        sql = sess.dialect.select_sql(self.tables.joblog, names, ["mapref", "run_id"])
        found = sess.query(sql, {"mapref": self.mapref, "run_id": run_id})
        return dict(zip(names, found[0], strict=True)) if found else None


def _replace(sess: Session, table: TableName, values: dict[str, Any], key: Sequence[str]) -> None:
    """Delete + insert by primary key, inside the caller's transaction."""
    sess.execute(sess.dialect.delete_sql(table, key), {k: values[k] for k in key})
    names = list(values)
    sess.execute(sess.dialect.insert_sql(table, names), {n: values[n] for n in names})
