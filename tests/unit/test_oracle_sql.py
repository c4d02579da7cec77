"""Golden Oracle SQL: every statement the Oracle dialect renders (oracle_sql_cases.ALL), its exact text
(oracle_sql_golden.GOLDEN), and sqlglot's Oracle parser reading it.

No Oracle server runs here: the golden text is the contract, the parser checks its grammar. Statements sqlglot
cannot read are listed in :data:`UNPARSEABLE` with the reason; the test asserts that exactly those fail, and
parses a stand-in of each (the same statement with the unsupported clause replaced) so the rest of its text is
still checked.
"""

from __future__ import annotations

import logging
import re

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from airflow_mapper_provider.dialects import Column, ColumnType, PostgresDialect
from airflow_mapper_provider.dialects.oracle_types import from_oracle_name
from airflow_mapper_provider.exceptions import ConfigError, UnsupportedError
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.strategies.base import Step
from tests.unit.oracle_sql_cases import ALL, COLUMNS, ORA, ROWID_SPEC, TABLE
from tests.unit.oracle_sql_golden import GOLDEN

pytestmark = pytest.mark.oracle_sql

_PTT = "sqlglot reads no CREATE PRIVATE TEMPORARY TABLE (Oracle 18c+)"
#: Statements sqlglot (30.x, read="oracle") cannot parse, and why.
UNPARSEABLE = {
    "plan-explain": "sqlglot reads no EXPLAIN PLAN",
    "plan-explain-window": "sqlglot reads no EXPLAIN PLAN",
    "apply-scd1-delta": _PTT,
    "apply-scd1-salvage-delta": _PTT,
    "apply-scd1-sliced-delta": _PTT,
    "apply-scd2-delta": _PTT,
    "apply-scd2-native-delta": _PTT,
    "apply-scd2-effective-delta": _PTT,
    "target-staging": _PTT,
    "target-staging-text-key": _PTT,
    "target-number-rows-0": _PTT,
    "target-number-rows-2": _PTT,
    "target-delta-table": _PTT,
    "target-index-history": "sqlglot reads no schema-qualified index name (CREATE INDEX schema.name ON ...)",
    "target-index-current": "sqlglot reads no schema-qualified index name (CREATE INDEX schema.name ON ...)",
    "state-deletes-index": "sqlglot reads no schema-qualified index name (CREATE INDEX schema.name ON ...)",
    "target-alter-type": "sqlglot reads no ALTER TABLE ... MODIFY (column type)",
    "target-savepoint-set": "sqlglot reads no SAVEPOINT statement",
}
#: Statements the dialect renders as "" (left out: the caller must skip them), and why. None today: the delta's
#: index in salvage mode ("": a private temporary table takes no index) is dropped by OracleDialect.scd1_steps.
SKIPPED: dict[str, str] = {}

#: How each unparseable statement becomes a stand-in sqlglot reads (everything else in it unchanged).
_STAND_INS = [
    (re.compile(r"^EXPLAIN PLAN SET STATEMENT_ID = '\w+' FOR "), ""),
    (re.compile(r"^CREATE PRIVATE TEMPORARY TABLE (\S+) ON COMMIT DROP DEFINITION AS "), r"CREATE TABLE \1 AS "),
    (re.compile(r"^CREATE PRIVATE TEMPORARY TABLE (.*) ON COMMIT DROP DEFINITION$", re.S), r"CREATE TABLE \1"),
    (re.compile(r'^(CREATE (?:UNIQUE )?INDEX) "\w+"\.'), r"\1 "),
    (re.compile(r"^(ALTER TABLE \S+) MODIFY \((\S+) (.*)\)$"), r"\1 ALTER COLUMN \2 TYPE \3"),
    (re.compile(r"^SAVEPOINT (\S+)$"), r"ROLLBACK TO SAVEPOINT \1"),
]


def parses(sql: str) -> bool:
    """sqlglot reads ``sql`` as one Oracle statement (a fall-back to an opaque Command counts as not read)."""
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        trees = sqlglot.parse(sql, read="oracle", error_level=ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError:
        return False
    return len(trees) == 1 and trees[0] is not None and not isinstance(trees[0], exp.Command)


def stand_in(sql: str) -> str:
    for pattern, repl in _STAND_INS:
        sql = pattern.sub(repl, sql)
    return sql


def test_every_statement_has_its_golden_text() -> None:
    assert set(ALL) == set(GOLDEN)


@pytest.mark.parametrize("name", sorted(ALL))
def test_golden_sql(name: str) -> None:
    assert ALL[name]() == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(ALL))
def test_sqlglot_reads_it(name: str) -> None:
    sql = ALL[name]()
    if name in SKIPPED:
        assert sql == ""
        return
    if name in UNPARSEABLE:
        assert not parses(sql), f"sqlglot reads {name} now: remove it from UNPARSEABLE"
        assert stand_in(sql) != sql
        assert parses(stand_in(sql)), stand_in(sql)
    else:
        assert parses(sql), sql


def test_the_lists_name_real_statements() -> None:
    assert set(UNPARSEABLE) <= set(ALL)
    assert {n for n, build in ALL.items() if build() == ""} == set(SKIPPED)


# ---- names across databases ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("canonical", "oracle"),
    [("customer_id", '"CUSTOMER_ID"'), ("CustomerId", '"CustomerId"'), ("CUSTOMER_ID", '"CUSTOMER_ID"'),
     ("c$1", '"C$1"')],
)  # fmt: skip
def test_quote_folds_plain_names_upper(canonical: str, oracle: str) -> None:
    assert ORA.quote(canonical) == oracle


def test_names_both_directions() -> None:
    """PostgreSQL -> Oracle: lower-case names become Oracle's upper-case ones; Oracle -> PostgreSQL: names Oracle
    folded come back lower case (as ora2pg), a name that needed quotes keeps its case."""
    assert ORA.table(TableName.parse("dw.dim_customer")) == '"DW"."DIM_CUSTOMER"'
    described = [from_oracle_name(n) for n in ("CUSTOMER_ID", "CustomerId", "NAME")]
    assert described == ["customer_id", "CustomerId", "name"]
    assert PostgresDialect().cols(described) == '"customer_id", "CustomerId", "name"'
    assert ORA.cols(described) == '"CUSTOMER_ID", "CustomerId", "NAME"'


def test_temp_names_carry_the_private_temporary_prefix() -> None:
    assert ORA.temp_name("mapper_stage") == '"ORA$PTT_MAPPER_STAGE"'
    with pytest.raises(ConfigError):
        ORA.temp_name('x"; DROP TABLE t')


# ---- decisions ------------------------------------------------------------------------------------------------


def test_embed_strips_a_trailing_semicolon() -> None:
    """Oracle refuses a ';' inside a subquery (ORA-00907): the user's terminator goes, a comment stays closed."""
    assert ORA.embed("SELECT 1 FROM dual ;  \n") == "SELECT 1 FROM dual\n"
    assert ORA.embed("SELECT 1 FROM dual -- last") == "SELECT 1 FROM dual -- last\n"
    assert parses(ORA.count_sql("SELECT 1 AS x FROM dual;"))


def test_capabilities() -> None:
    caps = ORA.caps
    assert (caps.merge, caps.release_savepoint, caps.tuple_compare, caps.temp_tables) == (True, False, False, "private")
    assert (caps.max_identifier, caps.folds_unquoted, caps.empty_string_is_null) == (128, "upper", True)
    assert (caps.hash_in_sql, caps.transactional_ddl, caps.session_locks, caps.partial_index) == (
        True,
        False,
        False,
        False,
    )


def test_release_savepoint_and_temp_indexes_are_left_out() -> None:
    assert ORA.savepoint_sql("release", "mapper_salvage") == ""
    assert ORA.create_temp_index_sql("mapper_delta", "mapper_rn") == ""
    assert ORA.drop_temp_sql("mapper_stage") == ""
    assert ORA.analyze_sql("mapper_stage", ["customer_id"]) == ""
    assert ORA.ddl_lock_sql() == ""
    assert ORA.mapref_lock_sql() == ""  # the lock table is needed to lock its row


def test_create_schema_names_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"schema is a user.*CREATE USER DW"):
        ORA.create_schema_sql("dw")


def test_merge_never_updates_a_column_it_joins_on() -> None:
    from airflow_mapper_provider.dialects import UpdateSpec

    with pytest.raises(UnsupportedError, match="ORA-38104"):
        ORA.update_from_sql(TABLE, "mapper_delta", UpdateSpec(["customer_id"], [("customer_id", "d.x")], "1 = 1"))


def test_explain_statement_id_is_a_checked_literal() -> None:
    assert "SET STATEMENT_ID = 'mapper_ab12'" in ORA.explain_sql("SELECT 1 FROM dual", statement_id="mapper_ab12")
    with pytest.raises(UnsupportedError, match="statement id"):
        ORA.explain_sql("SELECT 1 FROM dual", statement_id="x' OR '1")


def test_hash_bucket_single_key_keeps_null_keys_in_a_bucket() -> None:
    assert ORA.hash_bucket(["customer_id"], "t", 16) == 'NVL(ORA_HASH(t."CUSTOMER_ID", 15), 0)'
    with pytest.raises(UnsupportedError):
        ORA.hash_bucket(["customer_id"], "t", 0)
    assert not ORA.filters_in_python(ChunkSpec(0, 2, "hash", ("customer_id",), bucket=1, buckets=2))


def test_lobs_are_not_hashed_in_sql() -> None:
    clob = Column("note", ColumnType("text", "CLOB", "oracle"))
    assert not ORA.can_hash([clob])
    assert ORA.can_hash([Column("id", ColumnType("int", "NUMBER(9)", "oracle"))])
    assert ORA.row_hash_expr([clob], "s") is None  # hashed in Python at staging
    assert ORA.row_hash_expr([], "s") == "'0'"


def test_row_hash_of_a_wide_row_keeps_each_concatenation_short() -> None:
    """250 columns: each concatenation joins at most 100 column hashes (33 bytes each < 4,000 bytes)."""
    wide = [Column(f"c{i}", ColumnType("int", "NUMBER(9)", "oracle")) for i in range(250)]
    sql = ORA.row_hash_expr(wide, "s") or ""
    assert all(f's."C{i}" IS NULL' in sql for i in range(250))
    assert sql.count("STANDARD_HASH(") == 250 + 3 + 1  # columns, three groups, the row
    assert sql.count("END || '|' || CASE") == 99 + 99 + 49  # column hashes joined inside the groups of 100
    assert sql.count("'MD5')) || '|' || RAWTOHEX") == 2  # the three group hashes joined
    assert parses(f"SELECT {sql} FROM x s")


def test_rowid_predicate_binds_the_bounds_as_text() -> None:
    where, params = ORA.chunk_predicate(ROWID_SPEC, "t")
    assert where == "t.ROWID BETWEEN CHARTOROWID(:lo) AND CHARTOROWID(:hi)"
    assert params == {"lo": "AAAR3sAAEAAAACXAAA", "hi": "AAAR3sAAEAAAACfH//"}


def test_lob_columns_compare_with_dbms_lob() -> None:
    clob = Column("note", ColumnType("text"))  # a PostgreSQL text column is a CLOB on Oracle
    assert "DBMS_LOB.COMPARE(t.n, s.n)" in ORA.column_differs("t.n", "s.n", clob)
    assert ORA.column_differs("t.n", "s.n", COLUMNS[2]) == "DECODE(t.n, s.n, 0, 1) = 1"


def test_strategy_writes_on_oracle_have_no_binds_in_ddl_and_no_empty_statement() -> None:
    """The delta is DDL (CREATE ... AS SELECT: no bind variables, ORA-01027): the loader's bound narrowing becomes
    the staged key range by subqueries; salvage mode's delta index ("" on Oracle) is left out."""
    from airflow_mapper_provider.strategies import apply_plan
    from tests.unit.oracle_sql_cases import LOADER_SLICE, context

    _, steps = apply_plan(context("scd1", target_where=LOADER_SLICE, target_params={"mapper_klo": 1}))
    delta = next(s for s in steps if s.name == "delta")
    assert isinstance(delta, Step)
    assert delta.params == {}
    assert ":mapper_klo" not in delta.sql and ORA.staged_slice_predicate("mapper_stage", "customer_id") in delta.sql
    _, salvage = apply_plan(context("scd2", salvage=True))
    assert [s.name for s in salvage] == ["delta", "update", "insert"]
    assert all(s.sql for s in salvage)


#: Oracle's reserved words (V$RESERVED_WORDS with RESERVED = 'Y'): a bind variable may not be named like one
#: (ORA-01745: invalid host/bind variable name).
_RESERVED = frozenset({
    "ACCESS", "ADD", "ALL", "ALTER", "AND", "ANY", "AS", "ASC", "AUDIT", "BETWEEN", "BY", "CHAR", "CHECK",
    "CLUSTER", "COLUMN", "COMMENT", "COMPRESS", "CONNECT", "CREATE", "CURRENT", "DATE", "DECIMAL", "DEFAULT",
    "DELETE", "DESC", "DISTINCT", "DROP", "ELSE", "EXCLUSIVE", "EXISTS", "FILE", "FLOAT", "FOR", "FROM", "GRANT",
    "GROUP", "HAVING", "IDENTIFIED", "IMMEDIATE", "IN", "INCREMENT", "INDEX", "INITIAL", "INSERT", "INTEGER",
    "INTERSECT", "INTO", "IS", "LEVEL", "LIKE", "LOCK", "LONG", "MAXEXTENTS", "MINUS", "MLSLABEL", "MODE", "MODIFY",
    "NOAUDIT", "NOCOMPRESS", "NOT", "NOWAIT", "NULL", "NUMBER", "OF", "OFFLINE", "ON", "ONLINE", "OPTION", "OR",
    "ORDER", "PCTFREE", "PRIOR", "PRIVILEGES", "PUBLIC", "RAW", "RENAME", "RESOURCE", "REVOKE", "ROW", "ROWID",
    "ROWNUM", "ROWS", "SELECT", "SESSION", "SET", "SHARE", "SIZE", "SMALLINT", "START", "SUCCESSFUL", "SYNONYM",
    "SYSDATE", "TABLE", "THEN", "TO", "TRIGGER", "UID", "UNION", "UNIQUE", "UPDATE", "USER", "VALIDATE", "VALUES",
    "VARCHAR", "VARCHAR2", "VIEW", "WHENEVER", "WHERE", "WITH",
})  # fmt: skip


def test_bind_names_are_valid_oracle_bind_names() -> None:
    """Every bind placeholder of every statement, and every mapper-table column (the state modules bind each by
    its name): not a reserved word, at most 30 characters (ORA-01745)."""
    from airflow_mapper_provider.state import tables

    specs = (tables.JOBLOG_COLUMNS, tables.CHUNKLOG_COLUMNS, tables.CHECKPOINT_COLUMNS, tables.LOCK_COLUMNS,
             tables.PROGRESS_COLUMNS)  # fmt: skip
    binds = {name for spec in specs for name, _ in spec}
    for build in ALL.values():
        text = re.sub(r"'[^']*'", "''", build())  # not inside string literals
        binds |= set(re.findall(r"(?<![\w:]):([A-Za-z_]\w*)", text))
    assert {"mapref", "lo", "hi", "eff", "fraction", "mapper_stmt"} <= binds
    assert not {b for b in binds if b.upper() in _RESERVED or len(b) > 30}
