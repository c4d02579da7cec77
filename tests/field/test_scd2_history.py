"""scd2 history with delete detection: closing times, returning keys, and the no-overlap invariant.

Invariant 5, checked after every scd2 run of the field tests (:func:`assert_scd2_invariants`): for any key and any
instant at most one version is valid. Versions are ``[valid_from, valid_to)`` with a NULL ``valid_to`` meaning
infinity; no two versions of a key overlap, ``valid_to >= valid_from``, ``is_current`` exactly when ``valid_to``
is NULL, and at most one current version per key.

Contract: with ``scd2_effective_time=<column>`` and ``detect_deletes``, a deleted key's current version is closed
at GREATEST(run effective time, its valid_from); a returning key's new version gets valid_from =
GREATEST(its effective column value, the latest valid_to of its closed versions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from tests.helpers import config, pg_exec, rows, run_all

UTC = dt.timezone.utc
RUN = {n: f"2026-06-0{n}T00:00:00+00:00" for n in range(1, 6)}
PRICES = "SELECT id, price, changed_at FROM prices"


def assert_scd2_invariants(dsn: str, table: str, keys: Sequence[str] = ("id",)) -> None:
    """Fail with every violation of invariant 5 in ``table`` (an scd2 target), listed by kind."""
    k = ", ".join(keys)
    same_key = " AND ".join(f"a.{c} = b.{c}" for c in keys)
    inf = "'infinity'::timestamptz"
    found = {
        "valid_to before valid_from": rows(
            dsn, f"SELECT {k}, valid_from, valid_to FROM {table} WHERE valid_to < valid_from ORDER BY {k}"
        ),
        "is_current disagrees with valid_to": rows(
            dsn, f"SELECT {k}, valid_to, is_current FROM {table} WHERE (valid_to IS NULL) <> is_current ORDER BY {k}"
        ),
        "more than one current version": rows(
            dsn, f"SELECT {k} FROM {table} GROUP BY {k} HAVING count(*) FILTER (WHERE is_current) > 1 ORDER BY {k}"
        ),
        # non-empty half-open intervals that intersect
        "overlapping versions": rows(
            dsn,
            f"SELECT {', '.join(f'a.{c}' for c in keys)}, a.valid_from, a.valid_to, b.valid_from, b.valid_to "
            f"FROM {table} a JOIN {table} b ON {same_key} AND a.ctid < b.ctid "
            f"WHERE a.valid_from < COALESCE(a.valid_to, {inf}) AND b.valid_from < COALESCE(b.valid_to, {inf}) "
            f"AND a.valid_from < COALESCE(b.valid_to, {inf}) AND b.valid_from < COALESCE(a.valid_to, {inf}) "
            f"ORDER BY 1",
        ),
    }
    assert {kind: bad for kind, bad in found.items() if bad} == {}, f"invariant 5 broken in {table}"


def make_prices(dsn: str, n: int, first: dt.datetime) -> None:
    """``n`` keys; key i changed at ``first + i seconds``."""
    pg_exec(dsn, "CREATE TABLE prices (id int PRIMARY KEY, price numeric(10,2), changed_at timestamptz NOT NULL)")
    pg_exec(dsn, "INSERT INTO prices SELECT g, g, %(t)s + g * interval '1 second' FROM generate_series(1, %(n)s) g",
            {"t": first, "n": n})  # fmt: skip
    pg_exec(dsn, "ANALYZE prices")


def history(dsn: str, table: str, key: int) -> list[tuple]:
    return rows(dsn, f"SELECT price, valid_from, valid_to, is_current FROM {table} WHERE id = {key} ORDER BY 2, 3")


def current_prices(dsn: str, table: str) -> list[tuple]:
    return rows(dsn, f"SELECT id, price, changed_at FROM {table} WHERE is_current ORDER BY id")


def source_prices(dsn: str) -> list[tuple]:
    return rows(dsn, "SELECT id, price, changed_at FROM prices ORDER BY id")


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _cfg(table: str, **kw):
    return config("scd2", table, keys=("id",), detect_deletes=True, chunk_size=1_000, min_rows_for_parallel=1_000,
                  **kw)  # fmt: skip


def test_effective_column_delete_is_closed_no_earlier_than_its_valid_from(pg_dbs):
    """Business times after the run's effective time: closing at the run time would end a version before it
    began (valid_to < valid_from)."""
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.prices_h"
    first = dt.datetime(2026, 7, 1, tzinfo=UTC)
    make_prices(src, 3_000, first)
    cfg = _cfg(table, scd2_effective_time="changed_at")
    chunks, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", PRICES, RUN[1])
    assert len(chunks) >= 2 and (s1.rows_inserted, s1.rows_deleted) == (3_000, 0)
    assert_scd2_invariants(tgt, table)

    pg_exec(src, "DELETE FROM prices WHERE id IN (5, 1500, 2999)")
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", PRICES, RUN[2])
    assert (s2.status, s2.rows_deleted, s2.rows_inserted, s2.rows_updated, s2.rows_expired) == ("success", 3, 0, 0, 0)
    assert_scd2_invariants(tgt, table)
    for key in (5, 1500, 2999):
        own = first + dt.timedelta(seconds=key)  # GREATEST(2026-06-02, valid_from) = valid_from
        assert history(tgt, table, key) == [(key, own, own, False)]
    assert current_prices(tgt, table) == source_prices(src)
    assert rows(tgt, "SELECT rows_deleted FROM dw.mapper_joblog WHERE run_id = 'r2'") == [(3,)]


def test_effective_column_key_returning_with_an_earlier_time_does_not_overlap(pg_dbs):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.prices_h"
    first = dt.datetime(2026, 3, 1, tzinfo=UTC)
    make_prices(src, 3_000, first)
    cfg = _cfg(table, scd2_effective_time="changed_at")
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", PRICES, RUN[1])
    pg_exec(src, "DELETE FROM prices WHERE id IN (7, 8, 2500)")
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", PRICES, RUN[2])
    assert s2.rows_deleted == 3
    assert_scd2_invariants(tgt, table)
    closed = _t(RUN[2])  # GREATEST(run effective time 2026-06-02, valid_from in March)
    assert history(tgt, table, 7) == [(7, first + dt.timedelta(seconds=7), closed, False)]

    # 7 and 2500 come back with business times before they were closed, 8 with a time after; 9 changes normally
    pg_exec(src, "INSERT INTO prices VALUES (7, 70, '2026-04-01 00:00:00+00'), (8, 80, '2026-06-10 00:00:00+00'), "
                 "(2500, 25, '2026-05-01 00:00:00+00')")  # fmt: skip
    pg_exec(src, "UPDATE prices SET price = 90, changed_at = '2026-05-01 00:00:00+00' WHERE id = 9")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", PRICES, RUN[3])
    assert (s3.status, s3.rows_inserted, s3.rows_updated, s3.rows_expired, s3.rows_deleted) == ("success", 3, 1, 1, 0)
    assert_scd2_invariants(tgt, table)
    assert history(tgt, table, 7) == [(7, first + dt.timedelta(seconds=7), closed, False), (70, closed, None, True)]
    assert history(tgt, table, 2500)[1] == (25, closed, None, True)
    back_later = _t("2026-06-10T00:00:00+00:00")  # after the close: its own time
    assert history(tgt, table, 8) == [(8, first + dt.timedelta(seconds=8), closed, False), (80, back_later, None, True)]
    may = _t("2026-05-01T00:00:00+00:00")
    assert history(tgt, table, 9) == [(9, first + dt.timedelta(seconds=9), may, False), (90, may, None, True)]
    assert current_prices(tgt, table) == source_prices(src)


def test_effective_column_key_deleted_before_its_valid_from_then_back(pg_dbs):
    """Closed at its own valid_from (an empty version), then back with an earlier time: the new version starts at
    that valid_to, which equals the closed version's valid_from. Both rules together give two versions of one key
    with the same valid_from; the target's unique index on (key, valid_from) must not refuse that."""
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.prices_h"
    first = dt.datetime(2026, 7, 1, tzinfo=UTC)
    make_prices(src, 50, first)
    cfg = _cfg(table, scd2_effective_time="changed_at")
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", PRICES, RUN[1])
    pg_exec(src, "DELETE FROM prices WHERE id = 5")
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", PRICES, RUN[2])
    pg_exec(src, "INSERT INTO prices VALUES (5, 55, '2026-06-15 00:00:00+00')")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", PRICES, RUN[3])
    assert (s3.status, s3.rows_inserted, s3.rows_deleted) == ("success", 1, 0)
    assert_scd2_invariants(tgt, table)
    own = first + dt.timedelta(seconds=5)
    assert history(tgt, table, 5) == [(5, own, own, False), (55, own, None, True)]


def test_run_start_delete_and_reappearance_keep_history_consistent(pg_dbs):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.prices_rs"
    make_prices(src, 3_000, dt.datetime(2026, 3, 1, tzinfo=UTC))
    cfg = _cfg(table)
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", PRICES, RUN[1])
    pg_exec(src, "DELETE FROM prices WHERE id % 500 = 7")  # 6 keys over the chunks
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", PRICES, RUN[2])
    assert (s2.rows_deleted, s2.rows_expired, s2.rows_updated) == (6, 0, 0)
    assert_scd2_invariants(tgt, table)
    pg_exec(src, "INSERT INTO prices VALUES (7, 1, '2026-01-01 00:00:00+00'), (1507, 2, '2026-01-01 00:00:00+00')")
    pg_exec(src, "UPDATE prices SET price = price + 1 WHERE id IN (1, 2, 3)")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", PRICES, RUN[3])
    assert (s3.rows_inserted, s3.rows_updated, s3.rows_expired, s3.rows_deleted) == (2, 3, 3, 0)
    assert_scd2_invariants(tgt, table)
    pg_exec(src, "DELETE FROM prices WHERE id = 7")
    _, _, s4 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r4", PRICES, RUN[4])
    assert (s4.rows_deleted, s4.rows_inserted) == (1, 0)
    assert_scd2_invariants(tgt, table)
    t1, t2, t3, t4 = (_t(RUN[n]) for n in (1, 2, 3, 4))
    assert history(tgt, table, 7) == [(7, t1, t2, False), (1, t3, t4, False)]
    assert history(tgt, table, 1) == [(1, t1, t3, False), (2, t3, None, True)]
    assert current_prices(tgt, table) == source_prices(src)
    # 3,000 first versions, then 2 returning keys and 3 changed keys got a version each
    assert rows(tgt, f"SELECT count(*), count(*) FILTER (WHERE is_current) FROM {table}") == [(3_005, 2_995)]
