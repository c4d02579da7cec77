"""What chunk progress costs: one 1M-row chunk with the progress reporter off, on (default intervals) and on at
ten times the default write rate, PostgreSQL -> PostgreSQL, scd1 and scd2, medians of 3.

    .venv/bin/python -m bench.progress_cost                 # 1M rows, medians of 3 (about 10 minutes on 2 cores)
    .venv/bin/python -m bench.progress_cost --rows 200000 --repeat 1   # a smoke run

Two chunks per strategy and mode: the initial load (an empty target: binary COPY straight into it, rows counted by
``pg_stat_progress_copy``) and a reload after 1% of the rows changed (COPY into staging, compare, apply). Timed:
``ChunkJob.run()`` alone (the sessions are open before, the plan ran before), with the reporter's thread, its own
connection, its snapshots (job log row, ``mapper_progress`` aggregate, job log live columns, a JSON dump standing
in for the task state store, which needs a running Airflow) and its final write. Modes run interleaved, so drift of
the shared machine spreads over all of them. Not a test: nothing is asserted; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from airflow_mapper_provider import progress
from airflow_mapper_provider.db import connect_side
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from airflow_mapper_provider.progress import ChunkProgress, Progress, Snapshot, chunk_estimate
from airflow_mapper_provider.state import MapperTables
from airflow_mapper_provider.state.progress_log import ProgressLog
from bench.data import SOURCE_SQL, change_one_percent, make_source, reset_target
from bench.methods import mapper_config, pg_session
from tests.helpers import airflow_connection
from tests.pgserver import start_server

#: (name, TICK_S, LOG_S); None: no reporter.
MODES: tuple[tuple[str, float | None, float | None], ...] = (
    ("off", None, None),
    ("on", progress.TICK_S, progress.LOG_S),
    ("on, 10x writes", progress.TICK_S / 10, progress.LOG_S / 10),
)


class StateStoreStandIn:
    """The task state store's share of a snapshot without Airflow: the JSON it would send."""

    name = "the task state store (stand-in)"

    def __init__(self) -> None:
        self.count = 0

    def publish(self, snap: Snapshot) -> None:
        json.dumps(snap.to_state())
        self.count += 1

    def close(self) -> None:
        pass


class TimedProgressLog(ProgressLog):
    """The job log sink, timing the opening of its connection (once per chunk, in the first snapshot)."""

    connect_s = 0.0

    def session(self) -> Any:
        if self._sess is None:
            t0 = time.perf_counter()
            super().session()
            self.connect_s = time.perf_counter() - t0
        return super().session()


class TimedProgress(ChunkProgress):
    """The reporter, timing each snapshot (probe, sinks, log line): wall time, and the CPU time of the thread
    that ran it (what it took from the chunk's process; the wall time also counts waiting for the server, the
    GIL and the cores of a busy machine)."""

    wall_s = 0.0
    cpu_s = 0.0

    def _publish(self, status: str, log_line: bool) -> None:
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            super()._publish(status, log_line)
        finally:
            self.wall_s += time.perf_counter() - w0
            self.cpu_s += time.thread_time() - c0


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def reporter(mode: tuple[str, float | None, float | None], cfg: Any, spec: ChunkSpec, run_id: str, target: str):
    """The chunk's Progress for ``mode``, and what it did: (snapshots, wall s, CPU s, connect s)."""
    _, tick, log_s = mode
    if tick is None or log_s is None:
        return Progress(), lambda: (0, 0.0, 0.0, 0.0)
    progress.TICK_S, progress.LOG_S = tick, log_s
    conn = airflow_connection("bench_tgt", target)
    joblog = TimedProgressLog(MapperTables(cfg.meta_schema), cfg.mapref, run_id, 1, "bench",
                              lambda: connect_side(conn))  # fmt: skip
    store = StateStoreStandIn()
    rep = TimedProgress(spec.label, spec.index, spec.count, chunk_estimate(spec), [store, joblog],
                        copy_rows=joblog.copy_rows)  # fmt: skip
    return rep, lambda: (store.count, rep.wall_s, rep.cpu_s, joblog.connect_s)


def timed_chunk(cfg: Any, run_id: str, source: str, target: str, mode: Any) -> dict[str, Any]:
    """Plan (not timed), then one timed ChunkJob.run(), then finalize (not timed)."""
    with pg_session(source) as src, pg_session(target) as tgt:
        chunks = plan_run(cfg, SOURCE_SQL, run_id, _now(), 1, src, tgt)  # scd2: each run's versions are newer
        assert len(chunks) == 1, f"expected one chunk, got {len(chunks)}"
        spec = ChunkSpec.from_dict(chunks[0])
        rep, did = reporter(mode, cfg, spec, run_id, target)
        job = ChunkJob(cfg, spec, SOURCE_SQL, run_id, 1, src, tgt, progress=rep)
        t0 = time.perf_counter()
        result = job.run()
        seconds = time.perf_counter() - t0
    with pg_session(target) as tgt:
        finalize_run(cfg, run_id, chunks, tgt)
    snapshots, wall, cpu, connect = did()
    return {"s": seconds, "snapshots": snapshots, "busy_s": wall, "cpu_s": cpu, "connect_s": connect,
            "path": result.path, "rows": result.rows_read}  # fmt: skip


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat()


def measure(source: str, target: str, rows: int, repeat: int) -> list[dict[str, Any]]:
    """Every strategy, scenario and mode ``repeat`` times, the modes interleaved; one result row each."""
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    round_no = 0
    for strategy in ("scd1", "scd2"):
        cfg = mapper_config(strategy, "dw.progress_cost", f"bench.progress.{strategy}", rows)
        for i in range(repeat):
            for mode in MODES:
                reset_target(target)
                for scenario, run_id in (("initial load", f"i{i}{mode[0]}"), ("1% changed", f"c{i}{mode[0]}")):
                    if scenario == "1% changed":
                        round_no += 1
                        change_one_percent(source, round_no)
                    got = timed_chunk(cfg, run_id, source, target, mode)
                    runs.setdefault((strategy, scenario, mode[0]), []).append(got)
                    say(f"{strategy} {scenario} progress {mode[0]}: {got['s']:.3f} s, {got['snapshots']} "
                        f"snapshot(s) taking {got['busy_s'] * 1000:.1f} ms ({got['cpu_s'] * 1000:.1f} ms CPU), "
                        f"{got['path']}")  # fmt: skip
    order = {name: i for i, (name, _, _) in enumerate(MODES)}
    keys = sorted(runs, key=lambda k: (k[0], k[1] != "initial load", order[k[2]]))
    return [_row(key, runs[key], runs[(key[0], key[1], "off")]) for key in keys]


def _row(key: tuple[str, str, str], found: list[dict[str, Any]], off: list[dict[str, Any]]) -> dict[str, Any]:
    med, base = statistics.median(r["s"] for r in found), statistics.median(r["s"] for r in off)
    paired = statistics.median(r["s"] / o["s"] for r, o in zip(found, off, strict=True))
    snaps = sum(r["snapshots"] for r in found)
    busy = sum(r["busy_s"] for r in found)
    connect = sum(r["connect_s"] for r in found)
    cpu = sum(r["cpu_s"] for r in found)
    return {"strategy": key[0], "scenario": key[1], "progress": key[2], "median_s": round(med, 3),
            "all_s": [round(r["s"], 3) for r in found], "wall_pct": round(100 * (med - base) / base, 2),
            # each repetition ran the modes back to back: the median of the paired ratios drifts less
            "paired_pct": round(100 * (paired - 1), 2),
            "snapshots": statistics.median(r["snapshots"] for r in found),
            "ms_per_snapshot": round(1000 * (busy - connect) / snaps, 2) if snaps else None,
            "ms_connect": round(1000 * connect / max(sum(1 for r in found if r["connect_s"]), 1), 1),
            "busy_pct": round(100 * busy / sum(r["s"] for r in found), 3),
            "cpu_pct": round(100 * cpu / sum(r["s"] for r in found), 3),
            "cpu_ms_per_snapshot": round(1000 * cpu / snaps, 2) if snaps else None,
            "path": found[-1]["path"], "rows": found[-1]["rows"]}  # fmt: skip


def markdown(results: list[dict[str, Any]], rows: int, repeat: int) -> str:
    head = (f"Chunk time with progress off / on, {rows:,} rows in one chunk, PostgreSQL -> PostgreSQL, "
            f"median of {repeat} (wall: the chunk's median time against 'off'; paired: the median of each repetition's "
            "ratio to its own 'off' run, the modes ran back to back; noise of the shared machine included; "
            "reporter wall / CPU: the time its snapshots (connection, COPY probes, writes) took on its own "
            "thread, and that thread's CPU time, as a share of the chunk's time):\n\n"
            "| strategy | chunk | progress | median s | runs s | wall vs off | paired vs off | snapshots "
            "| ms / snapshot | CPU ms / snapshot | ms to connect | reporter wall | reporter CPU |\n"
            "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")  # fmt: skip
    lines = [
        f"| {r['strategy']} | {r['scenario']} ({r['path']}) | {r['progress']} | {r['median_s']:.3f} | "
        f"{', '.join(f'{t:.3f}' for t in r['all_s'])} | {r['wall_pct']:+.1f}% | {r['paired_pct']:+.1f}% | "
        f"{r['snapshots']:g} | "
        f"{'' if r['ms_per_snapshot'] is None else r['ms_per_snapshot']} | "
        f"{'' if r['cpu_ms_per_snapshot'] is None else r['cpu_ms_per_snapshot']} | {r['ms_connect'] or ''} | "
        f"{r['busy_pct']:.2f}% | {r['cpu_pct']:.2f}% |"
        for r in results
    ]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", default="", help="also write the results as JSON to this path")
    args = p.parse_args(argv)
    server = start_server()
    try:
        src = server.dsn(server.create_database("bench_src"))
        tgt = server.dsn(server.create_database("bench_tgt"))
        say(f"PostgreSQL at {server.host}:{server.port}; generating {args.rows:,} source rows")
        make_source(src, args.rows)
        results = measure(src, tgt, args.rows, args.repeat)
    finally:
        server.close()
    print(markdown(results, args.rows, args.repeat))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
