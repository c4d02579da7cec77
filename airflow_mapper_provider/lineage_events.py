"""The OpenLineage objects of a mapper run (lineage.py says what they hold) and the operator methods that the
OpenLineage listener calls. Every OpenLineage import is inside a function: the provider is optional."""

from __future__ import annotations

from typing import Any

import attr

from airflow_mapper_provider import lineage
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.models import COUNTERS, RunSummary

#: The run facet's schema (a custom facet: named here, documented in the README).
MAPPER_FACET_SCHEMA = "https://github.com/airflow-mapper-provider/schemas/MapperRunFacet.json"


def _mapper_facet(summary: RunSummary | None, status: str) -> Any:
    from openlineage.client.generated.base import RunFacet

    @attr.define
    class MapperRunFacet(RunFacet):
        status: str = attr.field(default="")
        chunksPlanned: int | None = attr.field(default=None)
        chunksSucceeded: int | None = attr.field(default=None)
        counters: dict[str, int] = attr.field(factory=dict)
        checkpointAfter: str | None = attr.field(default=None)

        @staticmethod
        def _get_schema() -> str:
            return MAPPER_FACET_SCHEMA

    if summary is None:
        return MapperRunFacet(status=status)
    return MapperRunFacet(
        status=summary.status,
        chunksPlanned=summary.chunks_planned,
        chunksSucceeded=summary.chunks_succeeded,
        counters={name: int(getattr(summary, name)) for name in COUNTERS},
        checkpointAfter=summary.checkpoint_after,
    )


def _inputs(source_sql: str, src_conn: Any, summary: RunSummary | None) -> list[Any]:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet

    scheme, ns = lineage.namespace(src_conn)
    db = lineage.database_name(src_conn)
    tables = lineage.source_tables(source_sql, scheme)
    facets: dict[str, Any] = {}
    if summary is not None and len(tables) == 1:
        facets["inputStatistics"] = InputStatisticsInputDatasetFacet(rowCount=summary.rows_read)
    return [InputDataset(namespace=ns, name=lineage.dataset_name(scheme, db, schema, table), inputFacets=facets)
            for schema, table in tables]  # fmt: skip


def _output(cfg: MapperConfig, chunks: list[dict[str, Any]] | None, tgt_conn: Any, summary: RunSummary | None) -> Any:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.generated.output_statistics_output_dataset import OutputStatisticsOutputDatasetFacet
    from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields

    scheme, ns = lineage.namespace(tgt_conn)
    name = lineage.dataset_name(scheme, lineage.database_name(tgt_conn), cfg.table.schema, cfg.table.table)
    facets: dict[str, Any] = {}
    if cols := lineage.target_columns(cfg, chunks):
        facets["schema"] = SchemaDatasetFacet(fields=[SchemaDatasetFacetFields(name=n, type=t) for n, t in cols])
    out_facets: dict[str, Any] = {}
    if summary is not None:
        out_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=lineage.written_rows(summary))
    return OutputDataset(namespace=ns, name=name, facets=facets, outputFacets=out_facets)


def operator_lineage(
    cfg: MapperConfig,
    source_sql: str | None,
    chunks: list[dict[str, Any]] | None,
    summary: RunSummary | None,
    status: str,
    connections: tuple[Any, Any],
) -> Any:
    """The run's ``OperatorLineage``: source tables in, target table out, totals where the run has them."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.generated.sql_job import SQLJobFacet

    src_conn, tgt_conn = connections
    job_facets = {"sql": SQLJobFacet(query=source_sql)} if source_sql else {}
    return OperatorLineage(
        inputs=_inputs(source_sql or "", src_conn, summary),
        outputs=[_output(cfg, chunks, tgt_conn, summary)],
        run_facets={"mapper": _mapper_facet(summary, status)},
        job_facets=job_facets,
    )


class MapperLineageMixin:
    """``get_openlineage_facets_on_start/on_complete/on_failure`` for the finalize operator: it holds the
    run's config, its source query (templated), the plan's chunks and, after ``execute``, the run's summary."""

    config: dict[str, Any]
    source_sql: str | None
    chunks: Any
    _summary: RunSummary | None = None

    def _lineage(self, status: str) -> Any:
        from airflow_mapper_provider import db
        from airflow_mapper_provider.operators.common import load_config

        cfg = load_config(self.config)
        chunks = self.chunks if isinstance(self.chunks, list) else None
        connections = (db.get_connection(cfg.source_conn_id), db.get_connection(cfg.target_conn_id))
        summary = self._summary if status == "complete" else None
        return operator_lineage(cfg, self.source_sql, chunks, summary, status, connections)

    def get_openlineage_facets_on_start(self) -> Any:
        return self._lineage("running")

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._lineage("complete")

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self._lineage("failed")
