"""End to end under a real scheduler: trigger -> run finished, MapperOperator against GenericTransfer.

    .venv/bin/python -m bench.scheduler                       # 1M and 5M rows, scd1 + scd2 + GenericTransfer, 3 runs
    .venv/bin/python -m bench.scheduler --sizes 1000000 --repeat 2 --skip-gt-above 1000000
    .venv/bin/python -m bench.scheduler --code /path/to/other/checkout   # the provider of another checkout

Starts a throwaway PostgreSQL (tests/pgserver.py) holding the source, the target and Airflow's metadata database,
then a real Airflow (bench/stack.py: LocalExecutor, ``[core] parallelism`` 4, scheduler + dag-processor +
api-server as subprocesses). Three DAGs read the same source table: MapperOperator scd1 and scd2 with default
parameters, and GenericTransfer (common-sql) into a table with a primary key. Each run is an initial load into an
emptied target schema; runs are triggered through the REST API one at a time and the times come from Airflow's
own timestamps (run queued -> run end; and per task instance). Writes bench/scheduler.json and bench/SCHEDULER.md.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import DDL, SOURCE_SQL, execute, machine, make_source, reset_target
from bench.stack import Stack, stamp
from tests.pgserver import start_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
METHODS = ("mapper_scd1", "mapper_scd2", "generic_transfer")

MAPPER_DAGS = '''"""Benchmark DAGs: MapperOperator scd1 and scd2 (written by bench/scheduler.py)."""
import datetime as dt

from airflow.sdk import DAG

import airflow_mapper_provider
from airflow_mapper_provider import MapperOperator

SQL = {sql!r}
EXTRA = {extra!r}

for strategy in ("scd1", "scd2"):
    with DAG(f"mapper_{{strategy}}", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False,
             max_active_runs=1, description=airflow_mapper_provider.__file__) as dag:
        MapperOperator(
            task_id="load", source_conn_id="bench_src", target_conn_id="bench_tgt", source_sql=SQL,
            target_table=f"dw.sched_{{strategy}}", key_columns=["customer_id"], load_strategy=strategy,
            retries=0, **EXTRA,
        )
    globals()[f"dag_{{strategy}}"] = dag
'''

GT_DAG = '''"""Benchmark DAG: GenericTransfer (written by bench/scheduler.py)."""
import datetime as dt

from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer
from airflow.sdk import DAG

with DAG("generic_transfer", schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False,
         max_active_runs=1) as dag:
    GenericTransfer(
        task_id="transfer", source_conn_id="bench_src", destination_conn_id="bench_tgt", sql={sql!r},
        destination_table="dw.sched_gt", preoperator={preoperator!r}, insert_args={{"commit_every": 10_000}},
        retries=0,
    )
'''


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000000,5000000", help="comma list of source row counts")
    p.add_argument("--repeat", type=int, default=3, help="runs per method and size (median reported)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--parallelism", type=int, default=4, help="[core] parallelism of the LocalExecutor")
    p.add_argument("--chunk-size", type=int, default=None, help="MapperOperator chunk_size (default: the default)")
    p.add_argument("--code", type=Path, default=ROOT, help="directory whose airflow_mapper_provider the tasks run")
    p.add_argument("--skip-gt-above", type=int, default=None, help="no GenericTransfer above this many rows")
    p.add_argument("--json", type=Path, default=HERE / "scheduler.json")
    p.add_argument("--markdown", type=Path, default=HERE / "SCHEDULER.md")
    p.add_argument("--no-warmup", dest="warmup", action="store_false", help="no unmeasured first run per DAG")
    p.add_argument("--guard", type=float, default=3600.0, help="seconds a single run may take")
    return p.parse_args(argv)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def write_dags(stack: Stack, chunk_size: int | None) -> None:
    extra = {"chunk_size": chunk_size} if chunk_size else {}
    pre = ["DROP TABLE IF EXISTS dw.sched_gt", DDL.format(table="dw.sched_gt")]
    # one file each: a task parses only its own DAG file (a mapper task does not import common-sql)
    (stack.dags / "bench_mapper_dags.py").write_text(MAPPER_DAGS.format(sql=SOURCE_SQL, extra=extra), "utf-8")
    (stack.dags / "bench_gt_dag.py").write_text(GT_DAG.format(sql=SOURCE_SQL, preoperator=pre), "utf-8")


def timeline(stack: Stack, dag_id: str, run: dict[str, Any]) -> dict[str, Any]:
    """The run's phases from Airflow's timestamps (seconds from the run being queued)."""
    t0 = stamp(run.get("queued_at")) or stamp(run["start_date"])
    assert t0 is not None
    tis = stack.task_instances(dag_id, run["dag_run_id"])

    def rel(v: str | None) -> float | None:
        s = stamp(v)
        return None if s is None else round(s - t0, 3)

    tasks = sorted(
        ({"task": ti["task_id"], "map_index": ti.get("map_index", -1), "state": ti["state"],
          "queued": rel(ti.get("queued_when")), "start": rel(ti.get("start_date")), "end": rel(ti.get("end_date")),
          "duration": ti.get("duration")} for ti in tis),
        key=lambda t: (t["start"] or 0.0, t["map_index"]),
    )  # fmt: skip
    return {"end": rel(run["end_date"]), "state": run["state"], "tasks": tasks}


def one_run(stack: Stack, method: str, target: str, guard: float) -> dict[str, Any]:
    reset_target(target)
    execute(target, "CHECKPOINT")
    run_id, at = stack.trigger(method)
    run = stack.wait_run(method, run_id, guard)
    seen = time.time() - at
    line = timeline(stack, method, run)
    line.update(run_id=run_id, seconds=line["end"], client_seconds=round(seen, 3), load=os.getloadavg()[0])
    table = {"mapper_scd1": "dw.sched_scd1", "mapper_scd2": "dw.sched_scd2", "generic_transfer": "dw.sched_gt"}
    where = " WHERE is_current" if method == "mapper_scd2" else ""
    line["rows"] = execute(target, f"SELECT count(*) FROM {table[method]}{where}")[0][0]
    chunks = [t for t in line["tasks"] if t["task"].endswith("load_chunk")]
    line["chunks"] = len(chunks)
    return line


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = start_server()
    stack: Stack | None = None
    results: dict[str, Any] = {"runs": []}
    try:
        src, tgt = (server.dsn(server.create_database(p)) for p in ("sched_src", "sched_tgt"))
        meta = server.dsn(server.create_database("sched_airflow")).replace("postgresql://", "postgresql+psycopg://")
        results["machine"] = machine(src)
        home = Path(tempfile.mkdtemp(prefix="mapper-bench-scheduler-"))
        env = {"AIRFLOW_CONN_BENCH_SRC": src, "AIRFLOW_CONN_BENCH_TGT": tgt,
               "PYTHONPATH": os.pathsep.join([str(args.code), str(ROOT)])}  # fmt: skip
        stack = Stack(home, meta, env, args.parallelism)
        write_dags(stack, args.chunk_size)
        say(f"starting Airflow in {home} (parallelism {args.parallelism}, provider from {args.code})")
        stack.start()
        methods = args.methods.split(",")
        for dag_id in methods:
            stack.wait_for(lambda d=dag_id: stack.dag_ready(d), f"DAG {dag_id} to be parsed")
        results["provider"] = provider = stack.api("GET", "/dags/mapper_scd1")["description"]
        if not str(provider).startswith(str(args.code.resolve())):
            raise RuntimeError(f"Airflow imports the provider from {provider}, not from {args.code}")
        say(f"Airflow imports the provider from {provider}")
        if args.warmup:  # the first task runs of a fresh Airflow are slow (imports, caches): not measured
            make_source(src, 10_000)
            for method in methods:
                say(f"warm-up run of {method}: {one_run(stack, method, tgt, args.guard)['state']}")
        for size in (int(s) for s in args.sizes.split(",")):
            started = time.monotonic()
            make_source(src, size)
            say(f"source: {size:,} rows in {time.monotonic() - started:.0f} s")
            todo = [m for m in methods if not (m == "generic_transfer" and args.skip_gt_above
                                               and size > args.skip_gt_above)]  # fmt: skip
            for r in range(args.repeat):
                for method in todo:  # interleaved: each method sees the same conditions
                    line = one_run(stack, method, tgt, args.guard)
                    line.update(method=method, size=size, round=r)
                    results["runs"].append(line)
                    say(
                        f"{size:,} rows {method} round {r + 1}: {line['state']} in {line['seconds']:.1f} s "
                        f"({line['chunks']} chunk(s), {line['rows']:,} rows)"
                    )
                    json_out(args, results)
    finally:
        if stack is not None:
            stack.stop()
        server.close()
    results["settings"] = {k: str(v) for k, v in vars(args).items()}
    return results


def json_out(args: argparse.Namespace, results: dict[str, Any]) -> None:
    args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


def medians(results: dict[str, Any]) -> dict[tuple[int, str], dict[str, Any]]:
    """(size, method) -> median seconds, runs, chunks."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for line in results["runs"]:
        if line["state"] != "success":
            continue
        entry = out.setdefault((line["size"], line["method"]), {"runs": [], "chunks": line["chunks"]})
        entry["runs"].append(line["seconds"])
    for entry in out.values():
        entry["median"] = statistics.median(entry["runs"])
    return out


def phases(results: dict[str, Any], size: int, method: str) -> str:
    """Median phase times of the mapper runs: plan, chunks (first start -> last end), finalize, gaps."""
    rows = [line for line in results["runs"] if line["size"] == size and line["method"] == method
            and line["state"] == "success"]  # fmt: skip
    if not rows or method == "generic_transfer":
        return ""
    parts: dict[str, list[float]] = {}
    for line in rows:
        tasks = line["tasks"]
        plan = next(t for t in tasks if t["task"].endswith(".plan"))
        chunks = [t for t in tasks if t["task"].endswith(".load_chunk")]
        fin = next(t for t in tasks if t["task"].endswith(".finalize"))
        first, last = min(t["start"] for t in chunks), max(t["end"] for t in chunks)
        for name, value in (
            ("to plan start", plan["start"]),
            ("plan", plan["end"] - plan["start"]),
            ("to first chunk", first - plan["end"]),
            ("chunks", last - first),
            ("to finalize", fin["start"] - last),
            ("finalize", fin["end"] - fin["start"]),
            ("to run end", line["end"] - fin["end"]),
            ("chunk task (median)", statistics.median(t["end"] - t["start"] for t in chunks)),
        ):
            parts.setdefault(name, []).append(value)  # fmt: skip
    return "; ".join(f"{k} {statistics.median(v):.1f}" for k, v in parts.items())


def markdown(results: dict[str, Any], args: argparse.Namespace) -> str:
    info = results["machine"]
    med = medians(results)
    sizes = sorted({s for s, _ in med})
    lines = [
        "# End to end under a real scheduler",
        "",
        f"`python -m bench.scheduler {' '.join(_argv(args))}`: LocalExecutor, `[core] parallelism` "
        f"{args.parallelism}, metadata database, source and target on one throwaway PostgreSQL "
        f"{info['postgresql'].split()[0]} (fsync off), {info['cores']} cores. Seconds from the run being queued "
        "(trigger) to the run's end, Airflow's own timestamps; median of the runs listed. Every run is an initial "
        "load into an emptied target schema. MapperOperator with default parameters; GenericTransfer "
        "(common-sql) with `commit_every=10000` into a table with a primary key.",
        "",
        "| rows | method | chunks | seconds (median) | runs | rows/s | vs GenericTransfer |",
        "|---:|---|---:|---:|---|---:|---:|",
    ]
    for size in sizes:
        gt = med.get((size, "generic_transfer"))
        for method in METHODS:
            entry = med.get((size, method))
            if not entry:
                continue
            times = f"{gt['median'] / entry['median']:.1f}x" if gt and method != "generic_transfer" else ""
            runs = ", ".join(f"{s:.1f}" for s in entry["runs"])
            chunks = entry["chunks"] if method != "generic_transfer" else ""
            lines.append(f"| {size:,} | {method} | {chunks} | {entry['median']:.1f} | {runs} | "
                         f"{size / entry['median']:,.0f} | {times} |")  # fmt: skip
    lines += ["", "Phases of the mapper runs (medians, seconds):", ""]
    for size in sizes:
        for method in METHODS[:2]:
            if text := phases(results, size, method):
                lines.append(f"- {size:,} {method}: {text}")
    failed = [f"{r['size']:,} {r['method']} round {r['round'] + 1}" for r in results["runs"] if r["state"] != "success"]
    if failed:
        lines += ["", f"Failed runs (not in the medians): {', '.join(failed)}"]
    where = f"checkout {info['code']}; the tasks imported {results.get('provider')}"
    loads = [r["load"] for r in results["runs"] if "load" in r]
    if loads:  # other work on the machine shows here (this benchmark alone keeps it near the core count)
        where += f"; 1-minute load average at the runs' ends {min(loads):.1f}-{max(loads):.1f}"
    lines += ["", f"Machine: {info['cores']} cores, {info['ram_gb']} GB RAM, {info['platform']}; Python "
              f"{info['python']}; {where}.", ""]  # fmt: skip
    return "\n".join(lines)


def _argv(args: argparse.Namespace) -> list[str]:
    out = [f"--sizes {args.sizes}", f"--repeat {args.repeat}"]
    if args.chunk_size:
        out.append(f"--chunk-size {args.chunk_size}")
    if args.skip_gt_above:
        out.append(f"--skip-gt-above {args.skip_gt_above}")
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    results = run(args)
    json_out(args, results)
    args.markdown.write_text(markdown(results, args), encoding="utf-8")
    print(markdown(results, args))
    say(f"wrote {args.json} and {args.markdown}")


if __name__ == "__main__":
    main()
