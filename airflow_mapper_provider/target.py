"""The target table: created from the source's columns when missing, checked when it exists."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from airflow_mapper_provider.config import SCD2_COLUMNS, MapperConfig
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.exceptions import ConfigError, SchemaError
from airflow_mapper_provider.identifiers import validate_identifier

log = logging.getLogger(__name__)

SCD2_LAYOUT = (
    Column("valid_from", ColumnType("timestamptz")),
    Column("valid_to", ColumnType("timestamptz")),
    Column("is_current", ColumnType("bool")),
    Column("row_hash", ColumnType("text")),
)


def index_name(table: str, suffix: str, limit: int = 63) -> str:
    """``<table>_<suffix>``, shortened with a digest of the table name where it would pass ``limit`` characters
    (PostgreSQL's identifier limit) so that a 63-character table name still gets its indexes."""
    name = f"{table}_{suffix}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(table.encode("utf-8")).hexdigest()[:8]
    return f"{table[: limit - len(suffix) - 10]}_{digest}_{suffix}"


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


def ensure_target(sess: Session, cfg: MapperConfig, columns: Sequence[Column]) -> bool:
    """Create the target table (and its indexes) if missing; else check its columns. True if created."""
    table, d = cfg.table, sess.dialect
    if sess.table_exists(table):
        _check_existing(sess, cfg, columns)
        return False
    if table.schema:
        sess.execute(d.create_schema_sql(table.schema))
    keys = list(cfg.key_columns)
    if cfg.load_strategy == "scd2":
        sess.execute(d.create_table_sql(table, [*columns, *SCD2_LAYOUT], primary_key=()))
        # (key, valid_from, valid_to): a key's versions are unique, and an empty version (closed at its own start,
        # a deleted key dated in the future) may share its start with the version that follows it
        history = [*keys, "valid_from", "valid_to"]
        sess.execute(d.create_index_sql(table, index_name(table.table, "key_from_ux"), history, unique=True))
        current = f"{d.quote('is_current')} = {d.true_sql}"
        sess.execute(d.create_index_sql(table, index_name(table.table, "current_ux"), keys, unique=True, where=current))
    else:
        pk = keys if cfg.load_strategy == "scd1" else ()
        sess.execute(d.create_table_sql(table, columns, primary_key=pk))
        if cfg.load_strategy == "append" and keys:
            sess.execute(d.create_index_sql(table, index_name(table.table, "key_ix"), keys))
    log.info("created target table %s (%s, %d columns)", table, cfg.load_strategy, len(columns))
    return True


def _check_existing(sess: Session, cfg: MapperConfig, columns: Sequence[Column]) -> None:
    have = {c.name for c in sess.describe(sess.dialect.select_all_sql(cfg.table))}
    need = [c.name for c in columns]
    if cfg.load_strategy == "scd2":
        need += list(SCD2_COLUMNS)
    missing = [n for n in need if n not in have]
    if missing:
        raise SchemaError(
            f"target table {cfg.table} lacks column(s) {missing} needed for {cfg.load_strategy}: add them "
            "(or drop the table and let the mapper create it)"
        )
