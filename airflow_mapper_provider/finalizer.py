"""The finalize job (no Airflow here): reconcile planned chunks with the ledger, write the job log."""

from __future__ import annotations

import logging
from typing import Any

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.exceptions import ChunkFailedError
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, RunSummary, decode_value, encode_value
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.state.checkpoint import CheckpointStore, RunLock

log = logging.getLogger(__name__)


def finalize_run(cfg: MapperConfig, run_id: str, chunks: list[dict[str, Any]] | None, target: Session) -> RunSummary:
    """Write the run's job log row (and move the checkpoint when every chunk succeeded), in one transaction;
    raise :class:`ChunkFailedError` after writing it if any chunk failed.

    :param chunks: the plan's ChunkSpec dicts (None when the plan itself failed).
    """
    tables = MapperTables(cfg.meta_schema)
    if lock := target.dialect.ddl_lock_sql():
        target.query(lock)
    tables.ensure(target)  # the plan may have failed before creating them
    ledger = ChunkLedger(tables, cfg.mapref)
    planned = [ChunkSpec.from_dict(c).index for c in chunks] if chunks is not None else []
    results = ledger.results(target, run_id) if chunks is not None else []
    summary = RunSummary.from_results(planned, results)
    message = ""
    owner = RunLock(tables, cfg.mapref).holds(target, run_id)
    if chunks is None:
        summary.status, message = "failed", "plan did not complete: see the plan task's log"
    elif summary.failed_chunks:
        message = f"chunk(s) not finished: {_ranges(summary.failed_chunks)}"
    elif owner != run_id:
        summary.status, message = "failed", f"run {owner!r} owns {cfg.mapref} now: the checkpoint was not moved"
    store = CheckpointStore(tables, cfg.mapref)
    _, before = store.read(target)
    after = _checkpoint_after(cfg, results, before) if summary.status == "success" else None
    if after is not None:
        store.write(target, _checkpoint_name(cfg), after, run_id)
    summary.checkpoint_after = (after or before or {}).get("v")
    ledger.finish_run(target, run_id, summary, message)
    target.commit()
    log.info(
        "run %s of %s: %s; chunks %d/%d; read=%d inserted=%d updated=%d expired=%d unchanged=%d deleted=%d "
        "rejected=%d; checkpoint %s -> %s",
        run_id, cfg.mapref, summary.status, summary.chunks_succeeded, summary.chunks_planned, summary.rows_read,
        summary.rows_inserted, summary.rows_updated, summary.rows_expired, summary.rows_unchanged,
        summary.rows_deleted, summary.rows_rejected, before and before["v"], summary.checkpoint_after,
    )  # fmt: skip
    if summary.status != "success":
        raise ChunkFailedError(
            f"{cfg.mapref} run {run_id}: {message}; the job log says 'failed' and the checkpoint did not move. "
            "Clear the failed tasks to resume: committed chunks are not loaded again"
        )
    return summary


def _checkpoint_name(cfg: MapperConfig) -> str:
    return cfg.checkpoint_column or ",".join(cfg.key_columns) or "rows"


def _checkpoint_after(
    cfg: MapperConfig, results: list[ChunkResult], before: dict[str, str] | None
) -> dict[str, str] | None:
    """KEY: the largest value any chunk read (never below the stored one); PYTHON: the chunk's position."""
    marks = [r.checkpoint for r in results if r.status == "success" and r.checkpoint]
    if cfg.checkpoint_mode == "PYTHON":
        return marks[0] if marks else None
    if cfg.checkpoint_mode != "KEY" or not marks:
        return None
    values = [decode_value(m) for m in marks] + ([decode_value(before)] if before else [])
    return encode_value(max(values))


def _ranges(indexes: list[int]) -> str:
    """Compact text of chunk indexes, e.g. '0-3, 7'."""
    parts, start = [], None
    for i, n in enumerate(indexes):
        if start is None:
            start = n
        if i + 1 == len(indexes) or indexes[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)
