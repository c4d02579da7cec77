"""Peak RSS of a chunk-load process: a fresh interpreter loads exactly one chunk of 10k, 100k or 1M rows.

The parent plans a single-chunk run (source limited to ``customer_id <= size``), then starts
``python -m bench.rss --child ...``, which runs one ChunkJob and reports its own ``ru_maxrss`` as JSON. A child
that only imports the same modules gives the baseline (interpreter + psycopg + the provider).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

from bench.data import SOURCE_SQL, reset_target
from bench.methods import EFFECTIVE, load_chunk, mapper_config, pg_session
from bench.scenarios import Row

SIZES = (10_000, 100_000, 1_000_000)


def _sql(size: int) -> str:
    return f"{SOURCE_SQL} WHERE customer_id <= {int(size)}"


def _child(args: argparse.Namespace) -> None:
    started = time.monotonic()
    # a chunk task process has Airflow's Task SDK and the operator imported: count them in the peak too
    import airflow_mapper_provider.operators.load  # noqa: F401

    result: dict[str, Any] = {}
    if args.size:
        cfg = mapper_config(args.strategy, args.table, args.mapref, max(args.size, 1_000_000))
        result = load_chunk((cfg, json.loads(args.chunk), _sql(args.size), "rss", args.source, args.target))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_mb": peak_kb / 1024, "rows": result.get("rows_read", 0),
                      "path": result.get("path"), "seconds": time.monotonic() - started}))  # fmt: skip


def _spawn(source: str, target: str, strategy: str, size: int, chunk: dict[str, Any], mapref: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.rss", "--child", "--source", source, "--target", target,
            "--strategy", strategy, "--size", str(size), "--chunk", json.dumps(chunk),
            "--table", f"dw.rss_{strategy}", "--mapref", mapref]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def rss_rows(source: str, target: str, sizes: tuple[int, ...]) -> list[Row]:
    """One row per (strategy, chunk size), plus the import baseline; ``rows`` is the chunk size, the seconds are
    the child's wall time, the peak RSS is in ``extra``."""
    from airflow_mapper_provider.planner import plan_run

    base = _spawn(source, target, "scd1", 0, {}, "none")
    out = [Row("chunk peak RSS", "baseline: Airflow Task SDK + operator imported", 0, [base["seconds"]], "",
               {"peak_mb": round(base["peak_mb"], 1)})]  # fmt: skip
    for strategy in ("scd1", "scd2", "append"):
        for size in sizes:
            reset_target(target)
            mapref = f"bench.rss.{strategy}.{size}"
            cfg = mapper_config(strategy, f"dw.rss_{strategy}", mapref, max(size, 1_000_000))
            with pg_session(source) as src, pg_session(target) as tgt:
                chunks = plan_run(cfg, _sql(size), "rss", EFFECTIVE, 1024, src, tgt)
            assert len(chunks) == 1, chunks
            got = _spawn(source, target, strategy, size, chunks[0], mapref)
            extra = {"peak_mb": round(got["peak_mb"], 1), "path": got["path"]}
            out.append(Row("chunk peak RSS", f"{strategy} one chunk of {size:,} rows", got["rows"], [got["seconds"]],
                           f"path {got['path']}", extra))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--strategy", default="scd1")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--chunk", default="{}")
    parser.add_argument("--table", default="dw.rss")
    parser.add_argument("--mapref", default="bench.rss")
    _child(parser.parse_args())


if __name__ == "__main__":
    main()
