"""MapperOperator: the user-facing object, a TaskGroup wiring plan -> load_chunk (mapped) -> finalize."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider._compat import TaskGroup, TriggerRule
from airflow_mapper_provider.assets import validate_outlets
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.operators import (
    MapperFinalizeOperator,
    MapperLoadChunkOperator,
    MapperPlanOperator,
)
from airflow_mapper_provider.operators.load import MAP_INDEX_TEMPLATE
from airflow_mapper_provider.operators.plan import LOCK_POKE_INTERVAL, LOCK_TIMEOUT

#: Retry defaults of the three tasks; MapperOperator keyword arguments win, then the DAG's default_args.
RETRY_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=10),
}


class MapperOperator(TaskGroup):
    """Move the rows of ``source_sql`` into ``target_table`` in parallel chunks (append, scd1 or scd2).

    Creates the tasks ``<task_id>.plan``, ``<task_id>.load_chunk`` (one mapped instance per chunk) and
    ``<task_id>.finalize``. Invalid configuration raises :class:`~airflow_mapper_provider.exceptions.ConfigError`
    when the DAG file is parsed.

    :param task_id: id of the task group.
    :param source_conn_id: Airflow connection of the source (PostgreSQL, SQLite or a SQLAlchemy URL).
    :param source_sql: the source query (templated; a path ending in .sql is read as a template).
    :param target_conn_id: Airflow connection of the target.
    :param target_table: ``[schema.]table``; created if missing.
    :param key_columns: business key, one or more columns (required for scd1/scd2).
    :param load_strategy: ``"append"``, ``"scd1"`` or ``"scd2"``.
    :param chunk_size: target rows per chunk. Default (None): one chunk per slot that can run at once
        (``max_active_chunks``, else the DAG's ``max_active_tasks`` and Airflow's ``[core] parallelism``), each of
        200,000 to 2,000,000 rows; a source under 400,000 rows is one chunk.
    :param min_rows_for_parallel: below this row estimate a single chunk is planned.
    :param max_active_chunks: cap on chunks running at once within one run (and the default chunk count). With
        a ``pool`` of its own for the chunks, set it to the pool's slots: a task cannot read a pool's size.
    :param mapref: job identity in the mapper tables (default ``"<dag_id>.<task_id>"``).
    :param metadata_schema: schema of the ``mapper_*`` tables (default: the target table's schema).
    :param checkpoint_column: source column for incremental loads (timestamp, date or number).
    :param checkpoint_strategy: ``"AUTO"`` | ``"KEY"`` | ``"PYTHON"`` | ``"NONE"``.
    :param checkpoint_lookback: re-read window for late commits: a timedelta, or a number for numeric columns.
    :param detect_deletes: full extracts only: delete (scd1) or close (scd2) target keys absent from the source.
    :param scd2_effective_time: ``"run_start"`` | ``"data_interval_end"`` | the name of a source column.
    :param max_error_rows: rows a chunk may reject into ``mapper_rejects`` before it fails (0: any bad row fails).
    :param max_delete_fraction: detect_deletes: the largest share of the target's current rows one run may delete
        or close; more fails the run and deletes nothing (1.0 allows any).
    :param allow_empty_extract: detect_deletes: let a source that returned no rows empty the target.
    :param on_schema_change: the source's columns differ from the existing target's: ``"append_new_columns"``
        (default: add new columns, widen types losslessly), ``"fail"`` or ``"ignore"`` (load the target's columns).
    :param chunk_by: ``"auto"`` (default: ranges or hash buckets of the key, by its type) | ``"key"`` | ``"hash"`` |
        ``"rowid"`` (ROWID ranges of an Oracle source's one table: append without a key, or no good key).
    :param consistent_snapshot: every chunk reads the source as of one read point frozen by plan where the source
        has one (Oracle: the SCN; default True); False: each chunk reads the source as it is when it runs.
    :param exact_row_count: plan counts the source's rows exactly instead of estimating them (default False).
    :param lock_timeout: another run of the same mapref owns it and is live: this run's plan waits for it, up to
        this long (timedelta or seconds; default 6 hours), giving its worker slot back between checks (a
        reschedule, as sensors in reschedule mode do); then it fails naming the owner. A dead owner (no task of it
        executing) is taken over instead (README "Overlapping runs").
    :param lock_poke_interval: how often a waiting run checks (default 30 s).
    :param outlets: ``Asset`` objects the run loads (the warehouse table): ``finalize`` carries them, so each
        successful run produces one asset event per outlet, its ``extra`` holding the run's totals (assets.py).
    :param task_kwargs: applied to the three tasks (retries, retry_delay, pool, ...). Unless given here or in
        the DAG's ``default_args``, tasks retry 3 times, 30 s apart, doubling up to 10 minutes
        (:data:`RETRY_DEFAULTS`); permanent errors fail at once without spending retries.
    """

    def __init__(
        self,
        *,
        task_id: str,
        source_conn_id: str,
        source_sql: str,
        target_conn_id: str,
        target_table: str,
        key_columns: Sequence[str] | None = None,
        load_strategy: str = "scd1",
        chunk_size: int | None = None,
        min_rows_for_parallel: int = 100_000,
        max_active_chunks: int | None = None,
        mapref: str | None = None,
        metadata_schema: str | None = None,
        checkpoint_column: str | None = None,
        checkpoint_strategy: str = "AUTO",
        checkpoint_lookback: dt.timedelta | int | float | None = None,
        detect_deletes: bool = False,
        scd2_effective_time: str = "run_start",
        max_error_rows: int = 0,
        max_delete_fraction: float = 0.5,
        allow_empty_extract: bool = False,
        on_schema_change: str = "append_new_columns",
        chunk_by: str = "auto",
        consistent_snapshot: bool = True,
        exact_row_count: bool = False,
        lock_timeout: dt.timedelta | float = LOCK_TIMEOUT,
        lock_poke_interval: dt.timedelta | float = LOCK_POKE_INTERVAL,
        outlets: Sequence[Any] | None = None,
        **task_kwargs: Any,
    ) -> None:
        super().__init__(group_id=task_id)
        dag_id = self.dag.dag_id if self.dag is not None else "nodag"
        cfg = MapperConfig(
            source_conn_id=source_conn_id,
            target_conn_id=target_conn_id,
            target_table=target_table,
            mapref=mapref or f"{dag_id}.{self.group_id}",
            key_columns=() if key_columns is None else key_columns,  # type: ignore[arg-type]  # validated
            load_strategy=load_strategy,  # type: ignore[arg-type]  # validated
            chunk_size=chunk_size,
            min_rows_for_parallel=min_rows_for_parallel,
            max_active_chunks=max_active_chunks,
            metadata_schema=metadata_schema,
            checkpoint_column=checkpoint_column,
            checkpoint_strategy=checkpoint_strategy,  # type: ignore[arg-type]  # validated
            checkpoint_lookback=checkpoint_lookback,
            detect_deletes=detect_deletes,
            scd2_effective_time=scd2_effective_time,
            max_error_rows=max_error_rows,
            max_delete_fraction=max_delete_fraction,
            allow_empty_extract=allow_empty_extract,
            on_schema_change=on_schema_change,  # type: ignore[arg-type]  # validated
            chunk_by=chunk_by,  # type: ignore[arg-type]  # validated
            consistent_snapshot=consistent_snapshot,
            exact_row_count=exact_row_count,
        )
        self.config = cfg
        self.outlets = validate_outlets(outlets)
        conf = cfg.to_dict()
        task_kwargs = _with_retry_defaults(task_kwargs, self.dag)
        with self:
            self.plan = MapperPlanOperator(
                task_id="plan",
                config=conf,
                source_sql=source_sql,
                lock_timeout=lock_timeout,
                lock_poke_interval=lock_poke_interval,
                **task_kwargs,
            )
            self.load = MapperLoadChunkOperator.partial(
                task_id="load_chunk",
                config=conf,
                source_sql=source_sql,
                map_index_template=MAP_INDEX_TEMPLATE,
                max_active_tis_per_dagrun=max_active_chunks,
                **task_kwargs,
            ).expand(chunk=self.plan.output)
            self.finalize = MapperFinalizeOperator(
                task_id="finalize",
                config=conf,
                chunks=self.plan.output,
                source_sql=source_sql,
                outlets=self.outlets,
                trigger_rule=TriggerRule.ALL_DONE,
                **task_kwargs,
            )
            self.load >> self.finalize


def _with_retry_defaults(task_kwargs: dict[str, Any], dag: Any) -> dict[str, Any]:
    given = set(task_kwargs) | set(getattr(dag, "default_args", None) or {})
    return {**{k: v for k, v in RETRY_DEFAULTS.items() if k not in given}, **task_kwargs}
