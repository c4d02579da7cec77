"""Run one chunk of a run in its own process, as a load_chunk task would, so a test can kill it.

    python -m tests.fault.chunk_worker '<json job>'

The job (see :func:`job_args`) names the source and target URIs, the config, the chunk, the rendered query, the
run id and the attempt. The worker prints ``started`` once its sessions are open (just before the chunk's first
statement) and ``result <json>`` when the chunk returned, then lingers a moment as a task runner would while it
pushes the XCom and reports success (a kill then lands "right after commit"). With ``slow`` it sets the session
setting ``fault.slow``, which the tests' source function and target trigger read to make each phase last long
enough to be hit. Production code knows nothing about this process or that setting.
"""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import connect
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec


def job_args(
    source_uri: str,
    target_uri: str,
    cfg: MapperConfig,
    chunk: dict[str, Any],
    sql: str,
    run_id: str,
    attempt: int = 1,
    slow: bool = True,
    linger: float = 0.5,
) -> str:
    """The worker's command-line argument."""
    data = {"source": source_uri, "target": target_uri, "config": cfg.to_dict(), "chunk": chunk, "sql": sql,
            "run_id": run_id, "attempt": attempt, "slow": slow, "linger": linger}  # fmt: skip
    return json.dumps(data)


def connection(conn_id: str, uri: str) -> SimpleNamespace:
    """The attributes of an Airflow Connection that :func:`db.connect` reads (no Airflow import: fast start)."""
    p = conninfo_to_dict(uri)
    return SimpleNamespace(conn_id=conn_id, conn_type="postgres", host=p.get("host"), port=int(p.get("port") or 5432),
                           login=p.get("user"), password=p.get("password"), schema=p.get("dbname"),
                           extra_dejson={})  # fmt: skip


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    src = connect(connection("src", job["source"]), "source")
    tgt = connect(connection("tgt", job["target"]), "target")
    cfg = MapperConfig.from_dict(job["config"])
    spec = ChunkSpec.from_dict(job["chunk"])
    if job.get("slow"):
        for sess in (src, tgt):
            sess.execute("SET fault.slow = 'on'")
            sess.commit()
    chunk = ChunkJob(cfg, spec, job["sql"], job["run_id"], int(job["attempt"]), src, tgt)
    print("started", flush=True)
    result = chunk.run()
    print("result " + json.dumps(result.to_dict()), flush=True)
    time.sleep(float(job.get("linger") or 0))
    src.close()
    tgt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
