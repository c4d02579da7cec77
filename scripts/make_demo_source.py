"""Create or change the demo's SQLite source database (standard library only).

    python scripts/make_demo_source.py --db .demo/source.db            # (re)create: 100,000 customers
    python scripts/make_demo_source.py --db .demo/source.db --change   # ~1% renamed, 500 new customers

The table layout must stay in sync with ``source_sql`` in ``dags/mapper_demo.py``:
customers(customer_id INTEGER PRIMARY KEY, name, email, country, balance NUMERIC, updated_at TEXT).
Both modes are deterministic (fixed seeds), so the demo prints the same counts on every run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus"]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Wirth",
]
COUNTRIES = ["DE", "FR", "NL", "US", "GB", "IT", "ES", "SE", "PL", "JP", "BR", "IN"]

DDL = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    country     TEXT NOT NULL,
    balance     NUMERIC NOT NULL,
    updated_at  TEXT NOT NULL
)
"""
INSERT = "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)"  # the columns in DDL order
BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
CHANGE_TIME = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
Row = tuple[int, str, str, str, float, str]


def customer(rng: random.Random, customer_id: int, when: dt.datetime) -> Row:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    # Balances always carry cents: the portable path infers the column type from sampled values.
    balance = round(rng.randrange(0, 1_000_000) + rng.randrange(1, 100) / 100, 2)
    stamp = (when - dt.timedelta(seconds=rng.randrange(0, 86_400 * 30))).isoformat(timespec="seconds")
    email = f"{first}.{last}.{customer_id}@example.com".lower()
    return customer_id, f"{first} {last}", email, rng.choice(COUNTRIES), balance, stamp


def customers(rng: random.Random, first_id: int, count: int, when: dt.datetime) -> Iterator[Row]:
    for customer_id in range(first_id, first_id + count):
        yield customer(rng, customer_id, when)


def create(path: str, rows: int) -> None:
    if os.path.exists(path):
        os.remove(path)
    with sqlite3.connect(path) as db:
        db.execute(DDL)
        db.executemany(INSERT, customers(random.Random(42), 1, rows, BASE_TIME))
    print(f"created {path}: customers with {rows:,} rows")


def change(path: str, renamed_share: float, new_rows: int) -> None:
    if not os.path.exists(path):
        sys.exit(f"{path} does not exist: run without --change first")
    rng = random.Random(7)
    with sqlite3.connect(path) as db:
        (total, max_id) = db.execute("SELECT COUNT(*), MAX(customer_id) FROM customers").fetchone()
        ids = rng.sample(range(1, max_id + 1), int(total * renamed_share))
        stamp = CHANGE_TIME.isoformat(timespec="seconds")
        renames = [(f"{rng.choice(FIRST)} {rng.choice(LAST)}-Renamed", stamp, i) for i in sorted(ids)]
        db.executemany("UPDATE customers SET name = ?, updated_at = ? WHERE customer_id = ?", renames)
        db.executemany(INSERT, customers(rng, max_id + 1, new_rows, CHANGE_TIME))
        (after,) = db.execute("SELECT COUNT(*) FROM customers").fetchone()
    print(f"changed {path}: {len(renames):,} customers renamed, {new_rows:,} inserted; now {after:,} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default=os.path.join(".demo", "source.db"), help="SQLite file (%(default)s)")
    parser.add_argument("--rows", type=int, default=100_000, help="customers to create (%(default)s)")
    parser.add_argument("--change", action="store_true", help="rename ~1%% of customers and add new ones")
    parser.add_argument("--new-rows", type=int, default=500, help="customers --change adds (%(default)s)")
    args = parser.parse_args()
    t0 = time.monotonic()
    if args.change:
        change(args.db, 0.01, args.new_rows)
    else:
        create(args.db, args.rows)
    print(f"  ({time.monotonic() - t0:.1f} s)")


if __name__ == "__main__":
    main()
