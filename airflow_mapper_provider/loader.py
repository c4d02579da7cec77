"""The chunk job (no Airflow here): read one chunk, stage it, apply the strategy, commit once.

Paths, fastest first:
- ``copy-direct``: PostgreSQL to PostgreSQL, binary COPY straight into the target (append; scd1 when the chunk's
  key range is empty in the target and the key is its primary key);
- ``copy-stage``: binary COPY into a TEMP staging table, then set-based SQL;
- ``rows-stage`` / ``rows-direct``: rows streamed in batches (any source), COPY rows (PostgreSQL target) or
  executemany (other targets).
The ledger row is written in the same transaction: a chunk that committed is never loaded twice in one run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.config import MapperConfig, validate_source_sql
from airflow_mapper_provider.db import PgSession, Session
from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.errors import describe_error
from airflow_mapper_provider.exceptions import DataError, PlanMismatchError
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, display_value, encode_value
from airflow_mapper_provider.planner import fingerprint
from airflow_mapper_provider.planning import bucket_of
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.state.checkpoint import RunLock
from airflow_mapper_provider.state.ledger import utcnow
from airflow_mapper_provider.strategies import ApplyContext, Check, apply_plan
from airflow_mapper_provider.strategies.base import DELTA, PY_HASH, STAGE

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000


@dataclass
class ChunkJob:
    """One chunk of one run. ``source`` and ``target`` are sessions owned by the caller."""

    cfg: MapperConfig
    spec: ChunkSpec
    source_sql: str
    run_id: str
    attempt: int
    source: Session
    target: Session
    #: Set by the operator's on_kill: the failure that follows is recorded as ``stopped``, not ``failed``.
    stop_requested: threading.Event = dataclasses.field(default_factory=threading.Event)

    def run(self) -> ChunkResult:
        """Load the chunk (or return its recorded result when this run already committed it)."""
        tables = MapperTables(self.cfg.meta_schema)
        ledger = ChunkLedger(tables, self.cfg.mapref)
        RunLock(tables, self.cfg.mapref).check(self.target, self.run_id)
        bounds = display_value(self.spec.lower), display_value(self.spec.upper)
        done = ledger.lookup(self.target, self.run_id, self.spec.index, *bounds)
        if done is not None:
            done.from_ledger = True
            log.info("%s: already committed in this run (ledger); nothing to do", self.spec.label)
            return done
        started = utcnow()
        try:
            result = self._load()
            ledger.record_chunk(self.target, self.run_id, result, started)
            self.target.commit()
        except BaseException as exc:
            self.target.rollback()
            self._record_failure(ledger, started, exc)
            raise
        self.source.rollback()
        log.info(
            "%s: %s read=%d inserted=%d updated=%d expired=%d unchanged=%d in %.2f s (%.0f rows/s)",
            self.spec.label, result.path, result.rows_read, result.rows_inserted, result.rows_updated,
            result.rows_expired, result.rows_unchanged, result.seconds_total,
            result.rows_read / max(result.seconds_total, 1e-6),
        )  # fmt: skip
        return result

    # ---- steps ------------------------------------------------------------------------------------------
    def _load(self) -> ChunkResult:
        t0 = time.monotonic()
        sql = validate_source_sql(self.source_sql)
        if self.spec.sql_fingerprint and fingerprint(sql) != self.spec.sql_fingerprint:
            raise PlanMismatchError(
                "source_sql rendered differently in load_chunk than in plan: keep the query deterministic per run "
                "(template with run context such as data_interval_*, not the wall clock), then re-run the plan"
            )
        columns = self.source.describe(sql)
        ctx = self._context(columns)
        direct = self._direct_ok(ctx)
        into = self.target.dialect.table(self.cfg.table) if direct else self.target.dialect.temp_name(STAGE)
        if not direct:
            self._create_staging(ctx)
        rows, path = self._transfer(sql, ctx, into, direct)
        t1 = time.monotonic()
        mark = None if direct else self._checkpoint_read(rows)
        counts = {"rows_inserted": rows} if direct else self._apply(ctx)
        t2 = time.monotonic()
        result = self._result(rows, counts, path + ("-direct" if direct else "-stage"), t1 - t0, t2 - t1, t2 - t0)
        result.checkpoint = mark
        return result

    def _checkpoint_read(self, rows: int) -> dict[str, str] | None:
        """KEY: the largest checkpoint value staged; PYTHON: the position after the last staged row."""
        d, spec = self.target.dialect, self.spec
        if spec.window:
            return encode_value(self.target.scalar(d.staged_max_sql(STAGE, spec.window["column"])))
        if spec.keyset is None:
            return None
        order = list(spec.keyset.get("order") or ())
        state: dict[str, Any] = {"rows": int(spec.keyset.get("rows") or 0) + rows, "after": spec.keyset.get("after")}
        if order and rows:
            last = self.target.query(d.staged_last_sql(STAGE, order))
            state["after"] = [encode_value(v) for v in last[0]]
        return {"t": "json", "v": json.dumps(state, separators=(",", ":"))}

    def _context(self, columns: list[Column]) -> ApplyContext:
        d = self.target.dialect
        ctx = ApplyContext(
            dialect=d,
            target=self.cfg.table,
            columns=columns,
            keys=self.cfg.key_columns,
            strategy=self.cfg.load_strategy,
            effective_time=dt.datetime.fromisoformat(self.spec.effective_time) if self.spec.effective_time else None,
        )
        python_hash = ctx.strategy == "scd2" and d.row_hash_expr(ctx.values, "s") is None
        where, params = d.chunk_predicate(self.spec, "t") if self._target_can_select_chunk() else ("", {})
        if self.spec.detect_deletes and not where and self.spec.count > 1:
            raise PlanMismatchError(
                f"{self.spec.label}: detect_deletes needs the target to select this chunk's keys; re-plan the run "
                "(the planner makes one chunk in that case)"
            )
        empty = (
            ctx.strategy != "append" and bool(where or self.spec.kind == "all") and self._target_empty(where, params)
        )
        return dataclasses.replace(
            ctx,
            python_hash=python_hash,
            empty_target=empty,
            target_where=where,
            target_params=params,
            effective_column=self.spec.effective_column or None,
            detect_deletes=self.spec.detect_deletes,
        )

    def _target_can_select_chunk(self) -> bool:
        """The target dialect can select exactly the chunk's keys (hash buckets need the same hash function)."""
        spec, sd, td = self.spec, self.source.dialect, self.target.dialect
        return spec.kind != "hash" or (sd.hash_in_sql and td.hash_in_sql and sd.name == td.name)

    def _target_empty(self, where: str, params: dict[str, Any]) -> bool:
        return not self.target.query(self.target.dialect.probe_sql(self.cfg.table, where), params)

    def _direct_ok(self, ctx: ApplyContext) -> bool:
        if self.spec.window or self.spec.keyset is not None:
            return False  # the checkpoint is read from staging
        if ctx.strategy == "append":
            return True
        return (
            ctx.strategy == "scd1"
            and ctx.empty_target
            and self.target.has_primary_key(self.cfg.table, self.cfg.key_columns)
        )

    def _create_staging(self, ctx: ApplyContext) -> None:
        d = self.target.dialect
        for name in (STAGE, DELTA):
            if sql := d.drop_temp_sql(name):
                self.target.execute(sql)
        extra = [Column(PY_HASH, ColumnType("text"))] if ctx.python_hash else []
        self.target.execute(d.create_staging_sql(STAGE, [*ctx.columns, *extra]))

    def _transfer(self, sql: str, ctx: ApplyContext, into: str, direct: bool) -> tuple[int, str]:
        """Move the chunk's rows into ``into``; returns (rows, path name)."""
        names = ctx.names
        select, params = self.source.dialect.chunk_select(sql, names, self.spec)
        src, tgt = self.source, self.target
        if isinstance(src, PgSession) and isinstance(tgt, PgSession) and self._binary_ok(ctx, direct):
            data = src.copy_out(src.dialect.copy_out_sql(select), params)
            return tgt.copy_in(tgt.dialect.copy_in_sql(into, names), data), "copy"
        batches = self._batches(select, params, ctx)
        target_cols = [*names, PY_HASH] if ctx.python_hash and not direct else names
        return tgt.insert_batches(into, target_cols, batches), "rows"

    def _binary_ok(self, ctx: ApplyContext, direct: bool) -> bool:
        if not direct:
            return True  # staging has the source's exact types
        have = {c.name: c.type.native for c in self.target.describe(self.target.dialect.select_all_sql(self.cfg.table))}
        return all(have.get(c.name) == c.type.native for c in ctx.columns)

    def _batches(self, select: str, params: dict[str, Any], ctx: ApplyContext) -> Iterator[list[tuple[Any, ...]]]:
        key_pos = [ctx.names.index(k) for k in ctx.keys]
        value_pos = [ctx.names.index(c.name) for c in ctx.values]
        pick = self.source.dialect.filters_in_python(self.spec)
        for rows in self.source.stream(select, params, BATCH_ROWS):
            if pick:
                rows = [r for r in rows if bucket_of([r[i] for i in key_pos], self.spec.buckets) == self.spec.bucket]
            if ctx.python_hash:
                rows = [(*r, _row_hash([r[i] for i in value_pos])) for r in rows]
            yield rows

    def _apply(self, ctx: ApplyContext) -> dict[str, int]:
        checks, steps = apply_plan(ctx)
        keys = ", ".join(ctx.keys)
        counts: dict[str, int] = {}
        for step in [*checks, *steps]:
            if isinstance(step, Check):
                n = int(self.target.scalar(step.sql) or 0)
                if n:
                    raise DataError(f"{self.spec.label}: " + step.message.format(n=n, keys=keys))
                continue
            n = self.target.execute(step.sql, step.params)
            if step.counter:
                counts[step.counter] = counts.get(step.counter, 0) + n
        if "rows_versions" in counts:  # scd2: a changed key expires one version and inserts one
            expired = counts.get("rows_expired", 0)
            counts["rows_updated"] = expired
            counts["rows_inserted"] = counts.pop("rows_versions") - expired
        return counts

    def _result(
        self, rows: int, counts: dict[str, int], path: str, t_read: float, t_apply: float, total: float
    ) -> ChunkResult:
        ins, upd = counts.get("rows_inserted", 0), counts.get("rows_updated", 0)
        return ChunkResult(
            index=self.spec.index,
            lower=display_value(self.spec.lower),
            upper=display_value(self.spec.upper),
            attempt=self.attempt,
            rows_read=rows,
            rows_inserted=ins,
            rows_updated=upd,
            rows_expired=counts.get("rows_expired", 0),
            rows_deleted=counts.get("rows_deleted", 0),
            rows_unchanged=0 if self.cfg.load_strategy == "append" else rows - ins - upd,
            seconds_read=round(t_read, 3),
            seconds_apply=round(t_apply, 3),
            seconds_total=round(total, 3),
            path=path,
        )

    def _record_failure(self, ledger: ChunkLedger, started: dt.datetime, exc: BaseException) -> None:
        stopped = self.stop_requested.is_set() or isinstance(exc, (KeyboardInterrupt, SystemExit))
        status = "stopped" if stopped else "failed"
        failed = ChunkResult(
            index=self.spec.index,
            status=status,
            lower=display_value(self.spec.lower),
            upper=display_value(self.spec.upper),
            attempt=self.attempt,
        )
        try:
            ledger.record_chunk(self.target, self.run_id, failed, started, msg=describe_error(exc))
            self.target.commit()
        except Exception:  # the target may be gone; the task failure itself is what matters
            log.warning("%s: could not record the failure in the chunk ledger", self.spec.label, exc_info=False)
            self.target.rollback()


def _row_hash(values: list[Any]) -> str:
    text = "\x1f".join("\x00" if v is None else f"{type(v).__name__}:{v}" for v in values)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
