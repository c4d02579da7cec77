"""Counters and timings through Airflow's metrics (``Stats``: statsd or OpenTelemetry, as Airflow is configured).

Emitted by the task that knows the numbers, once each:

- a committed chunk (``load_chunk``, not a chunk replayed from the ledger): its rows per strategy and counter,
  its rejected rows, its duration and its rate;
- a chunk that failed or was stopped: one count;
- the run (``finalize``): its outcome, its rows deleted (``detect_deletes``) and its duration.

Names (statsd; Airflow adds its ``[metrics] statsd_prefix``, ``airflow.`` by default), with the tags ``mapref``,
``strategy`` and ``dag_id`` where the metrics backend takes tags (Datadog, OpenTelemetry):

=========================================== ======= ===================================================
``mapper.rows.<strategy>.<counter>``        counter a committed chunk's ``read``, ``inserted``, ``updated``,
                                                    ``expired``, ``unchanged`` rows (strategy ``append``,
                                                    ``scd1``, ``scd2``)
``mapper.rows_rejected``                    counter rows a committed chunk wrote to ``mapper_rejects``
``mapper.chunk.duration``                   timer   a committed chunk's seconds (read + apply + commit)
``mapper.chunk.rows_per_s``                 gauge   a committed chunk's rows read per second of its duration
``mapper.chunk.failed``                     counter a chunk that failed or was stopped (one per try)
``mapper.run.<status>``                     counter a finalized run: ``success``, ``failed``, ``abandoned``
``mapper.rows_deleted``                     counter rows a successful run deleted or closed (detect_deletes)
``mapper.run.duration``                     timer   from the DAG run's start to the end of finalize
=========================================== ======= ===================================================

A metrics call never fails a task: an error is logged once at debug level and ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.models import ChunkResult, RunSummary

log = logging.getLogger(__name__)

PREFIX = "mapper"
#: ChunkResult field -> the counter's last name part.
CHUNK_COUNTERS = {
    "rows_read": "read",
    "rows_inserted": "inserted",
    "rows_updated": "updated",
    "rows_expired": "expired",
    "rows_unchanged": "unchanged",
}


def _stats() -> Any:
    try:
        from airflow.providers.common.compat.sdk import Stats
    except ImportError:  # an older common-compat provider
        from airflow.stats import Stats  # type: ignore[no-redef,attr-defined,unused-ignore]
    return Stats


def tags(cfg: MapperConfig, dag_id: str | None) -> dict[str, str]:
    return {"mapref": cfg.mapref, "strategy": cfg.load_strategy, "dag_id": dag_id or ""}


def chunk_metrics(cfg: MapperConfig, result: ChunkResult) -> list[tuple[str, str, float]]:
    """What a chunk reports, as ``(kind, name, value)`` (kind ``incr``, ``timing`` in seconds, ``gauge``); nothing
    for a chunk replayed from the ledger (its numbers were reported when it committed)."""
    if result.from_ledger or result.status != "success":
        return []
    out = [("incr", f"{PREFIX}.rows.{cfg.load_strategy}.{name}", float(getattr(result, field)))
           for field, name in CHUNK_COUNTERS.items()]  # fmt: skip
    out.append(("incr", f"{PREFIX}.rows_rejected", float(result.rows_rejected)))
    seconds = result.seconds_total or (result.seconds_read + result.seconds_apply)
    out.append(("timing", f"{PREFIX}.chunk.duration", seconds))
    if seconds > 0:
        out.append(("gauge", f"{PREFIX}.chunk.rows_per_s", result.rows_read / seconds))
    return out


def run_metrics(summary: RunSummary, started_at: dt.datetime | None, now: dt.datetime) -> list[tuple[str, str, float]]:
    """What finalize reports for the run."""
    out = [("incr", f"{PREFIX}.run.{summary.status}", 1.0)]
    if summary.status == "success":
        out.append(("incr", f"{PREFIX}.rows_deleted", float(summary.rows_deleted)))
    if started_at is not None:
        out.append(("timing", f"{PREFIX}.run.duration", max((now - started_at).total_seconds(), 0.0)))
    return out


def emit(metrics: list[tuple[str, str, float]], metric_tags: dict[str, str]) -> None:
    """Send ``metrics`` through Airflow's ``Stats``; never raises."""
    try:
        stats = _stats()
        for kind, name, value in metrics:
            if kind == "incr":
                if value > 0:
                    stats.incr(name, count=int(value), tags=metric_tags)
            elif kind == "timing":
                stats.timing(name, dt.timedelta(seconds=value), tags=metric_tags)
            else:
                stats.gauge(name, value, tags=metric_tags)
    except Exception:
        log.debug("mapper metrics: not sent", exc_info=True)


def chunk_done(cfg: MapperConfig, result: ChunkResult, dag_id: str | None) -> None:
    emit(chunk_metrics(cfg, result), tags(cfg, dag_id))


def chunk_failed(cfg: MapperConfig, dag_id: str | None) -> None:
    emit([("incr", f"{PREFIX}.chunk.failed", 1.0)], tags(cfg, dag_id))


def run_done(cfg: MapperConfig, summary: RunSummary, started_at: dt.datetime | None, dag_id: str | None) -> None:
    emit(run_metrics(summary, started_at, dt.datetime.now(dt.timezone.utc)), tags(cfg, dag_id))
