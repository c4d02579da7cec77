"""The plan job (no Airflow here): check the source, prepare the target, take the run lock, measure, freeze.

Checkpoint modes (``MapperConfig.checkpoint_mode``):
- NONE: the whole query every run (the query itself may be a templated data-interval window);
- KEY: only rows with ``stored checkpoint - lookback < checkpoint_column <= max at plan time``; the upper bound is
  frozen here so every chunk and retry reads the same window;
- PYTHON: rows after the last key processed, in key order: one chunk (it cannot be split).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import logging
import time
from typing import Any

from airflow_mapper_provider.config import MapperConfig, validate_source_sql
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import SRC, Column
from airflow_mapper_provider.exceptions import ConfigError, MapperError
from airflow_mapper_provider.models import decode_value, encode_value
from airflow_mapper_provider.planning import (
    Layout,
    PlanInputs,
    choose_layout,
    make_chunks,
    quantile_plan,
    thin_bounds,
)
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.state.checkpoint import CheckpointStore, RunLock
from airflow_mapper_provider.target import check_source_columns, ensure_target

log = logging.getLogger(__name__)


class EffectiveTimeError(MapperError):
    """An scd2 run would write history older than what the target already holds."""


def fingerprint(source_sql: str) -> str:
    """Short stable digest of the rendered source query (plan and chunks must agree on it)."""
    return hashlib.sha256(source_sql.encode("utf-8")).hexdigest()[:16]


def plan_run(
    cfg: MapperConfig,
    source_sql: str,
    run_id: str,
    effective_time: str,
    max_chunks: int,
    source: Session,
    target: Session,
) -> list[dict[str, Any]]:
    """Plan one run and record it as 'running' in the job log; returns the ChunkSpec dicts for XCom."""
    t0 = time.monotonic()
    sql = validate_source_sql(source_sql)
    columns = source.describe(sql)
    check_source_columns(cfg, columns)
    tables = MapperTables(cfg.meta_schema)
    if lock := target.dialect.ddl_lock_sql():
        target.query(lock)
    tables.ensure(target)
    ensure_target(target, cfg, columns)
    target.commit()
    ledger = ChunkLedger(tables, cfg.mapref)
    RunLock(tables, cfg.mapref).take(target, run_id, lambda rid: (ledger.job_row(target, rid) or {}).get("status"))
    frozen = ledger.frozen_plan(target, run_id)
    if frozen and frozen[0].get("sql_fingerprint") == fingerprint(sql):
        target.commit()
        log.info("plan %s: re-using the %d chunk(s) frozen by an earlier try of this run", cfg.mapref, len(frozen))
        return frozen
    if cfg.load_strategy == "scd2" and not cfg.effective_column:
        _check_effective_time(target, cfg, effective_time)

    checkpoint_column, before = CheckpointStore(tables, cfg.mapref).read(target)
    window = _window(cfg, source, sql, before if checkpoint_column == cfg.checkpoint_column else None)
    same_hash = source.dialect.hash_in_sql and source.dialect.name == target.dialect.name
    plan = _chunks(cfg, source, sql, columns, window, before, max_chunks, effective_time, same_hash)
    source.rollback()
    ledger.start_run(target, run_id, cfg.load_strategy, str(cfg.table), plan, checkpoint_before=before)
    target.commit()
    log.info("plan %s: %d chunk(s) in %.2f s", cfg.mapref, len(plan), time.monotonic() - t0)
    return plan


def _window(cfg: MapperConfig, source: Session, sql: str, before: dict[str, str] | None) -> dict[str, Any] | None:
    """KEY: ``(stored - lookback, max at plan time]`` on the checkpoint column, frozen now."""
    if cfg.checkpoint_mode != "KEY":
        return None
    column = cfg.checkpoint_column or ""
    lower = _minus_lookback(decode_value(before), cfg.checkpoint_lookback) if before else None
    window = {"column": column, "lower": encode_value(lower), "upper": None}
    where, params = source.dialect.window_predicate(window, SRC, open_upper=True)
    upper = source.scalar(source.dialect.max_sql(sql, column, where), params)
    window["upper"] = encode_value(upper)
    log.info(
        "checkpoint %s: stored %s, reading (%s, %s]",
        column, before and before["v"], lower, upper,
    )  # fmt: skip
    return window


def _minus_lookback(value: Any, lookback: Any) -> Any:
    if lookback is None or value is None:
        return value
    if isinstance(lookback, dt.timedelta):
        if not isinstance(value, (dt.date, dt.datetime)):
            raise ConfigError("checkpoint_lookback is a timedelta but the checkpoint column is not a date/time")
        if not isinstance(value, dt.datetime):
            return value - dt.timedelta(days=lookback.days + (1 if lookback.seconds else 0))
        return value - lookback
    if isinstance(value, decimal.Decimal):
        return value - decimal.Decimal(str(lookback))
    if isinstance(value, (int, float)):
        return value - lookback
    raise ConfigError("checkpoint_lookback is a number but the checkpoint column is not numeric: use a timedelta")


def _chunks(
    cfg: MapperConfig,
    source: Session,
    sql: str,
    columns: list[Column],
    window: dict[str, Any] | None,
    before: dict[str, str] | None,
    max_chunks: int,
    effective_time: str,
    same_hash: bool,
) -> list[dict[str, Any]]:
    d = source.dialect
    where, params = d.window_predicate(window, SRC)
    estimate, method = source.estimate_rows(sql, where, params)
    keys = cfg.key_columns
    by_name = {c.name: c for c in columns}
    common: dict[str, Any] = {"effective_time": effective_time, "sql_fingerprint": fingerprint(sql),
                              "estimated_rows": estimate}  # fmt: skip
    if cfg.checkpoint_mode == "PYTHON":
        layout = Layout("all", 1, 0, "checkpoint_strategy PYTHON: rows in order after the last one processed")
    else:
        orderable = len(keys) == 1 and by_name[keys[0]].orderable
        inputs = PlanInputs(estimate, cfg.chunk_size, cfg.min_rows_for_parallel, max_chunks, keys, orderable)
        layout = choose_layout(inputs)
    if layout.kind == "hash" and cfg.detect_deletes and not same_hash:
        layout = Layout("all", 1, 0, "detect_deletes with hash buckets the target cannot compute: one chunk")
    bounds: list[Any] = []
    if layout.kind == "range":
        bounds = _range_bounds(source, sql, keys[0], (where, params), estimate, layout.step, max_chunks)
    log.info("plan %s: %d row(s) by %s; %s", cfg.mapref, estimate, method, layout.reason)
    extra = {
        "window": window,
        "keyset": _keyset(cfg, before) if cfg.checkpoint_mode == "PYTHON" else None,
        "effective_column": cfg.effective_column or "",
        "detect_deletes": cfg.detect_deletes,
    }
    specs = make_chunks(layout, keys, bounds, **common)
    return [{**s.to_dict(), **extra} for s in specs]


def _range_bounds(
    source: Session,
    sql: str,
    key: str,
    window: tuple[str, dict[str, Any]],
    estimate: int,
    step: int,
    max_chunks: int,
) -> list[Any]:
    """Lower bounds of chunks 2..n: every ``step``-th key, ranked over all keys or over a random sample."""
    d, (where, params) = source.dialect, window
    t0 = time.monotonic()
    how = quantile_plan(estimate, step, can_sample=d.sample_predicate("fraction") is not None)
    rows = source.query(
        d.quantile_sql(sql, key, where, sampled=how.sampled),
        {**params, "step": how.step, **({"fraction": how.fraction} if how.sampled else {})},
    )
    bounds = thin_bounds([r[0] for r in rows], max_chunks)
    log.info(
        "plan: %d range bound(s) from %s in %.2f s",
        len(bounds), f"a {how.fraction:.3%} key sample" if how.sampled else "every key", time.monotonic() - t0,
    )  # fmt: skip
    return bounds


def _keyset(cfg: MapperConfig, before: dict[str, str] | None) -> dict[str, Any]:
    """PYTHON: order by the checkpoint column or the key; resume after the stored position."""
    order = [cfg.checkpoint_column] if cfg.checkpoint_column else list(cfg.key_columns)
    state = decode_value(before) if before else {}
    return {
        "order": order,
        "after": state.get("after"),
        "offset": int(state.get("rows", 0)),
        "rows": state.get("rows", 0),
    }


def _check_effective_time(target: Session, cfg: MapperConfig, effective_time: str) -> None:
    """Refuse an scd2 run whose effective time is older than the newest valid_from in the target."""
    d = target.dialect
    eff = dt.datetime.fromisoformat(effective_time)
    newer = target.query(d.newer_versions_sql(cfg.table), {"eff": eff})
    if newer:
        raise EffectiveTimeError(
            f"scd2 effective time {effective_time} is older than versions already in {cfg.table}: history must be "
            "written in time order. Run backfills oldest first (scd2_effective_time='data_interval_end'), or "
            "load into a fresh table"
        )
