"""ROWID range chunks (``chunk_by="rowid"``, Oracle): the source's one table, and its ranges as chunk specs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec

_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$#]*)'
#: ``SELECT <list> FROM <table> [alias] [WHERE ...]``; words that combine rows or tables (anywhere in the query,
#: string literals included: a refusal is only ever an error message, never a wrong chunk) rule it out.
_ONE_TABLE = re.compile(
    rf"^\s*SELECT\s+(?P<list>.+?)\s+FROM\s+(?P<table>{_NAME}(?:\s*\.\s*{_NAME})?)"
    rf"(?:\s+(?!WHERE\b){_NAME})?(?:\s+WHERE\s+.*)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COMBINES = re.compile(r"\b(JOIN|UNION|INTERSECT|MINUS|EXCEPT|GROUP\s+BY|DISTINCT|CONNECT\s+BY|WITH)\b", re.I)


def single_table(source_sql: str) -> TableName:
    """The one table ``source_sql`` reads, for ROWID chunks; a clear error for any other query (a ROWID range
    only means something for the rows of one table)."""
    found = _ONE_TABLE.match(source_sql)
    if found is None or _COMBINES.search(source_sql) or _subquery(source_sql):
        raise ConfigError(
            "chunk_by='rowid' needs a source_sql that reads one table (SELECT ... FROM schema.table [WHERE ...], "
            "no joins, unions, grouping or DISTINCT): use chunk_by='auto' with key_columns for other queries"
        )
    parts = [p.strip() for p in found.group("table").split(".")]
    names = [p[1:-1] if p.startswith('"') else p.lower() for p in parts]
    return TableName(names[-1], names[0] if len(names) == 2 else None)


def _subquery(tail: str) -> bool:
    return bool(re.search(r"\(\s*SELECT\b", tail, re.IGNORECASE))


def rowid_chunks(ranges: Sequence[tuple[str, str]], table: TableName, **common: Any) -> list[ChunkSpec]:
    """One chunk per inclusive ROWID range, in order."""
    n = len(ranges)
    return [
        ChunkSpec(
            index=i,
            count=n,
            kind="rowid",
            lower={"t": "rowid", "v": lo},
            upper={"t": "rowid", "v": hi},
            rowid_table=str(table),
            **common,
        )
        for i, (lo, hi) in enumerate(ranges)
    ]
