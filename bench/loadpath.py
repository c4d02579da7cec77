"""The load path through ``dag.test()`` against the raw binary COPY pipe, Airflow's fixed start-up subtracted.

    .venv/bin/python -m bench.loadpath                          # 1M rows, 3 rounds, this checkout
    .venv/bin/python -m bench.loadpath --code /path/to/before   # also the provider of another checkout (A/B)

Each round runs, per checkout, one child process with MapperOperator DAGs of default parameters through
``dag.test()``: for scd1 and scd2, the raw pipe (``COPY (SELECT ...) TO STDOUT`` into ``COPY ... FROM STDIN`` of a
table with a primary key), a 1-row run (Airflow's fixed cost: three tasks, the plan's and the chunk's fixed
statements) and the initial load of the whole source, one right after the other, each into an emptied target
schema. The load path ratio is ``raw seconds / (full run - 1-row run)`` of each such triple (so that a machine
whose load drifts, as a shared one does, compares like with like); medians over the rounds. Rounds interleave the
checkouts. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import SOURCE_SQL, execute, machine, make_source, reset_target
from bench.methods import raw_copy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STRATEGIES = ("scd1", "scd2")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--code", type=Path, action="append", default=[], help="another checkout to measure too")
    p.add_argument("--json", type=Path, default=HERE / "loadpath.json")
    p.add_argument("--also-slots", type=int, default=0, help="also a run with max_active_chunks=N (N chunks)")
    p.add_argument("--child", nargs=3, metavar=("SOURCE", "TARGET", "SLOTS"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# ---- the child: dag.test() runs of one checkout -------------------------------------------------------------
def child(source: str, target: str, slots: str) -> None:
    home = tempfile.mkdtemp(prefix="mapper-bench-loadpath-")
    os.environ.update(AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False",
                      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
                      AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING", AIRFLOW_CONN_BENCH_SRC=source,
                      AIRFLOW_CONN_BENCH_TGT=target)  # fmt: skip
    from airflow.utils import db

    import airflow_mapper_provider

    db.resetdb()
    sizes = ("one", "all", *([f"all{slots}"] if int(slots) else []))
    dags = {(s, size): _dag(s, size) for s in STRATEGIES for size in sizes}
    reset_target(target)
    _timed(dags[("scd1", "one")], target)  # warm-up: first imports and caches
    out: dict[str, Any] = {"provider": airflow_mapper_provider.__file__, "runs": {}}
    for strategy in STRATEGIES:
        reset_target(target)
        out["runs"][f"{strategy} raw"] = {"seconds": round(raw_copy(source, target)[1], 3)}
        for size in sizes:
            reset_target(target)
            execute(target, "CHECKPOINT")
            out["runs"][f"{strategy} {size}"] = _timed(dags[(strategy, size)], target)
    print(json.dumps(out))


def _dag(strategy: str, size: str) -> Any:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator
    from tests.dag.conftest import serialize

    sql = SOURCE_SQL + (" WHERE customer_id <= 1" if size == "one" else "")
    slots = {"max_active_chunks": int(size[3:])} if size[3:] else {}  # "all4": max_active_chunks=4
    with DAG(f"lp_{strategy}_{size}", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
        MapperOperator(
            task_id="load", source_conn_id="bench_src", target_conn_id="bench_tgt", source_sql=sql,
            target_table=f"dw.lp_{strategy}_{size}", key_columns=["customer_id"], load_strategy=strategy, retries=0,
            **slots,
        )  # fmt: skip
    serialize(dag)
    return dag


def _timed(dag: Any, target: str) -> dict[str, Any]:
    started = time.monotonic()
    run = dag.test()
    seconds = time.monotonic() - started
    state = getattr(run.state, "value", run.state)
    rows = execute(target, "SELECT rows_read, chunks_planned FROM dw.mapper_joblog WHERE run_id = %(r)s",
                   {"r": run.run_id})  # fmt: skip
    paths = execute(target, "SELECT DISTINCT path FROM dw.mapper_chunklog WHERE run_id = %(r)s", {"r": run.run_id})
    return {"seconds": round(seconds, 3), "state": str(state), "rows": rows[0][0] if rows else None,
            "chunks": rows[0][1] if rows else None, "paths": sorted(p[0] for p in paths)}  # fmt: skip


# ---- the parent -------------------------------------------------------------------------------------------
def run_child(code: Path, source: str, target: str, slots: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(code), str(ROOT)])
    argv = [sys.executable, "-m", "bench.loadpath", "--child", source, target, str(slots)]
    # cwd outside any checkout: ``python -m`` puts the working directory first on sys.path
    done = subprocess.run(argv, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"child for {code} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["provider"].startswith(str(code.resolve())):
        raise RuntimeError(f"child imported {result['provider']}, not the provider of {code}")
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.child:
        child(*args.child)
        return
    from tests.pgserver import start_server

    codes = [ROOT, *args.code]
    server = start_server()
    rounds: list[dict[str, Any]] = []
    try:
        src, tgt = (server.dsn(server.create_database(p)) for p in ("lp_src", "lp_tgt"))
        info = machine(src)
        make_source(src, args.rows)
        for r in range(args.rounds):
            entry: dict[str, Any] = {"codes": {}}
            for code in codes:
                got = run_child(code, src, tgt, args.also_slots)
                entry["codes"][str(code)] = got
                say(f"round {r + 1}: {code}: " + ", ".join(f"{k} {v['seconds']:.2f} s" + (
                    f" ({v['chunks']} chunks)" if "chunks" in v else "") for k, v in got["runs"].items()))  # fmt: skip
            rounds.append(entry)
    finally:
        server.close()
    summary = summarize(rounds, codes, args.also_slots)
    args.json.write_text(json.dumps({"machine": info, "rows": args.rows, "rounds": rounds, "summary": summary},
                                    indent=1), encoding="utf-8")  # fmt: skip
    print(text(summary, args.rows))


def summarize(rounds: list[dict[str, Any]], codes: list[Path], slots: int = 0) -> dict[str, Any]:
    """Per checkout and strategy: median raw, full and 1-row seconds, and the median of the per-triple ratios."""
    out: dict[str, Any] = {"codes": {}}
    for code in codes:
        per: dict[str, Any] = {}
        for strategy, size in [(s, z) for s in STRATEGIES for z in ("all", *([f"all{slots}"] if slots else []))]:
            runs = [r["codes"][str(code)]["runs"] for r in rounds]
            raw = [x[f"{strategy} raw"]["seconds"] for x in runs]
            full = [x[f"{strategy} {size}"]["seconds"] for x in runs]
            one = [x[f"{strategy} one"]["seconds"] for x in runs]
            ratios = [r / max(f - o, 1e-3) for r, f, o in zip(raw, full, one, strict=True)]
            name = strategy if size == "all" else f"{strategy}, max_active_chunks={slots}"
            per[name] = {"raw": statistics.median(raw), "full": statistics.median(full),
                             "one": statistics.median(one), "ratio": statistics.median(ratios),
                             "ratios": [round(x, 3) for x in ratios],
                             "chunks": runs[-1][f"{strategy} {size}"]["chunks"]}  # fmt: skip
        out["codes"][str(code)] = per
    return out


def text(summary: dict[str, Any], rows: int) -> str:
    lines = [f"{rows:,} rows, medians; ratio = raw pipe / (dag.test() - 1-row run), per triple",
             "| checkout | strategy | chunks | raw pipe s | dag.test() s | 1-row run s | vs raw pipe | per round |",
             "|---|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for code, per in summary["codes"].items():
        for strategy, v in per.items():
            per_round = ", ".join(map(str, v["ratios"]))
            lines.append(f"| {code} | {strategy} | {v['chunks']} | {v['raw']:.2f} | {v['full']:.2f} | {v['one']:.2f} | "
                         f"{v['ratio']:.2f} | {per_round} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
