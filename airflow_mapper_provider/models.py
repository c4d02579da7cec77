"""XCom payloads: small JSON dicts with a schema_version, never rows.

Values that travel (chunk bounds, checkpoints) are encoded with a type tag so that a bound read back after a
retry compares exactly like the one the plan froze: ``{"t": "int", "v": "42"}``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1

_DECODERS: dict[str, Any] = {
    "int": int,
    "float": float,
    "decimal": decimal.Decimal,
    "str": str,
    "bool": lambda v: v == "true",
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
    "time": dt.time.fromisoformat,
    "uuid": uuid.UUID,
    "json": json.loads,
    "rowid": str,  # an Oracle ROWID, as its text
}


_ENCODERS: tuple[tuple[type | tuple[type, ...], str, Any], ...] = (
    (bool, "bool", lambda v: "true" if v else "false"),
    (int, "int", str),
    (float, "float", repr),
    (decimal.Decimal, "decimal", str),
    (dt.datetime, "datetime", lambda v: v.isoformat()),
    (dt.date, "date", lambda v: v.isoformat()),
    (dt.time, "time", lambda v: v.isoformat()),
    (uuid.UUID, "uuid", str),
    (str, "str", str),
)


def encode_value(value: Any) -> dict[str, str] | None:
    """Encode a key or checkpoint value as ``{"t": tag, "v": text}`` (None stays None)."""
    if value is None:
        return None
    for py_type, tag, to_text in _ENCODERS:  # order matters: bool before int, datetime before date
        if isinstance(value, py_type):
            return {"t": tag, "v": to_text(value)}
    raise TypeError(f"cannot encode a value of type {type(value).__name__} as a chunk bound or checkpoint")


def decode_value(data: dict[str, str] | None) -> Any:
    """Inverse of :func:`encode_value`."""
    if data is None:
        return None
    return _DECODERS[data["t"]](data["v"])


def display_value(data: dict[str, str] | None) -> str:
    """Text of an encoded value for the ledger and logs ("" for unbounded)."""
    return "" if data is None else data["v"]


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ChunkSpec:
    """One planned chunk, frozen by plan; a retried chunk reads exactly these rows.

    kind ``"all"``: the whole source; ``"range"``: ``lower <= key < upper`` on one key column (None = unbounded;
    the first range also takes NULL keys); ``"hash"``: rows whose key hashes to ``bucket`` of ``buckets``;
    ``"rowid"``: rows of the source's one table ``rowid_table`` whose ROWID is between ``lower`` and ``upper``
    (inclusive, ``{"t": "rowid", "v": ...}``: Oracle).

    ``window`` (KEY checkpoints) restricts every chunk to ``lower < column <= upper``, frozen by plan;
    ``keyset`` (PYTHON checkpoints) reads in ``order`` after the last key processed (or past ``offset`` rows).
    """

    index: int
    count: int
    kind: str
    key_columns: tuple[str, ...] = ()
    lower: dict[str, str] | None = None
    upper: dict[str, str] | None = None
    bucket: int = 0
    buckets: int = 1
    effective_time: str = ""
    sql_fingerprint: str = ""
    estimated_rows: int = 0
    window: dict[str, Any] | None = None
    keyset: dict[str, Any] | None = None
    effective_column: str = ""
    detect_deletes: bool = False
    #: Neutral kind of the range key: text kinds are compared in byte order on every database.
    key_kind: str = ""
    #: Hash buckets are computed in Python (the source cannot hash every key type in SQL).
    py_hash: bool = False
    #: The target table held no rows at plan time (under the run lock): no chunk's key slice holds target rows.
    target_empty: bool = False
    #: scd1: the target's primary key is exactly the key columns (checked once by plan; a direct COPY into an empty
    #: target then cannot duplicate a key). None: not checked (other strategies, plans of earlier versions).
    target_key_pk: bool | None = None
    #: Regions of the source that unfinished earlier runs of the same query committed (chunk dicts with their
    #: windows): this run does not read them again.
    exclude: list[dict[str, Any]] = field(default_factory=list)
    #: Runs whose committed chunks this run took over (their keys and checkpoint marks count as this run's).
    inherits: list[str] = field(default_factory=list)
    #: The source's read point frozen by plan (Oracle: the SCN as decimal text): every chunk of the run reads the
    #: source as of it. "" = none (each chunk reads the source as it is when the chunk runs).
    snapshot: str = ""
    #: kind "rowid": the table the ROWID range belongs to (canonical ``[schema.]table``).
    rowid_table: str = ""
    #: First chunk only: the schema changes this run's plan made or decided (texts, for finalize's job log).
    schema_changes: list[str] = field(default_factory=list)
    #: First chunk only: the source's columns at this plan (target.encode_columns; the next plan's widenings
    #: follow the source). None on the other chunks and in plans made before it existed.
    source_columns: list[dict[str, Any]] | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def label(self) -> str:
        """Readable grid label, e.g. ``chunk 3/40 customer_id 100000..149999``."""
        head = f"chunk {self.index + 1}/{self.count}"
        if self.kind == "range":
            bounds = f"{_short(display_value(self.lower))}..{_short(display_value(self.upper))}"
            return f"{head} {self.key_columns[0]} {bounds}"  # <= 250 chars: Airflow's rendered_map_index
        if self.kind == "hash":
            return f"{head} hash({', '.join(self.key_columns)}) bucket {self.bucket}/{self.buckets}"
        if self.kind == "rowid":
            return f"{head} rowid {_short(display_value(self.lower))}..{_short(display_value(self.upper))}"
        return f"{head} all rows"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["key_columns"] = list(self.key_columns)
        data["label"] = self.label
        for first_only in ("schema_changes", "source_columns"):  # carried by the first chunk only
            if not data[first_only]:
                del data[first_only]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["key_columns"] = tuple(values.get("key_columns") or ())
        return cls(**values)

    def region(self) -> dict[str, Any]:
        """What a later run must skip if this chunk committed and its run never finished: its window and keys."""
        keep = (
            "index",
            "count",
            "kind",
            "key_columns",
            "lower",
            "upper",
            "bucket",
            "buckets",
            "window",
            "key_kind",
            "py_hash",
        )
        data = self.to_dict()
        return {k: data[k] for k in keep}


@dataclass
class ChunkResult:
    """What one chunk did; also the row of the chunk ledger."""

    index: int
    status: str = "success"
    lower: str = ""
    upper: str = ""
    attempt: int = 1
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_expired: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    rows_deleted: int = 0
    checkpoint: dict[str, str] | None = None
    seconds_read: float = 0.0
    seconds_apply: float = 0.0
    seconds_total: float = 0.0
    path: str = ""
    from_ledger: bool = False
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


COUNTERS = (
    "rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged", "rows_rejected", "rows_deleted",
)  # fmt: skip


@dataclass
class RunSummary:
    """Totals over a run's chunks, as written to the job log."""

    status: str
    chunks_planned: int
    chunks_succeeded: int
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_expired: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    rows_deleted: int = 0
    failed_chunks: list[int] = field(default_factory=list)
    checkpoint_after: str | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_results(cls, planned: list[int], results: list[ChunkResult]) -> RunSummary:
        """Reconcile planned chunk indexes with the ledger's successful results."""
        done = {r.index: r for r in results if r.status == "success" and r.index in set(planned)}
        summary = cls(
            status="success" if len(done) == len(planned) else "failed",
            chunks_planned=len(planned),
            chunks_succeeded=len(done),
            failed_chunks=sorted(set(planned) - set(done)),
        )
        for result in done.values():
            for name in COUNTERS:
                setattr(summary, name, getattr(summary, name) + getattr(result, name))
        return summary

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
