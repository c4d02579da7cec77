"""Helpers of the real-Oracle layer: the DSN, statements in autocommit, the customers table on each side and
rows normalized for comparison across the two databases (Oracle: '' is NULL, NUMBER(1) booleans, DATE keeps a
time, TIMESTAMP WITH TIME ZONE read as UTC)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from airflow_mapper_provider.dialects import oracle_types as ot

ENV = "MAPPER_TEST_ORACLE_DSN"
SKIP_REASON = (
    f"Oracle layer not run: set {ENV} (e.g. oracle://mapper:mapper@127.0.0.1:1521/?service_name=FREEPDB1; "
    "`docker-compose --profile oracle up -d oracle` starts one)"
)
#: The customers table on Oracle: the same columns as tests.helpers.CUSTOMERS_DDL on PostgreSQL.
CUSTOMERS_DDL = """CREATE TABLE {t} (
    customer_id NUMBER(19) PRIMARY KEY, name VARCHAR2(100 CHAR) NOT NULL, email VARCHAR2(100 CHAR),
    country CHAR(2 CHAR), balance NUMBER(12,2), created_at TIMESTAMP(6) WITH TIME ZONE, active NUMBER(1),
    birth DATE, notes VARCHAR2(200 CHAR))"""
CUSTOMERS_FILL = """INSERT INTO {t}
SELECT g, 'name ' || g, CASE WHEN MOD(g, 7) = 0 THEN NULL ELSE 'e' || g || '@example.org' END,
       DECODE(MOD(g, 4), 0, 'DE', 1, 'FR', 2, 'US', 'GB'), MOD(g, 100000) / 100,
       TIMESTAMP '2026-01-01 00:00:00 +00:00' + NUMTODSINTERVAL(g, 'MINUTE'), MOD(g + 1, 2),
       DATE '1970-01-01' + MOD(g, 20000), RPAD('x', MOD(g, 50), 'x')
FROM (SELECT LEVEL + :lo - 1 AS g FROM dual CONNECT BY LEVEL <= :n)"""
#: Oracle -> comparable rows: zoned timestamps as UTC.
CUSTOMERS_READ = (
    "SELECT customer_id, name, email, country, balance, SYS_EXTRACT_UTC(created_at), active, birth, notes "
    "FROM {t} ORDER BY 1"
)


def parse_dsn(text: str) -> dict[str, Any]:
    """``oracle://user:pw@host:port/?service_name=S`` or ``user/pw@host:port/S`` -> its parts and Airflow URI."""
    if "://" in text:
        url = urlsplit(text)
        service = parse_qs(url.query).get("service_name", [url.path.strip("/")])[0]
        user, password, host, port = url.username, url.password, url.hostname, url.port or 1521
    else:
        found = re.match(r"^([^/]+)/([^@]+)@([^:/]+)(?::(\d+))?/(.+)$", text)
        if found is None:
            raise ValueError(
                "MAPPER_TEST_ORACLE_DSN: give oracle://user:pw@host:port/?service_name=S or user/pw@host:port/S"
            )
        user, password, host, port, service = found.group(1, 2, 3, 4, 5)
        port = int(port or 1521)
    uri = f"oracle://{quote(str(user))}:{quote(str(password))}@{host}:{port}/?service_name={quote(str(service))}"
    return {"user": user, "password": password, "host": host, "port": int(port), "service": service, "uri": uri}


class OracleDb:
    """The test's Oracle database: statements in autocommit, tables named ``<base>_<suffix>``."""

    def __init__(self, server: dict[str, Any], suffix: str) -> None:
        self.server, self.suffix = server, suffix
        self.uri = server["uri"]
        #: The connecting user's schema in the mapper's spelling (a target "<schema>.<table>" lands there).
        self.schema = ot.from_oracle_name(str(server["user"]).upper())
        self._created: list[str] = []

    def _connect(self) -> Any:
        import oracledb

        s = self.server
        return oracledb.connect(user=s["user"], password=s["password"], dsn=f"{s['host']}:{s['port']}/{s['service']}")

    def name(self, base: str) -> str:
        """A unique table name for this test (dropped afterwards)."""
        name = f"{base}_{self.suffix}"
        self._created.append(name)
        return name

    def target(self, base: str) -> str:
        """``target_table`` for a target table in the user's schema."""
        return f"{self.schema}.{self.name(base)}"

    def exec(self, sql: str, params: dict[str, Any] | None = None) -> int:
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params or {})
            conn.commit()
            return int(cur.rowcount or 0)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._connect() as conn, conn.cursor() as cur:
            cur.outputtypehandler = ot.output_type_handler()
            cur.execute(sql, params or {})
            return [tuple(r) for r in cur.fetchall()]

    def make_customers(self, n: int, start: int = 1) -> str:
        table = self.name("customers")
        self.exec(CUSTOMERS_DDL.format(t=table))
        self.add_customers(table, start, start + n - 1)
        return table

    def add_customers(self, table: str, lo: int, hi: int) -> None:
        self.exec(CUSTOMERS_FILL.format(t=table), {"lo": lo, "n": hi - lo + 1})
        self.exec(f"BEGIN DBMS_STATS.GATHER_TABLE_STATS(USER, '{table.upper()}'); END;")

    def customers(self, table: str, where: str = "") -> list[tuple[Any, ...]]:
        sql = CUSTOMERS_READ.format(t=table)
        if where:
            sql = sql.replace(" ORDER BY 1", f" WHERE {where} ORDER BY 1")
        return [normalized(r) for r in self.rows(sql)]

    def drop_created(self) -> None:
        for name in self._created:
            for drop in (f'DROP TABLE "{name.upper()}" PURGE', f'DROP FUNCTION "{name.upper()}"'):
                try:
                    self.exec(drop)
                    break
                except Exception:  # not a table (a function), never created, or already gone
                    continue


#: Position of the zoned timestamp (created_at) in a customers row.
ZONED = (5,)


def normalized(row: tuple[Any, ...], zoned: tuple[int, ...] = ZONED) -> tuple[Any, ...]:
    """A customers row as both databases can hold it: '' as NULL (Oracle's rule), booleans as 1/0, dates as
    midnight datetimes (Oracle DATE), the ``zoned`` columns as UTC-aware datetimes (Oracle's read as
    SYS_EXTRACT_UTC, naive UTC), other datetimes as they are."""
    out = []
    for i, value in enumerate(row):
        if value == "":
            value = None
        elif isinstance(value, bool):
            value = int(value)
        elif isinstance(value, dt.datetime) and i in zoned:
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        out.append(value)
    return tuple(out)
