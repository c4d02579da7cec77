"""The run meets the data platform: OpenLineage (file transport), an asset event, statsd metrics, from one real
dag.test() run in a process of its own (tests/dag/platform_runner.py) whose Airflow configuration comes from the
environment, as a deployment's would.

One run of a 2-chunk scd1 load (3,000 rows, PostgreSQL to PostgreSQL) with ``outlets=[Asset(...)]``, then one
run with the same outlet whose plan fails (its source table does not exist):

- OpenLineage: finalize's COMPLETE event has the source table ``customers`` as input (parsed from source_sql,
  namespace ``postgres://host:port``, name ``mapper_src_<n>.public.customers``, inputStatistics = rows read), the
  target ``<db>.dw.customers`` as output with outputStatistics = rows written and a schema facet, the query as the
  job's sql facet and the ``mapper`` run facet with every counter; plan and load_chunk events carry no dataset
  statistics (nothing counted twice);
- the asset: one event, from finalize, its extra holding the run's totals;
- statsd: a UDP socket in this test receives ``airflow.mapper.rows.scd1.inserted`` (summing to the rows inserted
  over the chunks), ``airflow.mapper.chunk.duration`` (one timer per chunk), ``airflow.mapper.chunk.rows_per_s``,
  ``airflow.mapper.run.success``;
- the failed run: no asset event, ``airflow.mapper.run.failed``, finalize's FAIL event without statistics.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CUSTOMER_COLUMNS, make_customers

pytestmark = [pytest.mark.pg, pytest.mark.dag]

REPO = Path(__file__).resolve().parents[2]
ROWS = 3000
GUARD_S = 180


class StatsdListener:
    """Collects statsd datagrams (``name:value|type``) sent to 127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.lines.extend(data.decode(errors="replace").splitlines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def values(self, name: str) -> list[tuple[float, str]]:
        out = []
        for line in self.lines:
            stat, _, rest = line.partition(":")
            if stat == name:
                value, _, kind = rest.partition("|")
                out.append((float(value), kind.split("|")[0]))
        return out


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _run(tmp_path: Path, pg_dbs: Any, statsd_port: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ol_file = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_CONN_MAPPER_SRC": pg_dbs.source_uri,
        "AIRFLOW_CONN_MAPPER_TGT": pg_dbs.target_uri,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(ol_file), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "mapper-test",
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd_port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
    }
    load = {
        "source_sql": f"SELECT {CUSTOMER_COLUMNS} FROM customers", "target_table": "dw.customers",
        "key_columns": ["customer_id"], "load_strategy": "scd1", "chunk_size": ROWS // 2, "min_rows_for_parallel": 100,
    }  # fmt: skip
    failing = {**load, "source_sql": "SELECT customer_id FROM no_such_table", "target_table": "dw.other"}
    job = {"asset_uri": "postgres://warehouse:5432/dw_db/dw/customers",
           "runs": [{"dag_id": "platform_dag", **load}, {"dag_id": "platform_fail", **failing}]}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "tests.dag.platform_runner", json.dumps(job)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=GUARD_S)  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("result ")]
    tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0 and lines, f"runner failed ({proc.returncode}):\n{tail}"
    return json.loads(lines[-1][len("result ") :]), _events(ol_file)


@pytest.fixture
def platform_run(tmp_path: Path, pg_dbs: Any, airflow_db: None) -> Any:
    make_customers(pg_dbs.source_dsn, ROWS)
    listener = StatsdListener()
    try:
        result, events = _run(tmp_path, pg_dbs, listener.port)
        yield result, events, listener, pg_dbs
    finally:
        listener.close()


def platform_report(statsd: StatsdListener) -> None:
    """Dump what was received (for the test log: the metric names as a statsd server sees them)."""
    names = sorted({line.partition(":")[0] for line in statsd.lines if line.startswith("airflow.mapper")})
    print("statsd mapper metrics:", ", ".join(names))


def _job_events(events: list[dict[str, Any]], suffix: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["job"]["name"].endswith(suffix) and e["eventType"] == kind]


def test_platform_run(platform_run: Any) -> None:
    result, events, statsd, dbs = platform_run
    ok, failed = result["runs"]
    assert ok["state"] == "success" and failed["state"] == "failed", result
    check_failed_run(result, events, statsd)
    events = [e for e in events if e["job"]["name"].startswith("platform_dag.")]

    # --- OpenLineage: one COMPLETE event of finalize with the run's totals
    done = _job_events(events, "load.finalize", "COMPLETE")
    assert len(done) == 1, [(e["job"]["name"], e["eventType"]) for e in events]
    event = done[0]
    mapper = event["run"]["facets"]["mapper"]
    assert mapper["status"] == "success" and mapper["chunksPlanned"] == 2 and mapper["chunksSucceeded"] == 2
    assert mapper["counters"]["rows_read"] == ROWS and mapper["counters"]["rows_inserted"] == ROWS
    host_port = f"postgres://{dbs.source_uri.split('@')[1].split('/')[0]}"
    [source] = event["inputs"]
    assert source["namespace"] == host_port
    assert source["name"] == f"{dbs.source_db}.public.customers"
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == ROWS
    [target] = event["outputs"]
    assert target["namespace"] == host_port and target["name"] == f"{dbs.target_db}.dw.customers"
    assert target["outputFacets"]["outputStatistics"]["rowCount"] == ROWS
    fields = [f["name"] for f in target["facets"]["schema"]["fields"]]
    assert fields == [c.strip() for c in CUSTOMER_COLUMNS.split(",")]
    assert "FROM customers" in event["job"]["facets"]["sql"]["query"]
    start = _job_events(events, "load.finalize", "START")
    assert start and "outputStatistics" not in start[0]["outputs"][0].get("outputFacets", {})
    for task in ("load.plan", "load.load_chunk"):  # no dataset statistics of their own: nothing counted twice
        for e in [e for e in events if e["job"]["name"].endswith(task)]:
            assert not any("outputStatistics" in (o.get("outputFacets") or {}) for o in e.get("outputs", [])), e

    # --- the asset event: one, from finalize, with the run's totals
    [asset_event] = result["events"]
    assert asset_event["task_id"] == "load.finalize" and asset_event["run_id"] == ok["run_id"]
    extra = asset_event["extra"]
    assert extra["status"] == "success" and extra["rows_inserted"] == ROWS and extra["rows_read"] == ROWS
    assert extra["chunks_succeeded"] == 2 and extra["target_table"] == "dw.customers"

    # --- statsd
    platform_report(statsd)
    inserted = statsd.values("airflow.mapper.rows.scd1.inserted")
    assert sum(v for v, _ in inserted) == ROWS and {k for _, k in inserted} == {"c"}
    assert sum(v for v, _ in statsd.values("airflow.mapper.rows.scd1.read")) == ROWS
    durations = statsd.values("airflow.mapper.chunk.duration")
    assert len(durations) == 2 and all(k == "ms" and v >= 0 for v, k in durations)
    rates = statsd.values("airflow.mapper.chunk.rows_per_s")
    assert len(rates) == 2 and all(k == "g" and v > 0 for v, k in rates)
    assert statsd.values("airflow.mapper.run.success") == [(1.0, "c")]
    assert len(statsd.values("airflow.mapper.run.duration")) == 2  # both runs


def check_failed_run(result: dict[str, Any], events: list[dict[str, Any]], statsd: StatsdListener) -> None:
    """The run whose plan failed (its source table does not exist): finalize writes the job log and fails; no asset
    event, a ``mapper.run.failed`` count, and finalize's FAIL event carries the datasets without statistics."""
    assert result["runs"][1]["state"] == "failed"
    assert [e["run_id"] for e in result["events"]] == [result["runs"][0]["run_id"]]  # the successful run's only
    assert statsd.values("airflow.mapper.run.failed") == [(1.0, "c")]
    [fail] = _job_events([e for e in events if e["job"]["name"].startswith("platform_fail.")], "load.finalize", "FAIL")
    assert fail["run"]["facets"]["mapper"]["status"] == "failed"
    [target] = fail["outputs"]
    assert target["name"].endswith(".dw.other") and "outputStatistics" not in (target.get("outputFacets") or {})
    ok_events = [e for e in events if e["job"]["name"].startswith("platform_dag.")]
    assert not _job_events(ok_events, "load.finalize", "FAIL")  # the successful run has none
