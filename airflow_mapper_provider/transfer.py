"""Moving one chunk's rows from the source into staging or the target (no SQL text here: dialects build it).

- binary COPY pipe (PostgreSQL to PostgreSQL): ``COPY (SELECT ...) TO STDOUT`` blocks are written as they come
  into ``COPY ... FROM STDIN``; no row is decoded in Python;
- row batches (any other pair): the source streams batches of :data:`BATCH_ROWS` rows, the target writes them
  (COPY rows on PostgreSQL, executemany elsewhere), or salvage mode inserts them under savepoints.
Source errors are noted (:attr:`Transfer.source_failed`): they are never rows the target refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.db.base import Codec
from airflow_mapper_provider.dialects import Column
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planning import bucket_of
from airflow_mapper_provider.progress import Progress
from airflow_mapper_provider.salvage import Salvager
from airflow_mapper_provider.strategies import ApplyContext, strategy
from airflow_mapper_provider.strategies.base import PY_HASH
from airflow_mapper_provider.strategies.versions import VERSION_COLUMNS, VERSION_NAMES

BATCH_ROWS = 5_000
#: PostgreSQL types of the scd2 columns that a binary COPY of new versions writes (their neutral kinds are
#: PostgreSQL's short type names).
_VERSIONS_NATIVE = {c.name: c.type.kind for c in VERSION_COLUMNS}
T = TypeVar("T")


@dataclass
class Transfer:
    """The row mover of one chunk; ``source`` and ``target`` are the chunk's sessions."""

    cfg: MapperConfig
    spec: ChunkSpec
    source: Session
    target: Session
    #: The existing target's columns, as the target describes them (the loader's, described once per chunk).
    target_columns: Sequence[Column] = ()
    source_failed: bool = False
    #: Counts the rows as they pass (rows path), or asks the target's COPY how many it wrote (progress.py).
    progress: Progress = dataclasses.field(default_factory=Progress)

    def binary_ok(self, ctx: ApplyContext, direct: bool) -> bool:
        """A binary COPY fits: staging when it has the source's types (a type the target database lacks, such as
        another database's enum, is staged as text: rows then travel as text); the target only with identical
        types."""
        if not direct:
            d = self.target.dialect
            return all(d.type_ddl(c.type) == c.type.native for c in ctx.columns)
        have = {c.name: c.type.native for c in self.target_columns}
        need = {c.name: c.type.native for c in ctx.columns}
        if strategy(ctx.strategy).versioned:
            need.update(_VERSIONS_NATIVE)
        return all(have.get(name) == native for name, native in need.items())

    def move(
        self, sql: str, ctx: ApplyContext, into: str, direct: bool, salvager: Salvager | None = None
    ) -> tuple[int, str]:
        """Move the chunk's rows into ``into``; returns (rows read, path name)."""
        names = ctx.names
        select, params = self.source.dialect.chunk_select(sql, names, self.spec)
        src, tgt = self.source, self.target
        if relays_binary(src, tgt) and self.binary_ok(ctx, direct):
            if (
                direct and strategy(ctx.strategy).versioned
            ):  # new current versions, their scd2 columns computed by the source
                select = src.dialect.scd2_versions_select(select, ctx.values, "mapper_eff")
                params, names = {**params, "mapper_eff": ctx.effective_time}, [*names, *VERSION_NAMES]
            data = self._from_source(src.copy_out(src.dialect.copy_out_sql(select), params))
            self.progress.watch_copy(tgt.backend_pid())  # no row is decoded here: the target's COPY counts them
            with contextlib.closing(data):  # the target failed mid-pipe: end the source's COPY, free its connection
                copied = tgt.copy_in(tgt.dialect.copy_in_sql(into, names), data)
            if salvager is not None:
                salvager.staged = copied  # staging has the source's types: COPY refuses no row
            return copied, "copy"
        batches = self._batches(select, params, ctx)
        target_cols = [*names, PY_HASH] if ctx.python_hash and not direct else names
        with contextlib.closing(batches):
            if salvager is not None:
                return salvager.stage_rows(into, target_cols, batches), "rows"
            return tgt.insert_batches(into, target_cols, batches), "rows"

    def _from_source(self, items: Iterable[T]) -> Generator[T, None, None]:
        """Pass ``items`` through, noting when the source raises."""
        try:
            yield from items
        except Exception:
            self.source_failed = True
            raise

    def _batches(
        self, select: str, params: dict[str, Any], ctx: ApplyContext
    ) -> Generator[list[tuple[Any, ...]], None, None]:
        key_pos = [ctx.names.index(k) for k in ctx.keys]
        value_pos = [ctx.names.index(c.name) for c in ctx.values]
        pick = self.source.dialect.filters_in_python(self.spec)
        codecs = self._codecs(ctx)
        for rows in self._from_source(self.source.stream(select, params, BATCH_ROWS)):
            if pick:  # on the values as read: every chunk of the run buckets them alike
                rows = [r for r in rows if bucket_of([r[i] for i in key_pos], self.spec.buckets) == self.spec.bucket]
            if codecs:
                rows = [_converted(r, codecs) for r in rows]
            if ctx.python_hash:  # over the encoded values: the canonical forms the target stores
                rows = [(*r, row_hash([r[i] for i in value_pos])) for r in rows]
            self.progress.add_rows(len(rows))
            yield rows

    def _codecs(self, ctx: ApplyContext) -> list[tuple[int, Codec]]:
        """Per-column conversion of the rows path between databases (README "Type maps"), as (position, function)
        for the columns that need one: a target that stores canonical forms (SQLite) encodes each value by its
        column's declared type; else a source that stored canonical forms decodes them by the source column's
        declared type. Elsewhere values pass as the driver read them."""
        src, tgt = self.source, self.target
        encoders = tgt.row_encoders(self.cfg.table, ctx.columns)
        if encoders is not None:
            src.prepare_read_for(tgt)  # e.g. a PostgreSQL source: JSON text as is; ±infinity, 24:00:00 as text
            return encoders
        return src.row_decoders(ctx.columns)


def _converted(row: tuple[Any, ...], codecs: list[tuple[int, Codec]]) -> tuple[Any, ...]:
    values = list(row)
    for i, convert in codecs:
        values[i] = convert(values[i])
    return tuple(values)


def relays_binary(source: Session, target: Session) -> bool:
    """Both databases speak the same binary COPY format: blocks pass from one to the other undecoded."""
    s, t = source.dialect, target.dialect
    return s.caps.binary_copy and t.caps.binary_copy and type(s) is type(t)


def row_hash(values: list[Any]) -> str:
    """The scd2 row hash computed in Python (dialects without SQL row hashing)."""
    text = "\x1f".join("\x00" if v is None else f"{type(v).__name__}:{v}" for v in values)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
