"""The result table: rows/s, ratio to the raw COPY pipe, and the issue's targets as PASS/GAP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.scenarios import Row

RSS_LIMIT_MB = 250.0
PLAN_LIMIT_S = 2.0


@dataclass(frozen=True)
class Check:
    """One target applied to one row: ``ok`` and the text shown (e.g. ``PASS >=0.60 raw (0.71)``)."""

    ok: bool
    text: str


def _check(ok: bool, target: str, value: str) -> Check:
    return Check(ok, f"{'PASS' if ok else 'GAP'} {target} ({value})")


def checks(row: Row, rows: Sequence[Row]) -> list[Check]:
    """The targets that apply to ``row`` (issue 5), evaluated against the other rows of the same run."""
    raw = next((r for r in rows if r.section == "limit"), None)
    gt = next((r for r in rows if r.section == "Airflow GenericTransfer"), None)
    out: list[Check] = []
    if row.section == "planning" and "now" in row.method:
        out.append(_check(row.seconds < PLAN_LIMIT_S, f"< {PLAN_LIMIT_S:.0f} s", f"{row.seconds:.2f} s"))
    if row.section == "chunk peak RSS" and row.rows:
        mb = float(row.extra["peak_mb"])
        out.append(_check(mb < RSS_LIMIT_MB, f"< {RSS_LIMIT_MB:.0f} MB", f"{mb:.0f} MB"))
    strategy, _, step = row.method.partition(" ")
    if step == "initial" and raw:
        floor = {"scd1": 0.60, "scd2": 0.45}.get(strategy)
        ratio = row.rows_per_s / raw.rows_per_s
        if floor is not None:
            out.append(_check(ratio >= floor, f">= {floor:.2f} x raw COPY", f"{ratio:.2f}"))
        if gt:
            times = row.rows_per_s / gt.rows_per_s
            out.append(_check(times >= 8, ">= 8x GenericTransfer", f"{times:.1f}x"))
    if step.endswith("KEY checkpoint"):
        initial = next((r for r in rows if r.section == row.section and r.method == f"{strategy} initial"), None)
        if initial:
            speedup = initial.seconds / row.seconds
            out.append(_check(speedup >= 20, ">= 20x faster than initial", f"{speedup:.1f}x"))
    return out


def ratio(row: Row, rows: Sequence[Row]) -> float | None:
    raw = next((r for r in rows if r.section == "limit"), None)
    if not raw or not row.rows or row.section in ("planning", "chunk peak RSS"):
        return None
    return row.rows_per_s / raw.rows_per_s


def _cells(row: Row, rows: Sequence[Row]) -> list[str]:
    r = ratio(row, rows)
    value = f"{row.extra['peak_mb']:.0f} MB peak" if "peak_mb" in row.extra else f"{row.rows_per_s:,.0f}"
    return [
        row.section,
        row.method,
        f"{row.rows:,}",
        f"{row.seconds:.2f}",
        value,
        "" if r is None else f"{r:.2f}",
        "; ".join(c.text for c in checks(row, rows)),
    ]


HEADER = ["section", "method", "rows", "seconds (median)", "rows/s", "vs raw COPY", "targets"]


def text_table(rows: Sequence[Row]) -> str:
    cells = [HEADER] + [_cells(r, rows) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    cells = [_cells(r, rows) for r in rows]
    head = "| " + " | ".join(HEADER) + " |\n|" + "---|" * 2 + "---:|" * 4 + "---|\n"
    return head + "\n".join("| " + " | ".join(c) + " |" for c in cells)


def machine_text(machine: dict[str, Any]) -> str:
    pg = machine["pg_settings"]
    return (
        f"{machine['cores']} cores ({machine['cpu']}), {machine['ram_gb']} GB RAM, {machine['platform']}; "
        f"PostgreSQL {machine['postgresql']} (source and target databases on one server; fsync={pg.get('fsync')}, "
        f"synchronous_commit={pg.get('synchronous_commit')}, shared_buffers={pg.get('shared_buffers')} x 8kB, "
        f"work_mem={pg.get('work_mem')} kB); Python {machine['python']}; code {machine.get('code', '?')}"
    )


def to_json(rows: Sequence[Row], machine: dict[str, Any], args: dict[str, Any]) -> str:
    items = []
    for r in rows:
        items.append({
            "section": r.section, "method": r.method, "rows": r.rows, "seconds": round(r.seconds, 3),
            "runs": [round(s, 3) for s in r.runs], "rows_per_s": round(r.rows_per_s),
            "ratio_to_raw_copy": ratio(r, rows),
            "targets": [{"ok": c.ok, "text": c.text} for c in checks(r, rows)], "note": r.note, "extra": r.extra,
        })  # fmt: skip
    return json.dumps({"machine": machine, "args": args, "results": items}, indent=1, default=str)
