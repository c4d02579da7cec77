"""Asset events of a mapper run: ``MapperOperator(outlets=[Asset(...)])`` gives the outlets to ``finalize``
only, so a run produces one asset event per outlet when it succeeds (a failed finalize produces none), with the
run's totals in the event's ``extra`` (downstream DAGs scheduled on the asset can read them from
``triggering_asset_events``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.models import RunSummary

#: RunSummary fields copied into each asset event's extra.
EXTRA_FIELDS = (
    "status", "rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged", "rows_deleted",
    "rows_rejected", "chunks_planned", "chunks_succeeded", "checkpoint_after",
)  # fmt: skip


def validate_outlets(outlets: object) -> list[Any]:
    """Parse-time check of ``outlets``: None or a list of Airflow ``Asset`` objects (not alias or URI text)."""
    if outlets is None:
        return []
    from airflow.sdk import Asset

    items = [outlets] if isinstance(outlets, Asset) else outlets
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ConfigError(f"outlets must be a list of airflow.sdk.Asset objects, got {type(outlets).__name__}")
    wrong = [type(o).__name__ for o in items if not isinstance(o, Asset)]
    if wrong:
        raise ConfigError(
            f"outlets must be airflow.sdk.Asset objects (the warehouse table the run loads), got {wrong}: wrap a "
            "URI as Asset('postgres://host:5432/db/schema/table')"
        )
    return list(items)


def event_extra(summary: RunSummary, mapref: str, target_table: str) -> dict[str, Any]:
    """The ``extra`` of the run's asset event."""
    return {
        "mapref": mapref,
        "target_table": target_table,
        **{name: getattr(summary, name) for name in EXTRA_FIELDS},
    }


def record_events(context: Any, outlets: Sequence[Any], extra: dict[str, Any]) -> None:
    """Put ``extra`` on the asset event of every outlet (Airflow emits them when the task succeeds)."""
    if not outlets:
        return
    events = context["outlet_events"]
    for outlet in outlets:
        events[outlet].extra.update(extra)
