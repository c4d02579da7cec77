"""Field data: text keys under non-C collations, on real PostgreSQL 15 and SQLite.

Invariants (README): every source row of a run falls in exactly one chunk, and the slice of the target a chunk
compares against or deletes from is exactly the key set of that chunk's source slice, whatever the collations or
database products on the two sides; a key the source returned is never deleted or closed by that run.

The keys mix case, accents, ``ß``/``ss``, Greek, CJK, digits, punctuation, leading and non-breaking spaces and a
decomposed ``é``: byte order (C, SQLite BINARY, Python ``str``), ICU en-US and glibc en_US all order them
differently, so range bounds taken in one order and compared in another put keys in two chunks or in none, and a
target slice selected under the target's collation is not the chunk's source slice. Each run is checked in full:
the counters, the rows the chunks read (summed), and the target against the source as multisets.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.field.support import Endpoint, Run, check, load, multiset_diff
from tests.helpers import config

RUN1, RUN2, RUN3 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00"
SQL = "SELECT k, v, label FROM src"
TABLE = "dw_items"
CHUNK_SIZE = 200

TOKENS = (
    "", "a", "A", "b", "B", "e", "E", "é", "É", "e\u0301", "ß", "ss", "SS", "Straße", "strasse", "æ", "Æ", "ae",
    "ä", "Ä", "ø", "Ø", "ñ", "n", "\u0131", "İ", "i", "I", "Ω", "ω", "Σ", "\u03c3", "ς", "漢字", "字", "ｶ", "🙂",
    " x", "  x", "x", "x-1", "x1", "x_1", "x.1", "-x", "(x)", "#1", "0", "9", "10", "o'neil", "O Neil", "z", "Z",
    "\u00a0z",
)  # fmt: skip
SEPARATORS = ("", " ", "-", "/")
KEYS = sorted({f"{tok}{SEPARATORS[n % len(SEPARATORS)]}{n}" for tok in TOKENS for n in range(50)})
ROWS = [(k, i, k[::-1]) for i, k in enumerate(KEYS)]
N = len(ROWS)
#: Run 3: these keys change their label, these leave the source, these arrive (spread over every key order).
CHANGED = set(KEYS[3::41])
DELETED = set(KEYS[7::53]) - CHANGED
ADDED = [(f"{tok}~new", N + i, "new") for i, tok in enumerate(TOKENS)]
COUNTERS = ("rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_deleted", "rows_unchanged")

# (source, target, strategy, detect_deletes): every pair of orders meets scd1 and scd2 with detect_deletes; the
# C -> C, C -> SQLite and SQLite -> C cases are the controls (byte order on both sides); append and plain scd need
# fewer pairs.
CASES = [
    ("pg-c", "pg-c", "scd2", True),
    ("pg-icu", "pg-icu", "scd1", True),
    ("pg-libc", "pg-libc", "scd2", True),
    ("pg-icu", "pg-c", "scd1", True),
    ("pg-icu", "pg-c", "scd2", False),
    ("pg-c", "pg-icu", "scd2", True),
    ("pg-c", "pg-libc", "scd1", True),
    ("pg-libc", "pg-icu", "scd1", False),
    ("pg-libc", "pg-icu", "scd2", True),
    ("pg-c", "sqlite", "scd2", True),
    ("pg-icu", "sqlite", "scd2", True),
    ("pg-libc", "sqlite", "scd1", True),
    ("sqlite", "pg-icu", "scd1", True),
    ("sqlite", "pg-libc", "scd2", True),
    ("sqlite", "pg-c", "scd2", False),
]
APPEND_CASES = [("pg-icu", "pg-c"), ("pg-libc", "sqlite"), ("sqlite", "pg-icu")]


def case_id(case: tuple[Any, ...]) -> str:
    source, target, *rest = case
    return "-".join([f"{source}>{target}", *(str(r) if not isinstance(r, bool) else ("dd" if r else "") for r in rest)])


def make_source(source: Endpoint, rows: list[tuple[str, int, str]]) -> None:
    source.execute("CREATE TABLE src (k TEXT PRIMARY KEY, v INTEGER NOT NULL, label TEXT)")
    source.executemany("INSERT INTO src VALUES (?, ?, ?)", rows)
    source.analyze()


def target_rows(target: Endpoint, strategy: str, current: bool = True) -> list[tuple[Any, ...]]:
    where = " WHERE is_current" if strategy == "scd2" and current else ""
    return target.query(f"SELECT k, v, label FROM {TABLE}{where}")


def observed(run: Run, target: Endpoint, strategy: str, want: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Everything a run is judged on, in one dict (a failing test shows all of it)."""
    got = target_rows(target, strategy)
    return {
        "errors": run.failures,
        "status": run.summary.status,
        "chunk kinds": run.kinds,
        "several chunks": len(run.chunks) >= N // CHUNK_SIZE // 2,
        "rows read by chunks": run.read_by_chunks,
        **{name: getattr(run.summary, name) for name in COUNTERS},
        "source keys not current in target": len({r[0] for r in want} - {r[0] for r in got}),
        **multiset_diff(got, want),
    }


def expected(want: list[tuple[Any, ...]], **counts: int) -> dict[str, Any]:
    values = {name: counts.get(name, 0) for name in COUNTERS}
    return {
        "errors": [],
        "status": "success",
        "chunk kinds": {"range"},
        "several chunks": True,
        "rows read by chunks": values["rows_read"],
        **values,
        "source keys not current in target": 0,
        **multiset_diff(want, want),
    }


@pytest.mark.parametrize(("source_kind", "target_kind", "strategy", "detect_deletes"), CASES, ids=map(case_id, CASES))
def test_text_keys_across_collations(field_db, source_kind, target_kind, strategy, detect_deletes):
    source, target = field_db("src", source_kind), field_db("tgt", target_kind)
    make_source(source, ROWS)
    cfg = config(strategy, TABLE, ("k",), chunk_size=CHUNK_SIZE, min_rows_for_parallel=0, detect_deletes=detect_deletes)

    run1 = load(cfg, source, target, "r1", SQL, RUN1)
    check("run 1 (initial load)", observed(run1, target, strategy, ROWS), expected(ROWS, rows_read=N, rows_inserted=N))

    run2 = load(cfg, source, target, "r2", SQL, RUN2)  # nothing changed
    check("run 2 (no change)", observed(run2, target, strategy, ROWS), expected(ROWS, rows_read=N, rows_unchanged=N))

    source.executemany("UPDATE src SET label = label || '*' WHERE k = ?", [(k,) for k in sorted(CHANGED)])
    source.executemany("DELETE FROM src WHERE k = ?", [(k,) for k in sorted(DELETED)])
    source.executemany("INSERT INTO src VALUES (?, ?, ?)", ADDED)
    source.analyze()
    now = sorted(source.query(SQL))
    assert len(now) == N - len(DELETED) + len(ADDED)
    gone = [r for r in ROWS if r[0] in DELETED]
    want = now if detect_deletes else now + gone
    changed, deleted = len(CHANGED), len(DELETED) if detect_deletes else 0
    counts = {"rows_read": len(now), "rows_inserted": len(ADDED), "rows_updated": changed, "rows_deleted": deleted,
              "rows_unchanged": N - changed - len(DELETED)}  # fmt: skip
    if strategy == "scd2":
        counts["rows_expired"] = changed
    run3 = load(cfg, source, target, "r3", SQL, RUN3)
    check("run 3 (changes, deletes, new keys)", observed(run3, target, strategy, want), expected(want, **counts))
    if strategy == "scd2":  # one new version per changed key; a deleted key keeps its (closed) version
        versions = target_rows(target, strategy, current=False)
        history = [*ROWS, *ADDED, *(r for r in now if r[0] in CHANGED)]
        assert len(versions) == N + len(ADDED) + changed
        assert multiset_diff(versions, history) == multiset_diff(history, history)


@pytest.mark.parametrize(("source_kind", "target_kind"), APPEND_CASES, ids=map(case_id, APPEND_CASES))
def test_append_text_keys_across_collations(field_db, source_kind, target_kind):
    source, target = field_db("src", source_kind), field_db("tgt", target_kind)
    make_source(source, ROWS)
    cfg = config("append", TABLE, ("k",), chunk_size=CHUNK_SIZE, min_rows_for_parallel=0)

    run1 = load(cfg, source, target, "r1", SQL, RUN1)
    check("run 1", observed(run1, target, "append", ROWS), expected(ROWS, rows_read=N, rows_inserted=N))

    source.executemany("DELETE FROM src WHERE k = ?", [(k,) for k in sorted(DELETED)])
    source.executemany("INSERT INTO src VALUES (?, ?, ?)", ADDED)
    source.analyze()
    now = source.query(SQL)
    run2 = load(cfg, source, target, "r2", SQL, RUN2)  # a new run appends every source row again
    want = ROWS + now
    check("run 2", observed(run2, target, "append", want), expected(want, rows_read=len(now), rows_inserted=len(now)))
