"""Identifier validation: the single gate every table and column name passes before it reaches SQL.

Only plain identifiers are accepted (letters, digits, ``_`` and ``$``, not starting with a digit, at most 63
characters: PostgreSQL's limit, the strictest of the supported databases). Anything else - quotes, spaces,
semicolons, comments - is rejected with a message naming the fix. Quoting itself is the dialect's job
(:mod:`airflow_mapper_provider.dialects`).

Names the mapper derives (index names, its key tables' indexes, temp-table indexes, savepoints) are built by
:func:`derived_name`, which shortens with a stable digest so that they fit the same limit for 63-character table
and column names. The prefix ``mapper_`` is the mapper's own (its tables, temp tables and internal columns): a
target table using it is refused (:meth:`TableName.parse_target`), and so is a schema the database reserves.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from airflow_mapper_provider.exceptions import ConfigError

#: The longest identifier a user may give (checked at parse time, before the database is known: PostgreSQL's 63
#: bytes, which every supported database holds; identifiers here are ASCII, so characters are bytes). Names the
#: mapper derives, and the names a dialect quotes, may go up to that dialect's own limit
#: (``Dialect.caps.max_identifier``: Oracle 128, MySQL 64).
MAX_IDENTIFIER = 63
#: Names starting with this (any case) belong to the mapper: ``mapper_joblog``, ``mapper_stage``, ``mapper_rn``...
RESERVED_PREFIX = "mapper_"
#: Schemas no target can live in: PostgreSQL's system schemas (``pg_`` is reserved for them: ``pg_temp`` would
#: make the target a temp table that vanishes with the session) and SQLite's ``temp`` database.
_SYSTEM_SCHEMA = re.compile(r"^(pg_.*|information_schema|temp)$", re.IGNORECASE)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def validate_identifier(name: object, what: str = "identifier", limit: int = MAX_IDENTIFIER) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise :class:`ConfigError`.

    :param name: the identifier to check.
    :param what: what the identifier names, for the error message (e.g. ``"key column"``).
    :param limit: the longest name accepted (a dialect passes its own).
    """
    if not isinstance(name, str) or not _IDENT.match(name) or len(name) > limit:
        raise ConfigError(
            f"invalid {what} {name!r}: use a plain SQL identifier (letters, digits, _ or $, "
            f"not starting with a digit, at most {limit} characters, no quotes, spaces or semicolons)"
        )
    return name


def derived_name(base: str, suffix: str, limit: int = MAX_IDENTIFIER) -> str:
    """``<base>_<suffix>``, shortened where it would pass ``limit`` characters: the base is cut and an 8-digit
    digest of it keeps the name unique and stable (``<base[:n]>_<digest>_<suffix>``); a suffix too long to keep
    whole (a 63-character column) is cut too, the digest then taken of the whole name.

    :param base: the name it derives from (a table, an index's table, a temp table).
    :param suffix: what it is (``key_ix``) or the column it is about.
    :param limit: the database's identifier limit.
    """
    name = f"{base}_{suffix}"
    if len(name) <= limit:
        return name
    room = limit - len(suffix) - 10  # "_<8 hex>_" between the cut base and the suffix
    if room >= 1:
        return f"{base[:room]}_{_digest(base)}_{suffix}"
    return f"{name[: limit - 9]}_{_digest(name)}"


def fit_identifier(name: str, limit: int = MAX_IDENTIFIER) -> str:
    """``name``, or where it passes ``limit``, its start and an 8-digit digest of the whole (stable, unique)."""
    return name if len(name) <= limit else f"{name[: limit - 9]}_{_digest(name)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def validate_schema(name: object, what: str = "schema") -> str:
    """:func:`validate_identifier`, and not a schema the database keeps for itself (``pg_*``,
    ``information_schema``, SQLite's ``temp``)."""
    name = validate_identifier(name, what)
    if _SYSTEM_SCHEMA.match(name):
        raise ConfigError(
            f"invalid {what} {name!r}: the database reserves it for itself (pg_* and information_schema are "
            "PostgreSQL's system schemas, pg_temp and SQLite's temp hold temp tables that vanish with the session): "
            "use a schema of your own, e.g. 'dw'"
        )
    return name


def validate_column_name(name: object, what: str = "column") -> str:
    """:func:`validate_identifier`, and not starting with ``mapper_`` (the mapper's own columns: staging adds
    ``mapper_rn``, ``mapper_ok``, ``mapper_row_hash``..., the key table ``mapper_run``, ``mapper_chunk``)."""
    name = validate_identifier(name, what)
    if name.lower().startswith(RESERVED_PREFIX):
        raise ConfigError(
            f"invalid {what} {name!r}: names starting with {RESERVED_PREFIX!r} are reserved for the mapper's own "
            "columns: rename it (in source_sql: SELECT ... AS another_name)"
        )
    return name


@dataclass(frozen=True)
class TableName:
    """A validated ``[schema.]table`` name."""

    table: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: object, what: str = "table name") -> TableName:
        """Parse and validate ``"table"`` or ``"schema.table"``."""
        if not isinstance(text, str) or not text:
            raise ConfigError(f"invalid {what} {text!r}: give a table name as 'schema.table' or 'table'")
        parts = text.split(".")
        if len(parts) > 2:
            raise ConfigError(f"invalid {what} {text!r}: give at most 'schema.table' (one dot)")
        for part in parts:
            validate_identifier(part, what)
        if len(parts) == 2:
            return cls(table=parts[1], schema=parts[0])
        return cls(table=parts[0])

    @classmethod
    def parse_target(cls, text: object, what: str = "target_table") -> TableName:
        """:meth:`parse`, refusing what cannot work as a target: a table named like the mapper's own tables
        (``mapper_*``: its job log, ledger, key tables and temp tables, which an unqualified name would even
        resolve to) and a system schema (:func:`validate_schema`)."""
        name = cls.parse(text, what)
        if name.schema is not None:
            validate_schema(name.schema, f"schema of {what}")
        if name.table.lower().startswith(RESERVED_PREFIX):
            raise ConfigError(
                f"invalid {what} {text!r}: table names starting with {RESERVED_PREFIX!r} are reserved for the "
                "mapper's own tables (mapper_joblog, mapper_stage, mapper_keys_...): name the target another way"
            )
        return name

    def with_table(self, table: str) -> TableName:
        """The table ``table`` in the same schema."""
        return TableName(table=validate_identifier(table, "table name"), schema=self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def index_name(table: str, suffix: str, limit: int = 63) -> str:
    """``<table>_<suffix>``, shortened with a digest of the table name where it would pass ``limit`` characters
    (PostgreSQL's identifier limit) so that a 63-character table name still gets its indexes."""
    return derived_name(table, suffix, limit)
