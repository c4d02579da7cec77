"""Database error classification: transient / data / permanent, and safe text (no row values)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from types import SimpleNamespace

import oracledb
import psycopg
import psycopg.errors
import pytest
import sqlalchemy as sa

from airflow_mapper_provider._compat import AirflowFailException
from airflow_mapper_provider.errors import DATA, PERMANENT, TRANSIENT, classify, describe_error
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
