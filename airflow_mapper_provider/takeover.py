"""Taking over an unfinished run: the next run after a crash ends with exactly the rows of a clean run.

A run whose processes died (kill -9, a lost worker, a run marked failed in the UI) leaves its committed chunks in
the target and the mapref owned. The next run of the mapref, once no task of the dead run executes
(:meth:`~airflow_mapper_provider.state.checkpoint.RunLock.take`), takes it over:

- its job log row gets the counters of what it committed (never 0 rows for rows that are there);
- same rendered query: the row is ``abandoned`` and the new run owns the dead run's unfinished work. scd1 and
  scd2 simply read everything again (idempotent). append must not load the committed chunks' rows twice: the new
  run does not read their regions again (each new chunk excludes them), their checkpoint marks count for the new
  checkpoint, and a PYTHON checkpoint continues after the committed chunk's position. The same holds for an
  append run that finished ``failed`` with some chunks committed. Clearing an abandoned run later does nothing.
- another query (a templated data interval): the row is ``failed``; its rows are its own, resumed by clearing its
  tasks (committed chunks are skipped).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.models import ChunkSpec, RunSummary
from airflow_mapper_provider.state import ChunkLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inheritance:
    """What a run takes over: regions not to read again, runs whose keys and marks count as its own, and the
    PYTHON checkpoint position to continue from."""

    regions: list[dict[str, Any]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    position: dict[str, str] | None = None


def take_over(
    ledger: ChunkLedger, target: Session, dead: str, run_id: str, fingerprint: str, strategy: str
) -> Inheritance:
    """Close the dead (or failed) run's job log row with what it committed; return what ``run_id`` inherits.

    Only append inherits regions: scd1 and scd2 re-read the dead run's rows, which is idempotent (they are
    unchanged since it wrote them) and picks up what changed since.
    """
    plan = ledger.plan_of(target, dead) or []
    status = (ledger.job_row(target, dead) or {}).get("status")
    same = bool(plan) and plan[0].get("sql_fingerprint") == fingerprint
    inherit = same and strategy == "append"
    if status == "failed" and not inherit:
        return Inheritance()  # a failed run keeps its row and stays resumable
    results = ledger.results(target, dead)
    summary = RunSummary.from_results([int(c["index"]) for c in plan], results)
    summary.status = "abandoned" if same else "failed"
    committed = [r for r in results if r.status == "success"]
    how = f"its unfinished work is run {run_id!r}'s" if same else "clear its tasks to resume it"
    ledger.finish_run(
        target, dead, summary, f"taken over by run {run_id!r} with {len(committed)} of {len(plan)} chunk(s) "
        f"committed (no task of it was executing); {how}"
    )  # fmt: skip
    log.warning(
        "run %s of %s had stopped with %d of %d chunk(s) committed: %s (%s)",
        dead, ledger.mapref, len(committed), len(plan), summary.status, how,
    )  # fmt: skip
    if not inherit:
        return Inheritance()
    first = ChunkSpec.from_dict(plan[0])
    by_index = {int(c["index"]): ChunkSpec.from_dict(c) for c in plan}
    if first.keyset is not None:  # PYTHON: one chunk; continue after its position
        marks = [r.checkpoint for r in committed if r.checkpoint]
        started = {"rows": first.keyset.get("rows", 0), "after": first.keyset.get("after")}
        position = marks[0] if marks else {"t": "json", "v": json.dumps(started, separators=(",", ":"))}
        return Inheritance([], [dead, *first.inherits], position)
    regions = [by_index[r.index].region() for r in committed if r.index in by_index] + list(first.exclude)
    return Inheritance(regions, [dead, *first.inherits])
