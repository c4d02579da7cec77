"""The chunk job (no Airflow here): read one chunk, stage it, apply the strategy, commit once.

Paths, fastest first:
- ``copy-direct``: PostgreSQL to PostgreSQL, binary COPY straight into the target (append; scd1 when the chunk's
  key range is empty in the target and the key is its primary key; scd2 when the range is empty, with the scd2
  columns computed by the source query);
- ``copy-stage``: binary COPY into a TEMP staging table, then set-based SQL;
- ``rows-stage`` / ``rows-direct``: rows streamed in batches (any source), COPY rows (PostgreSQL target) or
  executemany (other targets);
- ``copy-salvage`` / ``rows-salvage``: the target refused rows and ``max_error_rows`` allows: see salvage.py.
Moving rows is :mod:`~airflow_mapper_provider.transfer`'s job.
The ledger row is written in the same transaction: a chunk that committed is never loaded twice in one run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.config import MapperConfig, validate_source_sql
from airflow_mapper_provider.convert import Converter
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.errors import DATA, classify, describe_error
from airflow_mapper_provider.exceptions import ConversionError, DataError, KeyRuleError, PlanMismatchError
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, display_value, encode_value
from airflow_mapper_provider.planner import fingerprint
from airflow_mapper_provider.progress import APPLYING, COMMITTING, Progress
from airflow_mapper_provider.salvage import Salvager
from airflow_mapper_provider.state import ChunkLedger, MapperTables
from airflow_mapper_provider.state.checkpoint import RunLock
from airflow_mapper_provider.state.ledger import utcnow
from airflow_mapper_provider.state.rejects import RejectLog, RejectStore
from airflow_mapper_provider.strategies import ApplyContext, Check, Step, apply_plan, strategy
from airflow_mapper_provider.strategies.base import DELTA, OK, PY_HASH, RN, STAGE
from airflow_mapper_provider.strategies.deletes import CHUNK, RUN, SeenKeys
from airflow_mapper_provider.target import load_columns
from airflow_mapper_provider.transfer import Transfer, relays_binary

log = logging.getLogger(__name__)

#: Compare by key lookups when the target holds this many times more rows than the extract.
SMALL_DELTA_RATIO = 20
#: Key kinds whose order (and MIN/MAX) is the same on every database: the compare join is narrowed by them.
_SLICEABLE = frozenset({"smallint", "int", "bigint", "numeric", "real", "double", "date", "timestamp", "timestamptz"})


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
    #: Where the chunk reports rows read, phase and end (progress.py); the default reports nothing.
    progress: Progress = dataclasses.field(default_factory=Progress)
    #: The source failed (its query or connection): salvage mode cannot help, the target refused nothing.
    source_failed: bool = dataclasses.field(default=False, init=False)
    _described: list[Column] | None = dataclasses.field(default=None, init=False, repr=False)

    def run(self) -> ChunkResult:
        """Load the chunk (or return its recorded result when this run already committed it)."""
        tables = MapperTables(self.cfg.meta_schema)
        ledger = ChunkLedger(tables, self.cfg.mapref)
        lock = RunLock(tables, self.cfg.mapref)
        lock.announce(self.target, self.run_id)
        lock.check(self.target, self.run_id)
        bounds = display_value(self.spec.lower), display_value(self.spec.upper)
        done = ledger.lookup(self.target, self.run_id, self.spec.index, *bounds)
        if done is not None:
            done.from_ledger = True
            log.info("%s: already committed in this run (ledger); nothing to do", self.spec.label)
            return done
        started = utcnow()
        self.progress.start()
        ended = "failed"
        try:
            result = self._load_or_salvage()
            self.progress.phase(COMMITTING)
            ledger.record_chunk(self.target, self.run_id, result, started)
            self.target.commit()
            ended = "success"
        except BaseException as exc:
            self.target.rollback()
            with contextlib.suppress(Exception):  # the source may be gone too; its transaction is read-only
                self.source.rollback()
            ended = self._record_failure(ledger, started, exc)
            raise
        finally:
            self.progress.finish(ended)  # on its own connection, after the chunk's transaction ended
        self.source.rollback()
        log.info(
            "%s: %s read=%d inserted=%d updated=%d expired=%d unchanged=%d in %.2f s (%.0f rows/s)",
            self.spec.label, result.path, result.rows_read, result.rows_inserted, result.rows_updated,
            result.rows_expired, result.rows_unchanged, result.seconds_total,
            result.rows_read / max(result.seconds_total, 1e-6),
        )  # fmt: skip
        return result

    # ---- steps ------------------------------------------------------------------------------------------
    def _load_or_salvage(self) -> ChunkResult:
        """The bulk path; if the target refuses rows and max_error_rows allows, salvage mode (see salvage.py)."""
        try:
            return self._load()
        except Exception as exc:
            found = classify(exc)
            refused = isinstance(exc, (KeyRuleError, ConversionError)) or (found is not None and found.kind == DATA)
            if self.source_failed or not refused:
                raise
            if self.cfg.max_error_rows == 0:
                if found is None:
                    raise
                raise DataError(
                    f"{self.spec.label}: the target refused a row ({found.text}); the chunk committed nothing. "
                    "Fix the row in the source, or set max_error_rows to load the other rows and keep the refused "
                    "ones in mapper_rejects"
                ) from None
            reason = str(exc) if found is None else f"{self.spec.label}: {found.text}"
            log.warning("%s; loading again in salvage mode (max_error_rows=%d)", reason, self.cfg.max_error_rows)
        self.target.rollback()
        self.source.rollback()
        return self._load(salvage=True)

    def _load(self, salvage: bool = False) -> ChunkResult:
        t0 = time.monotonic()
        sql = validate_source_sql(self.source_sql)
        if self.spec.sql_fingerprint and fingerprint(sql) != self.spec.sql_fingerprint:
            raise PlanMismatchError(
                "source_sql rendered differently in load_chunk than in plan: keep the query deterministic per run "
                "(template with run context such as data_interval_*, not the wall clock), then re-run the plan"
            )
        try:
            self.source.begin_snapshot(self.spec.snapshot)  # every chunk of the run reads one point in time
            columns = self.source.describe(sql)
        except Exception:
            self.source_failed = True
            raise
        columns = load_columns(self.cfg, columns, self._target_columns())  # on_schema_change='ignore': a subset
        ctx = dataclasses.replace(self._context(columns), salvage=salvage)
        mover = Transfer(self.cfg, self.spec, self.source, self.target, self._target_columns(), progress=self.progress)
        self.progress.reading()
        direct = not salvage and self._direct_ok(ctx, mover)
        into = self.target.dialect.table(self.cfg.table) if direct else self.target.dialect.temp_name(STAGE)
        if not direct:
            self._create_staging(ctx)
        salvager = Salvager(self.target, ctx, RejectLog(self.cfg.max_error_rows, self.spec.label)) if salvage else None
        try:
            rows, path = mover.move(sql, ctx, into, direct, salvager)
        finally:
            self.source_failed = self.source_failed or mover.source_failed
        self.progress.phase(APPLYING, rows)
        if salvager is not None:
            salvager.number()
        t1 = time.monotonic()
        mark = None if direct else self._checkpoint_read(rows)  # in the source's types
        if not direct:
            ctx = self._convert(ctx, salvager)
        keyed = strategy(ctx.strategy).keyed
        if salvager is not None and keyed:
            order = self.cfg.checkpoint_column or self.cfg.effective_column
            salvager.ctx = ctx
            salvager.apply_key_rules(order if order in ctx.names else None)
        if not direct and not ctx.empty_target and keyed:
            self._small_delta_joins(rows)
            ctx = self._staged_slice(ctx)
        counts = self._direct_checks(ctx, rows) if direct else self._apply(ctx, salvager)
        if self.spec.detect_deletes and not self.spec.target_empty:
            self._record_keys(ctx, salvager)
        t2 = time.monotonic()
        path += "-direct" if direct else ("-salvage" if salvage else "-stage")
        rejected = salvager.rejects.rows if salvager is not None else []
        result = self._result(rows, counts, path, t1 - t0, t2 - t1, t2 - t0, len(rejected))
        result.checkpoint = mark
        store = RejectStore(MapperTables(self.cfg.meta_schema), self.cfg.mapref)
        store.write(self.target, self.run_id, self.spec.index, ctx.keys, rejected)
        return result

    def _convert(self, ctx: ApplyContext, salvager: Salvager | None) -> ApplyContext:
        """Staging into the existing target's column types, where they differ (see convert.py): the compare and
        the writes then run in the target's types."""
        d = self.target.dialect
        if not d.caps.converts_in_sql:
            return ctx
        have = {c.name: c.type for c in self._target_columns()}
        if all(c.name in have and d.same_type(c.type, have[c.name]) for c in ctx.columns):
            return ctx  # staged in the target's own types (e.g. a table the mapper created): nothing to convert
        converter = Converter(self.target, ctx, self._target_columns(), self.spec.label)
        if not converter:
            return ctx
        if salvager is None:
            converter.check()
        else:
            converter.reject(salvager.staged, salvager.rejects)
        extra = [PY_HASH] if ctx.python_hash else []
        extra += [RN, OK] if ctx.salvage else []
        return dataclasses.replace(ctx, columns=converter.rebuild(extra))

    def _target_columns(self) -> list[Column]:
        if self._described is None:
            self._described = self.target.describe(self.target.dialect.select_all_sql(self.cfg.table))
        return self._described

    def _checkpoint_read(self, rows: int) -> dict[str, str] | None:
        """KEY: the largest checkpoint value staged; PYTHON: the position after the last staged row."""
        d, spec = self.target.dialect, self.spec
        if spec.window:
            column, kind = spec.window["column"], spec.window.get("kind", "")
            return encode_value(self.target.scalar(d.staged_max_sql(STAGE, column, kind)))
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
        chosen = strategy(ctx.strategy)
        python_hash = chosen.versioned and d.row_hash_expr(ctx.values, "s") is None
        return dataclasses.replace(
            ctx,
            python_hash=python_hash,
            empty_target=chosen.keyed and self.spec.target_empty,
            effective_column=self.spec.effective_column or None,
        )

    def _staged_slice(self, ctx: ApplyContext) -> ApplyContext:
        """Narrow the compare join to the target rows between the smallest and largest staged key: exact by
        construction (the target never evaluates the plan's chunk predicate), for keys whose order is the same
        on every database (numbers, dates, times; not text, whose order is a collation's)."""
        by_name = {c.name: c for c in ctx.columns}
        if len(ctx.keys) != 1 or by_name[ctx.keys[0]].type.kind not in _SLICEABLE:
            return ctx
        d, key = self.target.dialect, ctx.keys[0]
        low, high = (self.target.query(d.staged_range_sql(STAGE, key)) or [(None, None)])[0]
        if low is None:
            return ctx
        k = f"t.{d.quote(key)}"
        where = f"{k} >= {d.param('mapper_klo')} AND {k} <= {d.param('mapper_khi')}"
        return dataclasses.replace(ctx, target_where=where, target_params={"mapper_klo": low, "mapper_khi": high})

    def _record_keys(self, ctx: ApplyContext, salvager: Salvager | None) -> None:
        """detect_deletes: the keys of every row this chunk read (rejected rows included) count as seen."""
        seen = SeenKeys(self.target.dialect, self.cfg.table, ctx.keys, self.cfg.meta_schema, self.cfg.mapref)
        params = {"run": self.run_id, "chunk": self.spec.index}
        self.target.execute(seen.record_staged_sql(), params)
        # rows refused while staging never reached staging: their keys come from the reject records (one at a
        # time under a savepoint: a key the target's key type cannot hold names no target row)
        if salvager is None:
            return
        keys = {tuple(row.get(k) for k in ctx.keys) for row in salvager.unstaged}
        table, names = self.target.dialect.table(seen.table), [RUN, CHUNK, *ctx.keys]
        for key in sorted((k for k in keys if None not in k), key=repr):
            row: tuple[Any, ...] = (self.run_id, self.spec.index, *key)
            salvager.attempt(functools.partial(self.target.insert_batches, table, names, [[row]]))

    def _direct_ok(self, ctx: ApplyContext, mover: Transfer) -> bool:
        if self.spec.window or self.spec.keyset is not None:
            return False  # the checkpoint is read from staging
        if self.target.dialect.caps.converts_in_sql and not mover.binary_ok(ctx, True):
            return False  # the target's column types are not the source's: staging converts the values
        chosen = strategy(ctx.strategy)
        if not chosen.keyed:
            return True
        if not ctx.empty_target:
            return False
        if chosen.versioned:  # new versions by binary COPY, their scd2 columns computed by the source
            return (
                relays_binary(self.source, self.target)
                and not ctx.python_hash
                and not ctx.effective_column
                and mover.binary_ok(ctx, True)
            )
        if self.spec.target_key_pk is not None:  # the plan checked it once for every chunk
            return self.spec.target_key_pk
        return self.target.has_primary_key(self.cfg.table, self.cfg.key_columns)

    def _small_delta_joins(self, staged: int) -> None:
        """An extract far smaller than the target (an incremental run) compares by key lookups: a hash join
        would scan the whole target for a few thousand rows (143 ms vs 26 ms for 10k rows against 1M)."""
        d = self.target.dialect
        sql = d.table_rows_sql()
        if sql is None:
            return
        target_rows = int(self.target.scalar(sql, {"t": d.table(self.cfg.table)}) or 0)
        if staged * SMALL_DELTA_RATIO < target_rows:
            for setting in d.prefer_index_joins_sql():
                self.target.execute(setting)

    def _direct_checks(self, ctx: ApplyContext, rows: int) -> dict[str, int]:
        """After a direct scd2 COPY: the key checks staging would have made (duplicates hit the unique index)."""
        for check in strategy(ctx.strategy).direct_checks(ctx):
            self._run_check(check, ctx, KeyRuleError)
        return {"rows_inserted": rows}

    def _run_check(self, check: Check, ctx: ApplyContext, error: type[DataError]) -> None:
        """Fail the chunk with ``error`` when the check's count is not zero."""
        n = int(self.target.scalar(check.sql) or 0)
        if n:
            raise error(f"{self.spec.label}: " + check.message.format(n=n, keys=", ".join(ctx.keys)))

    def _create_staging(self, ctx: ApplyContext) -> None:
        d = self.target.dialect
        for name in (STAGE, DELTA):
            if sql := d.drop_temp_sql(name):
                self.target.execute(sql)
        extra = [Column(PY_HASH, ColumnType("text"))] if ctx.python_hash else []
        self.target.execute(d.create_staging_sql(STAGE, [*ctx.columns, *extra], keys=ctx.keys))

    def _apply(self, ctx: ApplyContext, salvager: Salvager | None = None) -> dict[str, int]:
        checks, steps = apply_plan(ctx)
        counts: dict[str, int] = {}
        for item in _groups([*checks, *steps], salvage=salvager is not None):
            if isinstance(item, Check):
                self._run_check(item, ctx, KeyRuleError if item in checks else DataError)
                continue
            if isinstance(item, list):  # salvage mode: sliced writes, under savepoints
                done = salvager.run_sliced(item) if salvager is not None else {}
            else:
                n = self.target.execute(item.sql, item.params)
                done = {item.counter: n} if item.counter else {}
            for name, n in done.items():
                counts[name] = counts.get(name, 0) + n
        if "rows_versions" in counts:  # scd2: a changed key expires one version and inserts one
            expired = counts.get("rows_expired", 0)
            counts["rows_updated"] = expired
            counts["rows_inserted"] = counts.pop("rows_versions") - expired
        return counts

    def _result(
        self, rows: int, counts: dict[str, int], path: str, t_read: float, t_apply: float, total: float, rejected: int
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
            rows_rejected=rejected,
            rows_unchanged=rows - ins - upd - rejected if strategy(self.cfg.load_strategy).keyed else 0,
            seconds_read=round(t_read, 3),
            seconds_apply=round(t_apply, 3),
            seconds_total=round(total, 3),
            path=path,
        )

    def _record_failure(self, ledger: ChunkLedger, started: dt.datetime, exc: BaseException) -> str:
        """Record the chunk ``failed`` or ``stopped`` in the ledger (its own transaction); returns which."""
        stopped = self.stop_requested.is_set() or isinstance(exc, (KeyboardInterrupt, SystemExit))
        status = "stopped" if stopped else "failed"
        failed = ChunkResult(
            index=self.spec.index,
            status=status,
            lower=display_value(self.spec.lower),
            upper=display_value(self.spec.upper),
            attempt=self.attempt,
        )
        # a stop cancels the statement in flight on each connection: a cancel that reaches the target after its
        # COPY ended lands on this write instead, once; so a stopped chunk tries twice
        for attempt in range(2 if stopped else 1):
            try:
                ledger.record_chunk(self.target, self.run_id, failed, started, msg=describe_error(exc))
                self.target.commit()
                break
            except Exception:  # the target may be gone; the task failure itself is what matters
                with contextlib.suppress(Exception):
                    self.target.rollback()
                if attempt == (1 if stopped else 0):
                    log.warning("%s: could not record the failure in the chunk ledger", self.spec.label)
        return status


def _groups(work: list[Step | Check], salvage: bool) -> Iterator[Step | Check | list[Step]]:
    """The apply items in order; in salvage mode consecutive sliced steps come as one list (run per slice)."""
    for sliced, items in itertools.groupby(work, key=lambda w: salvage and isinstance(w, Step) and w.sliced):
        if sliced:
            yield [w for w in items if isinstance(w, Step)]
        else:
            yield from items
