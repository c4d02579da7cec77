"""Where a chunk's time goes: every statement of the chunk path timed and grouped by what it does.

    .venv/bin/python -m bench.profile [--rows 1000000] [--chunk-size 100000] [--pyinstrument]

Loads the source in one process, chunk after chunk (no pool, so the numbers add up), for scd1 and scd2: initial
load, 1% changed with a full extract, 1% changed with a KEY checkpoint. ``PgSession`` is wrapped (nothing in the
provider changes) so each statement's wall time lands in a category: the COPY pipe (source read and staging
write together), ANALYZE of staging, key checks, the delta join, updates, inserts, ledger/lock, commit. Then it
times the alternative the proposals rest on: scd2 initial straight into the target with the scd2 columns
computed in the source SELECT.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

from airflow_mapper_provider.db import PgSession
from bench.data import COLUMNS, SOURCE_SQL, change_one_percent, execute, make_source, reset_target
from bench.methods import chunk_path, mapper_config
from bench.scenarios import ROUNDS
from tests.pgserver import start_server

TIMES: collections.defaultdict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()
_RULES = [
    (r"^COPY .* FROM STDIN", "COPY pipe (source read + write)"),
    (r"^CREATE TEMPORARY TABLE \S*mapper_stage", "create staging"),
    (r"^CREATE TEMPORARY TABLE \S*mapper_delta", "delta join (compare)"),
    (r"^CREATE TEMPORARY TABLE", "other temp table"),
    (r"^ANALYZE", "ANALYZE staging"),
    (r"IS NULL$|IS NULL\)", "key check: NULL keys"),
    (r"HAVING COUNT", "key check: duplicate keys"),
    (r"mapper_chunklog|mapper_joblog|mapper_lock|mapper_checkpoint|advisory", "ledger, lock, job log"),
    (r"^UPDATE", "UPDATE target (scd1 update / scd2 expire)"),
    (r"^INSERT INTO", "INSERT into target"),
    (r"^DELETE", "DELETE"),
    (r"LIMIT 0|pg_index|to_regclass|pg_attribute|information_schema", "describe / catalog"),
    (r"^SELECT 1 FROM", "probe: target range empty?"),
    (r"^SELECT MAX|^SELECT .*ORDER BY .* DESC", "checkpoint max of staging"),
]


def _category(sql: str) -> str:
    flat = " ".join(sql.split())
    for pattern, name in _RULES:
        if re.search(pattern, flat):
            return name
    return "other: " + flat[:50]


def _timed(name_of: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: PgSession, *args: Any, **kwargs: Any) -> Any:
        name, started = name_of(*args), time.monotonic()
        try:
            return fn(self, *args, **kwargs)
        finally:
            TIMES[name] += time.monotonic() - started
            CALLS[name] += 1

    return wrapper


@contextlib.contextmanager
def instrumented() -> Iterator[None]:
    """Wrap PgSession's statement methods (in this process) with timers."""
    saved = {n: getattr(PgSession, n) for n in ("execute", "query", "copy_in", "commit")}
    PgSession.execute = _timed(lambda sql, *a: _category(sql), saved["execute"])  # type: ignore[method-assign]
    PgSession.query = _timed(lambda sql, *a: _category(sql), saved["query"])  # type: ignore[method-assign]
    PgSession.copy_in = _timed(lambda sql, *a: _category(sql), saved["copy_in"])  # type: ignore[method-assign]
    PgSession.commit = _timed(lambda *a: "commit", saved["commit"])  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(PgSession, name, fn)


class InProcess(Executor):
    """Runs the chunks here, one after another (so the timers see them)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def profile_run(label: str, run: Callable[[], Any]) -> dict[str, Any]:
    TIMES.clear()
    CALLS.clear()
    started = time.monotonic()
    with instrumented():
        stats = run()
    wall = time.monotonic() - started
    print(f"\n{label}: {wall:.2f} s wall, {stats.rows_read:,} rows read, {stats.chunks} chunk(s), {stats.paths}")
    for name, seconds in sorted(TIMES.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<44} {seconds:7.2f} s  {100 * seconds / wall:5.1f}%  ({CALLS[name]} calls)")
    other = wall - sum(TIMES.values())
    print(f"  {'(python, connect, plan/finalize rest)':<44} {other:7.2f} s  {100 * other / wall:5.1f}%")
    return {"label": label, "wall": wall, "times": dict(TIMES), "calls": dict(CALLS)}


def series(src: str, tgt: str, strategy: str, chunk_size: int) -> None:
    reset_target(tgt)
    table = f"dw.prof_{strategy}"
    full = mapper_config(strategy, table, f"prof.{strategy}.full", chunk_size)
    key = mapper_config(strategy, table, f"prof.{strategy}.key", chunk_size, key_checkpoint=True)
    pool: Any = InProcess()
    profile_run(f"{strategy} initial", lambda: chunk_path(full, "i", src, tgt, pool))
    change_one_percent(src, next(ROUNDS))
    profile_run(f"{strategy} 1% changed, full extract", lambda: chunk_path(full, "f", src, tgt, pool))
    chunk_path(key, "seed", src, tgt, pool)
    change_one_percent(src, next(ROUNDS))
    profile_run(f"{strategy} 1% changed, KEY", lambda: chunk_path(key, "k", src, tgt, pool))


def scd2_direct_alternative(src: str, tgt: str, rows: int, chunk_size: int) -> None:
    """What an scd2 initial chunk would cost as one COPY into the target, the scd2 columns computed at the source
    (valid_from bound, valid_to NULL, is_current TRUE, row_hash by hash_record_extended as the strategy does)."""
    import psycopg

    values = [c.strip() for c in COLUMNS.split(",") if c.strip() != "customer_id"]
    row = "ROW(" + ", ".join(values) + ")"
    eff = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    with psycopg.connect(src) as s, psycopg.connect(tgt) as t:
        t.execute("CREATE TABLE dw.prof_direct (LIKE dw.prof_scd2 INCLUDING INDEXES)")
        t.commit()
        for lo in range(1, rows + 1, chunk_size):
            select = (
                f"SELECT {COLUMNS}, %(eff)s::timestamptz, NULL::timestamptz, TRUE, "
                f"hash_record_extended({row}, 0)::text FROM ({SOURCE_SQL}) q "
                f"WHERE customer_id >= {lo} AND customer_id < {lo + chunk_size}"
            )
            scd2 = f"{COLUMNS}, valid_from, valid_to, is_current, row_hash"
            out = s.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT BINARY)", {"eff": eff})
            with out as reader, t.cursor().copy(f"COPY dw.prof_direct ({scd2}) FROM STDIN (FORMAT BINARY)") as w:
                for block in reader:
                    w.write(block)
            t.commit()
    wall = time.monotonic() - started
    same = execute(tgt, "SELECT count(*) FROM dw.prof_direct d JOIN dw.prof_scd2 p USING (customer_id) "
                        "WHERE d.row_hash = p.row_hash")[0][0]  # fmt: skip
    print(f"\nscd2 initial as direct COPY with source-side scd2 columns: {wall:.2f} s for {rows:,} rows "
          f"({rows / wall:,.0f} rows/s); row_hash equal to the staged path's for {same:,} keys")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--pyinstrument", action="store_true", help="also print a pyinstrument profile of scd2")
    args = parser.parse_args()
    server = start_server()
    try:
        src, tgt = (server.dsn(server.create_database(p)) for p in ("prof_src", "prof_tgt"))
        make_source(src, args.rows)
        for strategy in ("scd1", "scd2"):
            series(src, tgt, strategy, args.chunk_size)
        # prof_scd2 now holds history: compare against a fresh initial load for the hash check
        reset_target(tgt)
        cfg = mapper_config("scd2", "dw.prof_scd2", "prof.scd2.again", args.chunk_size)
        profile_run("scd2 initial (again)", lambda: chunk_path(cfg, "again", src, tgt, InProcess()))
        scd2_direct_alternative(src, tgt, args.rows, args.chunk_size)
        if args.pyinstrument:
            from pyinstrument import Profiler

            reset_target(tgt)
            with Profiler() as prof:
                chunk_path(cfg, "py", src, tgt, InProcess())
            print(prof.output_text(unicode=False, color=False, show_all=False))
    finally:
        server.close()


if __name__ == "__main__":
    main()
