"""Oracle rows (as the Oracle session's output type handler fetches them) into real PostgreSQL by typed binary
COPY: staging typed by the Oracle type map, every value read back exactly, bad rows refused as data errors."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from airflow_mapper_provider.db import connect, pg_binary
from airflow_mapper_provider.dialects import Column, PostgresDialect
from airflow_mapper_provider.dialects import oracle_types as ot
from airflow_mapper_provider.errors import DATA, classify
from tests.helpers import airflow_connection, pg_exec, rows

MB = 1 << 20
#: (column, Oracle type as ALL_TAB_COLUMNS names it: DATA_TYPE, DATA_PRECISION, DATA_SCALE, CHAR_LENGTH)
ORACLE_COLUMNS = [
    ("id", ("NUMBER", 9, 0, None)),
    ("big", ("NUMBER", 38, 0, None)),
    ("hundreds", ("NUMBER", 5, -2, None)),
    ("amount", ("NUMBER", 10, 2, None)),
    ("tiny", ("NUMBER", 3, 5, None)),
    ("free", ("NUMBER", None, None, None)),
    ("bf", ("BINARY_FLOAT", None, None, None)),
    ("bd", ("BINARY_DOUBLE", None, None, None)),
    ("born", ("DATE", None, None, None)),
    ("ts", ("TIMESTAMP(6)", None, 6, None)),
    ("tstz", ("TIMESTAMP(6) WITH TIME ZONE", None, 6, None)),
    ("ltz", ("TIMESTAMP(6) WITH LOCAL TIME ZONE", None, 6, None)),
    ("span", ("INTERVAL DAY(9) TO SECOND(6)", None, 6, None)),
    ("code", ("CHAR", None, None, 4)),
    ("name", ("VARCHAR2", None, None, 20)),
    ("doc", ("CLOB", None, None, None)),
    ("blob", ("BLOB", None, None, None)),
    ("raw", ("RAW", None, None, 16)),
]
PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30))
MINUS_0330 = dt.timezone(-dt.timedelta(hours=3, minutes=30))
PLUS_14 = dt.timezone(dt.timedelta(hours=14))


def _row(i: int, **over: Any) -> tuple[Any, ...]:
    values = {
        "id": i,
        "big": 10**38 - 1,
        "hundreds": 9_999_900,
        "amount": Decimal("-12345678.90"),
        "tiny": Decimal("0.00123"),
        "free": Decimal("1E-130"),
        "bf": 0.10000000149011612,  # BINARY_FLOAT 0.1 as the driver returns it (float32 widened)
        "bd": 1e308,
        "born": dt.datetime(1066, 10, 14, 9, 30, 5),  # Oracle DATE keeps its time part
        "ts": dt.datetime(1899, 12, 31, 23, 59, 59, 999999),
        "tstz": dt.datetime(2026, 3, 1, 12, 0, tzinfo=PLUS_0530),
        "ltz": dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc),
        "span": dt.timedelta(days=-3, microseconds=1),
        "code": "ab  ",  # CHAR keeps its padding
        "name": "żółw ünïcode",
        "doc": "x" * 4000,
        "blob": bytes(range(256)) * 16,
        "raw": b"\x00\xff" * 8,
    }
    values.update(over)
    return tuple(values[name] for name, _ in ORACLE_COLUMNS)


def _columns() -> list[Column]:
    return [Column(name, ot.from_catalog(t, p, s, n)) for name, (t, p, s, n) in ORACLE_COLUMNS]


@pytest.fixture
def staging(pg_dbs: Any) -> Any:
    """A table typed as the mapper types an Oracle source on PostgreSQL, and a target session on it."""
    d = PostgresDialect()
    defs = ", ".join(f"{d.quote(c.name)} {d.type_ddl(c.type)}" for c in _columns())
    pg_exec(pg_dbs.target_dsn, f"CREATE TABLE staged ({defs})")
    sess = connect(airflow_connection("tgt", pg_dbs.target_uri), "target")
    try:
        yield sess, pg_dbs.target_dsn
    finally:
        sess.rollback()
        sess.close()


def _load(sess: Any, batches: list[list[tuple[Any, ...]]]) -> int:
    names = [name for name, _ in ORACLE_COLUMNS]
    n = sess.insert_batches(sess.dialect.quote("staged"), names, batches)
    sess.commit()
    return int(n)


def _float32(value: float | None) -> bytes | None:
    """A real's value as PostgreSQL stores it (text output prints its shortest form: 0.1 for 0.100000001...)."""
    return None if value is None else struct.pack("<f", value)


def _read(dsn: str) -> list[tuple[Any, ...]]:
    names = ", ".join(name for name, _ in ORACLE_COLUMNS)
    return rows(dsn, f"SELECT {names} FROM staged ORDER BY id")


def test_the_type_map_gives_binary_copy_types(staging: Any) -> None:
    sess, _ = staging
    found = sess.query(pg_binary.COLUMN_TYPES, {"t": "staged"})
    types = pg_binary.binary_types([(str(a), str(b)) for a, b in found], [n for n, _ in ORACLE_COLUMNS])
    assert types is not None, "every column of the Oracle type map must be binary-dumpable"
    assert pg_binary.BatchCheck(types).fits([_row(1), _row(2, name=None, doc=None)])
    by_name = dict(zip([n for n, _ in ORACLE_COLUMNS], types, strict=True))
    assert by_name["id"] == "int4" and by_name["big"] == "numeric" and by_name["born"] == "timestamp"
    assert by_name["tstz"] == "timestamptz" and by_name["span"] == "interval" and by_name["code"] == "bpchar"


def test_edge_values_read_back_exactly(staging: Any) -> None:
    sess, dsn = staging
    batch = [
        _row(1),
        _row(2, tstz=dt.datetime(1850, 1, 1, tzinfo=MINUS_0330), ltz=dt.datetime(2026, 1, 1, tzinfo=PLUS_14)),
        _row(3, doc="é" * MB, blob=b"\x01" * MB, name=None, amount=None, free=Decimal("9.99E+125")),
        _row(4, **{name: None for name, _ in ORACLE_COLUMNS[1:]}),
    ]
    assert _load(sess, [batch]) == 4
    got = _read(dsn)
    names = [name for name, _ in ORACLE_COLUMNS]
    for have, want in zip(got, batch, strict=True):
        assert {n: _float32(v) if n == "bf" else v for n, v in zip(names, have, strict=True)} == {
            n: _float32(v) if n == "bf" else v for n, v in zip(names, want, strict=True)
        }
    assert got[1][10].utcoffset() is not None and got[1][10] == dt.datetime(1850, 1, 1, 3, 30, tzinfo=dt.UTC)


def test_a_batch_the_binary_form_cannot_hold_goes_by_text(staging: Any) -> None:
    """A value of another type (text for an interval, a float for NUMBER) is written by text COPY, as before."""
    sess, dsn = staging
    typed = [_row(1), _row(2)]
    loose = [_row(3, span="1 years 2 months", amount=1.5)]  # INTERVAL YEAR TO MONTH text; a float
    assert not pg_binary.BatchCheck(["interval"]).fits([("1 years 2 months",)])
    assert _load(sess, [typed, loose, [_row(4)]]) == 4
    got = {r[0]: r for r in _read(dsn)}
    assert got[3][12] == dt.timedelta(days=365 + 60) and got[3][3] == Decimal("1.50")
    assert got[4][:6] == _row(4)[:6] and got[4][7:] == _row(4)[7:] and _float32(got[4][6]) == _float32(_row(4)[6])


def test_naive_datetime_into_timestamptz_is_not_binary(staging: Any) -> None:
    """A naive datetime means a UTC instant for timestamptz only through the text path's session rules; binary
    COPY is refused for it (it would raise), never guessed."""
    check = pg_binary.BatchCheck(["timestamptz", "timestamp"])
    assert not check.fits([(dt.datetime(2026, 1, 1), None)])
    assert not check.fits([(None, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))])
    assert check.fits([(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1))])


def test_nul_in_text_is_a_data_error_not_altered(staging: Any) -> None:
    sess, dsn = staging
    with pytest.raises(psycopg.Error) as caught:
        _load(sess, [[_row(1), _row(2, name="a\x00b")]])
    found = classify(caught.value)
    assert found is not None and found.kind == DATA, found
    sess.rollback()
    assert _read(dsn) == []
    assert _load(sess, [[_row(1)]]) == 1  # the session is usable after the refused batch
