"""Job log and chunk ledger rows: written in the transaction whose work they record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.models import COUNTERS, ChunkResult, RunSummary
from airflow_mapper_provider.state.tables import CHUNKLOG_COLUMNS, JOBLOG_COLUMNS, MapperTables


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
    def lookup(self, sess: Session, run_id: str, index: int) -> ChunkResult | None:
        """The recorded successful result of chunk ``index`` in ``run_id``, if any."""
        rows = self._select_chunks(sess, run_id, "AND chunk_index = {p} AND status = 'success'", {"i": index})
        return rows[0] if rows else None

    def results(self, sess: Session, run_id: str) -> list[ChunkResult]:
        return self._select_chunks(sess, run_id, "", {})

    def record_chunk(self, sess: Session, run_id: str, result: ChunkResult, started: dt.datetime, msg: str = "") -> None:
        """Upsert the chunk's ledger row (delete + insert; caller's transaction)."""
        values: dict[str, Any] = {
            "mapref": self.mapref, "run_id": run_id, "chunk_index": result.index,
            "lower_bound": result.lower, "upper_bound": result.upper, "status": result.status,
            "attempt": result.attempt, "started_at": started, "finished_at": utcnow(),
            "seconds_read": result.seconds_read, "seconds_apply": result.seconds_apply,
            "path": result.path, "message": msg[:2000],
            **{name: getattr(result, name) for name in COUNTERS},
        }  # fmt: skip
        self._upsert(sess, self.tables.chunklog, CHUNKLOG_COLUMNS, values, ("mapref", "run_id", "chunk_index"))

    def _select_chunks(self, sess: Session, run_id: str, extra: str, params: dict[str, Any]) -> list[ChunkResult]:
        d = sess.dialect
        names = ["chunk_index", "status", "lower_bound", "upper_bound", "attempt", *COUNTERS,
                 "seconds_read", "seconds_apply", "path"]  # fmt: skip
        sql = (
            f"SELECT {d.cols(names)} FROM {d.table(self.tables.chunklog)} "
            f"WHERE mapref = {d.param('m')} AND run_id = {d.param('r')} {extra.format(p=d.param('i'))} "
            "ORDER BY chunk_index"
        )
        out = []
        for row in sess.query(sql, {"m": self.mapref, "r": run_id, **params}):
            data = dict(zip(names, row, strict=True))
            data["index"] = data.pop("chunk_index")
            data["lower"], data["upper"] = data.pop("lower_bound") or "", data.pop("upper_bound") or ""
            out.append(ChunkResult.from_dict({k: v for k, v in data.items() if v is not None}))
        return out

    # ---- job log ----------------------------------------------------------------------------------------
    def start_run(self, sess: Session, run_id: str, strategy: str, table: str, planned: int) -> None:
        values = {
            "mapref": self.mapref, "run_id": run_id, "status": "running", "chunks_planned": planned,
            "chunks_succeeded": 0, "started_at": utcnow(), "load_strategy": strategy, "target_table": table,
            **{name: 0 for name in COUNTERS},
        }  # fmt: skip
        self._upsert(sess, self.tables.joblog, JOBLOG_COLUMNS, values, ("mapref", "run_id"))

    def finish_run(self, sess: Session, run_id: str, summary: RunSummary, message: str = "") -> None:
        d = sess.dialect
        values: dict[str, Any] = {
            "status": summary.status, "chunks_planned": summary.chunks_planned,
            "chunks_succeeded": summary.chunks_succeeded, "finished_at": utcnow(), "message": message[:2000],
            **{name: getattr(summary, name) for name in COUNTERS},
        }  # fmt: skip
        sets = ", ".join(f"{d.quote(k)} = {d.param(k)}" for k in values)
        sql = (
            f"UPDATE {d.table(self.tables.joblog)} SET {sets} "
            f"WHERE mapref = {d.param('m')} AND run_id = {d.param('r')}"
        )
        if sess.execute(sql, {**values, "m": self.mapref, "r": run_id}) == 0:
            started = {"mapref": self.mapref, "run_id": run_id, "started_at": None, **values}
            self._upsert(sess, self.tables.joblog, JOBLOG_COLUMNS, started, ("mapref", "run_id"))

    def job_row(self, sess: Session, run_id: str) -> dict[str, Any] | None:
        d = sess.dialect
        names = [n for n, _ in JOBLOG_COLUMNS]
        sql = (
            f"SELECT {d.cols(names)} FROM {d.table(self.tables.joblog)} "
            f"WHERE mapref = {d.param('m')} AND run_id = {d.param('r')}"
        )
        rows = sess.query(sql, {"m": self.mapref, "r": run_id})
        return dict(zip(names, rows[0], strict=True)) if rows else None

    @staticmethod
    def _upsert(sess: Session, table: Any, layout: Any, values: dict[str, Any], key: tuple[str, ...]) -> None:
        d = sess.dialect
        where = " AND ".join(f"{d.quote(k)} = {d.param(k)}" for k in key)
        sess.execute(f"DELETE FROM {d.table(table)} WHERE {where}", {k: values[k] for k in key})
        names = [n for n, _ in layout if n in values]
        placeholders = ", ".join(d.param(n) for n in names)
        sess.execute(f"INSERT INTO {d.table(table)} ({d.cols(names)}) VALUES ({placeholders})", values)
