"""The portable SQL vocabulary every dialect shares; dialect modules override what their database does better.

This is one of the two places SQL text is built (with the dialect modules beside it). Identifiers always pass
:meth:`Dialect.quote` (validate, then quote); values are always bind parameters, spelled by :meth:`Dialect.param`.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_mapper_provider.dialects.sql_core import SRC, Params, UpdateSpec
from airflow_mapper_provider.dialects.sql_plan import PlanSql
from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.exceptions import UnsupportedError
from airflow_mapper_provider.identifiers import TableName, derived_name, fit_identifier

__all__ = ["SRC", "Dialect", "Params", "UpdateSpec"]


class Dialect(PlanSql):
    """Portable (ANSI-leaning) SQL. Subclasses set ``name`` and ``caps`` and override the pieces their database
    differs on (:mod:`.sql_core`: names, values, types; :mod:`.sql_plan`: planning and chunks; here: DDL, the apply
    building blocks, COPY and progress)."""

    # ---- DDL --------------------------------------------------------------------------------------------
    def column_defs(self, columns: Sequence[Column], not_null: Sequence[str] = ()) -> list[str]:
        return [
            f"{self.quote(c.name)} {self.type_ddl(c.type)}{' NOT NULL' if c.name in not_null else ''}" for c in columns
        ]

    def create_table_sql(
        self, table: TableName, columns: Sequence[Column], primary_key: Sequence[str] = (), keys: Sequence[str] = ()
    ) -> str:
        """``keys``: columns that will be indexed or joined on (a dialect whose text type cannot be indexed, such
        as Oracle's CLOB, gives them an indexable type); the primary key counts as such too."""
        defs = self.column_defs(columns, primary_key)
        if primary_key:
            defs.append(f"PRIMARY KEY ({self.cols(primary_key)})")
        return f"CREATE TABLE {self.table(table)} (\n  " + ",\n  ".join(defs) + "\n)"

    def create_index_sql(
        self, table: TableName, name: str, columns: Sequence[str], unique: bool = False, where: str = ""
    ) -> str:
        index = self.quote(name)  # an index lives in its table's schema
        cond = f" WHERE {where}" if where else ""
        kind = "UNIQUE INDEX" if unique else "INDEX"
        return f"CREATE {kind} {index} ON {self.table(table)} ({self.cols(columns)}){cond}"

    def typed_null(self, ctype: ColumnType) -> str:
        """A NULL of type ``ctype`` (``CREATE TABLE ... AS SELECT`` takes the column's type from it)."""
        return f"CAST(NULL AS {self.type_ddl(ctype)})"

    def add_column_sql(self, table: TableName, column: Column) -> str:
        return f"ALTER TABLE {self.table(table)} ADD COLUMN {self.quote(column.name)} {self.type_ddl(column.type)}"

    def alter_column_type_sql(self, table: TableName, column: str, type_ddl: str) -> str:
        """Change a column's declared type (only where :attr:`enforces_types`)."""
        raise UnsupportedError(f"the {self.name} dialect does not change column types")

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}"

    def create_staging_sql(self, name: str, columns: Sequence[Column], keys: Sequence[str] = ()) -> str:
        """A temp table for staged rows; ``keys`` as in :meth:`create_table_sql`."""
        defs = ", ".join(self.column_defs(columns))
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} ({defs})"

    def create_temp_as_sql(self, name: str, select_sql: str) -> str:
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} AS {select_sql}"

    def drop_temp_sql(self, name: str) -> str:
        """Drop a temp table left by an earlier chunk on this connection ("" where temp tables drop on commit)."""
        return f"DROP TABLE IF EXISTS {self.temp_name(name)}"

    def create_temp_index_sql(self, name: str, column: str) -> str:
        """An index on ``column`` of temp table ``name``, named ``<name>_<column>`` (shortened with a digest where
        that passes the identifier limit: a 63-character column)."""
        index = self.quote(derived_name(name, column))
        return f"CREATE INDEX {index} ON {self.temp_name(name)} ({self.quote(column)})"

    def number_rows_sql(self, source: str, name: str, rn: str, ok: str) -> list[str]:
        """Replace temp table ``source`` by a copy whose rows are numbered 1..n (``rn``) and flagged ``ok`` = 1."""
        numbered = f"ROW_NUMBER() OVER () AS {self.quote(rn)}, 1 AS {self.quote(ok)}"
        select = f"SELECT s.*, {numbered} FROM {self.temp_name(source)} s"
        return [
            self.create_temp_as_sql(name, select),
            f"DROP TABLE {self.temp_name(source)}",
            f"ALTER TABLE {self.temp_name(name)} RENAME TO {self.quote(source)}",
            self.create_temp_index_sql(source, rn),
        ]

    def table_rows_sql(self) -> str | None:
        """The planner's row estimate of table ``:t`` (a catalog lookup, no scan); None where unknown."""
        return None

    def prefer_index_joins_sql(self) -> list[str]:
        """Settings, for the rest of the transaction, that make a small delta probe the target's key index
        instead of scanning the whole target."""
        return []

    def savepoint_sql(self, verb: str, name: str) -> str:
        """``SAVEPOINT``, ``RELEASE SAVEPOINT`` or ``ROLLBACK TO SAVEPOINT`` (``verb``: set/release/rollback)."""
        prefix = {"set": "SAVEPOINT", "release": "RELEASE SAVEPOINT", "rollback": "ROLLBACK TO SAVEPOINT"}[verb]
        return f"{prefix} {self.quote(fit_identifier(name))}"

    # ---- apply building blocks -------------------------------------------------------------------------
    def column_differs(self, a: str, b: str, column: Column) -> str:
        """Null-safe 'the values of ``column`` differ' for change detection, by identity of the value (where a
        type's ``=`` is not identity, a dialect compares a canonical form)."""
        return self.differs(a, b)

    def key_join(self, keys: Sequence[str], left: str, right: str) -> str:
        return " AND ".join(f"{left}.{self.quote(k)} = {right}.{self.quote(k)}" for k in keys)

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        """UPDATE target rows matched by key in ``source`` (alias ``d``) where ``upd.delta_where`` holds.

        Portable form: correlated subqueries (works on every SQL database).
        """
        t = self.table(target)
        match = self.key_join(upd.keys, "d", t)
        src = self.temp_name(source)
        assigns = ", ".join(
            f"{self.quote(col)} = (SELECT {expr} FROM {src} d WHERE {match})"
            if expr.startswith("d.")
            else f"{self.quote(col)} = {expr}"
            for col, expr in upd.sets
        )
        cond = f"EXISTS (SELECT 1 FROM {src} d WHERE {match} AND {upd.delta_where})"
        if upd.target_flag:
            cond += f" AND {t}.{self.quote(upd.target_flag)} = {self.true_sql}"
        return f"UPDATE {t} SET {assigns} WHERE {cond}"

    def analyze_sql(self, name: str, columns: Sequence[str] = ()) -> str:
        """Refresh planner statistics of a temp table, of ``columns`` only if given ("" where the database needs
        nothing)."""
        return ""

    def row_hash_expr(self, columns: Sequence[Column], alias: str) -> str | None:
        """SQL for the scd2 row hash over ``columns``; None when the hash is computed in Python at staging."""
        return None

    # ---- binary COPY (only where ``caps.binary_copy``) --------------------------------------------------
    def copy_out_sql(self, select_sql: str) -> str:
        """``select_sql``'s rows as a binary COPY to the client."""
        raise UnsupportedError(f"the {self.name} dialect has no binary COPY")

    def copy_in_sql(self, table: str, columns: Sequence[str], binary: bool = True) -> str:
        """A COPY of rows from the client into the already quoted ``table``."""
        raise UnsupportedError(f"the {self.name} dialect has no COPY")

    def scd2_versions_select(self, select_sql: str, values: Sequence[Column], eff_param: str) -> str:
        """The rows of ``select_sql`` as new current scd2 versions (for a COPY straight into the target)."""
        raise UnsupportedError(f"the {self.name} dialect computes no scd2 versions in the source")

    # ---- progress (written on a separate autocommit connection, never in a chunk's transaction) ----------
    def upsert_sql(self, table: TableName, names: Sequence[str], key: Sequence[str]) -> str | None:
        """Insert one row or update the row with its ``key`` (PostgreSQL 9.5+, SQLite 3.24+: ``ON CONFLICT``);
        None where the database has no such statement (the caller then deletes and inserts)."""
        values = ", ".join(self.param(n) for n in names)
        sets = ", ".join(f"{self.quote(n)} = excluded.{self.quote(n)}" for n in names if n not in key)
        return (
            f"INSERT INTO {self.table(table)} ({self.cols(names)}) VALUES ({values}) "
            f"ON CONFLICT ({self.cols(key)}) DO UPDATE SET {sets}"
        )

    def copy_progress_sql(self) -> str | None:
        """Rows a COPY running in backend ``:pid`` has processed so far (None: the database cannot tell)."""
        return None

    def progress_view_sql(self, view: TableName, joblog: TableName, chunklog: TableName, live: TableName) -> str:
        """``mapper_progress``: per run, chunks done / running / failed of the planned ones, rows so far (rows read
        by committed chunks plus rows read by running ones) against the plan's estimate, the reading rate of the
        running chunks and the ETA at that rate. A chunk's state is its ledger row's, unless its live row shows a
        later attempt running. Running counts, rate and ETA only while the job log says 'running'. The column
        names are the mapper tables' own; only the table names vary."""
        j, c, p = self.table(joblog), self.table(chunklog), self.table(live)
        on = "{a}.mapref = u.mapref AND {a}.run_id = u.run_id AND {a}.chunk_index = u.chunk_index"
        chunks = (
            "SELECT u.mapref, u.run_id, u.chunk_index, "
            "CASE WHEN c.status = 'success' THEN 'success' "
            "WHEN p.status = 'running' AND (c.status IS NULL OR p.attempt > c.attempt) THEN 'running' "
            "ELSE COALESCE(c.status, p.status) END AS state, "
            "CASE WHEN c.status = 'success' THEN c.rows_read ELSE p.rows_read END AS rows_read, "
            "p.rows_per_s, p.updated_at "
            f"FROM (SELECT mapref, run_id, chunk_index FROM {c} UNION SELECT mapref, run_id, chunk_index FROM {p}) u "
            f"LEFT JOIN {c} c ON {on.format(a='c')} LEFT JOIN {p} p ON {on.format(a='p')}"
        )
        runs = (
            "SELECT k.mapref, k.run_id, "
            "SUM(CASE WHEN k.state = 'success' THEN 1 ELSE 0 END) AS chunks_done, "
            "SUM(CASE WHEN k.state = 'running' THEN 1 ELSE 0 END) AS chunks_running, "
            "SUM(CASE WHEN k.state IN ('failed', 'stopped') THEN 1 ELSE 0 END) AS chunks_failed, "
            "SUM(CASE WHEN k.state = 'success' THEN k.rows_read ELSE 0 END) AS rows_done, "
            "SUM(CASE WHEN k.state = 'running' THEN k.rows_read ELSE 0 END) AS rows_running, "
            "SUM(CASE WHEN k.state = 'running' THEN k.rows_per_s END) AS rows_per_s, "
            f"MAX(k.updated_at) AS progress_at FROM ({chunks}) k GROUP BY k.mapref, k.run_id"
        )
        live_ = "j.status = 'running'"
        so_far = f"COALESCE(s.rows_done, 0) + CASE WHEN {live_} THEN COALESCE(s.rows_running, 0) ELSE 0 END"
        return (
            f"CREATE VIEW {self.table(view)} AS SELECT j.mapref, j.run_id, j.status, j.load_strategy, "
            "j.target_table, j.chunks_planned, COALESCE(s.chunks_done, 0) AS chunks_done, "
            f"CASE WHEN {live_} THEN COALESCE(s.chunks_running, 0) ELSE 0 END AS chunks_running, "
            f"COALESCE(s.chunks_failed, 0) AS chunks_failed, {so_far} AS rows_so_far, j.rows_estimated, "
            f"CASE WHEN {live_} THEN s.rows_per_s END AS rows_per_s, "
            f"CASE WHEN {live_} AND s.rows_per_s > 0 AND j.rows_estimated > {so_far} "
            f"THEN (j.rows_estimated - ({so_far})) / s.rows_per_s END AS eta_seconds, "
            f"j.started_at, s.progress_at, j.finished_at FROM {j} j LEFT JOIN ({runs}) s "
            "ON s.mapref = j.mapref AND s.run_id = j.run_id"
        )
