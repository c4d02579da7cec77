"""OpenLineage for a mapper run: one event pair per run, from ``finalize``, with the run's totals.

The OpenLineage provider (``apache-airflow-providers-openlineage``) is optional: every OpenLineage import happens
inside the functions the listener calls, so the mapper works without it.

- inputs: the tables ``source_sql`` reads (parsed with the OpenLineage SQL parser where it can), in the source
  connection's namespace; with a single input table it carries ``inputStatistics.rowCount`` = rows read. The
  query itself is always the job's ``sql`` facet (so a query the parser cannot read is still there);
- output: the target table in the target connection's namespace, with ``outputStatistics.rowCount`` = rows the
  run wrote (inserted + updated + expired + deleted) and a ``schema`` facet (the source's columns the plan
  recorded, plus the scd2 columns for scd2);
- a run facet ``mapper``: the run's status, chunk counts, every counter and the checkpoint after.

``plan`` and ``load_chunk`` define no lineage of their own: their events carry no datasets, so row counts are
never counted twice (a chunk's numbers are part of finalize's totals). Namespaces follow the OpenLineage naming
spec: ``postgres://host:port`` (name ``database.schema.table``), ``oracle://host:port`` (name
``service.schema.table``), ``sqlite://<path>`` (name ``[schema.]table``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.models import RunSummary

#: Default schema per namespace scheme, where a table is named without one.
DEFAULT_SCHEMA = {"postgres": "public"}
WRITTEN = ("rows_inserted", "rows_updated", "rows_expired", "rows_deleted")


def namespace(conn: Any) -> tuple[str, str]:
    """``(scheme, namespace)`` of an Airflow connection, e.g. ``("postgres", "postgres://db:5432")``; the
    second part of a ``(scheme, database)`` pair is the database (PostgreSQL) or service (Oracle) name."""
    ctype = (conn.conn_type or "").lower()
    url = (conn.extra_dejson or {}).get("sqlalchemy_url")
    if url:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        ctype, host, port = parsed.get_backend_name(), parsed.host, parsed.port
        if ctype == "sqlite":
            return "sqlite", f"sqlite://{parsed.database or ''}"
    else:
        host, port = conn.host, conn.port
    if ctype in ("postgres", "postgresql"):
        return "postgres", f"postgres://{host}:{port or 5432}"
    if ctype == "oracle":
        return "oracle", f"oracle://{host}:{port or 1521}"
    if ctype == "sqlite":
        return "sqlite", f"sqlite://{conn.host or conn.schema or ''}"
    return ctype, f"{ctype}://{host}:{port}" if port else f"{ctype}://{host}"


def database_name(conn: Any) -> str | None:
    """The database (PostgreSQL: the connection's schema field) or Oracle service a dataset name starts with."""
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        from sqlalchemy.engine import make_url

        return make_url(extra["sqlalchemy_url"]).database if namespace(conn)[0] != "sqlite" else None
    if (conn.conn_type or "").lower() == "oracle":
        return extra.get("service_name") or conn.schema or None
    return conn.schema or None if namespace(conn)[0] == "postgres" else None


def dataset_name(scheme: str, database: str | None, schema: str | None, table: str) -> str:
    """``database.schema.table`` (PostgreSQL, Oracle) or ``[schema.]table`` (SQLite and others)."""
    schema = schema or DEFAULT_SCHEMA.get(scheme)
    parts = [database, schema, table] if scheme in ("postgres", "oracle") else [schema, table]
    return ".".join(p for p in parts if p)


def source_tables(sql: str, scheme: str) -> list[tuple[str | None, str]]:
    """``(schema, table)`` of every table ``sql`` reads, by the OpenLineage SQL parser; [] where it cannot."""
    try:
        from openlineage_sql import parse
    except ImportError:
        return []
    dialect = {"postgres": "postgres", "oracle": "oracle", "sqlite": "sqlite"}.get(scheme, "generic")
    with contextlib.suppress(Exception):
        parsed = parse([sql], dialect=dialect)
        if parsed is not None:
            return sorted({(t.schema, t.name) for t in parsed.in_tables}, key=lambda t: (t[0] or "", t[1]))
    return []


def written_rows(summary: RunSummary) -> int:
    """Rows a run changed in the target: inserted, updated, expired (scd2) and deleted or closed."""
    return sum(int(getattr(summary, name)) for name in WRITTEN)


def target_columns(cfg: MapperConfig, chunks: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """``(name, type)`` of the target's columns as the plan recorded the source's, plus the version columns of a
    versioned strategy (scd2)."""
    from airflow_mapper_provider.strategies.catalog import strategy
    from airflow_mapper_provider.strategies.versions import VERSION_COLUMNS
    from airflow_mapper_provider.target import SOURCE_COLUMNS_FIELD

    recorded = (chunks[0].get(SOURCE_COLUMNS_FIELD) or []) if chunks else []
    cols = [(str(c["name"]), str(c.get("native") or c.get("kind") or "")) for c in recorded if "name" in c]
    if cols and strategy(cfg.load_strategy).versioned:
        cols += [(c.name, c.type.kind) for c in VERSION_COLUMNS]
    return cols
