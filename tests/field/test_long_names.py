"""63-character names (PostgreSQL's limit) for the target's schema, table and key column, through every path.

Contract: a schema, table or column name of up to 63 characters works for append, scd1 and scd2 (with
detect_deletes and salvage mode): every name the mapper derives from it (the target's indexes, the mapper tables
in the same schema, the run's key table and its index, temp-table indexes, savepoints) fits the limit, so
PostgreSQL neither refuses nor silently truncates one (a truncated index name can collide with the table's own).
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import config, pg_exec, rows, run_all

SCHEMA, TABLE, KEY = "s" * 63, "t" * 63, "k" * 63
TARGET = f"{SCHEMA}.{TABLE}"
N = 3_000
RUN1, RUN2 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00"
SQL = f"SELECT {KEY}, v FROM {TABLE}"


def _cfg(strategy: str):
    kw = {"checkpoint_column": KEY} if strategy == "append" else {"detect_deletes": True}
    return config(strategy, TARGET, keys=(KEY,), chunk_size=1_000, min_rows_for_parallel=1_000, max_error_rows=5,
                  mapref=f"long.{strategy}", **kw)  # fmt: skip


def _current(dsn: str, strategy: str) -> list[tuple]:
    where = " WHERE is_current" if strategy == "scd2" else ""
    return rows(dsn, f'SELECT {KEY}, v FROM "{SCHEMA}"."{TABLE}"{where} ORDER BY 1, 2')


@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_63_character_schema_table_and_key_through_every_path(pg_dbs, strategy):
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(src, f"CREATE TABLE {TABLE} ({KEY} bigint PRIMARY KEY, v text)")
    pg_exec(src, f"INSERT INTO {TABLE} SELECT g, 'v' || g FROM generate_series(1, {N}) g")
    pg_exec(src, f"ANALYZE {TABLE}")
    cfg = _cfg(strategy)

    chunks, _, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, RUN1, SQL, RUN1)
    assert (len(chunks), summary.status, summary.rows_inserted) == (3, "success", N)
    assert _current(tgt, strategy) == rows(src, f"SELECT {KEY}, v FROM {TABLE} ORDER BY 1")

    indexes = rows(tgt, f"SELECT indexname FROM pg_indexes WHERE schemaname = '{SCHEMA}' AND tablename = '{TABLE}'")
    names = sorted(name for (name,) in indexes)
    want = {"append": 1, "scd1": 1, "scd2": 2}[strategy]  # key_ix | the primary key | key_from_ux + current_ux
    assert len(names) == want and all(len(n) <= 63 for n in names) and TABLE not in names, names

    # run 2: changes, deletes (scd), new rows and one row the target refuses (salvage mode: savepoints, numbering)
    pg_exec(tgt, f'ALTER TABLE "{SCHEMA}"."{TABLE}" ADD CONSTRAINT v_not_bad CHECK (v <> \'bad\')')
    pg_exec(src, f"UPDATE {TABLE} SET v = v || ' changed' WHERE {KEY} <= 10")
    pg_exec(src, f"DELETE FROM {TABLE} WHERE {KEY} > {N - 10}")
    pg_exec(src, f"INSERT INTO {TABLE} SELECT g, 'new ' || g FROM generate_series({N + 1}, {N + 10}) g")
    pg_exec(src, f"INSERT INTO {TABLE} VALUES ({N + 11}, 'bad')")
    pg_exec(src, f"ANALYZE {TABLE}")
    _, results, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, RUN2, SQL, RUN2)
    assert summary.status == "success" and summary.rows_rejected == 1
    assert any(r.path.endswith("-salvage") for r in results)
    rejects = rows(tgt, f"SELECT key_values, error_code FROM \"{SCHEMA}\".mapper_rejects WHERE run_id = '{RUN2}'")
    assert [(json.loads(k), code) for k, code in rejects] == [({KEY: N + 11}, "23514")]

    good = f"SELECT {KEY}, v FROM {TABLE} WHERE v <> 'bad'"
    if strategy == "append":  # the checkpoint read only the new keys; changed and deleted rows stay as loaded
        assert summary.rows_inserted == 10
        first = rows(src, f"SELECT {KEY}, 'v' || {KEY} FROM generate_series(1, {N}) {KEY}")
        assert _current(tgt, strategy) == sorted(first + rows(src, f"{good} AND {KEY} > {N}"))
    else:
        assert (summary.rows_inserted, summary.rows_updated, summary.rows_deleted) == (10, 10, 10)
        assert _current(tgt, strategy) == rows(src, f"{good} ORDER BY 1")
    if strategy == "scd2":
        closed = rows(tgt, f'SELECT count(*) FROM "{SCHEMA}"."{TABLE}" WHERE NOT is_current')
        assert closed == [(20,)]  # 10 changed keys' old versions and 10 deleted keys
    keys_tables = rows(
        tgt, f"SELECT tablename FROM pg_tables WHERE schemaname = '{SCHEMA}' AND tablename LIKE 'mapper%'"
    )
    assert {"mapper_joblog", "mapper_rejects"} <= {t for (t,) in keys_tables}
    assert any(t.startswith("mapper_keys_") for (t,) in keys_tables) is (strategy != "append")
