"""The plan job (no Airflow here): check the source, prepare the target, measure, freeze chunks."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from airflow_mapper_provider.config import MapperConfig, validate_source_sql
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.planning import PlanInputs, choose_layout, make_chunks, thin_bounds
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.target import check_source_columns, ensure_target

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
) -> list[dict[str, Any]]:
    """Plan one run and record it as 'running' in the job log; returns the ChunkSpec dicts for XCom."""
    t0 = time.monotonic()
    sql = validate_source_sql(source_sql)
    columns = source.describe(sql)
    check_source_columns(cfg, columns)
    tables = MapperTables(cfg.meta_schema)
    tables.ensure(target)
    ensure_target(target, cfg, columns)
    target.commit()
    ledger = ChunkLedger(tables, cfg.mapref)
    frozen = ledger.frozen_plan(target, run_id)
    if frozen and frozen[0].get("sql_fingerprint") == fingerprint(sql):
        target.commit()
        log.info("plan %s: re-using the %d chunk(s) frozen by an earlier try of this run", cfg.mapref, len(frozen))
        return frozen

    estimate, method = source.estimate_rows(sql)
    by_name = {c.name: c for c in columns}
    keys = cfg.key_columns
    inputs = PlanInputs(
        estimated_rows=estimate,
        chunk_size=cfg.chunk_size,
        min_rows_for_parallel=cfg.min_rows_for_parallel,
        max_chunks=max_chunks,
        key_columns=keys,
        key_orderable=len(keys) == 1 and by_name[keys[0]].orderable,
    )
    layout = choose_layout(inputs)
    bounds: list[Any] = []
    if layout.kind == "range":
        rows = source.query(source.dialect.quantile_sql(sql, keys[0]), {"step": layout.step})
        bounds = thin_bounds([r[0] for r in rows], max_chunks)
    source.rollback()
    chunks = make_chunks(
        layout,
        keys,
        bounds,
        effective_time=effective_time,
        sql_fingerprint=fingerprint(sql),
        estimated_rows=estimate,
    )
    plan = [c.to_dict() for c in chunks]
    ledger.start_run(target, run_id, cfg.load_strategy, str(cfg.table), plan)
    target.commit()
    log.info(
        "plan %s: %d row(s) by %s; %s -> %d chunk(s) in %.2f s",
        cfg.mapref, estimate, method, layout.reason, len(chunks), time.monotonic() - t0,
    )  # fmt: skip
    return plan
