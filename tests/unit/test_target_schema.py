"""Schema evolution decisions without a database: which type changes widen, what differs, what a chunk loads."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.dialects import Column, ColumnType, PostgresDialect, SqliteDialect
from airflow_mapper_provider.dialects.postgres import column_type_from_display
from airflow_mapper_provider.exceptions import SchemaError
from airflow_mapper_provider.target import compare_columns, load_columns, widens


def pg(display: str) -> ColumnType:
    return column_type_from_display(display)


def col(name: str, display: str) -> Column:
    return Column(name, pg(display))


def cfg(**kw: Any) -> MapperConfig:
    values: dict[str, Any] = {"source_conn_id": "s", "target_conn_id": "t", "target_table": "dw.dim", "mapref": "m",
                              "key_columns": ("id",), "load_strategy": "scd1"}  # fmt: skip
    return MapperConfig(**{**values, **kw})


# ---- widens(target, source) ---------------------------------------------------------------------------------------

WIDENS = [
    ("varchar(10)", "varchar(50)", True),
    ("varchar(10)", "varchar", True),
    ("varchar(10)", "text", True),
    ("varchar(50)", "varchar(10)", False),  # narrower source: the load converts, the target stays
    ("varchar(10)", "varchar(10)", False),
    ("varchar", "text", False),  # unbounded already
    ("bpchar(3)", "bpchar(5)", True),
    ("bpchar(5)", "bpchar(3)", False),
    ("bpchar(3)", "text", False),  # char to text drops trailing spaces: another kind
    ("text", "varchar(10)", False),
    ("int2", "int4", True),
    ("int2", "int8", True),
    ("int4", "int8", True),
    ("int8", "int4", False),
    ("float4", "float8", True),
    ("float8", "float4", False),
    ("int4", "numeric", False),  # another kind
    ("int4", "float8", False),
    ("numeric(10,2)", "numeric(12,2)", True),
    ("numeric(10,2)", "numeric(13,3)", True),  # one more integer digit and one more decimal
    ("numeric(10,2)", "numeric(11,4)", False),  # more decimals but fewer integer digits (7 < 8)
    ("numeric(10,2)", "numeric(10,3)", False),  # fewer integer digits
    ("numeric(10,2)", "numeric(12,1)", False),  # fewer decimals
    ("numeric(10,2)", "numeric", True),
    ("numeric", "numeric(10,2)", False),
    ("numeric(10,2)", "numeric(10,2)", False),
    ("timestamp(3)", "timestamp", True),
    ("timestamp(3)", "timestamp(6)", True),
    ("timestamp", "timestamp(3)", False),
    ("timestamptz(0)", "timestamptz(3)", True),
    ("timestamp", "timestamptz", False),  # a change of meaning, not a widening
    ("date", "timestamp", False),
]


@pytest.mark.parametrize(("target", "source", "expected"), WIDENS, ids=[f"{t}<-{s}" for t, s, _ in WIDENS])
def test_widens_only_where_every_target_value_stays_the_same(target: str, source: str, expected: bool) -> None:
    assert widens(pg(target), pg(source)) is expected


def test_numeric_widening_needs_as_many_integer_digits_and_decimals() -> None:
    # numeric(10,2) holds 8 integer digits: numeric(12,4) too (8), with 2 more decimals: lossless
    assert widens(pg("numeric(10,2)"), pg("numeric(12,4)")) is True


# ---- compare_columns ----------------------------------------------------------------------------------------------


def test_compare_columns_on_postgresql_sorts_every_difference() -> None:
    target = [col("id", "int4"), col("name", "varchar(10)"), col("qty", "int4"), col("price", "numeric(10,2)"),
              col("code", "text"), col("old", "text")]  # fmt: skip
    source = [col("id", "int4"), col("name", "varchar(50)"), col("qty", "int8"), col("price", "numeric(12,2)"),
              col("code", "int4"), col("email", "varchar(80)")]  # fmt: skip
    previous = [col("id", "int4"), col("name", "varchar(10)"), col("qty", "int4"), col("price", "numeric(10,2)"),
                col("code", "text"), col("old", "text")]  # fmt: skip  # the source at the previous plan
    diff = compare_columns(PostgresDialect(), source, target, previous)
    assert [c.name for c in diff.added] == ["email"]
    assert [(t.name, t.type.native, s.type.native) for t, s in diff.widened] == [
        ("name", "varchar(10)", "varchar(50)"),
        ("qty", "int4", "int8"),
        ("price", "numeric(10,2)", "numeric(12,2)"),
    ]
    assert [(t.name, t.type.native, s.type.native) for t, s in diff.converted] == [("code", "text", "int4")]
    assert diff.kept == ("old",)
    assert diff.changes_target
    assert diff.lines() == [
        "source column(s) not in the target: email varchar(80)",
        "column(s) whose source type is wider: name varchar(10) -> varchar(50), qty int4 -> int8, "
        "price numeric(10,2) -> numeric(12,2)",
        "column(s) of another type, converted into the target's on load: code text -> int4",
        "target column(s) not in the source (NULL in new rows): old",
    ]


def test_compare_columns_ignores_the_scd2_columns_and_equal_types() -> None:
    target = [col("id", "int8"), col("v", "text"), col("valid_from", "timestamptz"), col("valid_to", "timestamptz"),
              col("is_current", "bool"), col("row_hash", "text")]  # fmt: skip
    diff = compare_columns(PostgresDialect(), [col("id", "int8"), col("v", "text")], target)
    assert (diff.added, diff.widened, diff.converted, diff.kept) == ((), (), (), ())
    assert not diff.changes_target and diff.lines() == []


def test_compare_columns_matches_a_neutral_source_type_to_the_postgresql_type_it_creates() -> None:
    """A SQLite source describes kinds only: bigint is int8, text is text, double is float8 (no difference)."""
    source = [Column("id", ColumnType("bigint")), Column("v", ColumnType("text")), Column("x", ColumnType("double")),
              Column("n", ColumnType("varchar", length=40))]  # fmt: skip
    target = [col("id", "int8"), col("v", "text"), col("x", "float8"), col("n", "varchar(20)")]
    previous = [*source[:3], Column("n", ColumnType("varchar", length=20))]
    diff = compare_columns(PostgresDialect(), source, target, previous)
    assert diff.converted == ()
    assert [(t.name, s.type.kind, s.type.length) for t, s in diff.widened] == [("n", "varchar", 40)]


def test_a_target_narrower_than_the_source_already_at_the_previous_plan_is_not_widened() -> None:
    """Widening follows the source's growth: a column the user made narrower (or a table first loaded with no
    previous plan known) is converted into, not altered."""
    target = [col("id", "int4"), col("qty", "int2"), col("name", "varchar(5)")]
    now = [col("id", "int4"), col("qty", "int8"), col("name", "varchar(50)")]
    for previous in (None, [col("id", "int4"), col("qty", "int4"), col("name", "varchar(10)")]):
        diff = compare_columns(PostgresDialect(), now, target, previous)
        assert diff.widened == () and not diff.changes_target
        assert [(t.name, s.type.native) for t, s in diff.converted] == [("qty", "int8"), ("name", "varchar(50)")]
    # the source grew from what the target held: widened; a column new to the source since then: converted
    grown = compare_columns(PostgresDialect(), now, target, [col("id", "int4"), col("qty", "int2")])
    assert [(t.name, s.type.native) for t, s in grown.widened] == [("qty", "int8")]
    assert [t.name for t, _ in grown.converted] == ["name"]


def test_source_columns_round_trip_through_json() -> None:
    import json

    from airflow_mapper_provider.target import decode_columns, encode_columns

    columns = [col("id", "int4"), col("price", "numeric(12,2)"), Column("v", ColumnType("varchar", length=9))]
    assert decode_columns(json.loads(json.dumps(encode_columns(columns)))) == columns
    assert decode_columns(None) is None  # a plan made before the source's columns were recorded


def test_compare_columns_on_sqlite_compares_names_only() -> None:
    """SQLite stores any value in any column: a wider source type needs no DDL and is no difference."""
    source = [Column("id", ColumnType("bigint")), Column("v", ColumnType("varchar", length=50)),
              Column("new", ColumnType("text"))]  # fmt: skip
    target = [Column("id", ColumnType("int")), Column("v", ColumnType("varchar", length=10)),
              Column("gone", ColumnType("text"))]  # fmt: skip
    diff = compare_columns(SqliteDialect(), source, target)
    assert [c.name for c in diff.added] == ["new"]
    assert (diff.widened, diff.converted, diff.kept) == ((), (), ("gone",))


# ---- load_columns -------------------------------------------------------------------------------------------------

SOURCE = [col("id", "int4"), col("name", "text"), col("extra", "text"), col("ts", "timestamptz")]
TARGET = [col("ts", "timestamptz"), col("id", "int4"), col("name", "text"), col("old", "text")]


def test_load_columns_ignore_keeps_the_target_columns_in_source_order() -> None:
    assert [c.name for c in load_columns(cfg(on_schema_change="ignore"), SOURCE, TARGET)] == ["id", "name", "ts"]


@pytest.mark.parametrize("mode", ["append_new_columns", "fail"])
def test_load_columns_loads_every_source_column_where_the_plan_made_them_fit(mode: str) -> None:
    target = [*TARGET, col("extra", "text")]
    assert load_columns(cfg(on_schema_change=mode), SOURCE, target) == SOURCE


@pytest.mark.parametrize("mode", ["append_new_columns", "fail"])
def test_load_columns_refuses_a_source_column_the_target_lacks_naming_the_fix(mode: str) -> None:
    with pytest.raises(SchemaError) as info:
        load_columns(cfg(on_schema_change=mode), SOURCE, TARGET)
    message = str(info.value)
    assert message.startswith("target table dw.dim lacks source column(s) ['extra']: the source or the target changed")
    assert f"on_schema_change={mode!r}" in message
    assert "Clear the plan task to plan the run again, or set on_schema_change='ignore'" in message


@pytest.mark.parametrize("mode", ["append_new_columns", "fail", "ignore"])
def test_load_columns_refuses_a_key_column_the_target_lacks_in_every_mode(mode: str) -> None:
    with pytest.raises(SchemaError, match=r"lacks key column\(s\) \['id'\]: the mapper does not add a key column"):
        load_columns(cfg(on_schema_change=mode), SOURCE, [c for c in TARGET if c.name != "id"])


def test_load_columns_ignore_refuses_a_checkpoint_column_the_target_lacks() -> None:
    config = cfg(on_schema_change="ignore", checkpoint_column="extra")
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['extra'\], which the run needs"):
        load_columns(config, SOURCE, TARGET)


def test_load_columns_ignore_refuses_an_effective_time_column_the_target_lacks() -> None:
    config = cfg(on_schema_change="ignore", load_strategy="scd2", scd2_effective_time="extra")
    with pytest.raises(SchemaError, match="scd2_effective_time"):
        load_columns(config, SOURCE, TARGET)


# ---- the job log's record of the changes --------------------------------------------------------------------------


def test_schema_changes_ride_on_the_first_chunk_and_reach_the_job_log_message() -> None:
    from airflow_mapper_provider.finalizer import joblog_message
    from airflow_mapper_provider.models import ChunkSpec
    from airflow_mapper_provider.planner import with_schema_changes

    plan = [ChunkSpec(index=i, count=2, kind="hash", key_columns=("id",)) for i in range(2)]
    changed = with_schema_changes(plan, ["added column(s) email varchar(50)"])
    assert changed[0].schema_changes == ["added column(s) email varchar(50)"]
    assert changed[1].schema_changes == [] and plan[0].schema_changes == []  # the input is not modified
    xcom = [c.to_dict() for c in changed]  # on the first chunk only, and it survives XCom
    assert "schema_changes" not in xcom[1] and ChunkSpec.from_dict(xcom[0]) == changed[0]
    again = with_schema_changes(changed, ["widened column(s) qty int4 -> int8"])  # a frozen plan re-used
    assert again[0].schema_changes == ["added column(s) email varchar(50)", "widened column(s) qty int4 -> int8"]
    assert with_schema_changes(plan, []) is plan
    assert joblog_message("", again) == (
        "schema: added column(s) email varchar(50); widened column(s) qty int4 -> int8"
    )
    assert joblog_message("chunk(s) not finished: 1", again).startswith("chunk(s) not finished: 1; schema: added")


def test_job_log_message_of_plans_without_schema_changes_is_unchanged() -> None:
    from airflow_mapper_provider.finalizer import joblog_message
    from airflow_mapper_provider.models import ChunkSpec

    old_payload = [ChunkSpec.from_dict({"index": 0, "count": 1, "kind": "all", "schema_version": 1})]  # earlier XCom
    assert joblog_message("", old_payload) == ""
    assert joblog_message("chunk(s) not finished: 0", old_payload) == "chunk(s) not finished: 0"
    assert joblog_message("plan did not complete: see the plan task's log", None) == (
        "plan did not complete: see the plan task's log"
    )
    assert joblog_message("", []) == ""
