"""Print the demo warehouse's job log, chunk ledger summary and dim_customer versions (standard library only).

python scripts/show_joblog.py --db .demo/warehouse.db [--table dim_customer] [--chunks]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import sys
from collections.abc import Sequence

JOBLOG_SQL = """
SELECT run_id, status, chunks_succeeded || '/' || chunks_planned, rows_read, rows_inserted, rows_updated,
       rows_expired, rows_unchanged, started_at, finished_at
FROM mapper_joblog ORDER BY started_at, run_id
"""
JOBLOG_HEAD = ("run_id", "status", "chunks", "read", "inserted", "updated", "expired", "unchanged", "seconds")

CHUNKS_SQL = """
SELECT run_id, chunk_index, status, lower_bound, upper_bound, path, rows_read, rows_inserted, rows_updated,
       rows_unchanged, seconds_read + seconds_apply
FROM mapper_chunklog ORDER BY run_id, chunk_index
"""
CHUNKS_HEAD = ("run_id", "chunk", "status", "from", "to", "path", "read", "inserted", "updated", "unchanged",
               "seconds")  # fmt: skip


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain text table; numbers right-aligned, text left-aligned."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(head)]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(head))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(r) for r in cells)])


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _seconds(started: object, finished: object) -> float | str:
    try:
        a = dt.datetime.fromisoformat(str(started))
        b = dt.datetime.fromisoformat(str(finished))
    except ValueError:
        return ""
    return (b - a).total_seconds()


def _short(run_id: str) -> str:
    """'manual__2026-11-23T21:30:01.123456+00:00' -> 'manual__2026-11-23T21:30:01'."""
    return run_id.split(".")[0].split("+")[0]


def show_joblog(db: sqlite3.Connection) -> None:
    rows = [(_short(r[0]), *r[1:8], _seconds(r[8], r[9])) for r in db.execute(JOBLOG_SQL)]
    print(f"mapper_joblog ({len(rows)} run(s)):")
    print(table(JOBLOG_HEAD, rows))


def show_chunks(db: sqlite3.Connection) -> None:
    rows = [(_short(r[0]), *r[1:]) for r in db.execute(CHUNKS_SQL)]
    print(f"\nmapper_chunklog ({len(rows)} chunk(s)):")
    print(table(CHUNKS_HEAD, rows))


def show_versions(db: sqlite3.Connection, name: str) -> None:
    total, current = db.execute(f"SELECT COUNT(*), SUM(is_current = 1) FROM {name}").fetchone()  # noqa: S608
    keys = db.execute(
        f"SELECT COUNT(*), SUM(n > 1) FROM (SELECT COUNT(*) AS n FROM {name} GROUP BY customer_id)"  # noqa: S608
    ).fetchone()
    print(f"\n{name}: {total:,} rows, {current:,} current, {total - current:,} expired versions; "
          f"{keys[0]:,} customers, {keys[1] or 0:,} with history")  # fmt: skip
    sample = db.execute(
        f"SELECT customer_id FROM {name} GROUP BY customer_id HAVING COUNT(*) > 1 "  # noqa: S608
        "ORDER BY customer_id LIMIT 1"
    ).fetchone()
    if sample:
        rows = db.execute(
            f"SELECT customer_id, name, valid_from, valid_to, is_current FROM {name} "  # noqa: S608
            "WHERE customer_id = ? ORDER BY valid_from",
            sample,
        ).fetchall()
        print(f"\nhistory of customer_id {sample[0]}:")
        print(table(("customer_id", "name", "valid_from", "valid_to", "is_current"), rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default=os.path.join(".demo", "warehouse.db"), help="default %(default)s")
    parser.add_argument("--table", default="dim_customer", help="the scd2 target (default %(default)s)")
    parser.add_argument("--chunks", action="store_true", help="also list every chunk from mapper_chunklog")
    args = parser.parse_args()
    if not args.table.isidentifier():
        sys.exit(f"--table {args.table!r}: give a plain table name")
    if not os.path.exists(args.db):
        sys.exit(f"{args.db} does not exist: run bash scripts/demo first")
    with sqlite3.connect(f"file:{args.db}?mode=ro", uri=True) as db:
        show_joblog(db)
        if args.chunks:
            show_chunks(db)
        show_versions(db, args.table)


if __name__ == "__main__":
    main()
