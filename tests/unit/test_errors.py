"""Database error classification: transient / data / permanent, and safe text (no row values)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import sqlite3
from types import SimpleNamespace

import oracledb
import psycopg
import psycopg.errors
import pytest
import sqlalchemy as sa

from airflow_mapper_provider._compat import AirflowFailException
from airflow_mapper_provider.errors import DATA, PERMANENT, TRANSIENT, classify, describe_error, name_column
from airflow_mapper_provider.exceptions import ConfigError, DataError, TransientDatabaseError
from airflow_mapper_provider.operators.common import airflow_errors


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("08006", TRANSIENT),  # connection failure
        ("08001", TRANSIENT),
        ("57P01", TRANSIENT),  # admin shutdown (pg_terminate_backend)
        ("40001", TRANSIENT),  # serialization failure
        ("40P01", TRANSIENT),  # deadlock
        ("55P03", TRANSIENT),  # lock not available / lock timeout
        ("53300", TRANSIENT),  # too many connections
        ("42601", PERMANENT),  # syntax error
        ("42P01", PERMANENT),  # undefined table
        ("42703", PERMANENT),  # undefined column
        ("42501", PERMANENT),  # insufficient privilege
        ("28P01", PERMANENT),  # invalid password
        ("3D000", PERMANENT),  # invalid catalog name
        ("22001", DATA),  # string data right truncation (value too long)
        ("22P02", DATA),  # invalid text representation (type conversion)
        ("22003", DATA),  # numeric value out of range
        ("23505", DATA),  # unique violation
        ("23502", DATA),  # not null violation
        ("23514", DATA),  # check violation
        ("21000", DATA),  # cardinality violation (a key twice in one statement)
    ],
)
def test_postgres_sqlstate_classes(sqlstate: str, kind: str) -> None:
    exc = psycopg.errors.lookup(sqlstate)("server message")
    found = classify(exc)
    assert found is not None
    assert (found.code, found.kind) == (sqlstate, kind)
    assert f"SQLSTATE {sqlstate}" in found.text
    assert found.retryable is (kind == TRANSIENT)


def test_postgres_connection_lost_without_sqlstate_is_transient() -> None:
    found = classify(psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"))
    assert found is not None and found.kind == TRANSIENT and found.code is None


def test_data_error_text_keeps_values_out() -> None:
    exc = psycopg.errors.UniqueViolation(
        'duplicate key value violates unique constraint "pk"\nDETAIL:  Key (id)=(secret-42) already exists.'
    )
    found = classify(exc)
    assert found is not None and found.kind == DATA
    assert "secret-42" not in found.text and "secret-42" in found.full
    assert "UniqueViolation (SQLSTATE 23505)" in found.text


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ORA-03113", TRANSIENT),
        ("ORA-03114", TRANSIENT),
        ("ORA-12541", TRANSIENT),
        ("ORA-00060", TRANSIENT),
        ("ORA-08177", TRANSIENT),
        ("DPY-4011", TRANSIENT),
        ("ORA-00942", PERMANENT),  # table or view does not exist
        ("ORA-00904", PERMANENT),  # invalid identifier
        ("ORA-01031", PERMANENT),  # insufficient privileges
        ("ORA-00001", DATA),  # unique constraint violated
        ("ORA-01400", DATA),  # cannot insert NULL
        ("ORA-12899", DATA),  # value too large for column
        ("ORA-01722", DATA),  # invalid number
    ],
)
def test_oracle_codes(code: str, kind: str) -> None:
    # No Oracle server here: the error object is shaped like python-oracledb's _Error (args[0]).
    err = SimpleNamespace(full_code=code, code=int(code[4:]), message=f"{code}: message", isrecoverable=False)
    found = classify(oracledb.DatabaseError(err))
    assert found is not None and (found.code, found.kind) == (code, kind)
    assert code in found.text


def test_oracle_recoverable_flag_is_transient() -> None:
    err = SimpleNamespace(full_code="ORA-99999", code=99999, message="ORA-99999: x", isrecoverable=True)
    found = classify(oracledb.DatabaseError(err))
    assert found is not None and found.kind == TRANSIENT


def _sqlite_error(sql: str) -> sqlite3.Error:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    con.execute("INSERT INTO t VALUES (1, 'a')")
    with pytest.raises(sqlite3.Error) as info:
        con.execute(sql)
    return info.value


@pytest.mark.parametrize(
    ("sql", "kind", "code"),
    [
        ("INSERT INTO t VALUES (1, 'b')", DATA, "SQLITE_CONSTRAINT_PRIMARYKEY"),
        ("INSERT INTO t VALUES (2, NULL)", DATA, "SQLITE_CONSTRAINT_NOTNULL"),
        ("SELECT * FROM missing", PERMANENT, "SQLITE_ERROR"),
        ("SELEC 1", PERMANENT, "SQLITE_ERROR"),
    ],
)
def test_sqlite_real_errors(sql: str, kind: str, code: str) -> None:
    found = classify(_sqlite_error(sql))
    assert found is not None and (found.kind, found.code) == (kind, code)


def test_sqlalchemy_wrapped_error_is_classified_by_its_origin() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        with pytest.raises(sa.exc.IntegrityError) as info:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    found = classify(info.value)
    assert found is not None and found.kind == DATA and found.code == "SQLITE_CONSTRAINT_PRIMARYKEY"


def test_non_database_errors_are_not_classified() -> None:
    assert classify(ValueError("x")) is None
    assert classify(KeyError("x")) is None
    assert describe_error(ValueError("secret")) == "ValueError"
    assert describe_error(DataError("3 rows")) == "3 rows"


def _raise(exc: BaseException) -> None:
    with airflow_errors():
        raise exc


def test_boundary_fails_permanent_database_errors_without_retry() -> None:
    with pytest.raises(AirflowFailException, match=r"SQLSTATE 42P01"):
        _raise(psycopg.errors.UndefinedTable('relation "nope" does not exist'))


def test_boundary_fails_data_errors_without_values() -> None:
    with pytest.raises(AirflowFailException) as info:
        _raise(psycopg.errors.StringDataRightTruncation("value too long\nDETAIL: secret-value"))
    assert "SQLSTATE 22001" in str(info.value) and "secret" not in str(info.value)
    assert info.value.__suppress_context__


def test_boundary_lets_transient_errors_retry() -> None:
    with pytest.raises(TransientDatabaseError, match=r"SQLSTATE 57P01") as info:
        _raise(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    assert info.value.retryable


def test_boundary_config_errors_fail_and_unknown_errors_propagate() -> None:
    with pytest.raises(AirflowFailException, match="ConfigError"):
        _raise(ConfigError("bad"))
    with pytest.raises(ZeroDivisionError):
        _raise(ZeroDivisionError())


def test_retry_defaults_on_all_three_tasks() -> None:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator

    with DAG("retry_defaults", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
        MapperOperator(task_id="m", source_conn_id="s", target_conn_id="t", source_sql="SELECT 1 AS id",
                       target_table="dw.t", key_columns=["id"])  # fmt: skip
        MapperOperator(task_id="n", source_conn_id="s", target_conn_id="t", source_sql="SELECT 1 AS id",
                       target_table="dw.t", key_columns=["id"], retries=1)  # fmt: skip
    chunk = dag.get_task("m.load_chunk")
    assert chunk.retries == 3
    assert chunk.retry_delay == dt.timedelta(seconds=30)
    assert float(chunk.retry_exponential_backoff) == 2.0
    assert chunk.max_retry_delay == dt.timedelta(minutes=10)
    assert dag.get_task("m.plan").retries == 3
    assert dag.get_task("n.load_chunk").retries == 1
    assert dag.get_task("n.load_chunk").retry_delay == dt.timedelta(seconds=30)


def test_dag_default_args_beat_retry_defaults() -> None:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator

    with DAG("retry_default_args", schedule=None, start_date=dt.datetime(2026, 1, 1),
             default_args={"retries": 0}) as dag:  # fmt: skip
        MapperOperator(task_id="m", source_conn_id="s", target_conn_id="t", source_sql="SELECT 1 AS id",
                       target_table="dw.t", key_columns=["id"])  # fmt: skip
    assert dag.get_task("m.load_chunk").retries == 0
    assert dag.get_task("m.load_chunk").retry_delay == dt.timedelta(seconds=30)


# ---- real errors from real drivers: the column and the fix named, never the value ----------------------------

SECRET = "secret-7731"


@pytest.fixture
def pg_dsn(pg_server):
    name = pg_server.create_database("errors")
    try:
        yield pg_server.dsn(name)
    finally:
        pg_server.drop_database(name)


def _pg_error(dsn: str, setup: list[str], action) -> BaseException:
    with psycopg.connect(dsn) as conn:
        for sql in setup:
            conn.execute(sql)
        with pytest.raises(psycopg.Error) as info:
            action(conn)
        return info.value


@pytest.mark.parametrize(
    ("ddl", "value", "code", "fix"),
    [
        ("integer", SECRET, "22P02", "is not a valid value of column price's type"),
        ("varchar(3)", SECRET, "22001", "longer than column price's type allows"),
        ("smallint", "99999", "22003", "out of range for column price's type"),
        ("date", "2026-13-45", "22008", "out of range for column price"),
    ],
)
def test_postgres_copy_error_names_the_column_from_its_context(pg_dsn, ddl, value, code, fix):
    ok = {"integer": "1", "varchar(3)": "abc", "smallint": "1", "date": "2026-01-01"}[ddl]
    exc = _pg_error(
        pg_dsn,
        [f"CREATE TEMP TABLE mapper_stage (id int, price {ddl})"],
        lambda c: _write_rows(c, "mapper_stage", [(1, ok), (2, value)]),
    )
    assert value in str(exc)  # the server's message quotes it: classify must not
    found = classify(exc)
    assert found is not None and (found.code, found.kind, found.column, found.table) == (
        code,
        DATA,
        "price",
        "mapper_stage",
    )
    assert value not in found.text and value in found.full
    assert "column price" in found.text and fix in found.text and "source_sql" in found.text


def _write_rows(conn: psycopg.Connection, table: str, rows: list[tuple]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} (id, price) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_TARGET = "CREATE TABLE t (id int PRIMARY KEY, name varchar(3), small smallint, n numeric(5,2), other varchar(9))"
_COLUMN_TYPES = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped"
)


@pytest.mark.parametrize(
    ("column", "select", "code", "datatype"),
    [
        ("name", f"'{SECRET}'::text", "22001", "character varying(3)"),
        ("small", "99999", "22003", "smallint"),
        ("n", "12345.6", "22003", "numeric(5,2)"),
    ],
)
def test_postgres_insert_select_error_gets_its_column_from_the_written_types(pg_dsn, column, select, code, datatype):
    """INSERT ... SELECT and UPDATE errors name no column: the type in the message finds it among the target's."""
    exc = _pg_error(pg_dsn, [_TARGET, f"CREATE TEMP TABLE s AS SELECT 1 AS id, {select} AS v"],
                    lambda c: c.execute(f"INSERT INTO t (id, {column}) SELECT id, v FROM s"))  # fmt: skip
    found = classify(exc)
    assert found is not None and (found.code, found.kind, found.column, found.datatype) == (code, DATA, None, datatype)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(_TARGET)
        types = dict(conn.execute(_COLUMN_TYPES).fetchall())
    named = name_column(found, "dw.t", types)
    assert named.column == column and named.table == "dw.t"
    assert f"[table dw.t, column {column}]" in named.text and f"column {column}'s type" in named.text
    assert SECRET not in named.text and "99999" not in named.text and "12345" not in named.text


def test_postgres_constraint_errors_name_column_and_constraint_not_the_row(pg_dsn):
    first = f"INSERT INTO t VALUES (1, 'abc', 1, 1, '{SECRET[:9]}')"
    setup = [_TARGET, "ALTER TABLE t ADD CONSTRAINT t_small_positive CHECK (small > 0)",
             "ALTER TABLE t ALTER other SET NOT NULL", first]  # fmt: skip
    cases = [
        (f"INSERT INTO t VALUES (1, 'x', 1, 1, '{SECRET[:9]}')", "23505", "constraint t_pkey"),
        (f"INSERT INTO t VALUES (2, 'x', -1, 1, '{SECRET[:9]}')", "23514", "constraint t_small_positive"),
        ("INSERT INTO t VALUES (3, 'x', 1, 1, NULL)", "23502", "NOT NULL column other"),
    ]
    for sql, code, named in cases:
        exc = _pg_error(pg_dsn, setup, lambda c, sql=sql: c.execute(sql))
        found = classify(exc)
        assert found is not None and (found.code, found.kind) == (code, DATA)
        assert named in found.text and "table t" in found.text
        assert SECRET[:9] not in found.text and "DETAIL" in found.full and "DETAIL" not in found.text


@pytest.mark.parametrize("binary", [False, True])
def test_postgres_infinity_read_into_python_is_a_deterministic_data_error(pg_dsn, binary):
    """psycopg cannot load 'infinity' into a datetime: no SQLSTATE, and no retry can help."""

    def read(conn: psycopg.Connection) -> None:
        with conn.cursor(binary=binary) as cur:
            cur.execute("SELECT ts FROM inf")
            cur.fetchall()

    exc = _pg_error(pg_dsn, ["CREATE TABLE inf (ts timestamp)", "INSERT INTO inf VALUES ('infinity')"], read)
    assert isinstance(exc, psycopg.DataError) and exc.sqlstate is None
    found = classify(exc)
    assert found is not None and found.kind == DATA and not found.retryable
    assert (
        "'infinity'" not in found.text
        and "(after year 10K)" in found.text
        and "cast the column to text in source_sql" in found.text
    )
    with pytest.raises(AirflowFailException, match="not retried"):
        _raise(exc)


def test_postgres_driver_errors_without_sqlstate(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        with pytest.raises(psycopg.ProgrammingError) as cannot:
            conn.execute("SELECT %s", (object(),))
        conn.rollback()
        conn.execute("CREATE TABLE s (v text)")
        with pytest.raises(psycopg.DataError) as nul:
            conn.execute("INSERT INTO s VALUES (%s)", (f"{SECRET}\x00",))
    adapt = classify(cannot.value)
    assert adapt is not None and adapt.kind == PERMANENT and "Python object value" in adapt.text
    found = classify(nul.value)
    assert found is not None and found.kind == DATA and "NUL" in found.text and SECRET not in found.text


def test_postgres_lock_timeout_cancel_and_lost_connection_stay_transient(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as holder, psycopg.connect(pg_dsn) as waiter:
        holder.execute("CREATE TABLE l (id int)")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE l")
        waiter.execute("SET lock_timeout = '20ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable) as locked:
            waiter.execute("SELECT * FROM l")
        holder.execute("ROLLBACK")
        waiter.rollback()
        waiter.execute("SET statement_timeout = '20ms'")
        with pytest.raises(psycopg.errors.QueryCanceled) as cancelled:
            waiter.execute("SELECT pg_sleep(5)")
        waiter.rollback()
        pid = waiter.info.backend_pid
        holder.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError) as lost:
            waiter.execute("SELECT 1")
    for exc in (locked.value, cancelled.value, lost.value):
        found = classify(exc)
        assert found is not None and found.kind == TRANSIENT, (type(exc), found)
        with pytest.raises(TransientDatabaseError):
            _raise(exc)


def _sqlite_target(tmp_path) -> sa.engine.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE t ("id" INTEGER PRIMARY KEY, "v" TEXT NOT NULL, "n" INTEGER CHECK (n > 0))'))
        conn.execute(sa.text('CREATE TABLE st ("id" INTEGER PRIMARY KEY, "v" INT) STRICT'))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a', 1)"))
    return engine


def _sa_error(engine: sa.engine.Engine, sql: str, params: list[dict] | dict) -> BaseException:
    with engine.connect() as conn, pytest.raises((sa.exc.StatementError, OverflowError)) as info:
        conn.execute(sa.text(sql), params)
    return info.value


@pytest.mark.parametrize(
    ("sql", "params", "code", "column", "fix"),
    [
        ('INSERT INTO t ("id", "v") VALUES (:a, :b)', {"a": 2, "b": None}, "SQLITE_CONSTRAINT_NOTNULL", "v",
         "NOT NULL"),
        ('INSERT INTO t ("id", "v") VALUES (:a, :b)', {"a": 1, "b": SECRET}, "SQLITE_CONSTRAINT_PRIMARYKEY", "id",
         "already exists"),
        ('INSERT INTO t ("id", "v", "n") VALUES (:a, :b, :c)', {"a": 3, "b": SECRET, "c": -1},
         "SQLITE_CONSTRAINT_CHECK", None, "check constraint"),
        ('INSERT INTO t ("id", "v") VALUES (:a, :b)', {"a": SECRET, "b": "x"}, "SQLITE_MISMATCH", None, "type"),
        ('INSERT INTO st ("id", "v") VALUES (:a, :b)', {"a": 1, "b": SECRET}, "SQLITE_CONSTRAINT_DATATYPE", "v",
         "STRICT table's INT column"),
    ],
)  # fmt: skip
def test_sqlite_data_errors_name_the_column_not_the_value(tmp_path, sql, params, code, column, fix):
    found = classify(_sa_error(_sqlite_target(tmp_path), sql, params))
    assert found is not None and (found.code, found.kind, found.column) == (code, DATA, column)
    assert fix in found.text and SECRET not in found.text


@pytest.mark.parametrize(
    ("value", "kind", "named"),
    [
        (dt.timedelta(hours=1), PERMANENT, "Python datetime.timedelta value: cast or clean column v in source_sql"),
        (
            ipaddress.ip_address("10.0.0.1"),
            PERMANENT,
            "Python IPv4Address value: cast or clean column v in source_sql",
        ),
        (2**70, DATA, "a value of column v is out of the driver's range"),
    ],
)
def test_sqlite_binding_errors_are_deterministic_and_name_the_column(tmp_path, value, kind, named):
    """sqlite3 raises these itself (no result code): formerly unclassified, so Airflow retried them for minutes."""
    rows = [{"a": 10, "b": "fine"}, {"a": 11, "b": value}]  # executemany, the bad value in the second row
    exc = _sa_error(_sqlite_target(tmp_path), 'INSERT INTO t ("id", "v") VALUES (:a, :b)', rows)
    found = classify(exc)
    assert found is not None and (found.kind, found.column) == (kind, "v") and not found.retryable
    assert named in found.text and str(value) not in found.text
    with pytest.raises(AirflowFailException, match="not retried"):
        _raise(exc)


def test_sqlite_wrong_number_of_bindings_is_permanent():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (a, b)")
    with pytest.raises(sqlite3.ProgrammingError) as info:
        con.execute("INSERT INTO t VALUES (?, ?)", (1,))
    found = classify(info.value)
    assert found is not None and (found.kind, found.code) == (PERMANENT, "sqlite3.ProgrammingError")


def test_python_errors_outside_a_driver_are_not_classified():
    def ours() -> None:
        raise TypeError("unsupported operand")

    with pytest.raises(TypeError) as info:
        ours()
    assert classify(info.value) is None
    assert classify(ConfigError("bad")) is None  # a ConfigError is a ValueError, but ours
