"""MapperOperator as a DAG author sees it: the three tasks, their wiring, parse-time errors, serialization.

No Airflow metadata database and no connections: building and serializing a DAG touches neither.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

import airflow_mapper_provider
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.get_provider_info import get_provider_info
from airflow_mapper_provider.models import ChunkSpec, encode_value

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
START = dt.datetime(2026, 1, 1)

MAPPER: dict[str, Any] = {
    "source_conn_id": "no_such_source_conn",
    "source_sql": "SELECT customer_id, name FROM customers",
    "target_conn_id": "no_such_target_conn",
    "target_table": "dw.dim_customer",
    "key_columns": ["customer_id"],
}


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a DAG must not look up a connection or open a session."""
    from airflow_mapper_provider import db

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a database was touched while building the DAG")

    monkeypatch.setattr(db, "get_connection", forbidden)
    monkeypatch.setattr(db, "connect", forbidden)
    monkeypatch.setattr(db, "session", forbidden)


def build(dag_id: str = "mapper_dag", **overrides: Any) -> tuple[Any, Any]:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator

    with DAG(dag_id, schedule=None, start_date=START) as dag:
        mapper = MapperOperator(task_id="load_customers", **{**MAPPER, **overrides})
    return dag, mapper


# ---- the three tasks --------------------------------------------------------------------------------------------


def test_task_ids() -> None:
    dag, _ = build()
    assert dag.task_ids == ["load_customers.plan", "load_customers.load_chunk", "load_customers.finalize"]


def test_operator_classes() -> None:
    from airflow_mapper_provider import MapperFinalizeOperator, MapperLoadChunkOperator, MapperPlanOperator

    dag, mapper = build()
    assert isinstance(dag.get_task("load_customers.plan"), MapperPlanOperator)
    assert isinstance(dag.get_task("load_customers.finalize"), MapperFinalizeOperator)
    load = dag.get_task("load_customers.load_chunk")
    assert load.operator_class is MapperLoadChunkOperator
    assert (mapper.plan, mapper.load, mapper.finalize) == tuple(
        dag.get_task(f"load_customers.{t}") for t in ("plan", "load_chunk", "finalize")
    )


def test_load_chunk_is_mapped_over_the_plan_output() -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag, _ = build()
    task = dag.get_task("load_customers.load_chunk")
    assert isinstance(task, MappedOperator)
    load: Any = task
    assert list(load.expand_input.value) == ["chunk"]
    xcom_arg = load.expand_input.value["chunk"]
    assert xcom_arg.operator.task_id == "load_customers.plan"
    assert xcom_arg.key == "return_value"
    assert load.upstream_task_ids == {"load_customers.plan"}


def test_finalize_runs_after_every_chunk_whatever_happened() -> None:
    dag, _ = build()
    finalize = dag.get_task("load_customers.finalize")
    assert finalize.trigger_rule == "all_done"
    assert finalize.upstream_task_ids == {"load_customers.plan", "load_customers.load_chunk"}
    assert finalize.downstream_task_ids == set()
    assert dag.get_task("load_customers.load_chunk").downstream_task_ids == {"load_customers.finalize"}


def test_task_kwargs_reach_all_three_tasks() -> None:
    dag, _ = build(retries=4, retry_delay=dt.timedelta(seconds=7), pool="warehouse", owner="dwh-team")
    for task_id in ("plan", "load_chunk", "finalize"):
        task = dag.get_task(f"load_customers.{task_id}")
        assert (task.retries, task.retry_delay, task.pool, task.owner) == (
            4,
            dt.timedelta(seconds=7),
            "warehouse",
            "dwh-team",
        ), task_id


def test_max_active_chunks_caps_mapped_instances_per_run() -> None:
    dag, _ = build(max_active_chunks=3)
    assert dag.get_task("load_customers.load_chunk").max_active_tis_per_dagrun == 3
    assert dag.get_task("load_customers.plan").max_active_tis_per_dagrun is None
    dag, _ = build()
    assert dag.get_task("load_customers.load_chunk").max_active_tis_per_dagrun is None


def test_map_index_template_renders_the_chunk_label() -> None:
    dag, _ = build()
    template = dag.get_task("load_customers.load_chunk").partial_kwargs["map_index_template"]
    spec = ChunkSpec(2, 5, "range", ("customer_id",), encode_value(100), encode_value(200))
    rendered = jinja2.Template(template).render(task=SimpleNamespace(chunk=spec.to_dict()))
    assert rendered == "chunk 3/5 customer_id 100..200"


def test_source_sql_is_templated() -> None:
    dag, _ = build(source_sql="SELECT * FROM customers WHERE day = '{{ ds }}'")
    for task_id in ("plan", "load_chunk"):
        task = dag.get_task(f"load_customers.{task_id}")
        assert "source_sql" in task.template_fields
        assert ".sql" in task.template_ext
    assert dag.get_task("load_customers.plan").source_sql == "SELECT * FROM customers WHERE day = '{{ ds }}'"


def test_config_travels_as_a_dict() -> None:
    dag, mapper = build(load_strategy="scd2", chunk_size=1000, max_active_chunks=2)
    plan = dag.get_task("load_customers.plan")
    assert plan.config == mapper.config.to_dict()
    assert json.loads(json.dumps(plan.config))["key_columns"] == ["customer_id"]
    assert dag.get_task("load_customers.load_chunk").partial_kwargs["config"] == plan.config
    assert dag.get_task("load_customers.finalize").config == plan.config


# ---- mapref -----------------------------------------------------------------------------------------------------


def test_default_mapref_is_dag_and_task_id() -> None:
    _, mapper = build("nightly_dw")
    assert mapper.config.mapref == "nightly_dw.load_customers"


def test_explicit_mapref_wins() -> None:
    _, mapper = build(mapref="crm.customers")
    assert mapper.config.mapref == "crm.customers"


def test_mapref_inside_a_task_group_includes_the_group() -> None:
    from airflow.sdk import DAG, TaskGroup

    from airflow_mapper_provider import MapperOperator

    with DAG("grouped", schedule=None, start_date=START) as dag, TaskGroup("crm"):
        mapper = MapperOperator(task_id="load_customers", **MAPPER)
    assert mapper.config.mapref == "grouped.crm.load_customers"
    assert "crm.load_customers.load_chunk" in dag.task_ids


def test_two_mappers_chain() -> None:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator

    with DAG("chained", schedule=None, start_date=START) as dag:
        first = MapperOperator(task_id="customers", **MAPPER)
        second = MapperOperator(task_id="orders", **{**MAPPER, "target_table": "dw.fact_order"})
        first >> second
    assert dag.get_task("orders.plan").upstream_task_ids == {"customers.finalize"}
    assert (first.config.mapref, second.config.mapref) == ("chained.customers", "chained.orders")


# ---- parse-time errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chunk_size": 0}, "chunk_size must be an integer >= 1"),
        ({"target_table": "dw.t; DROP TABLE x"}, "invalid target_table"),
        ({"key_columns": None}, "'scd1' needs key_columns"),
        ({"load_strategy": "merge"}, "unknown load_strategy 'merge'"),
        ({"load_strategy": "scd2", "key_columns": ["valid_from"]}, "clash with the scd2 columns"),
        ({"max_active_chunks": 0}, "max_active_chunks must be an integer >= 1"),
    ],
)
def test_invalid_config_fails_when_the_dag_is_built(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(**overrides)


def test_key_columns_as_a_string_fails_when_the_dag_is_built() -> None:
    with pytest.raises(ConfigError, match="key_columns must be a list"):
        build(key_columns="customer_id")


def test_bad_source_sql_is_checked_after_rendering_not_at_parse_time() -> None:
    dag, _ = build(source_sql="{{ var.value.customer_query }}")
    assert dag.get_task("load_customers.plan").source_sql == "{{ var.value.customer_query }}"


# ---- serialization ----------------------------------------------------------------------------------------------


def test_dag_serialization_round_trip() -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    dag, _ = build(max_active_chunks=3, retries=2, pool="warehouse")
    data = json.loads(json.dumps(DagSerialization.to_dict(dag)))
    DagSerialization.validate_schema(data)
    restored = DagSerialization.from_dict(data)

    assert restored.task_ids == dag.task_ids
    load: Any = restored.get_task("load_customers.load_chunk")
    assert load.is_mapped
    assert load.max_active_tis_per_dagrun == 3
    assert load.partial_kwargs["retries"] == 2
    assert load.pool == "warehouse"
    assert load.expand_input.value["chunk"].operator.task_id == "load_customers.plan"
    assert load.partial_kwargs["map_index_template"] == "{{ task.chunk['label'] }}"
    finalize = restored.get_task("load_customers.finalize")
    assert finalize.trigger_rule == "all_done"
    assert finalize.upstream_task_ids == {"load_customers.plan", "load_customers.load_chunk"}
    plan: Any = restored.get_task("load_customers.plan")
    assert plan.source_sql == MAPPER["source_sql"]  # template fields survive
    assert plan.downstream_task_ids == {"load_customers.load_chunk", "load_customers.finalize"}


def test_incremental_options_survive_serialization() -> None:
    """A timedelta lookback travels as JSON in the operators' config and comes back as a timedelta."""
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_mapper_provider.config import MapperConfig

    dag, mapper = build(checkpoint_column="updated_at", checkpoint_lookback=dt.timedelta(minutes=15))
    assert mapper.config.checkpoint_lookback == dt.timedelta(minutes=15)
    restored = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag))))
    assert restored.task_ids == dag.task_ids
    conf = dag.get_task("load_customers.plan").config
    assert MapperConfig.from_dict(json.loads(json.dumps(conf))) == mapper.config


# ---- the example DAGs -------------------------------------------------------------------------------------------


def test_example_dags_import_without_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    files = sorted(DAGS_FOLDER.glob("*.py"))
    assert files
    locations = {Path(dag.fileloc).resolve() for dag in bag.dags.values()}
    assert {f.resolve() for f in files} <= locations, "a DAG file produced no DAG"
    for dag in bag.dags.values():
        groups = {t.rsplit(".", 1)[0] for t in dag.task_ids if t.endswith(".load_chunk")}
        assert groups, f"{dag.dag_id} has no MapperOperator"
        for group in groups:
            assert {f"{group}.plan", f"{group}.load_chunk", f"{group}.finalize"} <= set(dag.task_ids)


def test_example_dags_serialize() -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    for dag in bag.dags.values():
        restored = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag))))
        assert restored.task_ids == dag.task_ids


def test_example_window_queries_get_real_data_intervals() -> None:
    """An example whose query reads data_interval_start .. data_interval_end needs a timetable with real intervals:
    Airflow 3 turns a cron string such as "@daily" into a CronTriggerTimetable, whose intervals are empty. Every
    scheduled example runs one run at a time (runs of one job never overlap)."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_mapper_provider.operators.plan import MapperPlanOperator, uses_data_interval

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    windowed = []
    for dag in bag.dags.values():
        timetable = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag)))).timetable
        if timetable.periodic:
            assert dag.max_active_runs == 1, dag.dag_id
        plans = [t for t in dag.tasks if isinstance(t, MapperPlanOperator)]
        if any(uses_data_interval(plan.template_text()) for plan in plans):
            interval = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, 6))
            assert interval.start < interval.end, f"{dag.dag_id}: {type(timetable).__name__} gives empty intervals"
            windowed.append(dag.dag_id)
    assert sorted(windowed) == ["example_append_postgres", "example_backfill_postgres"]


# ---- the package ------------------------------------------------------------------------------------------------


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_package_import_does_not_import_airflow() -> None:
    """Airflow imports providers while itself importing: the package must stay lazy."""
    code = "import sys, airflow_mapper_provider as m; print(m.__version__, 'airflow' in sys.modules)"
    assert run_python(code) == f"{airflow_mapper_provider.__version__} False"


def test_pure_core_does_not_import_airflow() -> None:
    code = (
        "import sys\n"
        "import airflow_mapper_provider as m\n"
        "from airflow_mapper_provider import config, identifiers, models, exceptions, planning, dialects, strategies\n"
        "m.MapperConfig, m.ConfigError, m.MapperError\n"
        "print(sorted(n for n in sys.modules if n == 'airflow' or n.startswith('airflow.')))"
    )
    assert run_python(code) == "[]"


def test_lazy_exports_resolve() -> None:
    from airflow_mapper_provider.config import MapperConfig
    from airflow_mapper_provider.task_group import MapperOperator

    assert airflow_mapper_provider.MapperOperator is MapperOperator
    assert airflow_mapper_provider.MapperConfig is MapperConfig
    assert set(airflow_mapper_provider.__all__) >= {"MapperOperator", "MapperConfig", "ConfigError", "__version__"}
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = airflow_mapper_provider.Nope


def test_provider_info() -> None:
    """What ``airflow providers list`` reads: valid against Airflow's own provider-info schema, our version."""
    import airflow
    import jsonschema

    info = get_provider_info()
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)  # raises on a missing or mistyped field
    assert info["package-name"] == "airflow-mapper-provider"
    assert info["versions"][0] == airflow_mapper_provider.__version__
    modules = [m for i in info["integrations"] for m in i["python-modules"]]
    assert modules == ["airflow_mapper_provider.task_group"]
    importlib.import_module(modules[0])  # the module the providers manager imports exists


def test_provider_entry_point_is_registered() -> None:
    points = importlib.metadata.entry_points(group="apache_airflow_provider")
    ours = [p for p in points if p.value.startswith("airflow_mapper_provider.")]
    assert [p.load() for p in ours] == [get_provider_info]
    assert importlib.metadata.version("airflow-mapper-provider") == airflow_mapper_provider.__version__
