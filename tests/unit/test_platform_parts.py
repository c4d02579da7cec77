"""The pure parts of lineage, metrics and assets, and how MapperOperator wires outlets (no database)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_mapper_provider import lineage, metrics
from airflow_mapper_provider.assets import event_extra, validate_outlets
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.models import ChunkResult, RunSummary


def conn(conn_type: str, host: str | None = None, port: int | None = None, schema: str | None = None,
         extra: dict[str, Any] | None = None) -> Any:  # fmt: skip
    return SimpleNamespace(conn_type=conn_type, host=host, port=port, schema=schema, extra_dejson=extra or {})


@pytest.mark.parametrize(
    ("connection", "scheme", "namespace", "database"),
    [
        (conn("postgres", "db.example", 5433, "sales"), "postgres", "postgres://db.example:5433", "sales"),
        (conn("postgres", "db.example", None, "sales"), "postgres", "postgres://db.example:5432", "sales"),
        (conn("oracle", "ora", 1522, None, {"service_name": "ORCLPDB"}), "oracle", "oracle://ora:1522", "ORCLPDB"),
        (conn("sqlite", "/data/w.db"), "sqlite", "sqlite:///data/w.db", None),
        (conn("generic", extra={"sqlalchemy_url": "sqlite:////data/x.db"}), "sqlite", "sqlite:///data/x.db", None),
        (conn("generic", extra={"sqlalchemy_url": "postgresql+psycopg://u:p@h:6000/dw"}), "postgres",
         "postgres://h:6000", "dw"),
    ],
)  # fmt: skip
def test_namespaces_follow_the_naming_spec(connection: Any, scheme: str, namespace: str, database: Any) -> None:
    assert lineage.namespace(connection) == (scheme, namespace)
    assert lineage.database_name(connection) == database


def test_dataset_names() -> None:
    assert lineage.dataset_name("postgres", "sales", None, "orders") == "sales.public.orders"
    assert lineage.dataset_name("postgres", "sales", "dw", "orders") == "sales.dw.orders"
    assert lineage.dataset_name("oracle", "ORCLPDB", "HR", "EMP") == "ORCLPDB.HR.EMP"
    assert lineage.dataset_name("sqlite", None, None, "orders") == "orders"


def test_source_tables_parsed_from_the_query() -> None:
    sql = "SELECT o.id, c.name FROM sales.orders o JOIN customers c ON c.id = o.customer_id WHERE o.id > 3"
    assert lineage.source_tables(sql, "postgres") == [(None, "customers"), ("sales", "orders")]
    assert lineage.source_tables("VALUES (1), (2)", "postgres") == []


def _cfg(strategy: str = "scd1") -> MapperConfig:
    return MapperConfig(source_conn_id="s", target_conn_id="t", target_table="dw.t", mapref="d.load",
                        key_columns=("id",), load_strategy=strategy)  # fmt: skip


def test_target_columns_add_the_scd2_columns() -> None:
    chunks = [{"source_columns": [{"name": "id", "kind": "bigint", "native": "int8"}, {"name": "v", "kind": "text"}]}]
    assert lineage.target_columns(_cfg(), chunks) == [("id", "int8"), ("v", "text")]
    names = [n for n, _ in lineage.target_columns(_cfg("scd2"), chunks)]
    assert names == ["id", "v", "valid_from", "valid_to", "is_current", "row_hash"]
    assert lineage.target_columns(_cfg(), None) == []


def test_written_rows() -> None:
    summary = RunSummary("success", 2, 2, rows_read=10, rows_inserted=4, rows_updated=3, rows_expired=2,
                         rows_unchanged=1, rows_deleted=5)  # fmt: skip
    assert lineage.written_rows(summary) == 14  # unchanged rows are not written


def test_chunk_metrics() -> None:
    result = ChunkResult(index=0, rows_read=1000, rows_inserted=600, rows_updated=400, rows_rejected=3,
                         seconds_total=2.0)  # fmt: skip
    got = {(kind, name): value for kind, name, value in metrics.chunk_metrics(_cfg("scd2"), result)}
    assert got[("incr", "mapper.rows.scd2.read")] == 1000 and got[("incr", "mapper.rows.scd2.inserted")] == 600
    assert got[("incr", "mapper.rows_rejected")] == 3 and got[("timing", "mapper.chunk.duration")] == 2.0
    assert got[("gauge", "mapper.chunk.rows_per_s")] == 500.0
    replayed = ChunkResult(index=0, rows_read=1000, from_ledger=True)
    assert metrics.chunk_metrics(_cfg(), replayed) == []  # counted when it committed


def test_run_metrics() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ok = metrics.run_metrics(RunSummary("success", 1, 1, rows_deleted=7), start, start + dt.timedelta(seconds=9))
    assert ok == [("incr", "mapper.run.success", 1.0), ("incr", "mapper.rows_deleted", 7.0),
                  ("timing", "mapper.run.duration", 9.0)]  # fmt: skip
    assert metrics.run_metrics(RunSummary("failed", 1, 0), None, start) == [("incr", "mapper.run.failed", 1.0)]


def test_outlets_are_validated_at_parse_time() -> None:
    from airflow.sdk import Asset

    asset = Asset("postgres://h:5432/db/dw/t")
    assert validate_outlets(None) == [] and validate_outlets([asset]) == [asset] and validate_outlets(asset) == [asset]
    with pytest.raises(ConfigError, match="Asset objects"):
        validate_outlets(["postgres://h:5432/db/dw/t"])
    with pytest.raises(ConfigError, match=r"list of airflow\.sdk\.Asset"):
        validate_outlets("postgres://h:5432/db/dw/t")


def test_outlets_go_to_finalize_only() -> None:
    from airflow.sdk import DAG, Asset

    from airflow_mapper_provider import MapperOperator

    asset = Asset("postgres://h:5432/db/dw/t")
    with DAG("outlets_dag", schedule=None, start_date=dt.datetime(2026, 1, 1)):
        group = MapperOperator(task_id="load", source_conn_id="s", target_conn_id="t", source_sql="SELECT 1 AS id",
                               target_table="dw.t", key_columns=["id"], outlets=[asset])  # fmt: skip
    assert group.finalize.outlets == [asset] and not group.plan.outlets
    assert group.finalize.source_sql == "SELECT 1 AS id"
    with pytest.raises(ConfigError), DAG("bad_outlets", schedule=None, start_date=dt.datetime(2026, 1, 1)):
        MapperOperator(task_id="load", source_conn_id="s", target_conn_id="t", source_sql="SELECT 1 AS id",
                       target_table="dw.t", key_columns=["id"], outlets=["not an asset"])  # fmt: skip


def test_event_extra() -> None:
    summary = RunSummary("success", 3, 3, rows_read=9, rows_inserted=5, rows_expired=1, checkpoint_after="42")
    extra = event_extra(summary, "d.load", "dw.t")
    assert extra["mapref"] == "d.load" and extra["target_table"] == "dw.t" and extra["rows_inserted"] == 5
    assert extra["rows_expired"] == 1 and extra["checkpoint_after"] == "42" and extra["chunks_succeeded"] == 3
