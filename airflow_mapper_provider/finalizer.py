"""The finalize job (no Airflow here): reconcile planned chunks with the ledger, write the job log."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.exceptions import ChunkFailedError, DeleteGuardError
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, RunSummary, decode_value, encode_value
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.state.checkpoint import CheckpointStore, RunLock
from airflow_mapper_provider.strategies.deletes import SeenKeys

log = logging.getLogger(__name__)


def finalize_run(
    cfg: MapperConfig,
    run_id: str,
    chunks: list[dict[str, Any]] | None,
    target: Session,
    started_at: dt.datetime | None = None,
) -> RunSummary:
    """:func:`finalize` of the plan as XCom carries it (ChunkSpec dicts; None when the plan itself failed)."""
    specs = None if chunks is None else [ChunkSpec.from_dict(c) for c in chunks]
    return finalize(cfg, run_id, specs, target, started_at)


def finalize(
    cfg: MapperConfig,
    run_id: str,
    specs: list[ChunkSpec] | None,
    target: Session,
    started_at: dt.datetime | None = None,
) -> RunSummary:
    """Write the run's job log row (apply detect_deletes and move the checkpoint when every chunk succeeded), in
    one transaction; raise :class:`ChunkFailedError` after writing it if any chunk failed.

    :param specs: the plan's chunks (None when the plan itself failed).
    :param started_at: the DAG run's start: the job log's started_at when the plan failed before writing the row.
    """
    tables = MapperTables(cfg.meta_schema)
    if specs is None:  # the plan failed, maybe before creating them (a plan that returned created them)
        _ensure_tables(target, tables)
    ledger, lock = ChunkLedger(tables, cfg.mapref), RunLock(tables, cfg.mapref)
    lock.announce(target, run_id)
    if (ledger.job_row(target, run_id) or {}).get("status") == "abandoned":  # a later run did its work
        target.rollback()
        log.info("run %s of %s was taken over by a later run: its job log stays 'abandoned'", run_id, cfg.mapref)
        return RunSummary("abandoned", 0, 0)
    planned = specs or []
    results = ledger.results(target, run_id) if specs is not None else []
    summary = RunSummary.from_results([s.index for s in planned], results)
    message = ""
    owner = lock.holds(target, run_id)
    if specs is None:
        summary.status, message = "failed", "plan did not complete: see the plan task's log"
    elif summary.failed_chunks:
        message = f"chunk(s) not finished: {_ranges(summary.failed_chunks)}"
    elif owner != run_id:
        summary.status, message = "failed", f"run {owner!r} owns {cfg.mapref} now: the checkpoint was not moved"
    inherited = [r for rid in (planned[0].inherits if planned else []) for r in ledger.results(target, rid)]
    inherited = [r for r in inherited if r.status == "success"]
    if summary.status == "success" and planned and planned[0].detect_deletes and not planned[0].target_empty:
        read = summary.rows_read + sum(r.rows_read for r in inherited)
        try:
            summary.rows_deleted = _apply_deletes(cfg, target, planned[0], run_id, read)
        except DeleteGuardError as exc:
            summary.status, message = "failed", str(exc)
    store = CheckpointStore(tables, cfg.mapref)
    _, before = store.read(target)
    after = _checkpoint_after(cfg, [*results, *inherited], before) if summary.status == "success" else None
    if after is not None:
        store.write(target, _checkpoint_name(cfg), after, run_id)
    summary.checkpoint_after = (after or before or {}).get("v")
    ledger.finish_run(target, run_id, summary, joblog_message(message, specs), started_at=started_at)
    target.commit()
    _log_summary(cfg, run_id, summary, before)
    if summary.status != "success":
        fix = (
            "Clear the failed tasks to resume: committed chunks are not loaded again"
            if summary.failed_chunks or specs is None
            else "Once the cause is fixed, clear finalize to run it again"
        )
        raise ChunkFailedError(
            f"{cfg.mapref} run {run_id}: {message}; the job log says 'failed' and the checkpoint did not move. {fix}"
        )
    return summary


def _ensure_tables(target: Session, tables: MapperTables) -> None:
    if ddl_lock := target.dialect.ddl_lock_sql():
        target.query(ddl_lock)
    tables.ensure(target)


def joblog_message(message: str, specs: list[ChunkSpec] | None) -> str:
    """The job log's message: why the run failed (if it did), then the schema changes the plan made or decided
    (``schema_changes`` of the first chunk; plans made before it existed have none)."""
    changes = list(specs[0].schema_changes) if specs else []
    schema = f"schema: {'; '.join(str(c) for c in changes)}" if changes else ""
    return "; ".join(part for part in (message, schema) if part)


def _apply_deletes(cfg: MapperConfig, target: Session, spec: ChunkSpec, run_id: str, rows_read: int) -> int:
    """detect_deletes, once every chunk succeeded: delete (scd1) or close (scd2) the target keys no chunk of the
    run (or of the runs it took over) saw, unless the delete guard refuses; returns the rows deleted or closed."""
    seen = SeenKeys(target.dialect, cfg.table, cfg.key_columns, cfg.meta_schema, cfg.mapref)
    scd2 = cfg.load_strategy == "scd2"
    runs = [run_id, *spec.inherits]
    absent, params = seen.absent(runs, current_only=scd2)
    current = f"t.{target.dialect.quote('is_current')} = {target.dialect.true_sql}" if scd2 else ""
    total = int(target.scalar(seen.count_sql(current)) or 0)
    gone = int(target.scalar(seen.count_sql(absent), params) or 0)
    _guard(cfg, rows_read, total, gone)
    done = 0
    if gone and scd2:
        done = target.execute(seen.close_sql(absent), {**params, "eff": dt.datetime.fromisoformat(spec.effective_time)})
    elif gone:
        done = target.execute(seen.delete_sql(absent), params)
    forget, forget_params = seen.forget_sql(runs)
    target.execute(forget, forget_params)
    return done


def _guard(cfg: MapperConfig, rows_read: int, total: int, gone: int) -> None:
    """The delete guard: an empty extract never empties the target, nor does a run delete more than
    ``max_delete_fraction`` of it, unless the user allowed it."""
    if gone and rows_read == 0 and not cfg.allow_empty_extract:
        raise DeleteGuardError(
            f"detect_deletes: the source returned no rows, so every one of the {total} current target row(s) would "
            "be deleted; nothing was deleted. If the source is really empty, set allow_empty_extract=True"
        )
    if gone > cfg.max_delete_fraction * total and (rows_read > 0 or not cfg.allow_empty_extract):
        raise DeleteGuardError(
            f"detect_deletes: {gone} of {total} current target row(s) ({gone / max(total, 1):.0%}) are absent from "
            f"the source, more than max_delete_fraction={cfg.max_delete_fraction}; nothing was deleted. Check the "
            "source (a truncated extract?); if the deletes are real, raise max_delete_fraction (1.0 allows any)"
        )


def _log_summary(cfg: MapperConfig, run_id: str, summary: RunSummary, before: dict[str, str] | None) -> None:
    log.info(
        "run %s of %s: %s; chunks %d/%d; read=%d inserted=%d updated=%d expired=%d unchanged=%d deleted=%d "
        "rejected=%d; checkpoint %s -> %s",
        run_id, cfg.mapref, summary.status, summary.chunks_succeeded, summary.chunks_planned, summary.rows_read,
        summary.rows_inserted, summary.rows_updated, summary.rows_expired, summary.rows_unchanged,
        summary.rows_deleted, summary.rows_rejected, before and before["v"], summary.checkpoint_after,
    )  # fmt: skip


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
