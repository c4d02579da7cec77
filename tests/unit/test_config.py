"""User configuration: MapperConfig validation (parse time), identifiers, and the rendered source_sql check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from airflow_mapper_provider.config import MapperConfig, source_sql_checked_by_database, validate_source_sql
from airflow_mapper_provider.exceptions import ConfigError, MapperError
from airflow_mapper_provider.identifiers import TableName, validate_identifier

BASE: dict[str, Any] = {
    "source_conn_id": "crm",
    "target_conn_id": "dw",
    "target_table": "dw.dim_customer",
    "mapref": "dag.load",
    "key_columns": ("customer_id",),
    "load_strategy": "scd1",
}


def config(**overrides: Any) -> MapperConfig:
    return MapperConfig(**{**BASE, **overrides})


# ---- invalid configurations: each error names the fix -----------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-strategy", {"load_strategy": "upsert"}, "unknown load_strategy 'upsert': use one of append, scd1, scd2"),
    ("strategy-case", {"load_strategy": "SCD1"}, "use one of append, scd1, scd2"),
    ("scd1-no-keys", {"key_columns": ()}, "'scd1' needs key_columns: give the business key"),
    ("scd2-no-keys", {"key_columns": [], "load_strategy": "scd2"}, "'scd2' needs key_columns"),
    ("chunk-size-zero", {"chunk_size": 0}, "chunk_size must be an integer >= 1, got 0"),
    ("chunk-size-negative", {"chunk_size": -1}, "chunk_size must be an integer >= 1, got -1"),
    ("chunk-size-bool", {"chunk_size": True}, "chunk_size must be an integer >= 1, got True"),
    ("chunk-size-str", {"chunk_size": "10"}, "chunk_size must be an integer >= 1, got '10'"),
    ("chunk-size-float", {"chunk_size": 1000.0}, "chunk_size must be an integer >= 1, got 1000.0"),
    ("min-rows-negative", {"min_rows_for_parallel": -1}, "min_rows_for_parallel must be an integer >= 0, got -1"),
    ("min-rows-bool", {"min_rows_for_parallel": False}, "min_rows_for_parallel must be an integer >= 0"),
    ("max-active-zero", {"max_active_chunks": 0}, "max_active_chunks must be an integer >= 1, got 0"),
    ("max-active-str", {"max_active_chunks": "4"}, "max_active_chunks must be an integer >= 1, got '4'"),
    ("table-injection", {"target_table": "dw.t; DROP TABLE x"}, "use a plain SQL identifier"),
    ("table-three-parts", {"target_table": "a.b.c"}, "give at most 'schema.table' (one dot)"),
    ("table-empty", {"target_table": ""}, "give a table name as 'schema.table' or 'table'"),
    ("table-none", {"target_table": None}, "give a table name as 'schema.table' or 'table'"),
    ("table-quoted", {"target_table": '"quoted"'}, "no quotes, spaces or semicolons"),
    ("table-trailing-dot", {"target_table": "dw."}, "invalid target_table ''"),
    ("table-leading-dot", {"target_table": ".t"}, "invalid target_table ''"),
    ("table-space", {"target_table": "dim customer"}, "use a plain SQL identifier"),
    ("table-digit", {"target_table": "1dim"}, "not starting with a digit"),
    ("table-too-long", {"target_table": "t" * 64}, "at most 63 characters"),
    ("key-injection", {"key_columns": ["id; drop"]}, "invalid key column 'id; drop'"),
    ("key-comment", {"key_columns": ["id--"]}, "invalid key column 'id--'"),
    ("key-not-str", {"key_columns": [1]}, "invalid key column 1"),
    ("key-duplicate", {"key_columns": ["id", "name", "id"]}, "name a column twice: list each key column once"),
    ("key-duplicate-case", {"key_columns": ["id", "ID"]}, "list each key column once"),
    ("key-string", {"key_columns": "customer_id"}, "key_columns must be a list of column names, e.g. ['customer_id']"),
    ("scd2-key-valid-from", {"key_columns": ["valid_from"], "load_strategy": "scd2"}, "clash with the scd2 columns"),
    ("scd2-key-is-current", {"key_columns": ["id", "IS_CURRENT"], "load_strategy": "scd2"}, "rename them"),
    ("metadata-schema-space", {"metadata_schema": "meta data"}, "invalid metadata_schema 'meta data'"),
    ("metadata-schema-empty", {"metadata_schema": ""}, "invalid metadata_schema ''"),
    ("metadata-schema-dotted", {"metadata_schema": "a.b"}, "invalid metadata_schema 'a.b'"),
    ("source-conn-empty", {"source_conn_id": ""}, "source_conn_id must be a non-empty string"),
    ("target-conn-blank", {"target_conn_id": "   "}, "target_conn_id must be a non-empty string"),
    ("mapref-none", {"mapref": None}, "mapref must be a non-empty string"),
    ("checkpoint-strategy", {"checkpoint_strategy": "SOMETIMES"}, "use one of AUTO, KEY, PYTHON, NONE"),
    ("checkpoint-key-no-column", {"checkpoint_strategy": "KEY"}, "'KEY' needs checkpoint_column, e.g. checkpoint_"),
    ("checkpoint-column", {"checkpoint_column": "updated at"}, "invalid checkpoint_column 'updated at'"),
    ("lookback-negative", {"checkpoint_column": "ts", "checkpoint_lookback": dt.timedelta(hours=-1)}, "non-negative"),
    ("lookback-str", {"checkpoint_column": "ts", "checkpoint_lookback": "1h"}, "must be a timedelta or a"),
    ("lookback-bool", {"checkpoint_column": "ts", "checkpoint_lookback": True}, "must be a timedelta or a"),
    ("lookback-without-key", {"checkpoint_lookback": 5}, "applies to checkpoint_strategy 'KEY' only"),
    (
        "lookback-append",
        {"checkpoint_column": "ts", "checkpoint_lookback": 5, "load_strategy": "append"},
        "would append re-read rows twice",
    ),
    ("deletes-incremental", {"detect_deletes": True, "checkpoint_column": "ts"}, "detect_deletes needs a full extract"),
    ("deletes-append", {"detect_deletes": True, "load_strategy": "append"}, "load_strategy 'scd1' or 'scd2'"),
    (
        "deletes-python",
        {"detect_deletes": True, "checkpoint_strategy": "PYTHON"},
        "checkpoint_strategy 'NONE'",
    ),
    ("effective-time-name", {"load_strategy": "scd2", "scd2_effective_time": "changed at"}, "invalid scd2_effective"),
    ("effective-time-scd1", {"scd2_effective_time": "changed_at"}, "but load_strategy is not 'scd2'"),
]


@pytest.mark.parametrize(("overrides", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_config_raises_config_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(**overrides)
    assert message in str(info.value)


def test_config_error_is_a_non_retryable_mapper_error_and_a_value_error() -> None:
    with pytest.raises(ValueError) as info:
        config(chunk_size=0)
    assert isinstance(info.value, MapperError)
    assert info.value.retryable is False


# ---- valid configurations ---------------------------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    ("scd1", {}),
    ("append-no-keys", {"load_strategy": "append", "key_columns": ()}),
    ("append-key-named-valid-from", {"load_strategy": "append", "key_columns": ["valid_from"]}),
    ("scd2-composite", {"load_strategy": "scd2", "key_columns": ["region", "customer_id"]}),
    ("no-schema", {"target_table": "dim_customer"}),
    ("dollar-and-underscore", {"target_table": "_dw$1.t_2", "key_columns": ["_id$"]}),
    ("longest-name", {"target_table": "t" * 63}),
    ("chunk-size-one", {"chunk_size": 1, "min_rows_for_parallel": 0, "max_active_chunks": 1}),
    ("chunk-size-none", {"chunk_size": None}),  # sized by the plan
    ("metadata-schema", {"metadata_schema": "mapper_meta"}),
    ("mixed-case", {"target_table": "DW.DimCustomer", "key_columns": ["CustomerId"]}),
    ("key-checkpoint", {"checkpoint_column": "updated_at", "checkpoint_lookback": dt.timedelta(minutes=5)}),
    ("numeric-lookback", {"checkpoint_column": "seq", "checkpoint_lookback": 100}),
    ("zero-lookback", {"checkpoint_column": "seq", "checkpoint_lookback": 0}),
    ("python-checkpoint", {"checkpoint_strategy": "PYTHON", "checkpoint_column": "seq"}),
    ("append-key-checkpoint", {"load_strategy": "append", "checkpoint_column": "seq"}),
    ("full-extract-deletes", {"detect_deletes": True}),
    ("scd2-interval-end", {"load_strategy": "scd2", "scd2_effective_time": "data_interval_end"}),
    ("scd2-column", {"load_strategy": "scd2", "scd2_effective_time": "changed_at", "detect_deletes": True}),
]


@pytest.mark.parametrize("overrides", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_config_is_accepted(overrides: dict[str, Any]) -> None:
    cfg = config(**overrides)
    assert isinstance(cfg.key_columns, tuple)
    assert str(cfg.table) == cfg.target_table


def test_key_columns_list_is_stored_as_tuple() -> None:
    assert config(key_columns=["a", "b"]).key_columns == ("a", "b")


def test_defaults() -> None:
    cfg = MapperConfig(source_conn_id="s", target_conn_id="t", target_table="x", mapref="m", key_columns=("id",))
    # chunk_size None: sized by the plan for the parallel chunk slots (planning/sizing.py)
    assert (cfg.load_strategy, cfg.chunk_size, cfg.min_rows_for_parallel, cfg.max_active_chunks) == (
        "scd1",
        None,
        100_000,
        None,
    )


def test_table_and_metadata_schema() -> None:
    assert config().table == TableName("dim_customer", "dw")
    assert config().meta_schema == "dw"  # default: the target table's schema
    assert config(metadata_schema="meta").meta_schema == "meta"
    assert config(target_table="dim_customer").meta_schema is None


@pytest.mark.parametrize(
    ("overrides", "mode"),
    [
        ({}, "NONE"),
        ({"checkpoint_column": "updated_at"}, "KEY"),
        ({"checkpoint_column": "updated_at", "checkpoint_strategy": "NONE"}, "NONE"),
        ({"checkpoint_strategy": "PYTHON"}, "PYTHON"),
    ],
)
def test_checkpoint_mode(overrides: dict[str, Any], mode: str) -> None:
    assert config(**overrides).checkpoint_mode == mode


def test_effective_column() -> None:
    assert config(load_strategy="scd2").effective_column is None
    assert config(load_strategy="scd2", scd2_effective_time="data_interval_end").effective_column is None
    assert config(load_strategy="scd2", scd2_effective_time="changed_at").effective_column == "changed_at"


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        config().chunk_size = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"load_strategy": "scd2", "key_columns": ["a", "b"], "max_active_chunks": 3, "metadata_schema": "m"},
        {"checkpoint_column": "ts", "checkpoint_lookback": dt.timedelta(hours=1, microseconds=5)},
        {"checkpoint_column": "seq", "checkpoint_lookback": 2.5},
        {"load_strategy": "scd2", "scd2_effective_time": "changed_at", "detect_deletes": True},
    ],
    ids=["defaults", "everything", "timedelta-lookback", "numeric-lookback", "scd2-column"],
)
def test_to_dict_from_dict_round_trip_through_json(overrides: dict[str, Any]) -> None:
    cfg = config(**overrides)
    data = json.loads(json.dumps(cfg.to_dict()))  # operator arguments serialize with the DAG
    assert isinstance(data["key_columns"], list)
    assert MapperConfig.from_dict(data) == cfg


def test_from_dict_validates() -> None:
    data = config().to_dict()
    data["chunk_size"] = 0
    with pytest.raises(ConfigError, match="chunk_size"):
        MapperConfig.from_dict(data)


# ---- identifiers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "_", "A1", "customer_id", "a$b", "X" * 63, "select"])
def test_plain_identifiers_pass(name: str) -> None:
    assert validate_identifier(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "1a", "a b", "a-b", "a;b", 'a"b', "a'b", "a.b", "a--", "a/*", "X" * 64, "é", "a\nb", None, 5, b"ab"],
)
def test_everything_else_is_rejected(name: Any) -> None:
    with pytest.raises(ConfigError, match=r"invalid column .*: use a plain SQL identifier"):
        validate_identifier(name, "column")


def test_table_name_parse_and_str() -> None:
    assert TableName.parse("dw.t") == TableName("t", "dw")
    assert TableName.parse("t") == TableName("t")
    assert str(TableName("t", "dw")) == "dw.t"
    assert str(TableName("t")) == "t"
    assert TableName("t", "dw").with_table("mapper_joblog") == TableName("mapper_joblog", "dw")
    with pytest.raises(ConfigError, match="invalid table name"):
        TableName("t", "dw").with_table("bad name")


# ---- validate_source_sql ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", ["", "   \n\t", None, 42, ";", " ;\n ; ;"])
def test_empty_source_sql_rejected(sql: Any) -> None:
    with pytest.raises(ConfigError, match="source_sql rendered empty: give a SELECT statement"):
        validate_source_sql(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("  select a from t  \n", "select a from t"),
        ("SELECT 1;", "SELECT 1"),
        ("SELECT 1 ;\n", "SELECT 1"),
        ("SELECT 1;;", "SELECT 1"),
        ("SELECT 1 ; ; \n;", "SELECT 1"),
        ("with x as (select 1) select * from x;", "with x as (select 1) select * from x"),
        ("\n-- header\n\nselect 1 ;\n", "-- header\n\nselect 1"),
        ("SELECT 'it''s; fine' AS x;", "SELECT 'it''s; fine' AS x"),
    ],
)
def test_surrounding_whitespace_and_trailing_semicolons_dropped(sql: str, expected: str) -> None:
    assert validate_source_sql(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "select*from t",  # the old scanner split the first word on whitespace only
        "SELECT$$a;b$$",
        "SELECT E'a\\';b' AS x",
        "SELECT 1 AS [x;y]",
        "(SELECT 1) UNION (SELECT 2)",
        "VALUES (1), (2)",
        "TABLE customers",
        "SELECT 1 -- note; not a statement",
        "SELECT 1 /* ; */ FROM t",
    ],
)
def test_valid_queries_pass_unchanged(sql: str) -> None:
    assert validate_source_sql(sql) == sql


@pytest.mark.parametrize(
    "sql", ["SELECT 1; SELECT 2", "DELETE FROM t RETURNING *", "SELECT 1; -- trailer", "-- only a comment"]
)
def test_what_needs_a_parser_is_left_to_the_database(sql: str) -> None:
    """No guessing without a parser: the database refuses these when the plan embeds them (see
    tests/integration/test_source_sql.py and source_sql_checked_by_database)."""
    assert validate_source_sql(sql) == sql


# ---- source_sql_checked_by_database (errors of a real in-memory SQLite) -----------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM (SELECT 1; SELECT 2\n) mapper_src",
        "SELECT * FROM (DELETE FROM t RETURNING *\n) mapper_src",
        "SELECT * FROM (-- only a comment\n) mapper_src",
        "SELECT * FROM (SELECT 1) x; DELETE FROM t; SELECT * FROM (SELECT 1\n) mapper_src",
    ],
)
def test_database_refusal_of_the_query_shape_names_the_fix(sqlite_conn: Any, sql: str) -> None:
    from sqlalchemy import text

    sqlite_conn.execute(text("CREATE TABLE t (a INTEGER)"))
    with pytest.raises(ConfigError) as info, source_sql_checked_by_database():
        sqlite_conn.execute(text(sql))
    message = str(info.value)
    assert message.startswith("source_sql must be a single SELECT statement (or WITH ... SELECT)")
    assert "Remove any second statement and any INSERT, UPDATE, DELETE or MERGE (also inside WITH)" in message


@pytest.mark.parametrize(
    "error",
    [
        "SELECT * FROM no_such_table",  # a missing table keeps its own classification
        "SELECT 1 + 'x' FROM (SELECT 1) s WHERE nosuchcol = 1",
    ],
)
def test_other_database_errors_pass_unchanged(sqlite_conn: Any, error: str) -> None:
    from sqlalchemy import exc, text

    with pytest.raises(exc.OperationalError), source_sql_checked_by_database():
        sqlite_conn.execute(text(error))


def test_non_database_errors_pass_unchanged() -> None:
    with pytest.raises(KeyError), source_sql_checked_by_database():
        raise KeyError("not a database error")


# ---- on_schema_change -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["append_new_columns", "fail", "ignore"])
def test_on_schema_change_values_are_accepted_and_round_trip(value: str) -> None:
    cfg = config(on_schema_change=value)
    assert cfg.on_schema_change == value
    assert MapperConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_on_schema_change_defaults_to_append_new_columns() -> None:
    assert config().on_schema_change == "append_new_columns"


@pytest.mark.parametrize("value", ["append", "FAIL", "", None, True, ["ignore"], "sync_all_columns"])
def test_on_schema_change_unknown_value_fails_at_parse_time_listing_the_values(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        config(on_schema_change=value)
    assert str(info.value) == (f"unknown on_schema_change {value!r}: use one of append_new_columns, fail, ignore")


def test_on_schema_change_is_checked_when_the_dag_file_is_parsed() -> None:
    from airflow.sdk import DAG

    from airflow_mapper_provider.task_group import MapperOperator

    kwargs = {k: v for k, v in BASE.items() if k != "mapref"}
    with DAG("schema_change_parse", schedule=None), pytest.raises(ConfigError, match="use one of append_new_columns"):
        MapperOperator(task_id="load", source_sql="SELECT 1 AS customer_id", on_schema_change="drop", **kwargs)
    with DAG("schema_change_parse_ok", schedule=None):
        group = MapperOperator(task_id="load", source_sql="SELECT 1 AS customer_id", on_schema_change="ignore",
                               **kwargs)  # fmt: skip
    assert group.config.on_schema_change == "ignore"
    assert group.plan.config["on_schema_change"] == "ignore"
