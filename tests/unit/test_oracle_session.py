"""OracleSession with python-oracledb's connection mocked (no Oracle server here): the hook's process-global
defaults restored, array sizes, cancel, close on every path, batch errors, the describe name rule, the snapshot
statements and ROWID ranges. Errors are real oracledb exceptions built as the driver builds them."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import oracledb
import pytest
from oracledb.errors import _Error

from airflow_mapper_provider.db import oracle as db_oracle
from airflow_mapper_provider.db import oracle_catalog as catalog
from airflow_mapper_provider.db import session as open_session
from airflow_mapper_provider.dialects.oracle import OracleDialect
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName


def ora(message: str, code: int = 0, offset: int = 0) -> _Error:
    return _Error(message, code=code, offset=offset)


def raised(message: str, code: int = 0) -> Exception:
    err = ora(message, code)
    return err.exc_type(err)


def info(name: str, code: Any = oracledb.DB_TYPE_VARCHAR, precision: int = 0, scale: int = 0, size: int = 20) -> Any:
    return SimpleNamespace(
        name=name, type_code=code, precision=precision, scale=scale, display_size=size, internal_size=size
    )


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn, self.arraysize, self.prefetchrows, self.outputtypehandler = conn, 100, 2, None
        self.description: list[Any] | None = None
        self._rows: list[tuple[Any, ...]] = []
        self.rowcount = 0
        self.closed = False

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.log.append((sql, dict(params or {}), self))
        answer = self.conn.answer(sql, params or {})
        if isinstance(answer, BaseException):
            raise answer
        self.description, self._rows = answer
        self.rowcount = len(self._rows)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]], batcherrors: bool = False) -> None:
        self.conn.log.append((sql, {"rows": rows, "batcherrors": batcherrors}, self))

    def setinputsizes(self, *types: Any) -> None:
        self.conn.log.append(("setinputsizes", {"types": types}, self))

    def getbatcherrors(self) -> list[_Error]:
        return self.conn.batch_errors

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, n: int) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows


class FakeConnection:
    """Answers statements by the first rule whose text occurs in the SQL: (description, rows) or an exception."""

    def __init__(self, rules: dict[str, Any] | None = None) -> None:
        self.rules = rules or {}
        self.log: list[tuple[str, dict[str, Any], FakeCursor]] = []
        self.batch_errors: list[_Error] = []
        self.closed = self.cancelled = 0
        self.autocommit, self.call_timeout = False, 0

    def answer(self, sql: str, params: Any) -> Any:
        for text, answer in self.rules.items():
            if text in sql:
                return answer
        return (None, [])

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def cancel(self) -> None:
        self.cancelled += 1

    def close(self) -> None:
        self.closed += 1

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def statements(self) -> list[str]:
        return [sql for sql, _, _ in self.log]


def session(rules: dict[str, Any] | None = None, arraysize: int = db_oracle.ARRAYSIZE) -> db_oracle.OracleSession:
    return db_oracle.OracleSession(FakeConnection(rules), arraysize=arraysize, dialect=OracleDialect())


def airflow_conn(**extra: Any) -> Any:
    from airflow.models.connection import Connection

    return Connection(conn_id="ora_unregistered", conn_type="oracle", host="db.example", port=1521,
                      login="scott", password="tiger", extra=json.dumps(extra))  # fmt: skip


# ---- connecting ---------------------------------------------------------------------------------------------


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """oracledb.connect replaced: records its arguments, returns a FakeConnection."""
    calls: list[dict[str, Any]] = []

    def fake_connect(**kwargs: Any) -> FakeConnection:
        calls.append(kwargs)
        return FakeConnection()

    monkeypatch.setattr(oracledb, "connect", fake_connect)
    return calls


def test_hook_defaults_do_not_leak(connected: list[dict[str, Any]]) -> None:
    before = (oracledb.defaults.fetch_decimals, oracledb.defaults.fetch_lobs)
    sess = db_oracle.connect(airflow_conn(fetch_decimals=not before[0], fetch_lobs=not before[1]), "source")
    assert (oracledb.defaults.fetch_decimals, oracledb.defaults.fetch_lobs) == before
    assert connected and connected[0]["user"] == "scott"  # the Connection object itself, never looked up by id
    sess.close()


def test_defaults_restored_when_connecting_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    before = oracledb.defaults.fetch_lobs

    def refused(**kwargs: Any) -> Any:
        raise raised("DPY-6005: cannot connect to database (CONNECTION_ID=x).\n[Errno 111] Connection refused")

    monkeypatch.setattr(oracledb, "connect", refused)
    with pytest.raises(oracledb.OperationalError):
        db_oracle.connect(airflow_conn(fetch_lobs=not before), "source")
    assert oracledb.defaults.fetch_lobs == before


def test_service_name_and_arraysize_extras(connected: list[dict[str, Any]]) -> None:
    sess = db_oracle.connect(airflow_conn(service_name="FREEPDB1", mapper_arraysize=500), "source")
    assert connected[0]["dsn"] == oracledb.makedsn("db.example", 1521, service_name="FREEPDB1")
    assert sess.arraysize == 500
    assert [s for s in sess.conn.statements()] == list(catalog.SESSION_SETTINGS)
    assert not sess.conn.autocommit


def test_progress_connection_autocommits_with_a_call_timeout(connected: list[dict[str, Any]]) -> None:
    sess = db_oracle.connect(airflow_conn(), "progress")
    assert sess.conn.autocommit and sess.conn.call_timeout == db_oracle.SIDE_CALL_TIMEOUT_MS


def test_connection_closed_when_session_setup_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[FakeConnection] = []

    def connect(**kwargs: Any) -> FakeConnection:
        made.append(FakeConnection({"TIME_ZONE": raised("ORA-03113: end-of-file on communication channel", 3113)}))
        return made[-1]

    monkeypatch.setattr(oracledb, "connect", connect)
    with pytest.raises(oracledb.DatabaseError):
        db_oracle.connect(airflow_conn(), "target")
    assert made[0].closed == 1


# ---- reading ------------------------------------------------------------------------------------------------


def test_describe_name_rule_and_types() -> None:
    cols = [info("CUSTOMER_ID", oracledb.DB_TYPE_NUMBER, 10, 0), info("CustomerName", size=40),
            info("PAID_AT", oracledb.DB_TYPE_TIMESTAMP_TZ, 0, 6), info("A$1")]  # fmt: skip
    sess = session({"WHERE 1 = 0": (cols, [])})
    described = sess.describe("SELECT * FROM customers")
    assert [c.name for c in described] == ["customer_id", "CustomerName", "paid_at", "a$1"]
    assert [c.type.native for c in described] == [
        "NUMBER(10)",
        "VARCHAR2(40 CHAR)",
        "TIMESTAMP(6) WITH TIME ZONE",
        "VARCHAR2(20 CHAR)",
    ]
    assert len(sess.conn.log) == 1 and "WHERE 1 = 0" in sess.conn.log[0][0]  # no row read


def test_stream_array_fetch_flat_batches_and_utc_wrap() -> None:
    rows = [(i, None) for i in range(25)]
    cols = [info("ID", oracledb.DB_TYPE_NUMBER, 9, 0), info("PAID_AT", oracledb.DB_TYPE_TIMESTAMP_TZ, 0, 6)]
    sess = session({"WHERE 1 = 0": (cols, []), "mapper_tz": (cols, rows)}, arraysize=1000)
    batches = list(sess.stream("SELECT * FROM t WHERE id > :lo", {"lo": 0}, 10))
    assert [len(b) for b in batches] == [10, 10, 5]
    sql, params, cur = sess.conn.log[-1]
    assert 'SYS_EXTRACT_UTC(mapper_tz."PAID_AT") AS "PAID_AT"' in sql and params == {"lo": 0}
    assert (cur.arraysize, cur.prefetchrows) == (1000, 1000) and cur.closed
    assert cur.outputtypehandler is not None


def test_stream_with_lobs_fetches_fewer_rows_per_round_trip() -> None:
    cols = [info("ID", oracledb.DB_TYPE_NUMBER, 9, 0), info("DOC", oracledb.DB_TYPE_CLOB)]
    sess = session({"WHERE 1 = 0": (cols, []), "FROM t": (cols, [(1, "x")])})
    assert list(sess.stream("SELECT * FROM t", {}, 5000)) == [[(1, "x")]]
    cur = sess.conn.log[-1][2]
    assert (cur.arraysize, cur.prefetchrows) == (db_oracle.LOB_ARRAYSIZE, db_oracle.LOB_ARRAYSIZE)


def test_stream_closes_its_cursor_when_abandoned() -> None:
    cols = [info("ID", oracledb.DB_TYPE_NUMBER, 9, 0)]
    sess = session({"WHERE 1 = 0": (cols, []), "FROM t": (cols, [(i,) for i in range(10)])})
    stream = sess.stream("SELECT * FROM t", {}, 2)
    next(stream)
    stream.close()
    assert sess.conn.log[-1][2].closed


def test_estimate_from_explain_plan_and_count_fallback() -> None:
    sess = session({"EXPLAIN PLAN": (None, []), "cardinality": ([info("C")], [(1234,)])})
    assert sess.estimate_rows("SELECT * FROM t") == (1234, "explain")
    assert sess.conn.log[-1][0] == sess.dialect.explain_cleanup_sql()
    no_plan = session({"EXPLAIN PLAN": raised("ORA-00942: table or view does not exist", 942),
                       "COUNT(*)": ([info("N")], [(7,)])})  # fmt: skip
    assert no_plan.estimate_rows("SELECT * FROM t") == (7, "count")


# ---- writing ------------------------------------------------------------------------------------------------


def test_insert_batches_is_array_dml() -> None:
    sess = session()
    assert sess.insert_batches('"STAGE"', ["id", "flag"], [[(1, True), (2, False)], [], [(3, None)]]) == 3
    many = [(sql, p) for sql, p, _ in sess.conn.log]
    assert many[0][0] == 'INSERT INTO "STAGE" ("ID", "FLAG") VALUES (:p0, :p1)'
    assert many[0][1] == {"rows": [(1, 1), (2, 0)], "batcherrors": False} and len(many) == 2


def test_a_null_first_value_gets_the_type_of_the_values_after_it() -> None:
    """A batch whose first row holds NULL in a number or date column binds that column by its later values."""
    import datetime as dt
    from decimal import Decimal

    sess = session()
    rows = [(None, None, None), (Decimal("1.5"), dt.datetime(1899, 1, 1), "x")]
    sess.insert_batches('"T"', ["a", "b", "c"], [rows])
    assert sess.conn.log[0][1] == {"types": (oracledb.DB_TYPE_NUMBER, oracledb.DB_TYPE_TIMESTAMP, None)}
    sess.conn.log.clear()
    sess.insert_batches('"T"', ["a"], [[(1,), (None,)]])
    assert [sql for sql, _, _ in sess.conn.log] == ['INSERT INTO "T" ("A") VALUES (:p0)']  # nothing to declare


def test_batch_errors_come_back_per_row() -> None:
    sess = session()
    sess.conn.batch_errors = [
        ora('ORA-12899: value too large for column "DW"."T"."NAME" (actual: 12, maximum: 10)', 12899, offset=1),
        ora('ORA-01400: cannot insert NULL into ("DW"."T"."ID")', 1400, offset=3),
    ]
    refused = sess.insert_rows_reporting('"T"', ["id", "name"], [(1, "a"), (2, "b" * 12), (3, "c"), (None, "d")])
    assert [(pos, code) for pos, code, _ in refused] == [(1, "ORA-12899"), (3, "ORA-01400")]
    assert "maximum: 10" in refused[0][2]  # the full message goes to mapper_rejects only
    assert sess.conn.log[-1][1]["batcherrors"] is True


def test_a_batch_error_that_is_not_the_rows_fault_raises() -> None:
    sess = session()
    sess.conn.batch_errors = [ora("ORA-03113: end-of-file on communication channel", 3113, offset=0)]
    with pytest.raises(oracledb.DatabaseError):
        sess.insert_rows_reporting('"T"', ["id"], [(1,)])


def test_catalog_lookups_bind_oracle_names() -> None:
    sess = session({"ALL_CONS_COLUMNS": ([info("COLUMN_NAME")], [("CUSTOMER_ID",), ("Region",)]),
                    "ALL_TABLES WHERE": ([info("N")], [(1,)]), "ALL_USERS": ([info("N")], [(0,)])})  # fmt: skip
    assert sess.has_primary_key(TableName(schema="dw", table="dim_customer"), ["Region", "customer_id"])
    assert sess.conn.log[-1][1] == {"o": "DW", "t": "DIM_CUSTOMER"}
    assert not sess.has_primary_key(TableName(schema="dw", table="dim_customer"), ["customer_id"])
    assert sess.table_exists(TableName("Mixed"))
    assert sess.conn.log[-1][1] == {"o": None, "t": "Mixed"}
    assert not sess.schema_exists("dw") and sess.conn.log[-1][1] == {"s": "DW"}


# ---- one read point -----------------------------------------------------------------------------------------


def test_snapshot_statement_sequence() -> None:
    sess = session({"TIMESTAMP_TO_SCN": ([info("SCN", oracledb.DB_TYPE_NUMBER)], [(987654321012,)])})
    scn = sess.snapshot()
    assert scn == "987654321012"
    sess.begin_snapshot(scn)
    sess.begin_snapshot(scn)  # salvage mode reads the chunk again on the same session: nothing more
    sess.close()
    assert sess.conn.statements() == [catalog.CURRENT_SCN, catalog.FLASHBACK_ON, catalog.FLASHBACK_OFF]
    assert sess.conn.log[1][1] == {"scn": 987654321012} and sess.conn.closed == 1


def test_another_scn_disables_first_and_empty_means_now() -> None:
    sess = session()
    sess.begin_snapshot("")
    sess.begin_snapshot("10")
    sess.begin_snapshot("11")
    sess.begin_snapshot("")
    assert sess.conn.statements() == [catalog.FLASHBACK_ON, catalog.FLASHBACK_OFF, catalog.FLASHBACK_ON,
                                      catalog.FLASHBACK_OFF]  # fmt: skip


def test_missing_flashback_grant_names_the_fix() -> None:
    denied = raised("ORA-06550: line 1, column 7:\nPLS-00201: identifier 'DBMS_FLASHBACK' must be declared", 6550)
    sess = session({"DBMS_FLASHBACK": denied})
    with pytest.raises(ConfigError, match=r"GRANT EXECUTE ON SYS.DBMS_FLASHBACK.*consistent_snapshot=False"):
        sess.begin_snapshot("42")
    sess.close()
    assert sess.conn.closed == 1 and catalog.FLASHBACK_OFF not in sess.conn.statements()


def test_close_closes_even_when_disabling_fails() -> None:
    sess = session({"DISABLE": raised("ORA-03113: end-of-file on communication channel", 3113)})
    sess.begin_snapshot("5")
    sess.close()
    assert sess.conn.closed == 1


def test_cancel_calls_connection_cancel() -> None:
    sess = session()
    sess.cancel()
    assert sess.conn.cancelled == 1


def test_db_session_closes_on_error(monkeypatch: pytest.MonkeyPatch, connected: list[dict[str, Any]]) -> None:
    with pytest.raises(RuntimeError), open_session("ora", "source", conn=airflow_conn()) as sess:
        raise RuntimeError("chunk failed")
    assert sess.conn.closed == 1  # type: ignore[attr-defined]


# ---- ROWID ranges -------------------------------------------------------------------------------------------


def test_rowid_ranges_from_own_extents() -> None:
    extents = [(f"lo{i}", f"hi{i}", 8) for i in range(8)]
    sess = session({"SESSION_USER": ([info("X")], [(1,)]), "USER_EXTENTS": ([info("LO")], extents)})
    assert sess.rowid_ranges(TableName("orders"), 4) == [("lo0", "hi1"), ("lo2", "hi3"), ("lo4", "hi5"),
                                                               ("lo6", "hi7")]  # fmt: skip
    assert sess.conn.log[-1][1] == {"t": "ORDERS"}


def test_rowid_ranges_fall_back_to_parallel_execute_then_name_the_grants() -> None:
    no_view = raised("ORA-00942: table or view does not exist", 942)
    chunks = ([info("S")], [("a", "b", 1)])
    sess = session({"SESSION_USER": ([info("X")], [(0,)]), "DBA_EXTENTS": no_view,
                    "ALL_TABLES": ([info("B")], [(64,)]), "USER_PARALLEL_EXECUTE_CHUNKS": chunks})  # fmt: skip
    assert sess.rowid_ranges(TableName(schema="sales", table="orders"), 2) == [("a", "b")]
    assert catalog.TASK_DROP in sess.conn.statements()
    denied = raised("ORA-06550: line 1:\nPLS-00201: identifier 'DBMS_PARALLEL_EXECUTE' must be declared", 6550)
    sess = session({"SESSION_USER": ([info("X")], [(0,)]), "DBA_EXTENTS": no_view, "CREATE_TASK": denied})
    with pytest.raises(ConfigError, match=r"SELECT_CATALOG_ROLE.*CREATE JOB.*chunk_by='key'"):
        sess.rowid_ranges(TableName(schema="sales", table="orders"), 2)


def test_group_ranges_covers_every_extent_once() -> None:
    extents = [(f"lo{i}", f"hi{i}", b) for i, b in enumerate([1, 50, 1, 1, 30, 2, 2, 13])]
    for chunks in (1, 2, 3, 5, 8, 20):
        ranges = catalog.group_ranges(extents, chunks)
        assert ranges[0][0] == "lo0" and ranges[-1][1] == "hi7" and len(ranges) <= max(chunks, 1)
        starts = [int(lo[2:]) for lo, _ in ranges]
        ends = [int(hi[2:]) for _, hi in ranges]
        assert starts == [0] + [e + 1 for e in ends[:-1]]  # consecutive, no extent twice or missing
    assert catalog.group_ranges([], 4) == []


# ---- salvage mode on array DML ------------------------------------------------------------------------------


def test_salvage_stages_by_batch_errors_without_savepoints() -> None:
    from airflow_mapper_provider.dialects import Column, ColumnType
    from airflow_mapper_provider.salvage import Salvager
    from airflow_mapper_provider.state.rejects import RejectLog
    from airflow_mapper_provider.strategies import ApplyContext

    sess = session()
    sess.conn.batch_errors = [ora('ORA-12899: value too large for column "DW"."T"."NAME"', 12899, offset=1)]
    cols = [Column("id", ColumnType("int")), Column("name", ColumnType("text"))]
    ctx = ApplyContext(sess.dialect, TableName("t"), cols, ["id"], "append", salvage=True)
    salvager = Salvager(sess, ctx, RejectLog(5, "chunk 1/1"))
    assert salvager.stage_rows('"STAGE"', ["id", "name"], [[(1, "a"), (2, "b" * 99), (3, "c")]]) == 3
    assert salvager.staged == 2
    assert [(r.row, r.code) for r in salvager.rejects.rows] == [({"id": 2, "name": "b" * 99}, "ORA-12899")]
    assert not any("SAVEPOINT" in s for s in sess.conn.statements())  # one array insert, no bisection


# ---- the real-Oracle layer's own helpers (tests/oracle/support.py; they run here, the layer does not) -----------


def test_oracle_layer_dsn_forms() -> None:
    from tests.oracle.support import parse_dsn

    uri = "oracle://mapper:mapper@127.0.0.1:15211/?service_name=FREEPDB1"
    assert parse_dsn(uri)["uri"] == uri
    ez = parse_dsn("mapper/p%w@db.example/FREEPDB1")
    assert (ez["user"], ez["password"], ez["host"], ez["port"], ez["service"]) == ("mapper", "p%w", "db.example",
                                                                                   1521, "FREEPDB1")  # fmt: skip
    assert ez["uri"] == "oracle://mapper:p%25w@db.example:1521/?service_name=FREEPDB1"
    from airflow.models.connection import Connection

    conn = Connection(conn_id="o", uri=ez["uri"])
    assert (conn.conn_type, conn.password, conn.extra_dejson["service_name"]) == ("oracle", "p%w", "FREEPDB1")


def test_oracle_layer_rows_compare_across_databases() -> None:
    import datetime as dt

    from tests.oracle.support import normalized

    oracle_row = (1, "", 1, dt.datetime(2026, 1, 1, 5, 0), dt.datetime(1970, 1, 2), None)
    pg_row = (1, None, True, dt.datetime(2026, 1, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
              dt.date(1970, 1, 2), None)  # fmt: skip
    assert normalized(oracle_row, (3,)) == normalized(pg_row, (3,))


def test_row_encoders_refuse_what_the_target_column_would_round() -> None:
    """An Oracle target rounds NUMBER(p,s) and drops a DATE's fractional seconds without an error: the rows path
    refuses such a value (by the target's declared types) instead of loading it changed."""
    from decimal import Decimal

    from airflow_mapper_provider.dialects import Column, ColumnType
    from airflow_mapper_provider.exceptions import ConversionError

    cols = [info("ID", oracledb.DB_TYPE_NUMBER, 10, 0), info("AMOUNT", oracledb.DB_TYPE_NUMBER, 10, 2),
            info("AT", oracledb.DB_TYPE_DATE)]  # fmt: skip
    sess = session({"WHERE 1 = 0": (cols, [])})
    source = [Column("id", ColumnType("bigint")), Column("amount", ColumnType("numeric", precision=12, scale=4)),
              Column("at", ColumnType("timestamp", "timestamp without time zone", "postgres"))]  # fmt: skip
    codecs = dict(sess.row_encoders(TableName("dim", "dw"), source) or [])
    assert sorted(codecs) == [1, 2]  # the bigint key fits NUMBER(10)'s integers: no check
    assert codecs[1](Decimal("1.2300")) == Decimal("1.2300")
    with pytest.raises(ConversionError, match="column amount: a value has more than 2 decimal place"):
        codecs[1](Decimal("1.2345"))
    with pytest.raises(ConversionError, match="column at: a value has more than 0 fractional second digit"):
        codecs[2](dt.datetime(2026, 1, 1, 10, 0, 0, 500000))
