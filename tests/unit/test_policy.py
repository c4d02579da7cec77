"""The grid-label policy's guards (the label itself is tested end to end in tests/dag/test_progress_dag.py)."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_mapper_provider import policy
from airflow_mapper_provider.operators.load import MAP_INDEX_TEMPLATE


def ti(map_index: int = 1, template: str | None = MAP_INDEX_TEMPLATE, label: str | None = None) -> SimpleNamespace:
    task = SimpleNamespace(map_index_template=template, task_id="load.load_chunk")
    return SimpleNamespace(map_index=map_index, _rendered_map_index=label, task=task)


def test_only_new_mapper_chunks_are_labelled(monkeypatch):
    monkeypatch.setattr(policy, "_labels", lambda run, plan: ["chunk 1/2 id ..10", "chunk 2/2 id 10.."])
    monkeypatch.setattr(policy, "_plan_task_id", lambda task: "load.plan")
    run = SimpleNamespace(id=7)
    assert policy.label_chunk(ti(), None) is None  # no run: refresh_from_task before the run is known
    assert policy.label_chunk(ti(map_index=-1), run) is None  # not expanded yet
    assert policy.label_chunk(ti(template="{{ task.x }}"), run) is None  # some other mapped task
    assert policy.label_chunk(ti(template=None), run) is None
    done = ti(label="chunk 2/2 id 10..")
    assert policy.label_chunk(done, run) is None and done._rendered_map_index == "chunk 2/2 id 10.."
    assert policy.label_chunk(ti(map_index=5), run) is None  # more map indexes than chunks: leave it
    fresh = ti()
    assert policy.label_chunk(fresh, run) == "chunk 2/2 id 10.." == fresh._rendered_map_index


def test_labels_fit_airflow_and_failures_never_escape(monkeypatch):
    monkeypatch.setattr(policy, "_labels", lambda run, plan: ["x" * 300])
    monkeypatch.setattr(policy, "_plan_task_id", lambda task: "load.plan")
    long = ti(map_index=0)
    assert policy.label_chunk(long, SimpleNamespace(id=1)) == "x" * 250

    def broken(run, plan):
        raise RuntimeError("no XCom table")

    monkeypatch.setattr(policy, "_labels", broken)
    untouched = ti()
    policy.task_instance_mutation_hook(untouched, SimpleNamespace(id=1))  # the scheduler goes on
    assert untouched._rendered_map_index is None


def test_the_module_imports_no_airflow():
    import subprocess
    import sys

    code = (
        "import sys, airflow_mapper_provider.policy\n"
        "print(any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_airflow_loads_the_policy_from_the_entry_point():
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="airflow.policy") if ep.value == "airflow_mapper_provider.policy"]
    assert len(found) == 1 and found[0].load() is policy
