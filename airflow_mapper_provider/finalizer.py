"""The finalize job (no Airflow here): reconcile planned chunks with the ledger, write the job log."""

from __future__ import annotations

import logging
from typing import Any

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.exceptions import ChunkFailedError
from airflow_mapper_provider.models import ChunkSpec, RunSummary
from airflow_mapper_provider.state import ChunkLedger, MapperTables

log = logging.getLogger(__name__)


def finalize_run(
    cfg: MapperConfig,
    run_id: str,
    chunks: list[dict[str, Any]] | None,
    target: Session,
    started_seconds: float = 0,
) -> RunSummary:
    """Write the run's job log row; raise :class:`ChunkFailedError` (after writing it) if any chunk failed.

    :param chunks: the plan's ChunkSpec dicts (None when the plan itself failed).
    """
    tables = MapperTables(cfg.meta_schema)
    tables.ensure(target)  # the plan may have failed before creating them
    ledger = ChunkLedger(tables, cfg.mapref)
    planned = [ChunkSpec.from_dict(c).index for c in chunks] if chunks is not None else []
    results = ledger.results(target, run_id) if chunks is not None else []
    summary = RunSummary.from_results(planned, results)
    message = ""
    if chunks is None:
        summary.status, message = "failed", "plan did not complete: see the plan task's log"
    elif summary.failed_chunks:
        message = f"chunk(s) not finished: {_ranges(summary.failed_chunks)}"
    ledger.finish_run(target, run_id, summary, message)
    target.commit()
    log.info(
        "run %s of %s: %s; chunks %d/%d; read=%d inserted=%d updated=%d expired=%d unchanged=%d rejected=%d",
        run_id, cfg.mapref, summary.status, summary.chunks_succeeded, summary.chunks_planned, summary.rows_read,
        summary.rows_inserted, summary.rows_updated, summary.rows_expired, summary.rows_unchanged,
        summary.rows_rejected,
    )  # fmt: skip
    if summary.status != "success":
        raise ChunkFailedError(
            f"{cfg.mapref} run {run_id}: {message}; the job log says 'failed'. Clear the failed tasks to resume: "
            "committed chunks are not loaded again"
        )
    return summary


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
