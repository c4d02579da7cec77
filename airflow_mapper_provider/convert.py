"""Staged rows into an existing target's column types: explicit casts, never a silent change of value.

Staging holds the source's types (a binary COPY into it cannot refuse a row). Where a column of the existing
target has another type, the staged rows are converted in SQL before the compare and the writes, so the compare
runs in the target's types: a source row that did not change is unchanged after conversion, on every run.

A conversion that would change a value (numeric 1.50 into bigint, text longer than varchar(n), out of range, text
that is not a value of the target type) is a data error of that row, never rounded or truncated:

- normal mode: one pass over staging counts, per converted column, the rows whose value would change; any such row
  (or a value that does not convert at all) fails the chunk with a :class:`ConversionError` naming the column, the
  two types and the SQLSTATE (values are never in the message);
- salvage mode (``max_error_rows``): the same conditions find exactly the refused rows (bisecting the row numbers
  where a value raises), which go to ``mapper_rejects`` with the column named; the rest load.
Then staging is rebuilt in the target's types (:meth:`Converter.rebuild`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import Column
from airflow_mapper_provider.dialects.types import TEXT_KINDS
from airflow_mapper_provider.exceptions import ConversionError
from airflow_mapper_provider.salvage import under_savepoint
from airflow_mapper_provider.state.rejects import Reject, RejectLog
from airflow_mapper_provider.strategies import conversion as sql
from airflow_mapper_provider.strategies import rules
from airflow_mapper_provider.strategies.base import OK, ApplyContext

log = logging.getLogger(__name__)

#: SQLSTATE recorded for a value that converts but would change (data_exception).
LOSSY = "22000"
TOO_LONG = "22001"
_SAVEPOINT = "mapper_convert"
#: ``mapper_ok`` of a staged row refused because its key does not convert (its key is not recorded as seen).
BAD_KEY = -1


@dataclass(frozen=True)
class Conversion:
    """One staged column whose type differs from the target column's."""

    staged: Column
    target: Column

    @property
    def name(self) -> str:
        return self.staged.name

    def describe(self) -> str:
        return f"{self.name} ({self.staged.type.native} -> {self.target.type.native})"

    @property
    def lossy_code(self) -> str:
        """SQLSTATE of a value this conversion would change: too long for the target's text type (22001,
        string_data_right_truncation) or any other change (22000, data_exception)."""
        src, dst = self.staged.type, self.target.type
        return TOO_LONG if src.kind in TEXT_KINDS and dst.kind in TEXT_KINDS and dst.length else LOSSY


class Converter:
    """Conversion of one chunk's staging into the target's types (inside the chunk's transaction).

    :param sess: the target session.
    :param ctx: the apply context (its columns are the staged source columns).
    :param target_columns: the existing target's columns, described by the target.
    :param label: the chunk's label, for messages.
    """

    def __init__(self, sess: Session, ctx: ApplyContext, target_columns: Sequence[Column], label: str) -> None:
        self.sess, self.ctx, self.label = sess, ctx, label
        d = sess.dialect
        staged = {c.name: c for c in sess.describe(sql.stage_sql(d))}
        by_name = {c.name: c for c in target_columns}
        self.columns = [by_name.get(c.name, staged[c.name]) for c in ctx.columns]
        self.conversions = [
            Conversion(staged[c.name], by_name[c.name])
            for c in ctx.columns
            if c.name in by_name and not d.same_type(staged[c.name].type, by_name[c.name].type)
        ]
        keys = set(ctx.keys)
        # key columns first: a row whose key does not convert is refused for its key
        self.conversions.sort(key=lambda conv: conv.name not in keys)

    def __bool__(self) -> bool:
        return bool(self.conversions)

    def _lossy(self, conv: Conversion, alias: str = "s") -> str | None:
        d = self.sess.dialect
        return d.lossy_sql(f"{alias}.{d.quote(conv.name)}", conv.staged.type, conv.target.type)

    # ---- normal mode ------------------------------------------------------------------------------------
    def check(self) -> None:
        """Fail the chunk if some staged value would change (or cannot convert), naming the column(s)."""
        checked = [(conv, cond) for conv in self.conversions if (cond := self._lossy(conv)) is not None]
        if not checked:
            return
        rows, error = self._attempt(sql.lossy_counts_sql(self.sess.dialect, [cond for _, cond in checked]))
        if error is not None:
            raise self._unconvertible(checked, error)
        counts = rows[0]
        lossy = [(conv, int(n)) for (conv, _), n in zip(checked, counts, strict=True) if n]
        if lossy:
            listed = "; ".join(
                f"{n} row(s) of column {conv.describe()}, SQLSTATE {conv.lossy_code}" for conv, n in lossy
            )
            raise ConversionError(
                f"{self.label}: converting into the target's column types would change values ({listed}). "
                "Fix the source values, widen the target column, or set max_error_rows to keep those rows in "
                "mapper_rejects; nothing was rounded or truncated and the chunk committed nothing"
            )

    def _unconvertible(self, checked: list[tuple[Conversion, str]], first: tuple[str, str]) -> ConversionError:
        """The column whose values raise on conversion (probed one column at a time)."""
        for conv, cond in checked:
            _, error = self._attempt(sql.lossy_counts_sql(self.sess.dialect, [cond]))
            if error is not None:
                return ConversionError(
                    f"{self.label}: column {conv.describe()}: some values do not convert into the target's type "
                    f"(SQLSTATE {error[0]}). Fix them in source_sql, change the target column's type, or set "
                    "max_error_rows to keep those rows in mapper_rejects; the chunk committed nothing"
                )
        return ConversionError(f"{self.label}: values do not convert into the target's types (SQLSTATE {first[0]})")

    # ---- salvage mode -----------------------------------------------------------------------------------
    def reject(self, staged: int, rejects: RejectLog) -> None:
        """Refuse, into ``rejects``, the numbered staged rows whose value would change or does not convert, and
        flag them out of the writes (``mapper_ok`` 0, or :data:`BAD_KEY` where the key is the refused column)."""
        keys = set(self.ctx.keys)
        for conv in self.conversions:
            cond = self._lossy(conv)
            if cond is None:
                continue
            found = self._refused(cond, conv.lossy_code, 1, staged)
            for rn, (code, why) in sorted(found.items()):
                rejects.add(Reject(self._row(rn), code, f"column {conv.describe()}: {why}"))
            self._flag(sorted(found), BAD_KEY if conv.name in keys else 0)

    def _refused(self, cond: str, code: str, lo: int, hi: int) -> dict[int, tuple[str, str]]:
        """Row numbers lo..hi (ok rows) whose value changes or raises: row number -> (code, reason)."""
        params = {"mapper_lo": lo, "mapper_hi": hi}
        rows, error = self._attempt(sql.lossy_rows_sql(self.sess.dialect, cond), params)
        if error is None:
            lossy = "the value would change in the target's type (not rounded or truncated: rejected)"
            return {int(r[0]): (code, lossy) for r in rows}
        if lo == hi:
            return {lo: error}
        mid = (lo + hi) // 2
        return {**self._refused(cond, code, lo, mid), **self._refused(cond, code, mid + 1, hi)}

    def _row(self, rn: int) -> dict[str, object]:
        found = self.sess.query(rules.staged_row_sql(self.ctx), {"rn": rn})
        return dict(zip(self.ctx.names, found[0], strict=True)) if found else {}

    def _flag(self, numbers: Sequence[int], flag: int) -> None:
        for start in range(0, len(numbers), 500):
            part = numbers[start : start + 500]
            params = {f"r{i}": rn for i, rn in enumerate(part)}
            self.sess.execute(sql.flag_sql(self.sess.dialect, list(params), flag), params)

    # ---- both modes -------------------------------------------------------------------------------------
    def rebuild(self, extra: Sequence[str] = ()) -> list[Column]:
        """Replace staging by its rows in the target's types (``extra`` staged columns copied as they are);
        returns the new staged columns. In salvage mode refused rows keep NULL in the refused columns."""
        d, ctx = self.sess.dialect, self.ctx
        by_name = {conv.name: conv for conv in self.conversions}
        keys = set(ctx.keys)
        parts = []
        for name in ctx.names:
            col = f"s.{d.quote(name)}"
            conv = by_name.get(name)
            if conv is None:
                parts.append(col)
                continue
            cast = d.cast_sql(col, conv.staged.type, conv.target.type)
            if ctx.salvage:  # never evaluate a refused value's conversion
                least = BAD_KEY + 1 if name in keys else 1
                cast = f"CASE WHEN s.{d.quote(OK)} >= {least} THEN {cast} END"
            parts.append(f"{cast} AS {d.quote(name)}")
        parts += [f"s.{d.quote(x)}" for x in extra]
        for statement in sql.rebuild_sql(d, parts, index=ctx.salvage):
            self.sess.execute(statement)
        converted = ", ".join(c.describe() for c in self.conversions)
        log.info("%s: converted into the target's column types: %s", self.label, converted)
        return self.columns

    def _attempt(
        self, query: str, params: dict[str, Any] | None = None
    ) -> tuple[list[tuple[Any, ...]], tuple[str, str] | None]:
        """Run ``query`` under a savepoint: (its rows, None), or on a data error, which rolls back to the
        savepoint, ([], (code, full text))."""
        rows: list[tuple[Any, ...]] = []
        error = under_savepoint(self.sess, lambda: rows.extend(self.sess.query(query, params)), _SAVEPOINT)
        return rows, error
