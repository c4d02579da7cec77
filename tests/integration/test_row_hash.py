"""scd2's ``row_hash`` is written, never read: change detection compares the columns themselves.

So a hash collision cannot hide a change, and a target written by an earlier version (whose row_hash was an md5
of the row's text, or anything else) does not make the next run see every row as changed. Both are tested here by
tampering with the stored hashes: an upgrade (every stored hash in an old format) and a forced collision (the
stored hash of a changed key set to exactly the hash of its new values).
"""

from __future__ import annotations

import pytest

from tests.field.test_scd2_history import assert_scd2_invariants
from tests.helpers import config, make_customers, pg_exec, rows, run_all

SQL = "SELECT customer_id, name, email, country, balance, created_at, active, birth, notes FROM customers"
VALUES = "name, email, country, balance, created_at, active, birth, notes"
RUNS = [f"2026-06-0{n}T00:00:00+00:00" for n in (1, 2, 3)]
TABLE = "dw.hashless"


def first_load(pg_dbs) -> None:
    make_customers(pg_dbs.source_dsn, 3_000)
    _, _, summary = run_all(config("scd2", TABLE), pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL, RUNS[0])
    assert summary.rows_inserted == 3_000


def test_an_earlier_versions_row_hash_does_not_count_as_a_change(pg_dbs):
    """Upgrade path: stored hashes in another format (an earlier version's md5 of the row text); an unchanged
    source then reports 0 changes, one changed row reports exactly 1, and the old hashes stay as they were."""
    first_load(pg_dbs)
    pg_exec(pg_dbs.target_dsn, f"UPDATE {TABLE} t SET row_hash = md5(ROW({VALUES})::text)")
    before = rows(pg_dbs.target_dsn, f"SELECT customer_id, row_hash FROM {TABLE} ORDER BY 1")
    _, _, same = run_all(config("scd2", TABLE), pg_dbs.source_uri, pg_dbs.target_uri, "r2", SQL, RUNS[1])
    assert (same.rows_inserted, same.rows_updated, same.rows_expired, same.rows_unchanged) == (0, 0, 0, 3_000)
    assert rows(pg_dbs.target_dsn, f"SELECT customer_id, row_hash FROM {TABLE} ORDER BY 1") == before
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET notes = 'changed' WHERE customer_id = 7")
    _, _, one = run_all(config("scd2", TABLE), pg_dbs.source_uri, pg_dbs.target_uri, "r3", SQL, RUNS[2])
    assert (one.rows_inserted, one.rows_updated, one.rows_expired, one.rows_unchanged) == (0, 1, 1, 2_999)
    assert_scd2_invariants(pg_dbs.target_dsn, TABLE, ("customer_id",))


@pytest.mark.parametrize("column", ["notes", "balance", "email"])
def test_a_row_hash_collision_never_hides_a_change(pg_dbs, column):
    """The stored hash of key 43 is set to the hash of the values it is about to change to (a collision, as
    a 64-bit hash can have): the change is still found, because the columns are compared, not the hashes."""
    first_load(pg_dbs)
    new = {"notes": "'after'", "balance": "balance + 1", "email": "NULL"}[column]
    pg_exec(pg_dbs.source_dsn, f"UPDATE customers SET {column} = {new} WHERE customer_id = 43")
    (future,) = rows(pg_dbs.source_dsn, f"SELECT hash_record_extended(ROW({VALUES}), 0)::text FROM customers "
                                        "WHERE customer_id = 43")[0]  # fmt: skip
    pg_exec(pg_dbs.target_dsn, f"UPDATE {TABLE} SET row_hash = '{future}' WHERE customer_id = 43")
    _, _, run = run_all(config("scd2", TABLE), pg_dbs.source_uri, pg_dbs.target_uri, "r2", SQL, RUNS[1])
    assert (run.rows_updated, run.rows_expired, run.rows_unchanged) == (1, 1, 2_999)
    versions = rows(pg_dbs.target_dsn, f"SELECT is_current, row_hash FROM {TABLE} WHERE customer_id = 43 "
                                       "ORDER BY valid_from")  # fmt: skip
    assert versions == [(False, future), (True, future)]  # equal hashes, different rows: both versions kept
    assert_scd2_invariants(pg_dbs.target_dsn, TABLE, ("customer_id",))
