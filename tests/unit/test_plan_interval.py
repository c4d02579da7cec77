"""plan refuses a window query over an empty data interval: detection in the unrendered template, the check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.operators.plan import MapperPlanOperator, check_data_interval, uses_data_interval

T0 = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
WINDOW = "SELECT * FROM t WHERE u >= '{{ data_interval_start }}' AND u < '{{ data_interval_end }}'"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (WINDOW, True),
        ("SELECT * FROM t WHERE u BETWEEN '{{data_interval_start}}' AND '{{data_interval_end}}'", True),
        (
            "SELECT * FROM t WHERE u >= '{{ dag_run.data_interval_start }}' AND u < '{{ dag_run.data_interval_end }}'",
            True,
        ),
        ("SELECT * FROM t WHERE u >= '{{ data_interval_start | ds }}' AND u < '{{ data_interval_end | ds }}'", True),
        ("SELECT * FROM t WHERE u < '{{ data_interval_end }}'", False),  # one bound: an upper cut-off, not a window
        ("SELECT * FROM t WHERE u >= '{{ data_interval_start }}'", False),
        (
            "SELECT * FROM t WHERE u > '{{ prev_data_interval_start_success }}' "
            "AND u <= '{{ prev_data_interval_end_success }}'",
            False,
        ),
        ("SELECT * FROM t WHERE u >= '{{ ds }}'", False),
        ("SELECT * FROM t", False),
        ("", False),
    ],
)
def test_uses_data_interval(template: str, expected: bool) -> None:
    assert uses_data_interval(template) is expected


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (T0, T0, "this run has an empty data interval (2026-04-01 00:00:00+00:00 to 2026-04-01 00:00:00+00:00)"),
        (None, None, "this run has no data interval"),
    ],
)
def test_window_query_over_empty_interval_is_refused(start: Any, end: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_data_interval(WINDOW, {"data_interval_start": start, "data_interval_end": end})
    text = str(info.value)
    assert message in text
    assert "CronDataIntervalTimetable" in text and "timedelta schedule" in text
    assert "[scheduler] create_cron_data_intervals = True" in text


def test_window_query_over_a_real_interval_passes() -> None:
    day = {"data_interval_start": T0, "data_interval_end": T0 + dt.timedelta(days=1)}
    assert check_data_interval(WINDOW, day) is None


def test_query_without_a_window_ignores_the_interval() -> None:
    assert check_data_interval("SELECT * FROM t", {"data_interval_start": T0, "data_interval_end": T0}) is None


def test_template_text_is_the_unrendered_query_or_sql_file(tmp_path: Path) -> None:
    from airflow.sdk import DAG

    (tmp_path / "window.sql").write_text(WINDOW + "\n")
    with DAG("t_template_text", schedule=None, start_date=T0, template_searchpath=[str(tmp_path)]):
        inline = MapperPlanOperator(task_id="inline", config={}, source_sql=WINDOW)
        from_file = MapperPlanOperator(task_id="from_file", config={}, source_sql="window.sql")
        missing = MapperPlanOperator(task_id="missing", config={}, source_sql="missing.sql")
    inline.source_sql = "SELECT * FROM t WHERE u >= '2026-04-01' AND u < '2026-04-02'"  # as rendering leaves it
    assert inline.template_text() == WINDOW
    assert from_file.template_text() == WINDOW + "\n"
    assert uses_data_interval(from_file.template_text())
    assert missing.template_text() == ""
