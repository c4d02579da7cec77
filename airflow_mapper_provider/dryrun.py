"""Print the SQL one MapperOperator would run (plan, one chunk, finalize) for its connections' dialects; write nothing.

Like ``dbt compile``: the real plan, chunk and finalize code runs against :class:`Recorder` sessions, which record
every statement with its bind placeholders and run none. Reads a real run would make of the mapper's own tables
are answered from what the recorded statements wrote (an in-memory copy of the rows, so the recorded path is the
one a first run of the mapref takes: lock free, no earlier plan, one chunk that succeeds). The connections are
used read-only, for what the statements are built from: the source's column types (describe), whether the
target table exists and its columns, and the source's read point (Oracle SCN). The row estimate is not asked
(the plan shown is a single chunk, the statements of the other chunks differing only in their bounds).

    python -m airflow_mapper_provider.dryrun dags/mapper_demo.py load_customers

(``DAG_FILE TASK_ID``: the file is imported as Airflow imports it; its connections must resolve as they do for a
task: environment ``AIRFLOW_CONN_*`` or Airflow's metadata database.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db.base import Session
from airflow_mapper_provider.dialects import Column, Dialect
from airflow_mapper_provider.identifiers import TableName

RUN_ID = "dry_run"
_SELECT = re.compile(r"^SELECT (?P<cols>.+?) FROM (?P<table>\S+)(?: |$)", re.DOTALL)


@dataclass
class Statement:
    """One recorded statement: its phase, SQL text and the names of its bind parameters."""

    phase: str
    sql: str
    binds: list[str] = field(default_factory=list)


@dataclass
class Script:
    """Every statement of the dry run, in order, by phase."""

    statements: list[Statement] = field(default_factory=list)
    phase: str = "plan"

    def add(self, sql: str, params: Any = None) -> None:
        names = sorted(params) if isinstance(params, dict) else []
        self.statements.append(Statement(self.phase, sql, names))

    def render(self) -> str:
        out, phase = [], ""
        for st in self.statements:
            if st.phase != phase:
                phase = st.phase
                out.append(f"\n-- ==== {phase} " + "=" * max(0, 100 - len(phase)))
            binds = f"\n--   binds: {', '.join(st.binds)}" if st.binds else ""
            out.append(f"{st.sql.strip()};{binds}")
        return "\n".join(out).lstrip("\n") + "\n"


class Recorder(Session):
    """A session that records statements and runs none.

    :param dialect: renders the statements (the real session's dialect).
    :param script: where statements go.
    :param inner: the real session, asked read-only for describe, table existence and the snapshot; None: no
        connection (``columns`` describe every query, no table exists).
    :param columns: the source's columns when there is no ``inner``.
    """

    def __init__(
        self, dialect: Dialect, script: Script, inner: Session | None = None, columns: Sequence[Column] = ()
    ) -> None:
        self.dialect = dialect
        self.script = script
        self.inner = inner
        self.columns = list(columns)
        self.rows: dict[str, list[dict[str, Any]]] = {}  # table as quoted -> rows the recorded INSERTs wrote
        #: Queries describing tables the recorded statements created (they do not exist): their columns.
        self.described: dict[str, list[Column]] = {}

    # ---- writes: recorded, remembered for the reads that follow ----------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        self.script.add(sql, params)
        found = re.match(r"^INSERT INTO (\S+) \(", sql)
        if found and params:
            self.rows.setdefault(found.group(1), []).append(dict(params))
        return 0

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        self.script.add(sql, params)
        return self._answer(sql, params or {})

    def _answer(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Rows of a mapper table as the recorded INSERTs left them, filtered on the bound equality values."""
        found = _SELECT.match(sql)
        if not found or found.group("table") not in self.rows:
            return []
        names = [_unquote(c) for c in found.group("cols").split(", ")]
        picked = [r for r in self.rows[found.group("table")] if _matches(r, params)]
        return [tuple(_get(r, n) for n in names) for r in picked]

    # ---- reads the statements are built from ------------------------------------------------------------------
    def describe(self, source_sql: str) -> list[Column]:
        if source_sql in self.described:
            return list(self.described[source_sql])
        return self.inner.describe(source_sql) if self.inner is not None else list(self.columns)

    def table_exists(self, table: TableName) -> bool:
        return self.inner.table_exists(table) if self.inner is not None else False

    def schema_exists(self, schema: str) -> bool:
        return self.inner.schema_exists(schema) if self.inner is not None else True

    def snapshot(self) -> str:
        return self.inner.snapshot() if self.inner is not None else ""

    def begin_snapshot(self, snapshot: str) -> None:
        if snapshot:
            self.script.add(f"-- the source session reads as of snapshot {snapshot} (every chunk of the run)")

    def has_primary_key(self, table: TableName, keys: Sequence[str]) -> bool:
        return False

    def rowid_ranges(self, table: TableName, chunks: int) -> list[tuple[str, str]]:
        return self.inner.rowid_ranges(table, chunks) if self.inner is not None else [("<rowid>", "<rowid>")]

    # ---- rows: the statements that move them, no rows ---------------------------------------------------------
    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
        self.script.add(sql, params)
        return iter(())

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        names = [f"p{i}" for i in range(len(columns))]
        self.script.add(self.dialect.insert_values_sql(table, columns, names) + "  -- in batches", dict.fromkeys(names))
        return sum(len(b) for b in batches)

    def copy_out(self, sql: str, params: dict[str, Any]) -> Iterator[bytes | bytearray | memoryview]:
        self.script.add(sql, params)
        return iter(())

    def copy_in(self, sql: str, data: Iterable[bytes | bytearray | memoryview]) -> int:
        self.script.add(sql)
        for _ in data:
            pass
        return 0

    def commit(self) -> None:
        self.script.add("COMMIT")

    def rollback(self) -> None:
        if self.script.statements and self.script.statements[-1].sql not in ("COMMIT", "ROLLBACK"):
            self.script.add("ROLLBACK")

    def close(self) -> None:
        if self.inner is not None:
            self.inner.rollback()
            self.inner.close()


def _unquote(col: str) -> str:
    col = col.strip().split(".")[-1]
    return col[1:-1] if col[:1] in '"`[' else col


def _get(row: dict[str, Any], name: str) -> Any:
    for key, value in row.items():
        if key.lower() == name.lower():
            return value
    return None


def _matches(row: dict[str, Any], params: dict[str, Any]) -> bool:
    return all(_get(row, k) == v for k, v in params.items() if any(c.lower() == k.lower() for c in row))


def dry_run(cfg: MapperConfig, source_sql: str, source: Recorder, target: Recorder) -> Script:
    """Run plan, the first chunk and finalize against the recorders; their statements, in order."""
    from airflow_mapper_provider.finalizer import finalize
    from airflow_mapper_provider.loader import ChunkJob
    from airflow_mapper_provider.planner import plan
    from airflow_mapper_provider.strategies import strategy

    script = target.script
    effective = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    if not target.table_exists(cfg.table):  # the plan's recorded CREATE TABLE: the chunk describes that table
        columns = [*source.describe(source_sql), *strategy(cfg.load_strategy).extra_columns]
        target.described[target.dialect.select_all_sql(cfg.table)] = columns
    specs = plan(cfg, source_sql, RUN_ID, effective, 1, source, target)
    for spec in specs[:1]:
        script.phase = f"load_chunk ({spec.label})"
        ChunkJob(cfg, spec, source_sql, RUN_ID, 1, source, target).run()
    script.phase = "finalize"
    finalize(cfg, RUN_ID, specs, target)
    return script


def for_connections(cfg: MapperConfig, source_sql: str) -> Script:
    """:func:`dry_run` with the job's own Airflow connections (used read-only)."""
    from airflow_mapper_provider import db

    script = Script()
    src = db.connect(db.get_connection(cfg.source_conn_id), "source")
    try:
        tgt = db.connect(db.get_connection(cfg.target_conn_id), "target")
        try:
            return dry_run(cfg, source_sql, Recorder(src.dialect, script, src), Recorder(tgt.dialect, script, tgt))
        finally:
            tgt.rollback()
            tgt.close()
    finally:
        src.rollback()
        src.close()


def load_operator(dag_file: str, task_id: str) -> tuple[MapperConfig, str]:
    """The config and (rendered) source query of the MapperOperator ``task_id`` in ``dag_file``."""
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mapper_provider.operators.common import load_config
    from airflow_mapper_provider.operators.plan import MapperPlanOperator

    bag = DagBag(dag_file)
    if bag.import_errors:
        raise SystemExit(f"{dag_file} does not import: {next(iter(bag.import_errors.values()))}")
    found = list(bag.dags.values())
    plans = [t for dag in found for t in dag.task_dict.values()
             if isinstance(t, MapperPlanOperator) and t.task_id == f"{task_id}.plan"]  # fmt: skip
    if not plans:
        names = sorted({t.task_id.rsplit(".", 1)[0] for dag in found for t in dag.task_dict.values()
                        if isinstance(t, MapperPlanOperator)})  # fmt: skip
        raise SystemExit(f"no MapperOperator {task_id!r} in {dag_file}; it has: {', '.join(names) or 'none'}")
    op = plans[0]
    return load_config(op.config), _rendered(op.source_sql)


def _rendered(source_sql: str) -> str:
    """A templated query rendered with this moment as the run's time (``ds``, ``data_interval_*``...)."""
    if "{{" not in source_sql and "{%" not in source_sql:
        return source_sql
    import jinja2

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    context = {"ds": now.date().isoformat(), "ts": now.isoformat(), "logical_date": now, "run_id": RUN_ID,
               "data_interval_start": now - dt.timedelta(days=1), "data_interval_end": now}  # fmt: skip
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source_sql).render(**context)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_mapper_provider.dryrun", description=__doc__.split("\n")[0]
    )
    parser.add_argument("dag_file")
    parser.add_argument("task_id", help="the MapperOperator's task_id")
    args = parser.parse_args(argv)
    cfg, sql = load_operator(args.dag_file, args.task_id)
    logging.getLogger("airflow_mapper_provider").setLevel(logging.WARNING)  # stdout is the SQL only
    sys.stdout.write(for_connections(cfg, sql).render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
