"""Golden SQL of the MySQL/MariaDB dialect: exact text, each statement parsed by sqlglot's MySQL dialect (the
statements sqlglot cannot read are listed with the reason), the type maps both ways, the generic path's quoting."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlalchemy.dialects import mssql, mysql
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from airflow_mapper_provider.dialects import Column, ColumnType, GenericDialect, UpdateSpec
from airflow_mapper_provider.dialects import mysql_types as types
from airflow_mapper_provider.dialects.mysql import MySqlDialect
from airflow_mapper_provider.exceptions import UnsupportedError
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec, encode_value
from airflow_mapper_provider.strategies.base import DELTA, STAGE

M = MySqlDialect("mariadb")
T = TableName("dim", "dw")
COLS = [
    Column("code", ColumnType("text")),
    Column("price", ColumnType("numeric", "numeric(12,2)", "postgres", precision=12, scale=2)),
    Column("at", ColumnType("timestamptz")),
]
#: sqlglot reads MySQL's ALTER TABLE with generated INVISIBLE columns and DO as opaque commands.
_UNPARSED = ("ALTER TABLE", "DO ")


def assert_parses(sql: str) -> None:
    if sql.startswith(_UNPARSED):
        return
    statements = sqlglot.parse(sql, read="mysql", error_level=ErrorLevel.RAISE)
    assert len(statements) == 1 and not isinstance(statements[0], exp.Command), sql


def test_names_and_binds() -> None:
    assert M.table(T) == "`dw`.`dim`" and M.quote("Customer_ID") == "`Customer_ID`"
    assert M.param("lo") == ":lo" and M.mod("a", "b") == "MOD(a, b)"
    assert M.offset_sql("offset") == " LIMIT 18446744073709551615 OFFSET :offset"


def test_chunk_predicates_range_in_byte_order_and_crc32_buckets() -> None:
    spec = ChunkSpec(1, 3, "range", ("code",), encode_value("a"), encode_value("m"), key_kind="text")
    sql, params = M.chunk_predicate(spec, "s")
    assert sql == "CAST(s.`code` AS BINARY) >= :lo AND CAST(s.`code` AS BINARY) < :hi"
    assert params == {"lo": "a", "hi": "m"}
    bucket = M.hash_bucket(["a", "b"], "s", 8)
    assert bucket == (
        "MOD(CRC32(CONCAT_WS(',', IFNULL(CONCAT(LENGTH(s.`a`), ':', s.`a`), 'N'), "
        "IFNULL(CONCAT(LENGTH(s.`b`), ':', s.`b`), 'N'))), 8)"
    )
    assert_parses(f"SELECT {bucket} FROM t s")


def test_update_join_names_the_delta_once() -> None:
    upd = UpdateSpec(["code"], [("valid_to", ":eff"), ("is_current", "FALSE")], "d.mapper_new = 0", "is_current")
    sql = M.update_from_sql(T, DELTA, upd)
    assert sql == (
        "UPDATE `dw`.`dim` t JOIN `mapper_delta` d ON t.`code` = d.`code` AND d.mapper_new = 0 AND "
        "t.`is_current` = TRUE SET t.`valid_to` = :eff, t.`is_current` = FALSE"
    )
    assert sql.count("mapper_delta") == 1
    assert_parses(sql)


def test_upsert_and_row_hash() -> None:
    sql = M.upsert_sql(TableName("live"), ["k", "n"], ["k"])
    assert sql == "INSERT INTO `live` (`k`, `n`) VALUES (:k, :n) ON DUPLICATE KEY UPDATE `n` = VALUES(`n`)"
    assert_parses(sql)
    assert (
        M.row_hash_expr(COLS[1:2], "d") == "MD5(CONCAT_WS(',', IFNULL(CONCAT(LENGTH(d.`price`), ':', d.`price`), 'N')))"
    )
    assert M.differs("a", "b") == "NOT (a <=> b)"
    assert M.column_differs("a", "b", COLS[0]) == "NOT (CAST(a AS BINARY) <=> CAST(b AS BINARY))"


def test_target_ddl_with_indexable_keys_and_one_current_row_per_key() -> None:
    create = M.create_table_sql(T, COLS, primary_key=["code"])
    assert create == (
        "CREATE TABLE `dw`.`dim` (\n  `code` VARCHAR(512) NOT NULL,\n  `price` DECIMAL(12,2),\n  `at` DATETIME(6),\n"
        "  PRIMARY KEY (`code`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
    )
    assert_parses(create)
    two = MySqlDialect("mysql").create_table_sql(T, [*COLS, Column("b", ColumnType("text"))], keys=["code", "b"])
    assert "`code` VARCHAR(256),\n" in two and "`b` VARCHAR(256)\n" in two  # the budget shared by two text keys
    assert two.endswith("COLLATE=utf8mb4_0900_bin")
    current = M.create_index_sql(T, "dim_current_ux", ["code"], unique=True, where="`is_current` = TRUE")
    assert current == (
        "ALTER TABLE `dw`.`dim` ADD COLUMN `dim_current_ux_on` TINYINT AS (CASE WHEN `is_current` = TRUE THEN 1 END) "
        "VIRTUAL INVISIBLE, ADD UNIQUE INDEX `dim_current_ux` (`code`, `dim_current_ux_on`)"
    )
    plain = M.create_index_sql(T, "dim_key_ix", ["code", "price"])
    assert plain == "CREATE INDEX `dim_key_ix` ON `dw`.`dim` (`code`, `price`)"
    assert_parses(plain)


def test_chunk_ddl_is_temporary_only() -> None:
    """The statements a chunk runs: CREATE/DROP TEMPORARY TABLE only (any other DDL commits the transaction)."""
    chunk_ddl = [
        M.drop_temp_sql(STAGE),
        M.create_staging_sql(STAGE, COLS),
        M.create_temp_as_sql(DELTA, "SELECT 1 AS x"),
        M.create_temp_index_sql(DELTA, "mapper_rn"),
        *M.number_rows_sql(STAGE, STAGE + "_n", "mapper_rn", "mapper_ok"),
    ]
    for sql in chunk_ddl:
        assert sql == "DO 0" or sql.startswith(("CREATE TEMPORARY TABLE", "DROP TEMPORARY TABLE")), sql
        assert_parses(sql)
    assert M.analyze_sql(STAGE) == "" and M.prefer_index_joins_sql() == []
    assert chunk_ddl[4].endswith("ROW_NUMBER() OVER () AS `mapper_rn`, 1 AS `mapper_ok` FROM `mapper_stage` s")
    assert "(INDEX `mapper_stage_mapper_rn` (`mapper_rn`)) AS SELECT * FROM `mapper_stage_n`" in chunk_ddl[6]


@pytest.mark.parametrize(
    ("ctype", "ddl"),
    [
        (ColumnType("bool"), "TINYINT(1)"),
        (ColumnType("numeric"), "DECIMAL(65,30)"),
        (ColumnType("numeric", precision=38, scale=0), "DECIMAL(38,0)"),
        (ColumnType("varchar", length=200), "VARCHAR(200)"),
        (ColumnType("varchar", length=5000), "LONGTEXT"),
        (ColumnType("char", length=2), "CHAR(2)"),
        (ColumnType("timestamptz"), "DATETIME(6)"),
        (ColumnType("time"), "TIME(6)"),
        (ColumnType("bytes"), "LONGBLOB"),
        (ColumnType("json"), "JSON"),
        (ColumnType("uuid"), "CHAR(36)"),
        (ColumnType("text", "varchar(10)", "mysql"), "varchar(10)"),  # the source's own type on its own kind
    ],
)
def test_type_map_postgres_to_mysql(ctype: ColumnType, ddl: str) -> None:
    assert M.type_ddl(ctype) == ddl


@pytest.mark.parametrize(
    ("native", "kind", "precision", "scale"),
    [
        ("decimal(30,10)", "numeric", 30, 10),
        ("bigint(20) unsigned", "numeric", 20, 0),
        ("int(10) unsigned", "bigint", None, None),
        ("tinyint(1)", "bool", None, None),
        ("tinyint(4)", "smallint", None, None),
        ("datetime(6)", "timestamp", None, None),
        ("timestamp(6)", "timestamptz", None, None),
        ("longtext", "text", None, None),
        ("varbinary(16)", "bytes", None, None),
        ("enum('a','b')", "text", None, None),
    ],
)
def test_type_map_mysql_to_neutral(native: str, kind: str, precision: int | None, scale: int | None) -> None:
    t = types.column_type(native)
    assert (t.kind, t.precision, t.scale, t.native) == (kind, precision, scale, native)


def test_refused_types_and_value_conversions() -> None:
    with pytest.raises(UnsupportedError, match="interval"):
        M.check_source_types([Column("i", ColumnType("interval"))])
    with pytest.raises(UnsupportedError, match="65 digits"):
        M.check_source_types([Column("n", ColumnType("numeric", "numeric(70,2)", "postgres", precision=70, scale=2))])
    aware = dt.datetime(2026, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert types.utc_naive(aware) == dt.datetime(2026, 1, 1)
    assert types.to_bool(1) is True and types.to_bool(0) is False
    with pytest.raises(ValueError, match="not a boolean"):
        types.to_bool(2)
    assert types.to_time(dt.timedelta(hours=23, microseconds=5)) == dt.time(23, 0, 0, 5)
    with pytest.raises(ValueError, match="time of day"):
        types.to_time(dt.timedelta(hours=25))


@pytest.mark.parametrize(
    ("sa_dialect", "quoted", "int_ddl"),
    [(mysql.dialect(), "`Customer`", "INTEGER"), (mssql.dialect(), "[Customer]", "INTEGER")],
    ids=["mysql", "mssql"],
)
def test_generic_path_quotes_and_types_as_sqlalchemy_does(sa_dialect, quoted: str, int_ddl: str) -> None:
    """Any other SQLAlchemy database: its own identifier preparer and type compiler, never ANSI by hand."""
    g = GenericDialect(sa_dialect)
    assert g.quote("Customer") == quoted
    assert g.kind_ddl(ColumnType("int")) == int_ddl
    assert g.kind_ddl(ColumnType("varchar", length=20)) == "VARCHAR(20)"
    assert g.kind_ddl(ColumnType("bool")) == ("BOOL" if sa_dialect.name == "mysql" else "BIT")


def test_aliased_delete_in_the_multi_table_form() -> None:
    sql = M.target_delete_sql(T, "t.`code` IS NOT NULL")
    assert sql == "DELETE t FROM `dw`.`dim` t WHERE t.`code` IS NOT NULL"
    assert_parses(sql)
    update = M.target_update_sql(T, "`is_current` = FALSE", "t.`code` = :k")
    assert update == "UPDATE `dw`.`dim` AS t SET `is_current` = FALSE WHERE t.`code` = :k"
    assert_parses(update)
    assert M.mapref_lock_sql(TableName("mapper_lock")).startswith("SELECT GET_LOCK(")
