"""Golden SQL per dialect: the exact text each dialect renders, that it parses, and that the SQLite lists work.

Every string here is the full statement. A change in SQL text must be deliberate: update the golden string in
the same commit and say why. ``PostgresDialect`` renders ``%(name)s`` parameters (psycopg),
``GenericDialect`` (SQLite here) renders ``:name`` (SQLAlchemy ``text()``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
import sqlglot
from sqlalchemy import text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from airflow_mapper_provider.config import validate_source_sql
from airflow_mapper_provider.dialects import (
    Column,
    ColumnType,
    Dialect,
    GenericDialect,
    PostgresDialect,
    SqliteDialect,
    UpdateSpec,
)
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec, encode_value
from airflow_mapper_provider.strategies import ApplyContext, apply_plan
from airflow_mapper_provider.strategies.base import DELTA, PY_HASH, STAGE, Check, Step
from airflow_mapper_provider.strategies.deletes import SeenKeys
from airflow_mapper_provider.strategies.versions import VERSION_COLUMNS as SCD2_LAYOUT

PG = PostgresDialect()
SQ = SqliteDialect()
PG_TABLE = TableName("dim_customer", "dw")
SQ_TABLE = TableName("dim_customer")
SOURCE = "SELECT customer_id, name, balance FROM crm.customers"
COLUMNS = [
    Column("customer_id", ColumnType("bigint")),
    Column("name", ColumnType("text")),
    Column("balance", ColumnType("numeric", precision=12, scale=2)),
]
EFF = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

# ---- parsing with sqlglot ---------------------------------------------------------------------------------------

#: PostgreSQL syntax sqlglot cannot parse; removed before parsing (the golden tests pin these fragments exactly).
_SQLGLOT_GAPS = [
    (re.compile(r" ON COMMIT DROP\b"), ""),
    (re.compile(r" \(FORMAT BINARY\)$"), ""),
    (re.compile(r"^EXPLAIN \(FORMAT JSON\) "), ""),
]


def assert_parses(sql: str, dialect: Dialect) -> None:
    """Parse one statement strictly; a fall-back to an opaque ``Command`` counts as a failure."""
    read = "postgres" if dialect.name == "postgres" else "sqlite"
    if read == "postgres":
        for pattern, repl in _SQLGLOT_GAPS:
            sql = pattern.sub(repl, sql)
    statements = sqlglot.parse(sql, read=read, error_level=ErrorLevel.RAISE)
    assert len(statements) == 1, sql
    tree = statements[0]
    assert tree is not None
    assert not isinstance(tree, exp.Command), f"sqlglot could not parse: {sql}"


def range_spec(lower: Any, upper: Any, key: str = "customer_id") -> ChunkSpec:
    return ChunkSpec(1, 3, "range", (key,), encode_value(lower), encode_value(upper))


HASH_SPEC = ChunkSpec(2, 8, "hash", ("region", "customer_id"), bucket=2, buckets=8)

# ---- planning statements ----------------------------------------------------------------------------------------

PLANNING: list[tuple[str, Dialect, Any, str]] = [
    ("quote", PG, lambda d: d.quote("Customer_ID"), '"Customer_ID"'),
    ("quote", SQ, lambda d: d.quote("Customer_ID"), '"Customer_ID"'),
    ("table-schema", PG, lambda d: d.table(PG_TABLE), '"dw"."dim_customer"'),
    ("table-schema", SQ, lambda d: d.table(PG_TABLE), '"dw"."dim_customer"'),
    ("table", PG, lambda d: d.table(SQ_TABLE), '"dim_customer"'),
    ("table", SQ, lambda d: d.table(SQ_TABLE), '"dim_customer"'),
    (
        "describe",
        PG,
        lambda d: d.describe_sql(SOURCE),
        "SELECT * FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src LIMIT 0",
    ),
    (
        "describe",
        SQ,
        lambda d: d.describe_sql(SOURCE),
        "SELECT * FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src WHERE 1 = 0",
    ),
    (
        "sample",
        SQ,
        lambda d: d.sample_sql(SOURCE),
        "SELECT * FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src LIMIT :n",
    ),
    (
        "count",
        PG,
        lambda d: d.count_sql(SOURCE),
        "SELECT COUNT(*) FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src",
    ),
    (
        "count",
        SQ,
        lambda d: d.count_sql(SOURCE),
        "SELECT COUNT(*) FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src",
    ),
    (
        "explain",
        PG,
        lambda d: d.explain_sql(SOURCE),
        "EXPLAIN (FORMAT JSON) SELECT customer_id, name, balance FROM crm.customers\n",
    ),
    (
        "quantile",
        PG,
        lambda d: d.quantile_sql(SOURCE, "customer_id"),
        'SELECT mapper_k FROM (SELECT mapper_src."customer_id" AS mapper_k, ROW_NUMBER() OVER (ORDER BY '
        'mapper_src."customer_id") AS mapper_rn FROM (SELECT customer_id, name, balance FROM crm.customers\n) '
        'mapper_src WHERE mapper_src."customer_id" IS NOT NULL) mapper_q WHERE MOD(mapper_rn - 1, %(step)s) = 0 '
        "AND mapper_rn > 1 ORDER BY mapper_rn",
    ),
    (
        "quantile",
        SQ,
        lambda d: d.quantile_sql(SOURCE, "customer_id"),
        'SELECT mapper_k FROM (SELECT mapper_src."customer_id" AS mapper_k, ROW_NUMBER() OVER (ORDER BY '
        'mapper_src."customer_id") AS mapper_rn FROM (SELECT customer_id, name, balance FROM crm.customers\n) '
        'mapper_src WHERE mapper_src."customer_id" IS NOT NULL) mapper_q WHERE ((mapper_rn - 1) % :step) = 0 '
        "AND mapper_rn > 1 ORDER BY mapper_rn",
    ),
]


@pytest.mark.parametrize(
    ("what", "dialect", "build", "expected"), PLANNING, ids=[f"{c[1].name}-{c[0]}" for c in PLANNING]
)
def test_planning_sql(what: str, dialect: Dialect, build: Any, expected: str) -> None:
    sql = build(dialect)
    assert sql == expected
    if sql.startswith(("SELECT", "EXPLAIN")):
        assert_parses(sql, dialect)


# ---- chunk predicates -------------------------------------------------------------------------------------------

PREDICATES: list[tuple[str, Dialect, ChunkSpec, str, dict[str, Any]]] = [
    ("lower-only", PG, range_spec(100, None), 't."customer_id" >= %(lo)s', {"lo": 100}),
    ("lower-only", SQ, range_spec(100, None), 't."customer_id" >= :lo', {"lo": 100}),
    (
        "upper-only",
        PG,
        range_spec(None, 100),
        '(t."customer_id" < %(hi)s OR t."customer_id" IS NULL)',
        {"hi": 100},
    ),
    ("upper-only", SQ, range_spec(None, 100), '(t."customer_id" < :hi OR t."customer_id" IS NULL)', {"hi": 100}),
    (
        "both",
        PG,
        range_spec(100, 200),
        't."customer_id" >= %(lo)s AND t."customer_id" < %(hi)s',
        {"lo": 100, "hi": 200},
    ),
    ("both", SQ, range_spec(100, 200), 't."customer_id" >= :lo AND t."customer_id" < :hi', {"lo": 100, "hi": 200}),
    (
        "both-date",
        SQ,
        range_spec(dt.date(2020, 1, 1), dt.date(2021, 1, 1), "born"),
        't."born" >= :lo AND t."born" < :hi',
        {"lo": dt.date(2020, 1, 1), "hi": dt.date(2021, 1, 1)},
    ),
    (
        "hash",
        PG,
        HASH_SPEC,
        'mod(hash_record_extended(ROW(t."region", t."customer_id"), 0) & 9223372036854775807, 8) = %(bucket)s',
        {"bucket": 2},
    ),
    ("hash", SQ, HASH_SPEC, "", {}),  # SQLite: the loader picks the bucket's rows in Python
    ("all", PG, ChunkSpec(0, 1, "all"), "", {}),
    ("all", SQ, ChunkSpec(0, 1, "all"), "", {}),
]


@pytest.mark.parametrize(
    ("what", "dialect", "spec", "expected", "params"), PREDICATES, ids=[f"{c[1].name}-{c[0]}" for c in PREDICATES]
)
def test_chunk_predicate(what: str, dialect: Dialect, spec: ChunkSpec, expected: str, params: dict[str, Any]) -> None:
    where, bound = dialect.chunk_predicate(spec, "t")
    assert (where, bound) == (expected, params)
    if where:
        assert_parses(f"SELECT 1 FROM x t WHERE {where}", dialect)


def test_filters_in_python_only_for_hash_without_sql_hashing() -> None:
    assert SQ.filters_in_python(HASH_SPEC)
    assert not PG.filters_in_python(HASH_SPEC)
    assert not SQ.filters_in_python(range_spec(1, 2))
    with pytest.raises(NotImplementedError):
        SQ.hash_bucket(["a"], "t", 4)


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            PG,
            'SELECT mapper_src."customer_id", mapper_src."name" FROM (SELECT customer_id, name, balance FROM '
            'crm.customers\n) mapper_src WHERE mapper_src."customer_id" >= %(lo)s '
            'AND mapper_src."customer_id" < %(hi)s',
        ),
        (
            SQ,
            'SELECT mapper_src."customer_id", mapper_src."name" FROM (SELECT customer_id, name, balance FROM '
            'crm.customers\n) mapper_src WHERE mapper_src."customer_id" >= :lo AND mapper_src."customer_id" < :hi',
        ),
    ],
    ids=["postgres", "generic"],
)
def test_chunk_select(dialect: Dialect, expected: str) -> None:
    sql, params = dialect.chunk_select(SOURCE, ["customer_id", "name"], range_spec(5, 10))
    assert (sql, params) == (expected, {"lo": 5, "hi": 10})
    assert_parses(sql, dialect)


def test_chunk_select_all_has_no_where() -> None:
    sql, params = SQ.chunk_select(SOURCE, ["customer_id"], ChunkSpec(0, 1, "all"))
    assert sql == (
        'SELECT mapper_src."customer_id" FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src'
    )
    assert params == {}


@pytest.mark.parametrize(
    ("dialect", "table", "expected_range", "expected_all"),
    [
        (
            PG,
            PG_TABLE,
            'SELECT 1 FROM "dw"."dim_customer" t WHERE t."customer_id" >= %(lo)s AND t."customer_id" < %(hi)s LIMIT 1',
            'SELECT 1 FROM "dw"."dim_customer" t LIMIT 1',
        ),
        (
            SQ,
            SQ_TABLE,
            'SELECT 1 FROM "dim_customer" t WHERE t."customer_id" >= :lo AND t."customer_id" < :hi LIMIT 1',
            'SELECT 1 FROM "dim_customer" t LIMIT 1',
        ),
    ],
    ids=["postgres", "generic"],
)
def test_probe_sql(dialect: Dialect, table: TableName, expected_range: str, expected_all: str) -> None:
    where, _ = dialect.chunk_predicate(range_spec(10, 20), "t")
    assert dialect.probe_sql(table, where) == expected_range
    assert dialect.probe_sql(table, "") == expected_all
    assert_parses(expected_range, dialect)
    assert_parses(expected_all, dialect)


# ---- DDL --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "table", "expected"),
    [
        (
            PG,
            PG_TABLE,
            'CREATE TABLE "dw"."dim_customer" (\n  "customer_id" BIGINT NOT NULL,\n  "name" TEXT,\n'
            '  "balance" NUMERIC(12,2),\n  PRIMARY KEY ("customer_id")\n)',
        ),
        (
            SQ,
            SQ_TABLE,
            'CREATE TABLE "dim_customer" (\n  "customer_id" BIGINT NOT NULL,\n  "name" TEXT,\n'
            '  "balance" DECIMAL_TEXT(12,2),\n  PRIMARY KEY ("customer_id")\n)',
        ),
    ],
    ids=["postgres", "generic"],
)
def test_create_table_with_primary_key(dialect: Dialect, table: TableName, expected: str) -> None:
    sql = dialect.create_table_sql(table, COLUMNS, primary_key=["customer_id"])
    assert sql == expected
    assert_parses(sql, dialect)


def test_create_table_scd2_layout_postgres() -> None:
    sql = PG.create_table_sql(PG_TABLE, [*COLUMNS, *SCD2_LAYOUT])
    assert sql == (
        'CREATE TABLE "dw"."dim_customer" (\n  "customer_id" BIGINT,\n  "name" TEXT,\n  "balance" NUMERIC(12,2),\n'
        '  "valid_from" timestamptz,\n  "valid_to" timestamptz,\n  "is_current" boolean,\n  "row_hash" TEXT\n)'
    )
    assert_parses(sql, PG)


def test_postgres_native_types_are_kept() -> None:
    cols = [
        Column("id", ColumnType("bigint", "int8", "postgres")),
        Column("code", ColumnType("char", "bpchar(2)", "postgres", length=2)),
        Column("amount", ColumnType("numeric", "numeric(12,2)", "postgres", precision=12, scale=2)),
        Column("doc", ColumnType("json", "jsonb", "postgres")),
        Column("from_sqlite", ColumnType("varchar", "VARCHAR(20)", "sqlite", length=20)),
    ]
    assert PG.create_staging_sql("mapper_stage", cols) == (
        'CREATE TEMPORARY TABLE "mapper_stage" ("id" int8, "code" bpchar(2), "amount" numeric(12,2), "doc" jsonb, '
        '"from_sqlite" VARCHAR(20)) ON COMMIT DROP'
    )


@pytest.mark.parametrize(
    ("dialect", "table", "expected_unique", "expected_plain"),
    [
        (
            PG,
            PG_TABLE,
            'CREATE UNIQUE INDEX "dim_customer_current_ux" ON "dw"."dim_customer" ("customer_id") '
            'WHERE "is_current" = TRUE',
            'CREATE INDEX "dim_customer_key_ix" ON "dw"."dim_customer" ("customer_id", "name")',
        ),
        (
            SQ,
            SQ_TABLE,
            'CREATE UNIQUE INDEX "dim_customer_current_ux" ON "dim_customer" ("customer_id") WHERE "is_current" = TRUE',
            'CREATE INDEX "dim_customer_key_ix" ON "dim_customer" ("customer_id", "name")',
        ),
    ],
    ids=["postgres", "generic"],
)
def test_create_index(dialect: Dialect, table: TableName, expected_unique: str, expected_plain: str) -> None:
    where = f"{dialect.quote('is_current')} = {dialect.true_sql}"
    unique = dialect.create_index_sql(table, "dim_customer_current_ux", ["customer_id"], unique=True, where=where)
    plain = dialect.create_index_sql(table, "dim_customer_key_ix", ["customer_id", "name"])
    assert (unique, plain) == (expected_unique, expected_plain)
    assert_parses(unique, dialect)
    assert_parses(plain, dialect)


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            PG,
            'CREATE TEMPORARY TABLE "mapper_stage" ("customer_id" BIGINT, "name" TEXT, "balance" NUMERIC(12,2)) '
            "ON COMMIT DROP",
        ),
        (SQ, 'CREATE TEMPORARY TABLE "mapper_stage" ("customer_id" BIGINT, "name" TEXT, "balance" DECIMAL_TEXT(12,2))'),
    ],
    ids=["postgres", "generic"],
)
def test_create_staging(dialect: Dialect, expected: str) -> None:
    sql = dialect.create_staging_sql(STAGE, COLUMNS)
    assert sql == expected
    assert_parses(sql, dialect)


def test_schema_and_temp_statements() -> None:
    assert PG.create_schema_sql("dw") == 'CREATE SCHEMA IF NOT EXISTS "dw"'
    assert PG.drop_temp_sql(STAGE) == ""  # ON COMMIT DROP
    assert SQ.drop_temp_sql(DELTA) == 'DROP TABLE IF EXISTS "mapper_delta"'
    assert PG.analyze_sql(STAGE) == 'ANALYZE "mapper_stage"'
    assert SQ.analyze_sql(STAGE) == ""
    with pytest.raises(ConfigError, match="without a schema"):
        SQ.create_schema_sql("dw")


@pytest.mark.parametrize(
    ("sa_dialect", "flavor", "mod"),
    [
        (sqlite.dialect(), "sqlite", "((a) % b)"),
        (mysql.dialect(), "mysql", "((a) % b)"),
        (postgresql.dialect(), "postgresql", "MOD(a, b)"),
    ],
    ids=["sqlite", "mysql", "postgresql"],
)
def test_generic_flavors(sa_dialect: Any, flavor: str, mod: str) -> None:
    d = GenericDialect(sa_dialect)
    assert (d.flavor, d.mod("a", "b")) == (flavor, mod)


# ---- PostgreSQL COPY and hashing --------------------------------------------------------------------------------


def test_copy_out_and_in() -> None:
    select, _ = PG.chunk_select(SOURCE, ["customer_id", "name"], range_spec(5, None))
    copy_out = PG.copy_out_sql(select)
    assert copy_out == (
        'COPY (SELECT mapper_src."customer_id", mapper_src."name" FROM (SELECT customer_id, name, balance FROM '
        'crm.customers\n) mapper_src WHERE mapper_src."customer_id" >= %(lo)s) TO STDOUT (FORMAT BINARY)'
    )
    assert PG.copy_in_sql('"mapper_stage"', ["customer_id", "name"]) == (
        'COPY "mapper_stage" ("customer_id", "name") FROM STDIN (FORMAT BINARY)'
    )
    assert PG.copy_in_sql('"dw"."dim_customer"', ["customer_id"], binary=False) == (
        'COPY "dw"."dim_customer" ("customer_id") FROM STDIN'
    )
    inner = copy_out.removeprefix("COPY (").removesuffix(") TO STDOUT (FORMAT BINARY)")
    assert_parses(inner, PG)
    assert_parses(PG.copy_in_sql('"mapper_stage"', ["customer_id", "name"]), PG)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ([], "'0'"),
        (COLUMNS[1:], 'md5(ROW(s."name", s."balance")::text)'),
        (
            [
                Column("name", ColumnType("text", "text", "postgres")),
                Column("n", ColumnType("numeric", "numeric(12,2)", "postgres")),
            ],
            'hash_record_extended(ROW(s."name", s."n"), 0)::text',
        ),
        (
            [
                Column("name", ColumnType("text", "text", "postgres")),
                Column("doc", ColumnType("json", "json", "postgres")),
            ],
            'md5(ROW(s."name", s."doc")::text)',  # json has no hash opclass
        ),
    ],
    ids=["no-values", "foreign-types", "native-hashable", "native-json"],
)
def test_postgres_row_hash(columns: list[Column], expected: str) -> None:
    sql = PG.row_hash_expr(columns, "s")
    assert sql == expected
    assert_parses(f"SELECT {sql} FROM x s", PG)


def test_generic_row_hash_is_computed_in_python() -> None:
    assert SQ.row_hash_expr(COLUMNS[1:], "s") is None


# ---- UPDATE ... FROM --------------------------------------------------------------------------------------------

SCD1_UPDATE = UpdateSpec(["customer_id"], [("name", 'd."name"'), ("balance", 'd."balance"')], "d.mapper_new = 0")
SCD2_EXPIRE = UpdateSpec(
    ["customer_id"], [("valid_to", ":eff"), ("is_current", "FALSE")], "d.mapper_new = 0", target_flag="is_current"
)


def test_update_from_postgres() -> None:
    sql = PG.update_from_sql(PG_TABLE, DELTA, SCD1_UPDATE)
    assert sql == (
        'UPDATE "dw"."dim_customer" t SET "name" = d."name", "balance" = d."balance" FROM "mapper_delta" d '
        'WHERE t."customer_id" = d."customer_id" AND d.mapper_new = 0'
    )
    assert_parses(sql, PG)
    flagged = PG.update_from_sql(PG_TABLE, DELTA, dataclasses.replace(SCD2_EXPIRE, sets=[("valid_to", "%(eff)s")]))
    assert flagged == (
        'UPDATE "dw"."dim_customer" t SET "valid_to" = %(eff)s FROM "mapper_delta" d '
        'WHERE t."customer_id" = d."customer_id" AND d.mapper_new = 0 AND t."is_current"'
    )
    assert_parses(flagged, PG)


def test_update_from_sqlite_names_the_table_not_an_alias() -> None:
    """SQLite's UPDATE ... FROM cannot alias the target: conditions name it in full."""
    sql = SQ.update_from_sql(SQ_TABLE, DELTA, SCD2_EXPIRE)
    assert sql == (
        'UPDATE "dim_customer" SET "valid_to" = :eff, "is_current" = FALSE FROM "mapper_delta" d '
        'WHERE "dim_customer"."customer_id" = d."customer_id" AND d.mapper_new = 0 '
        'AND "dim_customer"."is_current" = TRUE'
    )
    assert_parses(sql, SQ)


def test_update_from_portable_uses_correlated_subqueries() -> None:
    """Other SQLAlchemy databases (here: SQLAlchemy's postgresql dialect, which quotes as ANSI does) get the
    portable form."""
    d = GenericDialect(postgresql.dialect())
    sql = d.update_from_sql(SQ_TABLE, DELTA, SCD1_UPDATE)
    assert sql == (
        'UPDATE "dim_customer" SET '
        '"name" = (SELECT d."name" FROM "mapper_delta" d WHERE d."customer_id" = "dim_customer"."customer_id"), '
        '"balance" = (SELECT d."balance" FROM "mapper_delta" d WHERE d."customer_id" = "dim_customer"."customer_id") '
        'WHERE EXISTS (SELECT 1 FROM "mapper_delta" d WHERE d."customer_id" = "dim_customer"."customer_id" '
        "AND d.mapper_new = 0)"
    )
    assert_parses(sql, SQ)


# ---- strategy statement lists -----------------------------------------------------------------------------------

#: (name, sql, params, counter) of one strategy step.
StepRow = tuple[str, str, dict[str, Any], str | None]

PG_CHECKS = [
    ("null_keys", 'SELECT COUNT(*) FROM "mapper_stage" WHERE "customer_id" IS NULL'),
    ("duplicate_keys", 'SELECT COUNT("customer_id") - COUNT(DISTINCT "customer_id") FROM "mapper_stage"'),
]
SQ_CHECKS = PG_CHECKS  # identical text: only identifiers, no parameters

PG_ANALYZE: StepRow = ("analyze", 'ANALYZE "mapper_stage" ("customer_id")', {}, None)
PG_APPEND: StepRow = (
    "insert",
    'INSERT INTO "dw"."dim_customer" ("customer_id", "name", "balance") SELECT "customer_id", "name", "balance" '
    'FROM "mapper_stage"',
    {},
    "rows_inserted",
)
SQ_APPEND: StepRow = (
    "insert",
    'INSERT INTO "dim_customer" ("customer_id", "name", "balance") SELECT "customer_id", "name", "balance" '
    'FROM "mapper_stage"',
    {},
    "rows_inserted",
)
PG_DIFFERS = 't."name" IS DISTINCT FROM s."name" OR t."balance" IS DISTINCT FROM s."balance"'
SQ_DIFFERS = (
    '(t."name" <> s."name" OR (t."name" IS NULL AND s."name" IS NOT NULL) OR (t."name" IS NOT NULL AND s."name" IS '
    'NULL)) OR (t."balance" <> s."balance" OR (t."balance" IS NULL AND s."balance" IS NOT NULL) OR (t."balance" IS '
    'NOT NULL AND s."balance" IS NULL))'
)


def pg_delta(on_extra: str = "", extra_col: str = "") -> str:
    return (
        'CREATE TEMPORARY TABLE "mapper_delta" ON COMMIT DROP AS SELECT s."customer_id", s."name", s."balance"'
        f'{extra_col}, CASE WHEN t."customer_id" IS NULL THEN 1 ELSE 0 END AS mapper_new FROM "mapper_stage" s '
        f'LEFT JOIN "dw"."dim_customer" t ON t."customer_id" = s."customer_id"{on_extra} '
        f'WHERE t."customer_id" IS NULL OR {PG_DIFFERS}'
    )


def sq_delta(on_extra: str = "", extra_col: str = "") -> str:
    return (
        'CREATE TEMPORARY TABLE "mapper_delta" AS SELECT s."customer_id", s."name", s."balance"'
        f'{extra_col}, CASE WHEN t."customer_id" IS NULL THEN 1 ELSE 0 END AS mapper_new FROM "mapper_stage" s '
        f'LEFT JOIN "dim_customer" t ON t."customer_id" = s."customer_id"{on_extra} '
        f'WHERE t."customer_id" IS NULL OR {SQ_DIFFERS}'
    )


def pg_scd2_insert(source: str, alias: str) -> str:
    return (
        'INSERT INTO "dw"."dim_customer" ("customer_id", "name", "balance", "valid_from", "valid_to", "is_current", '
        f'"row_hash") SELECT {alias}."customer_id", {alias}."name", {alias}."balance", %(eff)s, NULL, TRUE, '
        f'md5(ROW({alias}."name", {alias}."balance")::text) FROM "{source}" {alias}'
    )


def sq_scd2_insert(source: str, alias: str) -> str:
    return (
        'INSERT INTO "dim_customer" ("customer_id", "name", "balance", "valid_from", "valid_to", "is_current", '
        f'"row_hash") SELECT {alias}."customer_id", {alias}."name", {alias}."balance", :eff, NULL, TRUE, '
        f'{alias}."mapper_row_hash" FROM "{source}" {alias}'
    )


CURRENT = ' AND t."is_current" = TRUE'
PG_SCD1_UPDATE: StepRow = (
    "update",
    'UPDATE "dw"."dim_customer" t SET "name" = d."name", "balance" = d."balance" FROM "mapper_delta" d '
    'WHERE t."customer_id" = d."customer_id" AND d.mapper_new = 0',
    {},
    "rows_updated",
)
PG_SCD1_INSERT: StepRow = (
    "insert",
    'INSERT INTO "dw"."dim_customer" ("customer_id", "name", "balance") SELECT d."customer_id", d."name", '
    'd."balance" FROM "mapper_delta" d WHERE d.mapper_new = 1',
    {},
    "rows_inserted",
)
SQ_SCD1_UPDATE: StepRow = (
    "update",
    'UPDATE "dim_customer" SET "name" = d."name", "balance" = d."balance" FROM "mapper_delta" d '
    'WHERE "dim_customer"."customer_id" = d."customer_id" AND d.mapper_new = 0',
    {},
    "rows_updated",
)
SQ_SCD1_INSERT: StepRow = (
    "insert",
    'INSERT INTO "dim_customer" ("customer_id", "name", "balance") SELECT d."customer_id", d."name", d."balance" '
    'FROM "mapper_delta" d WHERE d.mapper_new = 1',
    {},
    "rows_inserted",
)
PG_EXPIRE: StepRow = (
    "update",
    'UPDATE "dw"."dim_customer" t SET "valid_to" = %(eff)s, "is_current" = FALSE FROM "mapper_delta" d '
    'WHERE t."customer_id" = d."customer_id" AND d.mapper_new = 0 AND t."is_current"',
    {"eff": EFF},
    "rows_expired",
)
SQ_EXPIRE: StepRow = (
    "update",
    'UPDATE "dim_customer" SET "valid_to" = :eff, "is_current" = FALSE FROM "mapper_delta" d '
    'WHERE "dim_customer"."customer_id" = d."customer_id" AND d.mapper_new = 0 '
    'AND "dim_customer"."is_current" = TRUE',
    {"eff": EFF},
    "rows_expired",
)
PY_HASH_COL = ', s."mapper_row_hash"'

STRATEGIES: list[tuple[str, Dialect, dict[str, Any], list[tuple[str, str]], list[StepRow]]] = [
    ("append", PG, {}, [], [PG_APPEND]),  # no compare join: no ANALYZE
    ("append", SQ, {}, [], [SQ_APPEND]),
    ("scd1", PG, {"empty_target": True}, PG_CHECKS, [PG_APPEND]),
    ("scd1", SQ, {"empty_target": True}, SQ_CHECKS, [SQ_APPEND]),
    ("scd1", PG, {}, PG_CHECKS, [PG_ANALYZE, ("delta", pg_delta(), {}, None), PG_SCD1_UPDATE, PG_SCD1_INSERT]),
    ("scd1", SQ, {}, SQ_CHECKS, [("delta", sq_delta(), {}, None), SQ_SCD1_UPDATE, SQ_SCD1_INSERT]),
    (
        "scd2",
        PG,
        {"empty_target": True},
        PG_CHECKS,
        [("insert", pg_scd2_insert("mapper_stage", "s"), {"eff": EFF}, "rows_versions")],
    ),
    (
        "scd2",
        PG,
        {},
        PG_CHECKS,
        [
            PG_ANALYZE,
            ("delta", pg_delta(CURRENT), {}, None),
            PG_EXPIRE,
            ("insert", pg_scd2_insert("mapper_delta", "d"), {"eff": EFF}, "rows_versions"),
        ],
    ),
    (
        "scd2",
        SQ,
        {"empty_target": True, "python_hash": True},
        SQ_CHECKS,
        [("insert", sq_scd2_insert("mapper_stage", "s"), {"eff": EFF}, "rows_versions")],
    ),
    (
        "scd2",
        SQ,
        {"python_hash": True},
        SQ_CHECKS,
        [
            ("delta", sq_delta(CURRENT, PY_HASH_COL), {}, None),
            SQ_EXPIRE,
            ("insert", sq_scd2_insert("mapper_delta", "d"), {"eff": EFF}, "rows_versions"),
        ],
    ),
]


def row(step: Step | Check) -> tuple[str, str, dict[str, Any] | None, str | None]:
    """(name, sql, params, counter) of a statement; a check in the list shows as (name, sql, None, None)."""
    if isinstance(step, Check):
        return (step.name, step.sql, None, None)
    return (step.name, step.sql, step.params, step.counter)


def context(dialect: Dialect, strategy: str, **kwargs: Any) -> ApplyContext:
    table = PG_TABLE if dialect is PG else SQ_TABLE
    return ApplyContext(dialect, table, COLUMNS, ["customer_id"], strategy, effective_time=EFF, **kwargs)


@pytest.mark.parametrize(
    ("strategy", "dialect", "kwargs", "checks", "steps"),
    STRATEGIES,
    ids=[f"{c[1].name}-{c[0]}-{'-'.join(c[2]) or 'default'}" for c in STRATEGIES],
)
def test_strategy_statements(
    strategy: str, dialect: Dialect, kwargs: dict[str, Any], checks: list[Any], steps: list[Any]
) -> None:
    got_checks, got_steps = apply_plan(context(dialect, strategy, **kwargs))
    assert [(c.name, c.sql) for c in got_checks] == checks
    assert [row(s) for s in got_steps] == steps
    for sql in [c.sql for c in got_checks] + [s.sql for s in got_steps]:
        assert_parses(sql, dialect)


@pytest.mark.parametrize("dialect", [PG, SQ], ids=["postgres", "generic"])
@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_delta_reads_only_the_chunks_slice_of_the_target(dialect: Dialect, strategy: str) -> None:
    """With a range chunk the compare join carries the chunk's predicate on the target, and its parameters."""
    where, params = dialect.chunk_predicate(range_spec(10, 20), "t")
    python_hash = dialect is SQ and strategy == "scd2"
    ctx = context(dialect, strategy, target_where=where, target_params=params, python_hash=python_hash)
    delta = next(row(s) for s in apply_plan(ctx)[1] if s.name == "delta")
    current = CURRENT if strategy == "scd2" else ""
    hash_col = PY_HASH_COL if python_hash else ""
    expected = (pg_delta if dialect is PG else sq_delta)(f"{current} AND {where}", hash_col)
    assert delta == ("delta", expected, {"lo": 10, "hi": 20}, None)
    assert_parses(delta[1], dialect)


def test_check_messages_name_the_fix() -> None:
    checks = {c.name: c for c in apply_plan(context(SQ, "scd1"))[0]}
    null_msg = checks["null_keys"].message.format(n=3, keys="customer_id")
    dup_msg = checks["duplicate_keys"].message.format(n=2, keys="customer_id")
    assert null_msg.startswith("3 row(s) have NULL in a key column (customer_id)")
    assert "fix them in source_sql" in null_msg
    assert dup_msg.startswith("2 row(s) repeat a key already in the extract (customer_id)")
    assert "ROW_NUMBER()" in dup_msg


def test_append_has_no_key_checks() -> None:
    assert apply_plan(dataclasses.replace(context(SQ, "append"), keys=[]))[0] == []


# ---- incremental loads: checkpoint window, keyset, deletes, effective-time column --------------------------------

WINDOW = {
    "column": "updated_at",
    "lower": encode_value(dt.datetime(2026, 1, 1)),
    "upper": encode_value(dt.datetime(2026, 2, 1)),
}
LO, HI = dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)


@pytest.mark.parametrize(
    ("dialect", "window", "expected", "params"),
    [
        (
            PG,
            WINDOW,
            'mapper_src."updated_at" > %(cp_lo)s AND mapper_src."updated_at" <= %(cp_hi)s',
            {"cp_lo": LO, "cp_hi": HI},
        ),
        (
            SQ,
            WINDOW,
            'mapper_src."updated_at" > :cp_lo AND mapper_src."updated_at" <= :cp_hi',
            {"cp_lo": LO, "cp_hi": HI},
        ),
        (SQ, {**WINDOW, "lower": None}, 'mapper_src."updated_at" <= :cp_hi', {"cp_hi": HI}),
        (SQ, {**WINDOW, "upper": None}, 'mapper_src."updated_at" > :cp_lo AND 1 = 0', {"cp_lo": LO}),
        (SQ, {**WINDOW, "lower": None, "upper": None}, "", {}),
        (SQ, None, "", {}),
    ],
    ids=["postgres", "generic", "first-run", "nothing-new", "empty-source", "no-window"],
)
def test_window_predicate(dialect: Dialect, window: Any, expected: str, params: dict[str, Any]) -> None:
    assert dialect.window_predicate(window, "mapper_src") == (expected, params)


@pytest.mark.parametrize(("dialect", "p"), [(PG, "%({})s"), (SQ, ":{}")], ids=["postgres", "generic"])
def test_windowed_planning_sql(dialect: Dialect, p: str) -> None:
    where, _ = dialect.window_predicate(WINDOW, "mapper_src")
    window = f'mapper_src."updated_at" > {p.format("cp_lo")} AND mapper_src."updated_at" <= {p.format("cp_hi")}'
    inner = "(SELECT customer_id, name, balance FROM crm.customers\n) mapper_src"
    assert dialect.count_sql(SOURCE, where) == f"SELECT COUNT(*) FROM {inner} WHERE {window}"
    assert dialect.max_sql(SOURCE, "updated_at", where) == (
        f'SELECT MAX(mapper_src."updated_at") FROM {inner} WHERE {window}'
    )
    mod = "MOD(mapper_rn - 1, %(step)s)" if dialect is PG else "((mapper_rn - 1) % :step)"
    assert dialect.quantile_sql(SOURCE, "customer_id", where) == (
        'SELECT mapper_k FROM (SELECT mapper_src."customer_id" AS mapper_k, ROW_NUMBER() OVER (ORDER BY '
        f'mapper_src."customer_id") AS mapper_rn FROM {inner} WHERE mapper_src."customer_id" IS NOT NULL AND '
        f"{window}) mapper_q WHERE {mod} = 0 AND mapper_rn > 1 ORDER BY mapper_rn"
    )
    spec = dataclasses.replace(range_spec(10, 20), window=WINDOW)
    sql, params = dialect.chunk_select(SOURCE, ["customer_id"], spec)
    assert sql == (
        f'SELECT mapper_src."customer_id" FROM {inner} WHERE {window} AND mapper_src."customer_id" >= '
        f'{p.format("lo")} AND mapper_src."customer_id" < {p.format("hi")}'
    )
    assert params == {"cp_lo": LO, "cp_hi": HI, "lo": 10, "hi": 20}
    for stmt in (dialect.count_sql(SOURCE, where), dialect.max_sql(SOURCE, "updated_at", where), sql):
        assert_parses(stmt, dialect)


def test_postgres_explain_of_a_window() -> None:
    where, _ = PG.window_predicate(WINDOW, "mapper_src")
    assert PG.explain_sql(SOURCE, where) == (
        "EXPLAIN (FORMAT JSON) SELECT * FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src "
        'WHERE mapper_src."updated_at" > %(cp_lo)s AND mapper_src."updated_at" <= %(cp_hi)s'
    )
    assert (PG.for_update(), PG.for_share(), SQ.for_update(), SQ.for_share()) == (" FOR UPDATE", " FOR SHARE", "", "")


KEYSETS: list[tuple[str, Dialect, dict[str, Any], str, dict[str, Any]]] = [
    (
        "after-one-column",
        SQ,
        {"order": ["updated_at"], "after": [encode_value(LO)]},
        'WHERE mapper_src."updated_at" > :ks0 ORDER BY mapper_src."updated_at"',
        {"ks0": LO},
    ),
    (
        "after-composite",
        PG,
        {"order": ["region", "customer_id"], "after": [encode_value("DE"), encode_value(5)]},
        'WHERE (mapper_src."region", mapper_src."customer_id") > (%(ks0)s, %(ks1)s) '
        'ORDER BY mapper_src."region", mapper_src."customer_id"',
        {"ks0": "DE", "ks1": 5},
    ),
    ("first-run", SQ, {"order": ["customer_id"], "after": None}, 'ORDER BY mapper_src."customer_id"', {}),
    ("offset-postgres", PG, {"order": [], "offset": 40}, "OFFSET %(offset)s", {"offset": 40}),
    ("offset-sqlite", SQ, {"order": [], "offset": 40}, "LIMIT -1 OFFSET :offset", {"offset": 40}),
]


@pytest.mark.parametrize(("what", "dialect", "keyset", "tail", "params"), KEYSETS, ids=[k[0] for k in KEYSETS])
def test_keyset_chunk_select(what: str, dialect: Dialect, keyset: dict[str, Any], tail: str, params: Any) -> None:
    sql, bound = dialect.chunk_select(SOURCE, ["customer_id"], ChunkSpec(0, 1, "all", keyset=keyset))
    head = 'SELECT mapper_src."customer_id" FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src'
    assert (sql, bound) == (f"{head} {tail}", params)
    assert_parses(sql, dialect)


def test_keyset_and_window_select_the_right_rows_on_sqlite(sqlite_conn: Any) -> None:
    sqlite_conn.execute(text("CREATE TABLE ev (region TEXT, id INTEGER, at INTEGER)"))
    rows = [{"r": r, "i": i, "a": i * 10} for r in ("DE", "FR", "US") for i in range(1, 6)]
    sqlite_conn.execute(text("INSERT INTO ev VALUES (:r, :i, :a)"), rows)
    source = "SELECT region, id, at FROM ev"

    def read(spec: ChunkSpec) -> list[tuple[Any, ...]]:
        sql, params = SQ.chunk_select(source, ["region", "id"], spec)
        return [tuple(r) for r in sqlite_conn.execute(text(sql), params)]

    after = {"order": ["region", "id"], "after": [encode_value("FR"), encode_value(4)]}
    assert read(ChunkSpec(0, 1, "all", keyset=after)) == [("FR", 5)] + [("US", i) for i in range(1, 6)]
    assert len(read(ChunkSpec(0, 1, "all", keyset={"order": [], "offset": 12}))) == 3
    window = {"column": "at", "lower": encode_value(20), "upper": encode_value(40)}
    assert sorted(read(ChunkSpec(0, 1, "all", window=window))) == sorted(
        (r, i) for r in ("DE", "FR", "US") for i in (3, 4)
    )
    nothing_new = {"column": "at", "lower": encode_value(50), "upper": None}
    assert read(ChunkSpec(0, 1, "all", window=nothing_new)) == []


@pytest.mark.parametrize(("dialect", "p"), [(PG, "%({})s"), (SQ, ":{}")], ids=["postgres", "generic"])
def test_detect_deletes_statements(dialect: Dialect, p: str) -> None:
    """Deletes come from the keys the run's chunks recorded, never from a chunk predicate on the target."""
    table = '"dw"."dim_customer"' if dialect is PG else '"dim_customer"'
    seen = SeenKeys(dialect, PG_TABLE if dialect is PG else SQ_TABLE, ["customer_id"], "dw" if dialect is PG else None,
                    "m")  # fmt: skip
    keys = '"dw"."mapper_keys_62c66a7a5dd7"' if dialect is PG else '"mapper_keys_62c66a7a5dd7"'
    assert seen.create_sql() == [
        f'CREATE TABLE {keys} AS SELECT CAST(NULL AS VARCHAR(250)) AS "mapper_run", CAST(NULL AS INTEGER) AS '
        f'"mapper_chunk", t."customer_id" FROM {table} t WHERE 1 = 0',
        f'CREATE INDEX "mapper_keys_62c66a7a5dd7_ix" ON {keys} ("customer_id", "mapper_run")',
    ]
    assert seen.record_staged_sql() == (
        f'INSERT INTO {keys} ("mapper_run", "mapper_chunk", "customer_id") SELECT {p.format("run")}, '
        f'{p.format("chunk")}, s."customer_id" FROM "mapper_stage" s WHERE s."customer_id" IS NOT NULL'
    )
    absent, params = seen.absent(["r1", "r0"], current_only=True)
    assert absent == (
        f't."is_current" = TRUE AND t."customer_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {keys} k WHERE '
        f'k."mapper_run" IN ({p.format("r0")}, {p.format("r1")}) AND k."customer_id" = t."customer_id")'
    )
    assert params == {"r0": "r1", "r1": "r0"}
    assert seen.close_sql(absent) == (
        f'UPDATE {table} AS t SET "valid_to" = CASE WHEN t."valid_from" > {p.format("eff")} THEN t."valid_from" '
        f'ELSE {p.format("eff")} END, "is_current" = FALSE WHERE {absent}'
    )
    assert seen.delete_sql(absent) == f"DELETE FROM {table} AS t WHERE {absent}"
    for sql in [*seen.create_sql(), seen.record_staged_sql(), seen.close_sql(absent), seen.delete_sql(absent),
                seen.count_sql(absent), seen.forget_sql(["r1"])[0]]:  # fmt: skip
        assert_parses(sql, dialect)


EFF_COLUMNS = [*COLUMNS, Column("changed_at", ColumnType("timestamp"))]


def test_scd2_effective_column_statements_sqlite() -> None:
    ctx = ApplyContext(
        SQ, SQ_TABLE, EFF_COLUMNS, ["customer_id"], "scd2", EFF, python_hash=True, effective_column="changed_at"
    )
    _, steps = apply_plan(ctx)
    assert [(type(s).__name__, s.name) for s in steps] == [
        ("Check", "null_effective"),
        ("Step", "delta"),
        ("Check", "version_order"),
        ("Step", "update"),
        ("Step", "insert"),
    ]
    assert steps[0].sql == 'SELECT COUNT(*) FROM "mapper_stage" WHERE "changed_at" IS NULL'
    assert steps[2].sql == (
        'SELECT COUNT(*) FROM "mapper_delta" d JOIN "dim_customer" t ON t."customer_id" = d."customer_id" '
        'AND t."is_current" = TRUE WHERE d.mapper_new = 0 AND d."changed_at" <= t."valid_from"'
    )
    assert steps[3].sql == (
        'UPDATE "dim_customer" SET "valid_to" = d."changed_at", "is_current" = FALSE FROM "mapper_delta" d '
        'WHERE "dim_customer"."customer_id" = d."customer_id" AND d.mapper_new = 0 '
        'AND "dim_customer"."is_current" = TRUE'
    )
    assert steps[4].sql == (
        'INSERT INTO "dim_customer" ("customer_id", "name", "balance", "changed_at", "valid_from", "valid_to", '
        '"is_current", "row_hash") SELECT d."customer_id", d."name", d."balance", d."changed_at", CASE WHEN '
        'd."mapper_prev_to" > d."changed_at" THEN d."mapper_prev_to" ELSE d."changed_at" END, '
        'NULL, TRUE, d."mapper_row_hash" FROM "mapper_delta" d'
    )
    for step in steps:
        assert_parses(step.sql, SQ)


# ---- embedding the user's query ---------------------------------------------------------------------------------


def test_postgres_embed_doubles_percent() -> None:
    """PgSession always passes a parameter dict, so psycopg reads every statement's '%%' as '%'."""
    source = "SELECT a FROM t WHERE b LIKE 'x%'"
    assert PG.describe_sql(source) == "SELECT * FROM (SELECT a FROM t WHERE b LIKE 'x%%'\n) mapper_src LIMIT 0"
    assert PG.count_sql(source) == "SELECT COUNT(*) FROM (SELECT a FROM t WHERE b LIKE 'x%%'\n) mapper_src"
    assert PG.explain_sql(source) == "EXPLAIN (FORMAT JSON) SELECT a FROM t WHERE b LIKE 'x%%'\n"
    sql, _ = PG.chunk_select(source, ["a"], range_spec(1, 2, "a"))
    assert "LIKE 'x%%'" in sql
    assert "%%" not in SQ.describe_sql(source)


def test_generic_embed_escapes_colons_for_sqlalchemy(sqlite_conn: Any) -> None:
    source = "SELECT 1 AS id, ' :not_a_param' AS a, '10:30' AS b, 'x::y' AS c"
    sql, params = SQ.chunk_select(source, ["id", "a", "b", "c"], range_spec(0, 5, "id"))
    assert "' \\:not_a_param'" in sql
    assert sqlite_conn.execute(text(sql), params).fetchall() == [(1, " :not_a_param", "10:30", "x::y")]


@pytest.mark.parametrize(
    "source",
    [
        "SELECT 1 AS id -- all rows",
        "SELECT 1 AS id\n-- end of file\n",
        "-- header\nSELECT 1 AS id -- note; with a semicolon",
        "/* a */ SELECT 1 AS id /* b */",
    ],
)
def test_comments_in_source_sql_survive_wrapping(source: str, sqlite_conn: Any) -> None:
    sql = validate_source_sql(source)
    assert sqlite_conn.execute(text(SQ.count_sql(sql))).scalar() == 1


# ---- the SQLite statement lists, executed -----------------------------------------------------------------------

PORTABLE = Dialect()  # correlated-subquery UPDATE: what non-SQLite, non-PostgreSQL databases get
EXECUTABLE = [SQ, PORTABLE]
EXEC_IDS = ["sqlite", "portable"]


def setup_target(conn: Any, d: Dialect, strategy: str) -> None:
    if strategy == "scd2":
        conn.execute(text(d.create_table_sql(SQ_TABLE, [*COLUMNS, *SCD2_LAYOUT])))
        conn.execute(
            text(
                d.create_index_sql(
                    SQ_TABLE, "dim_customer_key_from_ux", ["customer_id", "valid_from", "valid_to"], unique=True
                )
            )
        )
        current = f"{d.quote('is_current')} = {d.true_sql}"
        conn.execute(
            text(d.create_index_sql(SQ_TABLE, "dim_customer_current_ux", ["customer_id"], unique=True, where=current))
        )
    else:
        conn.execute(text(d.create_table_sql(SQ_TABLE, COLUMNS, primary_key=["customer_id"])))
    conn.execute(text("CREATE TABLE audit (n INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER)"))
    conn.execute(
        text(
            "CREATE TRIGGER audit_update AFTER UPDATE ON dim_customer "
            "BEGIN INSERT INTO audit (customer_id) VALUES (old.customer_id); END"
        )
    )


def stage(conn: Any, d: Dialect, rows: list[tuple[Any, ...]], python_hash: bool = False) -> None:
    """Fresh staging (as each chunk's transaction has) filled with ``rows``."""
    conn.execute(text(d.drop_temp_sql(STAGE)))
    conn.execute(text(d.drop_temp_sql(DELTA)))
    cols = [*COLUMNS, Column(PY_HASH, ColumnType("text"))] if python_hash else COLUMNS
    conn.execute(text(d.create_staging_sql(STAGE, cols)))
    names = [c.name for c in cols]
    params = [f"p{i}" for i in range(len(names))]
    data = [dict(zip(params, (*r, row_hash(r)) if python_hash else r, strict=True)) for r in rows]
    if data:
        conn.execute(text(d.insert_values_sql(d.temp_name(STAGE), names, params)), data)


def row_hash(row: tuple[Any, ...]) -> str:
    return "h:" + "|".join(repr(v) for v in row[1:])


class CheckFailed(Exception):
    """A check of the statement list found bad rows (the loader raises DataError here)."""


def run_apply(conn: Any, ctx: ApplyContext) -> dict[str, int]:
    """Run checks and statements in order, as the loader does; statements may hold checks that need the delta."""
    checks, steps = apply_plan(ctx)
    counts: dict[str, int] = {}
    for step in [*checks, *steps]:
        if isinstance(step, Check):
            n = conn.execute(text(step.sql)).scalar()
            if n:
                raise CheckFailed(step.name, n)
            continue
        n = conn.execute(text(step.sql), step.params).rowcount
        if step.counter:
            counts[step.counter] = counts.get(step.counter, 0) + n
    return counts


def audit(conn: Any) -> list[int]:
    return [r[0] for r in conn.execute(text("SELECT customer_id FROM audit ORDER BY n"))]


def scd1_rows(conn: Any) -> list[tuple[Any, ...]]:
    # balance is DECIMAL_TEXT(12,2) on SQLite (exact decimal text): read back as a number
    sql = "SELECT customer_id, name, CAST(balance AS NUMERIC) FROM dim_customer ORDER BY 1"
    return [tuple(r) for r in conn.execute(text(sql))]


def exec_context(d: Dialect, strategy: str, eff: Any = EFF, **kwargs: Any) -> ApplyContext:
    return ApplyContext(d, SQ_TABLE, COLUMNS, ["customer_id"], strategy, effective_time=eff, **kwargs)


SCD1_TARGET = [(1, "a", 10), (2, "b", 20), (3, "c", None), (4, None, 40), (9, "z", 90), (100, "outside", 0)]
SCD1_STAGE = [
    (1, "a", 10),  # identical
    (2, "B", 20),  # changed
    (3, "c", 30),  # NULL -> value
    (4, None, 40),  # identical, with a NULL
    (9, "z", None),  # value -> NULL
    (5, "e", 50),  # new
    (6, None, None),  # new, all NULL values
]


@pytest.mark.parametrize("d", EXECUTABLE, ids=EXEC_IDS)
@pytest.mark.parametrize("chunk", [None, range_spec(1, 50)], ids=["whole-target", "chunk-slice"])
def test_scd1_upsert_on_sqlite(d: Dialect, chunk: ChunkSpec | None, sqlite_conn: Any) -> None:
    setup_target(sqlite_conn, d, "scd1")
    sqlite_conn.execute(
        text("INSERT INTO dim_customer VALUES (:a, :b, :c)"), [dict(zip("abc", r, strict=True)) for r in SCD1_TARGET]
    )
    where, params = d.chunk_predicate(chunk, "t") if chunk else ("", {})
    stage(sqlite_conn, d, SCD1_STAGE)

    counts = run_apply(sqlite_conn, exec_context(d, "scd1", target_where=where, target_params=params))

    assert counts == {"rows_updated": 3, "rows_inserted": 2}
    assert scd1_rows(sqlite_conn) == [
        (1, "a", 10),
        (2, "B", 20),
        (3, "c", 30),
        (4, None, 40),
        (5, "e", 50),
        (6, None, None),
        (9, "z", None),
        (100, "outside", 0),
    ]
    assert sorted(audit(sqlite_conn)) == [2, 3, 9]  # identical rows (1, 4) and rows outside the extract untouched

    # Idempotent: the same extract again changes nothing.
    stage(sqlite_conn, d, SCD1_STAGE)
    again = run_apply(sqlite_conn, exec_context(d, "scd1", target_where=where, target_params=params))
    assert again == {"rows_updated": 0, "rows_inserted": 0}
    assert sorted(audit(sqlite_conn)) == [2, 3, 9]


@pytest.mark.parametrize("d", EXECUTABLE, ids=EXEC_IDS)
def test_scd1_empty_target_inserts_everything(d: Dialect, sqlite_conn: Any) -> None:
    setup_target(sqlite_conn, d, "scd1")
    stage(sqlite_conn, d, SCD1_STAGE)
    assert run_apply(sqlite_conn, exec_context(d, "scd1", empty_target=True)) == {"rows_inserted": 7}
    assert scd1_rows(sqlite_conn) == sorted(SCD1_STAGE)


def test_append_inserts_every_staged_row(sqlite_conn: Any) -> None:
    sqlite_conn.execute(text(SQ.create_table_sql(SQ_TABLE, COLUMNS)))
    stage(sqlite_conn, SQ, [(1, "a", 1), (1, "a", 1), (None, "x", 2)])
    assert run_apply(sqlite_conn, exec_context(SQ, "append")) == {"rows_inserted": 3}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([(1, "a", 1), (None, "b", 2), (3, "c", 3)], {"null_keys": 1, "duplicate_keys": 0}),
        (
            [(1, "a", 1), (1, "b", 2), (2, "c", 3), (2, "c", 3), (2, "d", 4), (3, "e", 5)],
            {"null_keys": 0, "duplicate_keys": 3},  # rows beyond one per key: 1 for key 1, 2 for key 2
        ),
    ],
    ids=["null-keys", "duplicate-keys"],
)
def test_key_checks_count_bad_rows(rows: list[tuple[Any, ...]], expected: dict[str, int], sqlite_conn: Any) -> None:
    stage(sqlite_conn, SQ, rows)
    checks = apply_plan(exec_context(SQ, "scd1"))[0]
    assert {c.name: sqlite_conn.execute(text(c.sql)).scalar() for c in checks} == expected


def scd2_rows(conn: Any) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT customer_id, name, CAST(balance AS NUMERIC), valid_from, valid_to, is_current, row_hash "
        "FROM dim_customer "
        "ORDER BY customer_id, valid_from"
    )
    return [tuple(r) for r in conn.execute(text(sql))]


def ts(value: dt.datetime) -> str:
    """How the sqlite3 driver stores a bound datetime."""
    return value.isoformat(" ")


@pytest.mark.parametrize("d", EXECUTABLE, ids=EXEC_IDS)
def test_scd2_history_on_sqlite(d: Dialect, sqlite_conn: Any) -> None:
    eff1, eff2, eff3 = (dt.datetime(2026, m, 1, tzinfo=dt.timezone.utc) for m in (1, 2, 3))
    setup_target(sqlite_conn, d, "scd2")

    # Run 1: the target is empty, every staged row becomes a first, current version.
    first = [(1, "a", 10), (2, "b", 20), (3, "c", 30), (7, "g", 70)]
    stage(sqlite_conn, d, first, python_hash=True)
    assert run_apply(sqlite_conn, exec_context(d, "scd2", eff1, empty_target=True, python_hash=True)) == {
        "rows_versions": 4
    }
    assert scd2_rows(sqlite_conn) == [(*r, ts(eff1), None, 1, row_hash(r)) for r in first]

    # Run 2: 1 unchanged, 2 changed, 3 changed to NULL, 4 new; 7 not in the extract.
    second = [(1, "a", 10), (2, "B", 20), (3, "c", None), (4, "d", 40)]
    stage(sqlite_conn, d, second, python_hash=True)
    counts = run_apply(sqlite_conn, exec_context(d, "scd2", eff2, python_hash=True))
    assert counts == {"rows_expired": 2, "rows_versions": 3}  # the loader reports: 2 updated, 1 inserted

    expected = [
        (1, "a", 10, ts(eff1), None, 1, row_hash((1, "a", 10))),
        (2, "b", 20, ts(eff1), ts(eff2), 0, row_hash((2, "b", 20))),
        (2, "B", 20, ts(eff2), None, 1, row_hash((2, "B", 20))),
        (3, "c", 30, ts(eff1), ts(eff2), 0, row_hash((3, "c", 30))),
        (3, "c", None, ts(eff2), None, 1, row_hash((3, "c", None))),
        (4, "d", 40, ts(eff2), None, 1, row_hash((4, "d", 40))),
        (7, "g", 70, ts(eff1), None, 1, row_hash((7, "g", 70))),
    ]
    assert scd2_rows(sqlite_conn) == expected
    assert sorted(audit(sqlite_conn)) == [2, 3]  # only the closed versions were updated
    current = sqlite_conn.execute(
        text("SELECT customer_id, COUNT(*) FROM dim_customer WHERE is_current = 1 GROUP BY customer_id")
    ).fetchall()
    assert sorted(current) == [(1, 1), (2, 1), (3, 1), (4, 1), (7, 1)]

    # Run 3: the same data again: nothing expires, nothing is inserted.
    stage(sqlite_conn, d, second, python_hash=True)
    assert run_apply(sqlite_conn, exec_context(d, "scd2", eff3, python_hash=True)) == {
        "rows_expired": 0,
        "rows_versions": 0,
    }
    assert scd2_rows(sqlite_conn) == expected
    assert sorted(audit(sqlite_conn)) == [2, 3]


def test_scd2_key_without_a_current_version_gets_a_new_one(sqlite_conn: Any) -> None:
    """A key whose versions are all closed counts as new: it gets a current version, nothing is expired."""
    eff1, eff2 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    setup_target(sqlite_conn, SQ, "scd2")
    sqlite_conn.execute(text("INSERT INTO dim_customer VALUES (8, 'h', 80, :f, :t, 0, 'old')"), {"f": eff1, "t": eff1})
    stage(sqlite_conn, SQ, [(8, "h", 80)], python_hash=True)
    assert run_apply(sqlite_conn, exec_context(SQ, "scd2", eff2, python_hash=True)) == {
        "rows_expired": 0,
        "rows_versions": 1,
    }
    assert [r[5] for r in scd2_rows(sqlite_conn)] == [0, 1]


@pytest.mark.parametrize("d", EXECUTABLE, ids=EXEC_IDS)
@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_detect_deletes_on_sqlite_removes_only_keys_no_chunk_saw(d: Dialect, strategy: str, sqlite_conn: Any) -> None:
    """Target keys 1, 2, 3, 60; chunk 0 of run r2 saw 1 and 2, chunk 1 saw 60: only 3 goes (closed for scd2)."""
    setup_target(sqlite_conn, d, strategy)
    scd2 = strategy == "scd2"
    stage(sqlite_conn, d, [(1, "a", 10), (2, "b", 20), (3, "c", 30), (60, "x", 600)], python_hash=scd2)
    run_apply(sqlite_conn, exec_context(d, strategy, empty_target=True, python_hash=scd2))
    seen = SeenKeys(d, SQ_TABLE, ["customer_id"], None, "m")
    for sql in seen.create_sql():
        sqlite_conn.execute(text(sql))
    for chunk, rows in enumerate([[(1, "a", 10), (2, "B", 20)], [(60, "x", 600)]]):
        stage(sqlite_conn, d, rows, python_hash=scd2)
        sqlite_conn.execute(text(seen.record_staged_sql()), {"run": "r2", "chunk": chunk})
    stage(sqlite_conn, d, [(3, "c", 30)], python_hash=scd2)  # another run's keys do not count for r2
    sqlite_conn.execute(text(seen.record_staged_sql()), {"run": "other", "chunk": 0})
    absent, params = seen.absent(["r2"], current_only=scd2)
    eff2 = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    if scd2:
        assert sqlite_conn.execute(text(seen.close_sql(absent)), {**params, "eff": eff2}).rowcount == 1
        rows = sqlite_conn.execute(
            text("SELECT customer_id, valid_to IS NOT NULL, is_current FROM dim_customer ORDER BY customer_id")
        ).fetchall()
        assert [tuple(r) for r in rows] == [(1, 0, 1), (2, 0, 1), (3, 1, 0), (60, 0, 1)]  # closed, not deleted
    else:
        assert sqlite_conn.execute(text(seen.delete_sql(absent)), params).rowcount == 1
        assert [r[0] for r in scd1_rows(sqlite_conn)] == [1, 2, 60]


def test_scd2_effective_column_on_sqlite(sqlite_conn: Any) -> None:
    """Each version's valid_from is the row's own time; the closed version ends where the next one starts."""
    t1, t2, t3 = "2026-01-01 08:00:00", "2026-01-05 09:30:00", "2026-01-07 10:00:00"
    conn, d = sqlite_conn, SQ
    conn.execute(text(d.create_table_sql(SQ_TABLE, [*EFF_COLUMNS, *SCD2_LAYOUT])))

    def load(rows: list[tuple[Any, ...]], empty: bool) -> dict[str, int]:
        conn.execute(text(d.drop_temp_sql(STAGE)))
        conn.execute(text(d.drop_temp_sql(DELTA)))
        cols = [*EFF_COLUMNS, Column(PY_HASH, ColumnType("text"))]
        conn.execute(text(d.create_staging_sql(STAGE, cols)))
        params = [f"p{i}" for i in range(len(cols))]
        stmt = text(d.insert_values_sql(d.temp_name(STAGE), [c.name for c in cols], params))
        conn.execute(stmt, [dict(zip(params, (*r, row_hash(r)), strict=True)) for r in rows])
        ctx = ApplyContext(
            d,
            SQ_TABLE,
            EFF_COLUMNS,
            ["customer_id"],
            "scd2",
            effective_time=EFF,
            empty_target=empty,
            python_hash=True,
            effective_column="changed_at",
        )
        return run_apply(conn, ctx)

    assert load([(1, "a", 10, t1), (2, "b", 20, t1)], empty=True) == {"rows_versions": 2}
    assert load([(1, "a", 10, t1), (2, "B", 20, t2)], empty=False) == {"rows_expired": 1, "rows_versions": 1}
    rows = conn.execute(
        text("SELECT customer_id, name, valid_from, valid_to, is_current FROM dim_customer ORDER BY 1, 3")
    ).fetchall()
    assert [tuple(r) for r in rows] == [(1, "a", t1, None, 1), (2, "b", t1, t2, 0), (2, "B", t2, None, 1)]

    with pytest.raises(CheckFailed) as info:  # a change dated before the current version: refused
        load([(2, "C", 20, t1)], empty=False)
    assert info.value.args == ("version_order", 1)
    with pytest.raises(CheckFailed) as info:
        load([(2, "C", 20, None)], empty=False)
    assert info.value.args == ("null_effective", 1)
    assert load([(2, "C", 20, t3)], empty=False) == {"rows_expired": 1, "rows_versions": 1}
