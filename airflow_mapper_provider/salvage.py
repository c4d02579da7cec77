"""Salvage mode: load a chunk that holds bad rows, reject exactly those rows, commit the rest.

A chunk first runs on its normal bulk path. Only when the target refuses a row (a data error: constraint
violation, type conversion, value too long) or the extract breaks a key rule (NULL or duplicate business key),
and ``max_error_rows`` > 0, is the transaction rolled back and the chunk read again in salvage mode:

1. staging: binary COPY as usual (staging has the source's own types, so it cannot refuse a row); the row paths
   insert each batch under a savepoint and bisect a refused batch down to its bad rows;
2. the staged rows are numbered; the key rules flag NULL keys and duplicate keys (:func:`pick_duplicates`);
3. the strategy's writes run by slices of row numbers, each slice under a savepoint. A refused slice is halved
   until the refused rows stand alone: those are rejected with the database's error, every other row commits.
Cost: one more read of the chunk, plus about 2 x log2(slice) small statements per bad row; the writes stay
set-based. Over the budget the chunk fails and the whole transaction rolls back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.errors import DATA, classify
from airflow_mapper_provider.state.rejects import Reject, RejectLog
from airflow_mapper_provider.strategies import rules
from airflow_mapper_provider.strategies.base import SLICE_HI, SLICE_LO, ApplyContext, Step

#: Staged rows per write slice (each slice runs under one savepoint).
SLICE_ROWS = 10_000
NULL_KEY, DUPLICATE_KEY = "23502", "21000"
_SAVEPOINT = "mapper_salvage"
_FLAG_BATCH = 500


class Salvager:
    """Salvage-mode operations on the target for one chunk.

    :param target: the chunk's target session (inside the chunk's transaction).
    :param ctx: the apply context, with ``salvage`` set.
    :param rejects: where refused rows go; raises when over the budget.
    """

    def __init__(self, target: Session, ctx: ApplyContext, rejects: RejectLog) -> None:
        self.target = target
        self.ctx = ctx
        self.rejects = rejects
        self.staged = 0
        #: rows refused while staging (they never reached staging)
        self.unstaged: list[dict[str, Any]] = []

    # ---- 1. staging by rows -----------------------------------------------------------------------------
    def stage_rows(self, into: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        """Insert the batches into staging, rejecting rows it refuses; returns the rows read."""
        read = 0
        for rows in batches:
            read += len(rows)
            self.staged += self._stage(into, columns, rows)
        return read

    def _stage(self, into: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        if self.target.dialect.caps.array_dml_errors:
            return self._stage_reporting(into, columns, rows)
        error = self._attempt(lambda: self.target.insert_batches(into, columns, [rows]))
        if error is None:
            return len(rows)
        if len(rows) == 1:
            row = dict(zip(self.ctx.names, rows[0], strict=False))
            self.rejects.add(Reject(row, *error))
            self.unstaged.append(row)
            return 0
        half = len(rows) // 2
        return self._stage(into, columns, rows[:half]) + self._stage(into, columns, rows[half:])

    def _stage_reporting(self, into: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        """Array DML that reports each refused row (Oracle ``batcherrors``): no savepoint, no bisection."""
        refused = self.target.insert_rows_reporting(into, columns, rows)
        for position, code, message in refused:
            row = dict(zip(self.ctx.names, rows[position], strict=False))
            self.rejects.add(Reject(row, code, message))
            self.unstaged.append(row)
        return len(rows) - len(refused)

    # ---- 2. numbering and key rules ---------------------------------------------------------------------
    def number(self) -> None:
        """Number the staged rows 1..staged (the slices of the writes)."""
        for sql in rules.number_staging(self.ctx):
            self.target.execute(sql)

    def apply_key_rules(self, order_column: str | None) -> None:
        """Reject NULL keys, then duplicate keys by :func:`pick_duplicates`; flag them out of the writes."""
        ctx, t = self.ctx, self.target
        nulls = [int(r[0]) for r in t.query(rules.null_key_rows_sql(ctx))]
        message = f"NULL in a key column ({', '.join(ctx.keys)}): scd loads need a non-null business key"
        for rn in nulls:
            self.rejects.add(Reject(self._row(rn), NULL_KEY, message))
        self._flag(nulls)
        excess = int(t.scalar(rules.duplicate_count_sql(ctx)) or 0)
        if excess == 0:
            return
        self.rejects.check_room(excess, DUPLICATE_KEY)  # fail before fetching every duplicate row
        names = ctx.names
        rows = [(int(r[0]), dict(zip(names, r[1:], strict=True))) for r in t.query(rules.duplicate_rows_sql(ctx))]
        losers = pick_duplicates(rows, ctx.keys, order_column)
        for _, row, why in losers:
            self.rejects.add(Reject(row, DUPLICATE_KEY, why))
        self._flag([rn for rn, _, _ in losers])

    def _flag(self, numbers: Sequence[int]) -> None:
        for start in range(0, len(numbers), _FLAG_BATCH):
            part = numbers[start : start + _FLAG_BATCH]
            params = {f"r{i}": rn for i, rn in enumerate(part)}
            self.target.execute(rules.flag_rows_sql(self.ctx, list(params)), params)

    def _row(self, rn: int) -> dict[str, Any]:
        found = self.target.query(rules.staged_row_sql(self.ctx), {"rn": rn})
        return dict(zip(self.ctx.names, found[0], strict=True)) if found else {}

    # ---- 3. sliced writes -------------------------------------------------------------------------------
    def run_sliced(self, steps: Sequence[Step]) -> dict[str, int]:
        """Run ``steps`` over every slice of staged rows; returns the summed counters."""
        counts: dict[str, int] = defaultdict(int)
        for lo in range(1, self.staged + 1, SLICE_ROWS):
            self._slice(steps, lo, min(self.staged, lo + SLICE_ROWS - 1), counts)
        return dict(counts)

    def _slice(self, steps: Sequence[Step], lo: int, hi: int, counts: dict[str, int]) -> None:
        got: dict[str, int] = defaultdict(int)

        def write() -> None:
            for step in steps:
                n = self.target.execute(step.sql, {**step.params, SLICE_LO: lo, SLICE_HI: hi})
                if step.counter:
                    got[step.counter] += n

        error = self._attempt(write)
        if error is None:
            for name, n in got.items():
                counts[name] += n
        elif lo == hi:
            self.rejects.add(Reject(self._row(lo), *error))
        else:
            mid = (lo + hi) // 2
            self._slice(steps, lo, mid, counts)
            self._slice(steps, mid + 1, hi, counts)

    # ---- savepoints -------------------------------------------------------------------------------------
    def attempt(self, work: Callable[[], object]) -> tuple[str, str] | None:
        """Run ``work`` under a savepoint; a data error rolls back to it and is returned as (code, message)."""
        return self._attempt(work)

    def _attempt(self, work: Callable[[], object]) -> tuple[str, str] | None:
        return under_savepoint(self.target, work)


def under_savepoint(sess: Session, work: Callable[[], object], name: str = _SAVEPOINT) -> tuple[str, str] | None:
    """Run ``work`` under a savepoint of ``sess``; on a data error roll back to it and return (code, the database's
    full message); other errors propagate."""
    d = sess.dialect
    sess.execute(d.savepoint_sql("set", name))
    try:
        work()
    except Exception as exc:
        found = classify(exc)
        if found is None or found.kind != DATA:
            raise
        sess.execute(d.savepoint_sql("rollback", name))
        _release(sess, name)
        return found.code or "unknown", found.full
    _release(sess, name)
    return None


def _release(sess: Session, name: str) -> None:
    """``RELEASE SAVEPOINT``, where the database has one (Oracle's savepoints end with the transaction: "")."""
    release = sess.dialect.savepoint_sql("release", name)
    if release:
        sess.execute(release)


def pick_duplicates(
    rows: Sequence[tuple[int, dict[str, Any]]], keys: Sequence[str], order_column: str | None
) -> list[tuple[int, dict[str, Any], str]]:
    """The duplicate-key rule: which rows of a repeated key are rejected, and why.

    Within one extract, the row with the highest ``order_column`` (the checkpoint column, else the scd2
    effective-time column) wins and the others are rejected. Copies identical in every column count as one
    row (the extra copies are rejected). When there is no order column, or the highest value is shared by rows
    that differ, every row of the key is rejected: the target keeps its current version, never an arbitrary
    pick. NULL in the order column ranks lowest.
    """
    groups: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for rn, row in rows:
        groups[tuple(row[k] for k in keys)].append((rn, row))
    out: list[tuple[int, dict[str, Any], str]] = []
    for members in groups.values():
        out += _losers(members, order_column)
    return sorted(out, key=lambda item: item[0])


def _losers(members: list[tuple[int, dict[str, Any]]], order: str | None) -> list[tuple[int, dict[str, Any], str]]:
    def rank(item: tuple[int, dict[str, Any]]) -> tuple[bool, Any]:
        value = item[1].get(order) if order else None
        return (value is not None, value)

    best = max(rank(m) for m in members)
    top = [m for m in members if rank(m) == best]
    superseded = f"duplicate key in the extract: a row with a higher {order} wins"
    out = [(rn, row, superseded) for rn, row in members if rank((rn, row)) != best]
    if all(row == top[0][1] for _, row in top):
        out += [(rn, row, "duplicate key in the extract: an identical copy of a loaded row") for rn, row in top[1:]]
        return out
    tie = f"no single highest {order}" if order else "no checkpoint column to choose by"
    out += [(rn, row, f"duplicate key in the extract with {tie}: every row of this key rejected") for rn, row in top]
    return out
