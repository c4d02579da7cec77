"""What the user configures: one frozen, validated dataclass.

Validation happens in ``__post_init__`` so that a bad ``MapperOperator(...)`` fails when the DAG file is parsed,
before any database is touched. Templated values (``source_sql``) are checked again after rendering.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from airflow_mapper_provider.errors import DbError, classify
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName, validate_identifier
from airflow_mapper_provider.strategies.versions import VERSION_NAMES

LoadStrategy = Literal["append", "scd1", "scd2"]
CheckpointStrategy = Literal["AUTO", "KEY", "PYTHON", "NONE"]
#: What a plan does when the source's columns differ from an existing target's (see target.py).
SchemaChange = Literal["append_new_columns", "fail", "ignore"]
#: How plan cuts the source: ``auto`` (ranges or hash buckets of the key, by the key's type), ``key`` (ranges of
#: the key only), ``hash`` (hash buckets of the key only), ``rowid`` (ROWID ranges of the source's one table:
#: Oracle).
ChunkBy = Literal["auto", "key", "hash", "rowid"]
LOAD_STRATEGIES: tuple[str, ...] = get_args(LoadStrategy)
CHECKPOINT_STRATEGIES: tuple[str, ...] = get_args(CheckpointStrategy)
EFFECTIVE_TIMES = ("run_start", "data_interval_end")
SCHEMA_CHANGES: tuple[str, ...] = get_args(SchemaChange)
CHUNK_BY: tuple[str, ...] = get_args(ChunkBy)

#: Column names the mapper adds to scd2 targets (strategies/versions.py). Source queries must not use them.
SCD2_COLUMNS = VERSION_NAMES


@dataclass(frozen=True)
class MapperConfig:
    """A validated mapper job definition.

    :param source_conn_id: Airflow connection of the source database.
    :param target_conn_id: Airflow connection of the target database.
    :param target_table: ``[schema.]table`` to load.
    :param key_columns: business key columns (required for scd1 and scd2).
    :param load_strategy: ``"append"``, ``"scd1"`` or ``"scd2"``.
    :param chunk_size: target rows per chunk; None (default): as many chunks as can run at once (max_active_chunks,
        else Airflow's parallelism), each of 200,000 to 2,000,000 rows (see planning/sizing.py).
    :param min_rows_for_parallel: below this row estimate the plan is a single chunk.
    :param max_active_chunks: cap on chunks running at once within one run (None: no cap); also the chunk count
        the default sizing aims at.
    :param mapref: job identity in the mapper tables.
    :param metadata_schema: schema of the ``mapper_*`` tables (None: the target table's schema).
    :param checkpoint_column: the source column that orders changes (timestamp, date or number).
    :param checkpoint_strategy: ``"AUTO"`` (KEY when checkpoint_column is set, else NONE), ``"KEY"``,
        ``"PYTHON"`` (rows processed in a deterministic order; one chunk) or ``"NONE"`` (full extract).
    :param checkpoint_lookback: re-read window below the stored checkpoint for late commits: a timedelta, or a
        number for numeric checkpoint columns.
    :param detect_deletes: full extracts only: close (scd2) or delete (scd1) target keys absent from the source.
    :param scd2_effective_time: ``"run_start"``, ``"data_interval_end"`` or the name of a source column.
    :param max_error_rows: rows a chunk may reject into ``mapper_rejects`` and still commit the rest
        (0: any bad row fails the chunk).
    :param max_delete_fraction: detect_deletes: the largest share of the target's current rows one run may
        delete or close (more fails the run and deletes nothing; 1.0 allows any).
    :param allow_empty_extract: detect_deletes: a source that returns no rows at all may empty the target
        (refused by default).
    :param on_schema_change: when the source's columns differ from an existing target's: ``"append_new_columns"``
        (add new source columns, widen types losslessly on PostgreSQL), ``"fail"`` (fail the plan where that would
        change the target, listing every difference) or ``"ignore"`` (load only the columns the target has).
    :param chunk_by: how plan cuts the source (:data:`ChunkBy`).
    :param consistent_snapshot: every chunk reads the source as of one read point frozen by plan, where the
        source database has one (Oracle: the SCN, flashback query); False: each chunk reads the source as it is.
    :param exact_row_count: plan counts the source's rows exactly instead of asking the optimizer (EXPLAIN, Oracle's
        EXPLAIN PLAN): the chunk sizes then rest on the true row count, at the price of one full read at plan time.
    """

    source_conn_id: str
    target_conn_id: str
    target_table: str
    mapref: str
    key_columns: tuple[str, ...] = ()
    load_strategy: LoadStrategy = "scd1"
    chunk_size: int | None = None
    min_rows_for_parallel: int = 100_000
    max_active_chunks: int | None = None
    metadata_schema: str | None = None
    checkpoint_column: str | None = None
    checkpoint_strategy: CheckpointStrategy = "AUTO"
    checkpoint_lookback: dt.timedelta | int | float | None = None
    detect_deletes: bool = False
    scd2_effective_time: str = "run_start"
    max_error_rows: int = 0
    max_delete_fraction: float = 0.5
    allow_empty_extract: bool = False
    on_schema_change: SchemaChange = "append_new_columns"
    chunk_by: ChunkBy = "auto"
    consistent_snapshot: bool = True
    exact_row_count: bool = False

    def __post_init__(self) -> None:
        for name in ("source_conn_id", "target_conn_id", "mapref"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
        if self.load_strategy not in LOAD_STRATEGIES:
            raise ConfigError(f"unknown load_strategy {self.load_strategy!r}: use one of {', '.join(LOAD_STRATEGIES)}")
        TableName.parse_target(self.target_table, "target_table")
        object.__setattr__(self, "key_columns", _validate_keys(self.key_columns, self.load_strategy))
        if self.chunk_size is not None:
            _positive_int("chunk_size", self.chunk_size)
        _positive_int("min_rows_for_parallel", self.min_rows_for_parallel, allow_zero=True)
        if self.max_active_chunks is not None:
            _positive_int("max_active_chunks", self.max_active_chunks)
        _positive_int("max_error_rows", self.max_error_rows, allow_zero=True)
        fraction = self.max_delete_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
            raise ConfigError(f"max_delete_fraction must be a number from 0 to 1 (1.0 allows any), got {fraction!r}")
        if not isinstance(self.allow_empty_extract, bool):
            raise ConfigError(f"allow_empty_extract must be True or False, got {self.allow_empty_extract!r}")
        if self.on_schema_change not in SCHEMA_CHANGES:
            raise ConfigError(
                f"unknown on_schema_change {self.on_schema_change!r}: use one of {', '.join(SCHEMA_CHANGES)}"
            )
        if self.metadata_schema is not None:
            validate_identifier(self.metadata_schema, "metadata_schema")
        _validate_chunking(self)
        _validate_incremental(self)

    @property
    def checkpoint_mode(self) -> str:
        """The resolved checkpoint strategy: KEY, PYTHON or NONE."""
        if self.checkpoint_strategy == "AUTO":
            return "KEY" if self.checkpoint_column else "NONE"
        return self.checkpoint_strategy

    @property
    def effective_column(self) -> str | None:
        """The source column giving each scd2 version its valid_from (None: one effective time per run)."""
        return None if self.scd2_effective_time in EFFECTIVE_TIMES else self.scd2_effective_time

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
        if isinstance(self.checkpoint_lookback, dt.timedelta):
            data["checkpoint_lookback"] = {"seconds": self.checkpoint_lookback.total_seconds()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapperConfig:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["key_columns"] = tuple(values.get("key_columns") or ())
        lookback = values.get("checkpoint_lookback")
        if isinstance(lookback, dict):
            values["checkpoint_lookback"] = dt.timedelta(seconds=lookback["seconds"])
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


def _validate_incremental(cfg: MapperConfig) -> None:
    """Checkpoint, delete-detection and effective-time options, and how they combine."""
    if cfg.checkpoint_strategy not in CHECKPOINT_STRATEGIES:
        raise ConfigError(
            f"unknown checkpoint_strategy {cfg.checkpoint_strategy!r}: use one of {', '.join(CHECKPOINT_STRATEGIES)}"
        )
    if cfg.checkpoint_column is not None:
        validate_identifier(cfg.checkpoint_column, "checkpoint_column")
    mode = cfg.checkpoint_mode
    if mode == "KEY" and not cfg.checkpoint_column:
        raise ConfigError("checkpoint_strategy 'KEY' needs checkpoint_column, e.g. checkpoint_column='updated_at'")
    _validate_lookback(cfg, mode)
    if cfg.detect_deletes and (mode != "NONE" or cfg.load_strategy == "append"):
        raise ConfigError(
            "detect_deletes needs a full extract into scd1 or scd2: checkpoint_strategy 'NONE' "
            "(no checkpoint_column) and load_strategy 'scd1' or 'scd2'"
        )
    eff = cfg.scd2_effective_time
    if eff not in EFFECTIVE_TIMES:
        validate_identifier(eff, "scd2_effective_time (run_start, data_interval_end or a source column)")
        if cfg.load_strategy != "scd2":
            raise ConfigError("scd2_effective_time names a column, but load_strategy is not 'scd2'")


def _validate_lookback(cfg: MapperConfig, mode: str) -> None:
    lookback = cfg.checkpoint_lookback
    if lookback is None:
        return
    if isinstance(lookback, bool) or not isinstance(lookback, (dt.timedelta, int, float)) or _negative(lookback):
        raise ConfigError("checkpoint_lookback must be a timedelta or a non-negative number (or None)")
    if mode != "KEY":
        raise ConfigError("checkpoint_lookback applies to checkpoint_strategy 'KEY' only: set checkpoint_column")
    if cfg.load_strategy == "append":
        raise ConfigError(
            "checkpoint_lookback with load_strategy 'append' would append re-read rows twice: "
            "use scd1 (idempotent re-reads) or no lookback"
        )


def _negative(value: dt.timedelta | int | float) -> bool:
    return value < dt.timedelta(0) if isinstance(value, dt.timedelta) else value < 0


def _positive_int(name: str, value: object, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def validate_source_sql(sql: object) -> str:
    """Check rendered source SQL as far as is certain without parsing it; returns the query to embed.

    The query must be a non-empty string; surrounding whitespace and trailing ``;`` characters are dropped. Whether
    it is one SELECT (or WITH ... SELECT) is the database's call: every statement the mapper runs embeds the query as
    a subquery (``SELECT ... FROM (<query>\\n) mapper_src ...``), so a second statement, DML or anything but a
    query is refused by the database's own parser (:func:`source_sql_checked_by_database` names the fix).
    """
    text = sql.strip() if isinstance(sql, str) else ""
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise ConfigError("source_sql rendered empty: give a SELECT statement or a path to a .sql file")
    return text


#: Database codes that say "this text is not a query the database accepts as a subquery" (PostgreSQL SQLSTATE,
#: Oracle ORA-): syntax error, feature not supported (DML inside WITH), invalid/unended statement, missing
#: parenthesis/keyword/expression, invalid character (';'), unsupported use of WITH.
_NOT_A_SUBQUERY = frozenset({"42601", "0A000", *(f"ORA-{n:05d}" for n in (900, 905, 907, 911, 928, 933, 936, 32034))})


@contextlib.contextmanager
def source_sql_checked_by_database() -> Iterator[None]:
    """Around the plan's first statement on the embedded source query (``Session.describe``): when the database
    refuses the query's shape (a syntax error, a second statement, DML), raise a :class:`ConfigError` that names
    the fix, with the database's safe error text; any other error passes unchanged.
    """
    try:
        yield
    except Exception as exc:
        found = classify(exc)
        if not _not_a_subquery(exc, found):
            raise
        why = found.text if found is not None else "the driver runs one statement at a time"
        raise ConfigError(
            "source_sql must be a single SELECT statement (or WITH ... SELECT); the database refused it as a "
            f"subquery: {why}. Remove any second statement and any INSERT, UPDATE, DELETE or MERGE (also inside "
            "WITH): the mapper only reads the source. A ';' before a trailing comment ends the query early: drop it"
        ) from exc


def _not_a_subquery(exc: BaseException, found: DbError | None) -> bool:
    if found is None or found.code == "sqlite3.ProgrammingError":  # Python's sqlite3 refuses a second statement
        return "only execute one statement at a time" in str(exc)
    if found.code and found.code.startswith("SQLITE_ERROR"):
        return "syntax error" in found.full or "incomplete input" in found.full
    return found.code in _NOT_A_SUBQUERY


def _validate_chunking(cfg: MapperConfig) -> None:
    if cfg.chunk_by not in CHUNK_BY:
        raise ConfigError(f"unknown chunk_by {cfg.chunk_by!r}: use one of {', '.join(CHUNK_BY)}")
    if cfg.chunk_by in ("key", "hash") and not cfg.key_columns:
        raise ConfigError(f"chunk_by={cfg.chunk_by!r} cuts the source on key_columns: give key_columns")
    if cfg.chunk_by == "rowid" and cfg.load_strategy != "append":
        raise ConfigError(
            "chunk_by='rowid' cuts the rows of one table, not its keys; scd loads need chunks disjoint on the key "
            "(two rows of one key in two ROWID ranges would race): use chunk_by='hash' or 'auto' for scd1/scd2"
        )
    if cfg.chunk_by == "key" and len(cfg.key_columns) > 1:
        raise ConfigError("chunk_by='key' ranges one key column: use chunk_by='hash' for a composite key")
    for flag in ("consistent_snapshot", "exact_row_count"):
        if not isinstance(getattr(cfg, flag), bool):
            raise ConfigError(f"{flag} must be True or False, got {getattr(cfg, flag)!r}")
