"""Exact SQL of the conversion into an existing PostgreSQL target's types (the dialect's cast and check pieces)."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.dialects import PostgresDialect
from airflow_mapper_provider.dialects.postgres import column_type_from_display

PG = PostgresDialect()


def t(display: str):
    return column_type_from_display(display)


@pytest.mark.parametrize(
    ("src", "dst", "cast"),
    [
        ("text", "int4", "CAST(x AS int4)"),
        ("numeric(12,2)", "int8", "CAST(x AS int8)"),
        ("timestamp", "timestamptz", "(x AT TIME ZONE 'UTC')"),
        ("timestamptz", "timestamp", "(x AT TIME ZONE 'UTC')"),
        ("timestamp", "timestamptz(3)", "CAST((x AT TIME ZONE 'UTC') AS timestamptz(3))"),
        ("varchar(20)", "varchar(5)", "CAST(x AS varchar(5))"),
    ],
)
def test_casts(src, dst, cast):
    assert PG.cast_sql("x", t(src), t(dst)) == cast


@pytest.mark.parametrize(
    ("src", "dst", "check"),
    [
        # widening never changes a value: no check
        ("int4", "int8", None),
        ("int2", "float8", None),
        ("date", "timestamptz", None),
        ("json", "jsonb", None),
        ("numeric(12,2)", "numeric", None),
        ("varchar(5)", "text", None),
        # text into a length limit: an explicit CAST would truncate, so the length is checked
        ("text", "varchar(5)", "char_length(x) > 5"),
        ("varchar(20)", "bpchar(3)", "char_length(x) > 3"),
        # text into another type: the type's input function reads it exactly or raises
        ("text", "int4", "(CAST(x AS int4) IS NULL AND x IS NOT NULL)"),
        # everything else: the round trip must give the value back
        ("numeric(12,2)", "int8", "CAST(CAST(x AS int8) AS numeric(12,2)) IS DISTINCT FROM x"),
        ("int8", "int4", "CAST(CAST(x AS int4) AS int8) IS DISTINCT FROM x"),
        ("timestamp", "timestamptz(0)",
         "(CAST((x AT TIME ZONE 'UTC') AS timestamptz(0)) AT TIME ZONE 'UTC') IS DISTINCT FROM x"),
        # a type whose '=' is not identity compares its text form
        ("interval", "int4", "CAST(CAST(x AS int4) AS interval)::text IS DISTINCT FROM x::text"),
    ],
)  # fmt: skip
def test_checks_for_values_that_would_change(src, dst, check):
    assert PG.lossy_sql("x", t(src), t(dst)) == check


def test_a_type_the_target_database_lacks_is_created_as_text():
    known = {"mood": False, "mood[]": False}
    d = PostgresDialect(type_exists=lambda name: known.get(name, True))
    assert d.type_ddl(t("mood")) == "text"
    assert d.type_ddl(t("mood[]")) == "text"  # arrays of it too (asked by the array's own name)
    assert d.type_ddl(t("numeric(12,2)")) == "numeric(12,2)"  # built-in types are never asked about
