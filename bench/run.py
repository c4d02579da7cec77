"""The benchmark: MapperOperator against the raw COPY pipe and Airflow's GenericTransfer, PostgreSQL -> PostgreSQL.

    .venv/bin/python -m bench.run            # 1M rows, medians of 3 (about 15-20 minutes on 2 cores)
    .venv/bin/python -m bench.run --quick    # 100k rows, 1 run each, no 10M planning (a smoke run, ~2 minutes)

Starts a throwaway PostgreSQL cluster (tests/pgserver.py), or uses the server in MAPPER_TEST_PG_DSN; creates a
source and a target database on it, generates the source, measures, prints the table and the machine, and writes
the results as JSON (bench/results.json) and Markdown (bench/RESULTS.md). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from bench.data import execute, machine, make_source
from bench.rss import SIZES, rss_rows
from bench.scenarios import ROUNDS, Row, chunk_series, planning_rows, raw_copy_rows
from tests.pgserver import start_server

HERE = Path(__file__).resolve().parent


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None, help="source rows (default 1,000,000; --quick: 100,000)")
    p.add_argument("--repeat", type=int, default=None, help="runs per measurement, median reported (default 3)")
    p.add_argument("--quick", action="store_true", help="100k rows, 1 run each, no 10M-row planning")
    p.add_argument("--json", type=Path, default=HERE / "results.json", help="where to write the JSON results")
    p.add_argument("--markdown", type=Path, default=HERE / "RESULTS.md", help="where to write the Markdown table")
    p.add_argument("--chunk-size", type=int, default=None, help="rows per chunk (default rows / 10)")
    p.add_argument("--workers", default="1,2,4", help="worker process counts for the chunk path")
    p.add_argument("--strategies", default="scd1,scd2,append")
    p.add_argument("--plan-rows", type=int, default=10_000_000, help="source rows for the planning measurement")
    p.add_argument("--skip", default="", help="comma list of parts to skip: chunk,dag,gt,rss,plan")
    args = p.parse_args(argv)
    args.rows = args.rows or (100_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.chunk_size = args.chunk_size or max(args.rows // 10, 1_000)
    args.skip = set(filter(None, args.skip.split(","))) | ({"plan"} if args.quick else set())
    return args


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(args: argparse.Namespace) -> None:
    server = start_server()
    try:
        src = server.dsn(server.create_database("bench_src"))
        tgt = server.dsn(server.create_database("bench_tgt"))
        say(f"PostgreSQL at {server.host}:{server.port} ({'throwaway' if server.is_throwaway else 'existing'})")
        info = machine(src)
        say(report.machine_text(info))
        started = time.monotonic()
        make_source(src, args.rows)
        size = execute(src, "SELECT pg_size_pretty(pg_total_relation_size('customers'))")[0][0]
        say(f"source: {args.rows:,} rows ({size}) generated in {time.monotonic() - started:.1f} s")
        rows = measure(args, src, tgt)
    finally:
        server.close()
    print()
    print(report.machine_text(info))
    print(report.text_table(rows))
    args.json.write_text(report.to_json(rows, info, _args_dict(args)), encoding="utf-8")
    args.markdown.write_text(_markdown(rows, info, args), encoding="utf-8")
    say(f"wrote {args.json} and {args.markdown}")


def measure(args: argparse.Namespace, src: str, tgt: str) -> list[Row]:
    rows = [raw_copy_rows(src, tgt, args.repeat)]
    _progress(rows[-1])
    strategies = args.strategies.split(",")
    if "chunk" not in args.skip:
        for strategy in strategies:
            for workers in (int(w) for w in args.workers.split(",")):
                for row in chunk_series(src, tgt, strategy, workers, args.repeat, args.chunk_size):
                    rows.append(row)
                    _progress(row)
    if not {"dag", "gt"} <= args.skip:
        rows += _airflow_part(args, src, tgt, strategies)
    if "rss" not in args.skip:
        for row in rss_rows(src, tgt, tuple(s for s in SIZES if s <= args.rows)):
            rows.append(row)
            _progress(row)
    if "plan" not in args.skip:
        started = time.monotonic()
        make_source(src, args.plan_rows, "customers_plan")
        say(f"planning source: {args.plan_rows:,} rows generated in {time.monotonic() - started:.1f} s")
        for row in planning_rows(src, tgt, "customers_plan", args.plan_rows, args.repeat, 50_000):
            rows.append(row)
            _progress(row)
        execute(src, "DROP TABLE customers_plan")
    return rows


def _airflow_part(args: argparse.Namespace, src: str, tgt: str, strategies: list[str]) -> list[Row]:
    """dag.test() and GenericTransfer run in a child process (Airflow configures itself at import)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [sys.executable, "-m", "bench.dag_load", "--source", src, "--target", tgt, "--json", out.name,
                "--rows", str(args.rows), "--repeat", str(args.repeat), "--chunk-size", str(args.chunk_size),
                "--strategies", ",".join(strategies if "dag" not in args.skip else []),
                "--round", str(next(ROUNDS))]  # fmt: skip
        if "gt" in args.skip:
            argv.append("--no-generic-transfer")
        say("dag.test() and GenericTransfer (child process) ...")
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        rows = [Row(**r) for r in json.loads(Path(out.name).read_text(encoding="utf-8"))]
    for _ in range(100):
        next(ROUNDS)  # the child used rounds after ours
    for row in rows:
        _progress(row)
    return rows


def _progress(row: Row) -> None:
    say(f"{row.section} | {row.method}: {row.rows:,} rows, median {row.seconds:.2f} s "
        f"(runs {', '.join(f'{s:.2f}' for s in row.runs)}) {row.note}")  # fmt: skip


def _args_dict(args: argparse.Namespace) -> dict[str, object]:
    return {k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v) for k, v in
            vars(args).items()}  # fmt: skip


def _markdown(rows: list[Row], info: dict[str, object], args: argparse.Namespace) -> str:
    mode = "quick" if args.quick else "full"
    return (
        f"# Benchmark results ({mode} run, medians of {args.repeat})\n\n"
        f"`.venv/bin/python -m bench.run` - {args.rows:,} source rows, chunks of {args.chunk_size:,}.\n\n"
        f"Machine: {report.machine_text(info)}\n\n{report.markdown_table(rows)}\n"
    )


def main(argv: list[str] | None = None) -> None:
    run(parse(argv))


if __name__ == "__main__":
    main()
