"""What the user configures: one frozen, validated dataclass.

Validation happens in ``__post_init__`` so that a bad ``MapperOperator(...)`` fails when the DAG file is parsed,
before any database is touched. Templated values (``source_sql``) are checked again after rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName, validate_identifier

LOAD_STRATEGIES = ("append", "scd1", "scd2")

#: Column names the mapper adds to scd2 targets. Source queries must not use them.
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current", "row_hash")


@dataclass(frozen=True)
class MapperConfig:
    """A validated mapper job definition.

    :param source_conn_id: Airflow connection of the source database.
    :param target_conn_id: Airflow connection of the target database.
    :param target_table: ``[schema.]table`` to load.
    :param key_columns: business key columns (required for scd1 and scd2).
    :param load_strategy: ``"append"``, ``"scd1"`` or ``"scd2"``.
    :param chunk_size: target rows per chunk.
    :param min_rows_for_parallel: below this row estimate the plan is a single chunk.
    :param max_active_chunks: cap on chunks running at once within one run (None: no cap).
    :param mapref: job identity in the mapper tables.
    :param metadata_schema: schema of the ``mapper_*`` tables (None: the target table's schema).
    """

    source_conn_id: str
    target_conn_id: str
    target_table: str
    mapref: str
    key_columns: tuple[str, ...] = ()
    load_strategy: str = "scd1"
    chunk_size: int = 50_000
    min_rows_for_parallel: int = 100_000
    max_active_chunks: int | None = None
    metadata_schema: str | None = None

    def __post_init__(self) -> None:
        for name in ("source_conn_id", "target_conn_id", "mapref"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
        if self.load_strategy not in LOAD_STRATEGIES:
            raise ConfigError(f"unknown load_strategy {self.load_strategy!r}: use one of {', '.join(LOAD_STRATEGIES)}")
        TableName.parse(self.target_table, "target_table")
        object.__setattr__(self, "key_columns", _validate_keys(self.key_columns, self.load_strategy))
        _positive_int("chunk_size", self.chunk_size)
        _positive_int("min_rows_for_parallel", self.min_rows_for_parallel, allow_zero=True)
        if self.max_active_chunks is not None:
            _positive_int("max_active_chunks", self.max_active_chunks)
        if self.metadata_schema is not None:
            validate_identifier(self.metadata_schema, "metadata_schema")

    @property
    def table(self) -> TableName:
        """The parsed target table name."""
        return TableName.parse(self.target_table, "target_table")

    @property
    def meta_schema(self) -> str | None:
        """The schema holding the mapper_* tables."""
        return self.metadata_schema if self.metadata_schema is not None else self.table.schema

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (operator arguments must serialize with the DAG)."""
        data = asdict(self)
        data["key_columns"] = list(self.key_columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapperConfig:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["key_columns"] = tuple(values.get("key_columns") or ())
        return cls(**values)


def _validate_keys(key_columns: Iterable[str], strategy: str) -> tuple[str, ...]:
    if isinstance(key_columns, str):
        raise ConfigError("key_columns must be a list of column names, e.g. ['customer_id'], not a string")
    keys = tuple(key_columns)
    for key in keys:
        validate_identifier(key, "key column")
    if len({k.lower() for k in keys}) != len(keys):
        raise ConfigError(f"key_columns {list(keys)} name a column twice: list each key column once")
    if strategy in ("scd1", "scd2") and not keys:
        raise ConfigError(
            f"load_strategy {strategy!r} needs key_columns: give the business key, e.g. key_columns=['customer_id']"
        )
    clash = [k for k in keys if k.lower() in SCD2_COLUMNS]
    if strategy == "scd2" and clash:
        raise ConfigError(f"key column(s) {clash} clash with the scd2 columns {SCD2_COLUMNS}: rename them")
    return keys


def _positive_int(name: str, value: object, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def validate_source_sql(sql: object) -> str:
    """Check rendered source SQL: one SELECT statement, no trailing semicolon."""
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError("source_sql rendered empty: give a SELECT statement or a path to a .sql file")
    text = sql.strip().rstrip(";").strip()
    if ";" in _strip_literals(text):
        raise ConfigError("source_sql must be a single SELECT statement: remove the extra ';'-separated statements")
    head = text.split(None, 1)[0].lower()
    if head not in ("select", "with", "("):
        raise ConfigError(f"source_sql must be a SELECT (or WITH ... SELECT) query, it starts with {head!r}")
    return text


def _strip_literals(text: str) -> str:
    out, quote = [], ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        else:
            out.append(ch)
    return "".join(out)
