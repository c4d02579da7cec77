"""The target table: created from the source's columns when missing; when it exists, compared with the source's
columns and evolved as ``on_schema_change`` says.

``append_new_columns`` (default) adds the source's new columns (NULL in existing rows and versions) and widens a
column where the source's type holds more and the target's values fit it unchanged (PostgreSQL: varchar(n) to
varchar(m > n) or text, char(n) to char(m > n), smallint to integer to bigint, real to double precision, numeric
with more integer digits and no fewer decimals, timestamp/time with more fractional digits). SQLite enforces no
declared type, so it needs no widening. Any other type difference (a narrower type, another kind) is not applied:
the load converts into the target's type and refuses a value that would change. ``fail`` refuses, listing every
difference, whatever ``append_new_columns`` would change; ``ignore`` changes nothing and loads only the columns the
target has. Target columns the source no longer returns are kept, in every mode.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.config import SCD2_COLUMNS, MapperConfig
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import Column, ColumnType, Dialect
from airflow_mapper_provider.errors import classify
from airflow_mapper_provider.exceptions import ConfigError, SchemaError
from airflow_mapper_provider.identifiers import validate_identifier
from airflow_mapper_provider.strategies import strategy

log = logging.getLogger(__name__)

#: Key of the plan's first chunk dict holding the source's columns at that plan (:func:`encode_columns`).
SOURCE_COLUMNS_FIELD = "source_columns"
#: Key of the plan's first chunk dict holding the run's schema changes (texts) for finalize's job log message;
#: absent in plans made before it existed (finalize then records none).
SCHEMA_CHANGES_FIELD = "schema_changes"


def check_source_columns(cfg: MapperConfig, columns: Sequence[Column]) -> None:
    """The source query must name its columns plainly and contain the key (and no scd2 column names)."""
    names = [c.name for c in columns]
    if not names:
        raise ConfigError("source_sql returns no columns")
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in lowered if lowered.count(n) > 1})
    if dupes:
        raise ConfigError(f"source_sql returns column(s) {dupes} more than once: alias them uniquely")
    for name in names:
        try:
            validate_identifier(name, "source column name")
        except ConfigError as exc:
            raise ConfigError(f"{exc}; alias the expression in source_sql (SELECT ... AS name)") from None
    missing = [k for k in cfg.key_columns if k not in names]
    if missing:
        raise ConfigError(f"key column(s) {missing} are not among the source columns {names}: fix key_columns")
    if cfg.load_strategy == "scd2":
        clash = [n for n in names if n.lower() in SCD2_COLUMNS]
        if clash:
            raise ConfigError(f"source column(s) {clash} clash with the scd2 columns {list(SCD2_COLUMNS)}: rename")


def ensure_target(
    sess: Session, cfg: MapperConfig, columns: Sequence[Column], previous: Sequence[Column] | None = None
) -> list[str]:
    """Create the target table (and its indexes) if missing; else compare its columns with the source's and act
    as ``cfg.on_schema_change`` says (:func:`evolve_target`). Returns the schema changes, one text each, for the
    run's job log (none for a table it created). Runs in the caller's transaction, under the DDL lock.

    :param previous: the source's columns at the mapref's previous plan (None: unknown).
    """
    table, d = cfg.table, sess.dialect
    if sess.table_exists(table):
        return evolve_target(sess, cfg, columns, previous)
    if table.schema:
        sess.ensure_schema(table.schema)
    for sql in strategy(cfg.load_strategy).create_sql(d, table, columns, list(cfg.key_columns)):
        sess.execute(sql)
    log.info("created target table %s (%s, %d columns)", table, cfg.load_strategy, len(columns))
    return []


@dataclass(frozen=True)
class SchemaDiff:
    """How the source's columns differ from an existing target's (names match exactly, case included).

    :param added: source columns the target lacks.
    :param widened: (target column, source column) pairs: the source's type grew since the previous plan, past the
        target's, and the target's type widens losslessly to it.
    :param converted: (target column, source column) pairs of other type differences (including a target type
        that was narrower than the source's already at the previous plan, or with no previous plan known): loaded
        as the target's type.
    :param kept: target columns the source does not return (the scd2 columns aside).
    """

    added: tuple[Column, ...] = ()
    widened: tuple[tuple[Column, Column], ...] = ()
    converted: tuple[tuple[Column, Column], ...] = ()
    kept: tuple[str, ...] = ()

    @property
    def changes_target(self) -> bool:
        """``append_new_columns`` would alter the target."""
        return bool(self.added or self.widened)

    def lines(self) -> list[str]:
        """Every difference, one text each (for messages)."""
        out = []
        if self.added:
            out.append("source column(s) not in the target: " + ", ".join(_typed(c) for c in self.added))
        if self.widened:
            out.append("column(s) whose source type is wider: " + ", ".join(_change(t, s) for t, s in self.widened))
        if self.converted:
            out.append(
                "column(s) of another type, converted into the target's on load: "
                + ", ".join(_change(t, s) for t, s in self.converted)
            )
        if self.kept:
            out.append(f"target column(s) not in the source (NULL in new rows): {', '.join(self.kept)}")
        return out


def compare_columns(
    dialect: Dialect, source: Sequence[Column], target: Sequence[Column], previous: Sequence[Column] | None = None
) -> SchemaDiff:
    """The differences between the source's columns and the existing target's, as seen by the target's dialect
    (types are compared only where it enforces them: :func:`_enforces_types`).

    A widening follows the source: a column widens only where the target held the source's type at the previous
    plan (``previous``, the source's columns then) and the source's type has grown past it since. A target column
    narrower than the source's from the start (a table the user made so, or no previous plan known) stays as it
    is: the load converts into it and refuses a value that does not fit.
    """
    have = {c.name: c for c in target}
    names = {c.name for c in source}
    before = {c.name: c for c in previous or ()}
    widened: list[tuple[Column, Column]] = []
    converted: list[tuple[Column, Column]] = []
    for col in source:
        tcol = have.get(col.name)
        if tcol is None or not _enforces_types(dialect) or _same_type(tcol.type, col.type):
            continue
        was = before.get(col.name)
        grew = was is not None and (_same_type(tcol.type, was.type) or not widens(tcol.type, was.type))
        (widened if grew and widens(tcol.type, col.type) else converted).append((tcol, col))
    return SchemaDiff(
        added=tuple(c for c in source if c.name not in have),
        widened=tuple(widened),
        converted=tuple(converted),
        kept=tuple(c.name for c in target if c.name not in names and c.name not in SCD2_COLUMNS),
    )


def evolve_target(
    sess: Session, cfg: MapperConfig, columns: Sequence[Column], previous: Sequence[Column] | None = None
) -> list[str]:
    """Bring an existing target in line with the source's columns as ``cfg.on_schema_change`` says; returns the
    changes made or decided (for the job log). Raises :class:`SchemaError` naming the fix where it cannot.

    :param previous: the source's columns at the mapref's previous plan (None: unknown; nothing widens).
    """
    d = sess.dialect
    target = sess.describe(d.select_all_sql(cfg.table))
    _require_layout(cfg, [c.name for c in target])
    diff = compare_columns(d, columns, target, previous)
    mode = cfg.on_schema_change
    for tcol, scol in diff.converted:
        log.info("column %s: the source's type is %s, the target's %s: loaded as the target's type", scol.name,
                 _native(scol), _native(tcol))  # fmt: skip
    if diff.kept:
        log.info("target column(s) %s are not in the source: new rows get NULL there", list(diff.kept))
    if mode == "fail" and diff.changes_target:
        raise SchemaError(
            f"the source's columns differ from target table {cfg.table}'s and on_schema_change='fail': "
            + "; ".join(diff.lines())
            + ". Change the target (or source_sql) to match, or set on_schema_change='append_new_columns' (add "
            "the new columns, widen the types) or 'ignore' (load only the columns the target has)"
        )
    if mode == "ignore":
        load_columns(cfg, columns, target)  # refuses a checkpoint or effective-time column the target lacks
        return _ignored(cfg, diff)
    return _alter(sess, cfg, diff)


def load_columns(cfg: MapperConfig, source: Sequence[Column], target: Sequence[Column]) -> list[Column]:
    """The source columns a chunk loads into the existing target, in source order: with
    ``on_schema_change='ignore'`` those the target has, else all of them (the plan added the others).

    :raises SchemaError: a key column is not in the target; with 'ignore', the checkpoint or effective-time
        column is not in the target; else, a source column is not in the target (the source or the target changed
        after the plan).
    """
    have = {c.name for c in target}
    _require_keys(cfg, have)
    if cfg.on_schema_change == "ignore":
        kept = [c for c in source if c.name in have]
        needed = [n for n in (cfg.checkpoint_column, cfg.effective_column) if n and n not in have]
        if needed:
            raise SchemaError(
                f"target table {cfg.table} lacks column(s) {needed}, which the run needs (checkpoint_column or "
                "scd2_effective_time), and on_schema_change='ignore' loads only the columns the target has: add "
                "them to the target, or set on_schema_change='append_new_columns'"
            )
        return kept
    missing = [c.name for c in source if c.name not in have]
    if missing:
        raise SchemaError(
            f"target table {cfg.table} lacks source column(s) {missing}: the source or the target changed after "
            f"this run's plan (on_schema_change={cfg.on_schema_change!r}). Clear the plan task to plan the run "
            "again, or set on_schema_change='ignore' to load only the columns the target has"
        )
    return list(source)


def widens(target: ColumnType, source: ColumnType) -> bool:
    """Every value of the target's type ``target`` is a value of ``source`` unchanged, and the source's type holds
    more: altering the target column to the source's type is lossless."""
    t, s = target, source
    if t.kind in _INTEGERS and s.kind in _INTEGERS:
        return _INTEGERS.index(s.kind) > _INTEGERS.index(t.kind)
    if (t.kind, s.kind) == ("real", "double"):
        return True
    if t.kind == "varchar" and s.kind in ("varchar", "text"):
        return t.length is not None and (s.kind == "text" or s.length is None or s.length > t.length)
    if t.kind == "char" and s.kind == "char":
        return t.length is not None and s.length is not None and s.length > t.length
    if t.kind == "numeric" and s.kind == "numeric" and t.precision is not None:
        if s.precision is None:
            return True
        ts, ss = t.scale or 0, s.scale or 0
        return s.precision - ss >= t.precision - ts and ss >= ts and (s.precision, ss) != (t.precision, ts)
    if t.kind == s.kind and t.kind in _FRACTIONAL and t.dialect == s.dialect:
        return _fraction_digits(s) > _fraction_digits(t)
    return False


def encode_columns(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """The source's columns as JSON-friendly dicts (kept with the plan: the next plan's ``previous``)."""
    return [{"name": c.name, **dataclasses.asdict(c.type)} for c in columns]


def decode_columns(data: Any) -> list[Column] | None:
    """Inverse of :func:`encode_columns`; None for a plan that recorded none (made before it did)."""
    if not isinstance(data, list):
        return None
    known = {f.name for f in dataclasses.fields(ColumnType)}
    legacy = {"generic": "sqlite"}  # plans before SQLite had a dialect of its own tagged its types "generic"
    return [Column(d["name"], ColumnType(**{k: legacy.get(v, v) if k == "dialect" else v for k, v in d.items()
                                            if k in known})) for d in data]  # fmt: skip


# ---- internals ------------------------------------------------------------------------------------------------

_INTEGERS = ("smallint", "int", "bigint")
#: Kinds with a fractional-seconds precision, ``timestamp(3)`` (none given: 6 digits).
_FRACTIONAL = frozenset({"timestamp", "timestamptz", "time"})


def _enforces_types(d: Dialect) -> bool:
    """The target database holds each column to its declared type (PostgreSQL; SQLite stores any value in any
    column, so a wider source type needs no DDL there)."""
    return d.caps.enforces_types


def _same_type(target: ColumnType, source: ColumnType) -> bool:
    if target.dialect == source.dialect and target.native and source.native:
        return target.native == source.native
    if target.kind == "other" or source.kind == "other":
        return False
    return (target.kind, target.length, target.precision, target.scale) == (
        source.kind, source.length, source.precision, source.scale,
    )  # fmt: skip


def _fraction_digits(ctype: ColumnType) -> int:
    found = re.search(r"\((\d+)\)", ctype.native)
    return int(found.group(1)) if found else 6


def _require_layout(cfg: MapperConfig, have: Sequence[str]) -> None:
    """The key (every mode) and the scd2 columns must be in the target: the mapper never adds them to a table it
    did not create (the key's primary key or unique indexes would be missing)."""
    _require_keys(cfg, set(have))
    if cfg.load_strategy == "scd2":
        missing = [n for n in SCD2_COLUMNS if n not in have]
        if missing:
            raise SchemaError(
                f"target table {cfg.table} lacks the scd2 column(s) {missing}: add them (valid_from and valid_to "
                "timestamptz, is_current boolean, row_hash text), or drop the table and let the mapper create it"
            )


def _require_keys(cfg: MapperConfig, have: set[str]) -> None:
    missing = [k for k in cfg.key_columns if k not in have]
    if missing:
        raise SchemaError(
            f"target table {cfg.table} lacks key column(s) {missing}: the mapper does not add a key column to an "
            "existing table (in any on_schema_change mode). Add it with its primary key or unique index, or drop "
            "the table and let the mapper create it"
        )


def _ignored(cfg: MapperConfig, diff: SchemaDiff) -> list[str]:
    notes = []
    if diff.added:
        names = [c.name for c in diff.added]
        log.warning("on_schema_change='ignore': source column(s) %s are not in target table %s and are not loaded",
                    names, cfg.table)  # fmt: skip
        notes.append(f"ignored source column(s) not in the target: {', '.join(names)}")
    if diff.widened:
        notes.append(
            "not widened (on_schema_change='ignore'; values that do not fit are refused): "
            + ", ".join(_change(t, s) for t, s in diff.widened)
        )
    return notes + _kept_note(diff)


def _alter(sess: Session, cfg: MapperConfig, diff: SchemaDiff) -> list[str]:
    """append_new_columns: ADD COLUMN for each new source column, ALTER COLUMN TYPE for each widening."""
    d, notes = sess.dialect, []
    for col in diff.added:
        _ddl(sess, cfg, col.name, d.add_column_sql(cfg.table, col))
    if diff.added:
        notes.append("added column(s) " + ", ".join(_typed(c) for c in diff.added))
    for tcol, scol in diff.widened:
        _ddl(sess, cfg, tcol.name, d.alter_column_type_sql(cfg.table, tcol.name, d.type_ddl(scol.type)))
    if diff.widened:
        notes.append("widened column(s) " + ", ".join(_change(t, s) for t, s in diff.widened))
    for note in notes:
        log.info("target table %s: %s (on_schema_change='append_new_columns')", cfg.table, note)
    return notes + _kept_note(diff)


def _ddl(sess: Session, cfg: MapperConfig, column: str, sql: str) -> None:
    try:
        sess.execute(sql)
    except Exception as exc:
        found = classify(exc)
        if found is None or found.retryable:
            raise
        raise SchemaError(
            f"on_schema_change='append_new_columns' could not change column {column!r} of target table "
            f"{cfg.table}: {found.text}. Change the column yourself, or set on_schema_change='ignore'"
        ) from None


def _kept_note(diff: SchemaDiff) -> list[str]:
    return [f"kept target column(s) not in the source (NULL in new rows): {', '.join(diff.kept)}"] if diff.kept else []


def _native(col: Column) -> str:
    t = col.type
    if t.native:
        return t.native
    if t.length is not None:
        return f"{t.kind}({t.length})"
    if t.precision is not None:
        return f"{t.kind}({t.precision},{t.scale or 0})"
    return t.kind


def _typed(col: Column) -> str:
    return f"{col.name} {_native(col)}"


def _change(target: Column, source: Column) -> str:
    return f"{target.name} {_native(target)} -> {_native(source)}"
