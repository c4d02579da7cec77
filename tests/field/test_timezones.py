"""Field data: keys holding timestamptz, numeric, date and float values under differing session settings.

Invariants (README): every source row of a run falls in exactly one chunk, and the slice of the target a chunk
compares against or deletes from is exactly the key set of that chunk's source slice, whatever the session time
zones or database products on the two sides; a key the source returned is never deleted or closed by that run.

Each database gets its session defaults with ``ALTER DATABASE ... SET`` (time zone, DateStyle,
extra_float_digits), so every session the mapper opens there has them. The text of a timestamptz, a date or a
float depends on them, and so does anything computed from that text (a hash bucket of the key): a target that
computes a chunk's bucket under its own settings compares against, and deletes from, other keys than the chunk
read. Runs: initial load, an unchanged run, then a run after deleting and changing a few source rows; every
counter, the rows the chunks read, and the target against the source (as multisets) are checked.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from tests.field.support import Endpoint, Run, check, load, multiset_diff
from tests.helpers import config

RUN1, RUN2, RUN3 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00"
N = 3_000
CHUNK_SIZE = 300
TABLE = "dw_events"
COLUMNS = ("ts", "amount", "day", "ratio", "stamp", "qty", "note", "seen_at")
SQL = f"SELECT {', '.join(COLUMNS)} FROM events"
#: Run 3: these rows leave the source, these change (g is the generator value, stored in qty).
DELETED = {g for g in range(N) if g % 97 == 0}
CHANGED = {g for g in range(N) if g % 89 == 0} - DELETED
COUNTERS = ("rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_deleted", "rows_unchanged")

# Session defaults: text of a timestamptz in another zone and style (SQL/German/Postgres DateStyles are not ISO),
# dates in DMY order, floats printed with fewer digits (0.1 * 3 as 0.3).
UTC_ISO: dict[str, str] = {}
KOLKATA = {"timezone": "Asia/Kolkata"}
KOLKATA_SQL = {"timezone": "Asia/Kolkata", "datestyle": "SQL, DMY"}
ST_JOHNS_GERMAN = {"timezone": "America/St_Johns", "datestyle": "German, DMY", "extra_float_digits": "0"}
BERLIN_POSTGRES = {"timezone": "Europe/Berlin", "datestyle": "Postgres, MDY"}
SHORT_FLOATS = {"extra_float_digits": "0"}

K3 = ("ts", "amount", "day")
K4 = ("ts", "amount", "day", "ratio")

# (id, source settings, target settings, strategy, key, target kind, detect_deletes): composite keys (hash
# buckets) between PostgreSQL databases whose settings differ in one thing or in all; single timestamptz keys
# (ranges); one PostgreSQL -> SQLite case. The UTC_ISO -> UTC_ISO cases are the controls.
CASES = [
    ("utc-scd1", UTC_ISO, UTC_ISO, "scd1", K3, "pg", True),
    ("utc-scd2", UTC_ISO, UTC_ISO, "scd2", K4, "pg", True),
    ("src-kolkata", KOLKATA, UTC_ISO, "scd1", K3, "pg", True),
    ("src-kolkata-no-deletes", KOLKATA, UTC_ISO, "scd2", K3, "pg", False),
    ("tgt-kolkata", UTC_ISO, KOLKATA, "scd2", K3, "pg", True),
    ("tgt-short-floats", UTC_ISO, SHORT_FLOATS, "scd1", K4, "pg", True),
    ("src-kolkata-sql-dmy", KOLKATA_SQL, UTC_ISO, "scd2", K3, "pg", True),
    ("tgt-stjohns-german", UTC_ISO, ST_JOHNS_GERMAN, "scd1", K4, "pg", True),
    ("kolkata-sql>stjohns-german", KOLKATA_SQL, ST_JOHNS_GERMAN, "scd2", K4, "pg", True),
    ("berlin-postgres>kolkata", BERLIN_POSTGRES, KOLKATA, "scd1", K3, "pg", True),
    ("range-src-kolkata", KOLKATA, UTC_ISO, "scd2", ("stamp",), "pg", True),
    ("range-kolkata-sql>stjohns-german", KOLKATA_SQL, ST_JOHNS_GERMAN, "scd1", ("stamp",), "pg", True),
    ("sqlite-tgt", KOLKATA, None, "scd1", K3, "sqlite", True),
]

EVENTS_DDL = """
CREATE TABLE events (
    ts timestamptz NOT NULL, amount numeric(12,2) NOT NULL, day date NOT NULL, ratio float8 NOT NULL,
    stamp timestamptz NOT NULL UNIQUE, qty integer NOT NULL, note text, seen_at timestamptz,
    PRIMARY KEY (ts, amount, day, ratio)
)"""
# Literals in UTC and ISO, so the data does not depend on the source session either. 600 instants 17 minutes
# apart (across Europe's DST change on 2026-03-29) times 5 amounts; ratio = 0.1 * block + 0.2 (0.30000000000000004
# for block 1); a date per instant.
EVENTS_FILL = """
INSERT INTO events
SELECT timestamptz '2026-03-28 00:00:00+00' + (g % 600) * interval '17 minutes',
       (g / 600) + 0.25, date '2026-03-01' + (g % 31), 0.1 * (g / 600)::float8 + 0.2,
       timestamptz '2026-03-28 00:00:00+00' + g * interval '67 seconds', g, 'n' || g,
       timestamptz '2026-03-28 00:00:00+00' + g * interval '1 hour'
FROM generate_series(0, 2999) g"""


def make_source(source: Endpoint) -> None:
    source.execute(EVENTS_DDL)
    source.execute(EVENTS_FILL)
    source.analyze()


def normalize(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values read back from SQLite (text, REAL) as the Python types PostgreSQL gives."""
    ts, amount, day, ratio, stamp, qty, note, seen_at = row
    return (
        _instant(ts), decimal.Decimal(str(amount)), dt.date.fromisoformat(str(day)), float(ratio), _instant(stamp),
        int(qty), note, _instant(seen_at),
    )  # fmt: skip


def _instant(value: Any) -> dt.datetime | None:
    return value if value is None or isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def target_rows(target: Endpoint, strategy: str, current: bool = True) -> list[tuple[Any, ...]]:
    where = " WHERE is_current" if strategy == "scd2" and current else ""
    got = target.query(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}{where}")
    return got if target.is_pg else [normalize(r) for r in got]


def keyed(rows: list[tuple[Any, ...]], key: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Rows with the key columns first (multiset_diff counts repeated keys on the leading columns)."""
    index = [COLUMNS.index(k) for k in key]
    return [tuple(r[i] for i in index) + r for r in rows]


def observed(run: Run, target: Endpoint, strategy: str, key: tuple[str, ...], want: list[tuple[Any, ...]]) -> dict:
    got = keyed(target_rows(target, strategy), key)
    want = keyed(want, key)
    width = len(key)
    return {
        "errors": run.failures,
        "status": run.summary.status,
        "chunk kinds": run.kinds,
        "chunks": len(run.chunks) if run.kinds == {"all"} else len(run.chunks) >= N // CHUNK_SIZE // 2,
        "rows read by chunks": run.read_by_chunks,
        **{name: getattr(run.summary, name) for name in COUNTERS},
        "source keys not current in target": len({r[:width] for r in want} - {r[:width] for r in got}),
        **multiset_diff(got, want, width),
    }


def expected(
    kinds: tuple[str, ...], run: Run, key: tuple[str, ...], want: list[tuple[Any, ...]], **counts: int
) -> dict[str, Any]:
    """The facts of a correct run; its chunks are of the first of ``kinds`` or of another one listed."""
    kind = next(iter(run.kinds)) if len(run.kinds) == 1 and run.kinds <= set(kinds) else kinds[0]
    values = {name: counts.get(name, 0) for name in COUNTERS}
    return {
        "errors": [],
        "status": "success",
        "chunk kinds": {kind},
        "chunks": 1 if kind == "all" else True,
        "rows read by chunks": values["rows_read"],
        **values,
        "source keys not current in target": 0,
        **multiset_diff(keyed(want, key), keyed(want, key), len(key)),
    }


@pytest.mark.parametrize(
    ("source_settings", "target_settings", "strategy", "key", "target_kind", "detect_deletes"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_keys_across_session_settings(
    field_db, source_settings, target_settings, strategy, key, target_kind, detect_deletes
):
    source = field_db("src", "pg", source_settings)
    target = field_db("tgt", target_kind, target_settings)
    make_source(source)
    cfg = config(strategy, TABLE, key, chunk_size=CHUNK_SIZE, min_rows_for_parallel=0, detect_deletes=detect_deletes)
    # a composite key hashes; a plan may fall back to one chunk where the target cannot compute the buckets
    kinds = ("range",) if len(key) == 1 else ("hash",) if target.is_pg else ("hash", "all")
    rows = sorted(source.query(SQL))

    run1 = load(cfg, source, target, "r1", SQL, RUN1)
    check("run 1 (initial load)", observed(run1, target, strategy, key, rows),
          expected(kinds, run1, key, rows, rows_read=N, rows_inserted=N))  # fmt: skip
    run2 = load(cfg, source, target, "r2", SQL, RUN2)
    check("run 2 (no change)", observed(run2, target, strategy, key, rows),
          expected(kinds, run2, key, rows, rows_read=N, rows_unchanged=N))  # fmt: skip

    source.executemany("DELETE FROM events WHERE qty = ?", [(g,) for g in sorted(DELETED)])
    source.executemany("UPDATE events SET note = note || '*' WHERE qty = ?", [(g,) for g in sorted(CHANGED)])
    source.analyze()
    now = sorted(source.query(SQL))
    assert len(now) == N - len(DELETED)
    want = now if detect_deletes else sorted(now + [r for r in rows if r[5] in DELETED])
    counts = {"rows_read": len(now), "rows_updated": len(CHANGED), "rows_deleted": len(DELETED) * detect_deletes,
              "rows_unchanged": N - len(DELETED) - len(CHANGED)}  # fmt: skip
    if strategy == "scd2":
        counts["rows_expired"] = len(CHANGED)
    run3 = load(cfg, source, target, "r3", SQL, RUN3)
    check("run 3 (deletes, changes)", observed(run3, target, strategy, key, want),
          expected(kinds, run3, key, want, **counts))  # fmt: skip
    if strategy == "scd2":  # every version kept: the first load, plus one new version per changed key
        history = keyed([*rows, *(r for r in now if r[5] in CHANGED)], key)
        versions = keyed(target_rows(target, strategy, current=False), key)
        assert multiset_diff(versions, history, len(key)) == multiset_diff(history, history, len(key))
