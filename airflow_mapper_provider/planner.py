"""The plan job (no Airflow here): check the source, prepare the target, take the run lock, measure, freeze.

Checkpoint modes (``MapperConfig.checkpoint_mode``):
- NONE: the whole query every run (the query itself may be a templated data-interval window);
- KEY: only rows with ``stored checkpoint - lookback < checkpoint_column <= max at plan time``; the upper bound is
  frozen here so every chunk and retry reads the same window;
- PYTHON: rows after the last key processed, in key order: one chunk (it cannot be split).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.config import MapperConfig, source_sql_checked_by_database, validate_source_sql
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import SRC, Column
from airflow_mapper_provider.dialects.types import TEXT_KINDS
from airflow_mapper_provider.exceptions import CheckpointNullError, ConfigError, EffectiveTimeError
from airflow_mapper_provider.models import ChunkSpec, decode_value, encode_value
from airflow_mapper_provider.planning import (
    Layout,
    PlanInputs,
    choose_layout,
    make_chunks,
    quantile_plan,
    thin_bounds,
)
from airflow_mapper_provider.planning.rowid import rowid_chunks, single_table
from airflow_mapper_provider.planning.sizing import GRID, pick_bounds
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.state.checkpoint import CheckpointStore, Judge, RunLock, executing_only
from airflow_mapper_provider.strategies.deletes import SeenKeys
from airflow_mapper_provider.takeover import Inheritance, take_over
from airflow_mapper_provider.target import (
    SOURCE_COLUMNS_FIELD,
    check_source_columns,
    decode_columns,
    encode_columns,
    ensure_target,
)

log = logging.getLogger(__name__)


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
    owner: tuple[str, str] | None = None,
    judge: Judge = executing_only,
    *,
    slots: int = 1,
) -> list[dict[str, Any]]:
    """:func:`plan` as XCom carries it: the ChunkSpec dicts (what the plan task returns)."""
    specs = plan(cfg, source_sql, run_id, effective_time, max_chunks, source, target, owner, judge, slots=slots)
    return [s.to_dict() for s in specs]


def plan(
    cfg: MapperConfig,
    source_sql: str,
    run_id: str,
    effective_time: str,
    max_chunks: int,
    source: Session,
    target: Session,
    owner: tuple[str, str] | None = None,
    judge: Judge = executing_only,
    *,
    slots: int = 1,
) -> list[ChunkSpec]:
    """Plan one run and record it as 'running' in the job log; returns its frozen chunks.

    :param owner: (dag_id, task group id) of this run's tasks in Airflow, kept in the lock row for waiting runs.
    :param judge: decides whether an unfinished run owning the mapref is live (:class:`RunLockedError`) or dead
        (taken over); see :mod:`~airflow_mapper_provider.state.checkpoint`.
    :param slots: chunks that can run at once (the operator passes what Airflow allows); sizes the plan when the
        config gives no ``chunk_size``.
    """
    t0 = time.monotonic()
    sql = validate_source_sql(source_sql)
    with source_sql_checked_by_database():
        columns = source.describe(sql)
    check_source_columns(cfg, columns)
    tables = MapperTables(cfg.meta_schema)
    _prepare_mapper_tables(target, tables, columns)
    ledger = ChunkLedger(tables, cfg.mapref)
    lock = RunLock(tables, cfg.mapref, *(owner or (None, None)))
    lock.announce(target, run_id)
    if (ledger.job_row(target, run_id) or {}).get("status") == "abandoned":
        target.commit()
        log.info("plan %s: run %s was taken over by a later run, which loaded its rows: nothing to do", cfg.mapref,
                 run_id)  # fmt: skip
        return []
    taken = lock.take(target, run_id, lambda rid: (ledger.job_row(target, rid) or {}).get("status"), judge)
    ledger.claim_run(target, run_id, cfg.load_strategy, str(cfg.table))  # commits with the lock row
    schema_changes = _prepare_target(cfg, target, tables, columns)  # owning the mapref: no live run reads it
    frozen = [ChunkSpec.from_dict(c) for c in ledger.frozen_plan(target, run_id) or ()]
    if cfg.load_strategy == "scd2" and not cfg.effective_column:
        _check_effective_time(target, cfg, frozen[0].effective_time if frozen else effective_time)
    if frozen and frozen[0].sql_fingerprint == fingerprint(sql):
        target.commit()
        log.info("plan %s: re-using the %d chunk(s) frozen by an earlier try of this run", cfg.mapref, len(frozen))
        return with_schema_changes(frozen, schema_changes)
    inherited = Inheritance()
    if taken:
        inherited = take_over(ledger, target, taken, run_id, fingerprint(sql), cfg.load_strategy)

    checkpoint_column, before = CheckpointStore(tables, cfg.mapref).read(target)
    before = inherited.position or before
    stored = before if checkpoint_column == cfg.checkpoint_column else None  # a KEY window's lower bound
    window = _window(cfg, source, sql, stored, {c.name: c for c in columns})
    _refuse_null_checkpoints(cfg, source, sql, window)
    target_empty = not target.query(target.dialect.probe_sql(cfg.table, ""), {})
    facts = {"target_empty": target_empty, "exclude": inherited.regions, "inherits": inherited.runs}
    if cfg.load_strategy == "scd1":  # an empty target's chunks COPY straight in where it holds: asked once, here
        facts["target_key_pk"] = target.has_primary_key(cfg.table, cfg.key_columns)
    limits = (max_chunks, slots)
    specs = _chunks(cfg, source, sql, columns, window, before, limits, effective_time, facts)
    specs = with_schema_changes(specs, schema_changes, columns)
    source.rollback()
    ledger.start_run(target, run_id, cfg.load_strategy, str(cfg.table), [c.to_dict() for c in specs],
                     checkpoint_before=before)  # fmt: skip
    target.commit()
    log.info("plan %s: %d chunk(s) in %.2f s", cfg.mapref, len(specs), time.monotonic() - t0)
    return specs


def _prepare_mapper_tables(target: Session, tables: MapperTables, columns: list[Column]) -> None:
    """The mapper tables, created where missing (the lock row lives there); the DDL lock is held until commit."""
    if ddl_lock := target.dialect.ddl_lock_sql():
        target.query(ddl_lock)
    target.dialect.check_source_types(columns)  # before any DDL: an existing target too
    tables.ensure(target)


def _prepare_target(cfg: MapperConfig, target: Session, tables: MapperTables, columns: list[Column]) -> list[str]:
    """The target table and (detect_deletes) the key table, created where missing; an existing target evolved as
    on_schema_change says; committed with the lock taken. Returns the schema changes (for the job log)."""
    previous = ChunkLedger(tables, cfg.mapref).latest_plan(target) or [{}]
    schema_changes = ensure_target(target, cfg, columns, decode_columns(previous[0].get(SOURCE_COLUMNS_FIELD)))
    if cfg.detect_deletes:  # where chunks record the keys they saw (see strategies/deletes.py)
        keys = SeenKeys(target.dialect, cfg.table, cfg.key_columns, cfg.meta_schema, cfg.mapref)
        if not target.table_exists(keys.table):
            for sql in keys.create_sql():
                target.execute(sql)
    target.commit()
    return schema_changes


def with_schema_changes(
    specs: list[ChunkSpec], changes: list[str], columns: Sequence[Column] | None = None
) -> list[ChunkSpec]:
    """The plan with this run's schema changes (read by finalize for the job log) and the source's columns (read
    by the next plan: widenings follow the source) on its first chunk; chunks ignore both. A frozen plan keeps what
    an earlier try recorded and gains this try's changes."""
    if not specs or not (changes or columns):
        return specs
    first = specs[0]
    if changes:
        first = dataclasses.replace(first, schema_changes=[*first.schema_changes, *changes])
    if columns is not None:
        first = dataclasses.replace(first, source_columns=encode_columns(columns))
    return [first, *specs[1:]]


def _refuse_null_checkpoints(cfg: MapperConfig, source: Session, sql: str, window: dict[str, Any] | None) -> None:
    """Rows whose checkpoint_column is NULL cannot be placed in a window or an order: scd loads re-read them every
    run (idempotent); append and PYTHON checkpoints would skip or repeat them, so the run fails saying why."""
    column = cfg.checkpoint_column
    if not column or cfg.checkpoint_mode == "NONE" or (window and window.get("nulls")):
        return
    if source.query(source.dialect.nulls_sql(sql, column)):
        raise CheckpointNullError(
            f"source rows have NULL in checkpoint_column {column!r}: a {cfg.load_strategy} load with checkpoint "
            f"strategy {cfg.checkpoint_mode} cannot tell which of them it loaded already. Give them a value in "
            f"source_sql (e.g. COALESCE({column}, <a fixed early value>)), filter them out explicitly, or use scd1 "
            "(which re-reads NULL-checkpoint rows every run)"
        )


def _window(
    cfg: MapperConfig, source: Session, sql: str, before: dict[str, str] | None, columns: dict[str, Column]
) -> dict[str, Any] | None:
    """KEY: ``(stored - lookback, max at plan time]`` on the checkpoint column, frozen now; scd loads also read
    the rows whose checkpoint column is NULL (``nulls``)."""
    if cfg.checkpoint_mode != "KEY":
        return None
    column = cfg.checkpoint_column or ""
    if column not in columns:
        raise ConfigError(f"checkpoint_column {column!r} is not among the source columns: fix checkpoint_column")
    kind = columns[column].type.kind
    lower = _minus_lookback(decode_value(before), cfg.checkpoint_lookback) if before else None
    window = {"column": column, "lower": encode_value(lower), "upper": None, "kind": kind,
              "nulls": cfg.load_strategy != "append"}  # fmt: skip
    where, params = source.dialect.window_predicate(window, SRC, open_upper=True)
    upper = source.scalar(source.dialect.max_sql(sql, column, where, kind), params)
    window["upper"] = encode_value(upper)
    log.info(
        "checkpoint %s: stored %s, reading (%s, %s]",
        column, before and before["v"], lower, upper,
    )  # fmt: skip
    return window


def _minus_lookback(value: Any, lookback: Any) -> Any:
    if lookback is None or value is None:
        return value
    if isinstance(value, str):  # a checkpoint stored as text (SQLite staging before typed checkpoints)
        value = _typed_checkpoint(value, lookback)
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


def _typed_checkpoint(text: str, lookback: Any) -> Any:
    """A checkpoint that came back as text (ISO date, timestamp or decimal): the value the lookback applies to;
    unreadable text stays text (then the lookback's type check names the fix)."""
    try:
        if isinstance(lookback, dt.timedelta):
            return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        return decimal.Decimal(text)
    except (ValueError, decimal.InvalidOperation):
        return text


def _chunks(
    cfg: MapperConfig,
    source: Session,
    sql: str,
    columns: list[Column],
    window: dict[str, Any] | None,
    before: dict[str, str] | None,
    limits: tuple[int, int],
    effective_time: str,
    facts: dict[str, Any],
) -> list[ChunkSpec]:
    d, (max_chunks, slots) = source.dialect, limits
    where, params = d.window_predicate(window, SRC)
    estimate, method = _estimate(cfg, source, sql, where, params)
    keys = cfg.key_columns
    by_name = {c.name: c for c in columns}
    key_kind = by_name[keys[0]].type.kind if len(keys) == 1 else ""
    common: dict[str, Any] = {"effective_time": effective_time, "sql_fingerprint": fingerprint(sql),
                              "estimated_rows": estimate}  # fmt: skip
    if cfg.checkpoint_mode == "PYTHON":
        layout = Layout("all", 1, 0, "checkpoint_strategy PYTHON: rows in order after the last one processed")
    else:
        # text keys range-chunk only where the source compares them in byte order (else: hash buckets)
        orderable = len(keys) == 1 and by_name[keys[0]].orderable and (key_kind not in TEXT_KINDS or
                                                                       d.byte_collation is not None)  # fmt: skip
        inputs = PlanInputs(estimate, cfg.chunk_size, cfg.min_rows_for_parallel, max_chunks, keys, orderable, slots,
                            cfg.chunk_by)  # fmt: skip
        if cfg.chunk_by == "rowid":  # one table's rows, cut by ROWID: sized as ranges of a key would be
            inputs = dataclasses.replace(inputs, key_columns=("rowid",), key_orderable=True)
        layout = choose_layout(inputs)
    bounds: list[Any] = []
    if layout.kind == "range":
        bounds = _range_bounds(source, sql, (keys[0], key_kind), (where, params), estimate, layout, max_chunks)
    log.info("plan %s: %d row(s) by %s; %s", cfg.mapref, estimate, method, layout.reason)
    extra = {
        "window": window,
        "keyset": _keyset(cfg, before) if cfg.checkpoint_mode == "PYTHON" else None,
        "effective_column": cfg.effective_column or "",
        "detect_deletes": cfg.detect_deletes,
        "key_kind": key_kind,
        "py_hash": layout.kind == "hash" and not d.can_hash([by_name[k] for k in keys]),
        **facts,
    }
    if cfg.consistent_snapshot:
        common["snapshot"] = source.snapshot()
    if cfg.chunk_by == "rowid" and layout.chunks > 1:
        table = single_table(sql)
        specs = rowid_chunks(source.rowid_ranges(table, layout.chunks), table, key_columns=keys, **common)
    else:
        specs = make_chunks(layout, keys, bounds, **common)
    return [dataclasses.replace(s, **extra) for s in specs]


def _estimate(cfg: MapperConfig, source: Session, sql: str, where: str, params: dict[str, Any]) -> tuple[int, str]:
    """The planner's row estimate; an estimate below min_rows_for_parallel is confirmed by a count bounded to
    min_rows_for_parallel + 1 rows (an un-analysed table or view can be estimated at a handful of rows).
    ``exact_row_count``: the rows are counted instead (one full read of the query at plan time)."""
    if cfg.exact_row_count:
        return int(source.scalar(source.dialect.count_sql(sql, where), params) or 0), "count (exact_row_count)"
    estimate, method = source.estimate_rows(sql, where, params)
    if method == "count" or estimate >= cfg.min_rows_for_parallel:
        return estimate, method
    d, limit = source.dialect, cfg.min_rows_for_parallel + 1
    counted = int(source.scalar(d.bounded_count_sql(sql, where), {**params, "n": limit}) or 0)
    if counted < limit:
        return max(counted, 0), f"{method}, confirmed by a bounded count"
    total = int(source.scalar(d.count_sql(sql, where), params) or 0)
    log.info("plan: the %s estimate said %d row(s), a count found %d", method, estimate, total)
    return total, "count (the estimate was far too low)"


def _range_bounds(
    source: Session,
    sql: str,
    key: tuple[str, str],
    window: tuple[str, dict[str, Any]],
    estimate: int,
    layout: Layout,
    max_chunks: int,
) -> list[Any]:
    """Lower bounds of chunks 2..n: every ``step``-th key in the order the chunks compare keys in (byte order
    for text), ranked over all keys or over a random sample; the database's order is kept, never re-sorted. A
    sized layout measures a grid :data:`GRID` times finer and picks its bounds from it (see sizing.py)."""
    d, (where, params), (name, kind) = source.dialect, window, key
    t0 = time.monotonic()
    step = max(1, layout.step // GRID) if layout.sized else layout.step
    how = quantile_plan(estimate, step, can_sample=d.sample_predicate("fraction") is not None)
    rows = source.query(
        d.quantile_sql(sql, name, where, sampled=how.sampled, kind=kind),
        {**params, "step": how.step, **({"fraction": how.fraction} if how.sampled else {})},
    )
    found = [r[0] for r in rows]
    bounds = pick_bounds(found, step, layout.slots, max_chunks) if layout.sized else thin_bounds(found, max_chunks)
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
