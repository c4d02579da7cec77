"""The mapper view under the session's real Airflow (tests/scheduler/conftest.py): its JSON endpoints, its page in
headless Chromium inside the Airflow UI's DAG run tab, Airflow's access checks, and a consumer DAG scheduled on the
MapperOperator's outlet.

One run of a 2-chunk scd1 load (2,000 rows, ``max_active_chunks=1``), its source paced (a sleep per row inside the
chunk's COPY while ``pace_ctl.slow``) so the test sees it running:

- running: the JSON says ``running``, chunk 0 running with rows read and a rate, chunk 1 waiting; the tab (the
  Airflow UI's ``/dags/<dag>/runs/<run>/plugin/mapper_run``, the page in its iframe) shows the same numbers;
  screenshot ``mapper-running.png``;
- stop and resume from the page: its "Stop" button on the running chunk marks it failed (the chunk rolls back), the
  source is unpaced, chunk 1 loads and finalize fails: the tab shows ``failed``, 1 failed chunk, 1,000 inserted
  (screenshot ``mapper-failed.png``); its "Resume failed chunks" button clears them and the run succeeds;
- finished: the JSON and the tab show 2,000 rows read (of the plan's estimate), 2,000 inserted,
  2 / 2 chunks, each chunk's 1,000 rows and path; screenshot ``mapper-finished.png``; the navigation page lists the run;
- the consumer DAG scheduled on the outlet runs, triggered by finalize's asset event, whose extra holds the totals;
- a user without a role gets 403 from both JSON endpoints, a request without a token 401.

Screenshots go to ``$MAPPER_TEST_ARTIFACTS`` (default ``tests/artifacts/``). Chromium and its driver come from
``scripts/install-browser`` (run by scripts/test); without them the browser part skips (fails with ``CI`` set).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.fault.airflow_stack import NO_ACCESS_USER, AirflowStack
from tests.helpers import CUSTOMER_COLUMNS, make_customers, pg_exec
from tests.scheduler.conftest import add_connections, finished, report, trigger, write_dag
from tests.scheduler.test_queueing import PACE_FN

pytestmark = [pytest.mark.pg, pytest.mark.dag]

ROWS, CHUNK = 2_000, 1_000
ASSET_URI = "postgres://warehouse:5432/dw/dw/customers"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
DAG_FILE = """
import datetime as dt

from airflow.sdk import DAG, Asset

import airflow_mapper_provider.progress as progress
from airflow_mapper_provider import MapperOperator

progress.TICK_S = 1.0  # the test watches the live progress: a snapshot a second (default 5 s)

with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False):
    MapperOperator(
        task_id="load", source_conn_id={src!r}, target_conn_id={tgt!r}, source_sql={sql!r},
        target_table="dw.customers", key_columns=["customer_id"], load_strategy="scd1", chunk_size={chunk},
        min_rows_for_parallel=100, max_active_chunks=1, retries=0,
        outlets=[Asset(name="ui_dw_customers", uri={uri!r})],
    )
"""
CONSUMER_FILE = """
import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset

with DAG({dag_id!r}, schedule=[Asset(name="ui_dw_customers", uri={uri!r})], start_date=dt.datetime(2026, 1, 1),
         catchup=False):
    EmptyOperator(task_id="downstream")
"""


def artifacts() -> Path:
    path = Path(os.environ.get("MAPPER_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def mapper_json(stack: AirflowStack, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or stack.token()}"} if token != "" else {}
    return stack.client.get(f"/mapper/api{path}", headers=headers)


def run_view(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, Any]:
    got = mapper_json(stack, f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}")
    assert got.status_code == 200, got.text
    [group] = got.json()["groups"]
    return dict(group)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        why = "chromium/chromium-driver not installed: run scripts/install-browser"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1500,1100")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def open_tab(driver: Any, stack: AirflowStack, dag_id: str, run_id: str) -> None:
    """The Airflow UI's DAG run page, tab "Mapper", logged in through the UI's ``_token`` cookie; switches into the
    tab's iframe."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.switch_to.default_content()
    if not driver.get_cookie("_token"):
        driver.get(f"{stack.url}/api/v2/monitor/health")
        driver.add_cookie({"name": "_token", "value": stack.token(), "path": "/"})
    driver.get(f"{stack.url}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/plugin/mapper_run")
    frame = WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe[src*='/mapper/runs/']"))
    driver.switch_to.frame(frame[0])


def visible(driver: Any, field: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, f'[data-group="load"] [data-field="{field}"]').text)


def wait_visible(driver: Any, field: str, ok: Any, guard: float = 60) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    def check(d: Any) -> str | None:
        try:
            text = visible(d, field)
        except Exception:
            return None
        return text if ok(text) else None

    return str(WebDriverWait(driver, guard, poll_frequency=0.3).until(check))


def shot(driver: Any, name: str) -> Path:
    driver.switch_to.default_content()
    path = artifacts() / name
    driver.save_screenshot(str(path))
    return path


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def check_running(stack: AirflowStack, driver: Any, dag_id: str, run_id: str) -> None:
    def running_with_rows() -> dict[str, Any] | None:
        view = run_view(stack, dag_id, run_id)
        first = view["chunk_rows"][0] if view["chunk_rows"] else {}
        return view if first.get("state") == "running" and (first.get("rows") or 0) > 0 else None

    view = stack.wait_for(running_with_rows, "chunk 0 to report rows read", guard=120)
    assert view["status"] == "running" and view["live"]
    assert view["chunks"] == {"planned": 2, "done": 0, "running": 1, "waiting": 1, "failed": 0}
    assert 0 < view["rows"]["so_far"] < ROWS and abs(view["rows"]["estimated"] - ROWS) <= ROWS // 50
    assert view["chunk_rows"][0]["phase"] == "reading" and view["chunk_rows"][1]["state"] != "running"
    open_tab(driver, stack, dag_id, run_id)
    assert wait_visible(driver, "status", lambda t: t == "running") == "running"
    shown = _int(wait_visible(driver, "rows-so-far", lambda t: t not in ("0", "—")))
    assert 0 < shown < ROWS
    assert visible(driver, "rows-estimated") == f"{view['rows']['estimated']:,}"
    assert visible(driver, "chunks-done") == "0 / 2" and visible(driver, "chunks-running") == "1"
    assert visible(driver, "chunks-waiting") == "1" and visible(driver, "chunks-failed") == "0"
    report(f"ui: running run shown: {shown:,} of ~{ROWS:,} rows, screenshot {shot(driver, 'mapper-running.png')}")


def press(driver: Any, label: str, row: str = "") -> None:
    """Click the page's button ``label`` (in chunk ``row`` if given), then its "Confirm: ..." (the page asks on the
    page: the Airflow UI's iframe sandbox has no modals) and wait until it says the call was sent; the page sends
    the REST call with the browser's own Airflow login (the ``_token`` cookie)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def click(text: str) -> Any:
        def find_and_click(d: Any) -> bool:  # a live page re-renders every 3 s: find the button again if stale
            try:
                found = [b for b in d.find_elements(By.CSS_SELECTOR, f"{row} button[data-action]") if b.text == text]
                if found:
                    found[0].click()
                return bool(found)
            except StaleElementReferenceException:
                return False

        return find_and_click

    wait = WebDriverWait(driver, 30, poll_frequency=0.2)
    wait.until(click(label))
    wait.until(click(f"Confirm: {label}"))

    def sent(d: Any) -> str | None:
        try:
            texts = [b.text for b in d.find_elements(By.CSS_SELECTOR, f"{row} button[data-action]")]
        except StaleElementReferenceException:
            return None
        return next((t for t in texts if t.startswith(f"{label}: ") and t != f"{label}: sending"), None)

    assert wait.until(sent) == f"{label}: sent"


def stop_chunk(stack: AirflowStack, driver: Any, dag_id: str, run_id: str) -> None:
    """The running chunk's "Stop" button marks its task instance failed; the chunk stops and rolls back."""
    open_tab(driver, stack, dag_id, run_id)
    press(driver, "Stop", '[data-group="load"] tr[data-chunk="0"]')
    # until the worker has stopped it (SIGTERM at its next heartbeat, ~5 s): a chunk that finishes reading before
    # then still commits (README "Stopping and resuming a run"), so the source stays paced until here
    stack.wait_for(lambda: run_view(stack, dag_id, run_id)["chunk_rows"][0]["progress_status"] == "stopped",
                   "chunk 0 to be stopped from the page", guard=90)  # fmt: skip
    assert run_view(stack, dag_id, run_id)["chunk_rows"][0]["state"] == "failed"


def check_failed_and_resume(stack: AirflowStack, driver: Any, dag_id: str, run_id: str) -> None:
    """Chunk 0 stopped, chunk 1 loaded, finalize failed: the view says so; "Resume failed chunks" clears them."""
    view = run_view(stack, dag_id, run_id)
    assert view["status"] == "failed" and not view["live"], view
    assert view["chunks"] == {"planned": 2, "done": 1, "running": 0, "waiting": 0, "failed": 1}
    assert view["rows"]["so_far"] == CHUNK and view["counters"]["inserted"] == CHUNK  # the stopped chunk rolled back
    open_tab(driver, stack, dag_id, run_id)
    assert wait_visible(driver, "status", lambda t: t == "failed") == "failed"
    assert visible(driver, "chunks-failed") == "1" and visible(driver, "inserted") == f"{CHUNK:,}"
    from selenium.webdriver.common.by import By

    state = driver.find_element(By.CSS_SELECTOR, '[data-group="load"] tr[data-chunk="0"] [data-field="chunk-state"]')
    assert state.text == "failed (stopped)"
    report(f"ui: stopped chunk shown, screenshot {shot(driver, 'mapper-failed.png')}")
    open_tab(driver, stack, dag_id, run_id)
    press(driver, "Resume failed chunks")


def check_finished(stack: AirflowStack, driver: Any, dag_id: str, run_id: str) -> None:
    view = run_view(stack, dag_id, run_id)
    assert view["status"] == "success" and not view["live"], view
    assert view["chunks"] == {"planned": 2, "done": 2, "running": 0, "waiting": 0, "failed": 0}
    assert view["rows"]["so_far"] == ROWS and view["rows"]["percent"] == 100.0
    estimate = f"{view['rows']['estimated']:,}"
    assert view["counters"] == {"inserted": ROWS, "updated": 0, "expired": 0, "unchanged": 0, "rejected": 0,
                                "deleted": 0}  # fmt: skip
    got = [(c["rows"], c["state"], c["try_number"]) for c in view["chunk_rows"]]
    assert got == [(CHUNK, "success", 2), (CHUNK, "success", 1)]  # chunk 0: stopped, then resumed
    assert {c["path"] for c in view["chunk_rows"]} <= {"copy-direct", "copy-stage"}
    open_tab(driver, stack, dag_id, run_id)
    assert wait_visible(driver, "status", lambda t: t == "success") == "success"
    for field, text in (("rows-so-far", f"{ROWS:,}"), ("inserted", f"{ROWS:,}"), ("updated", "0"),
                        ("chunks-done", "2 / 2"), ("chunks-failed", "0"), ("rows-estimated", estimate)):  # fmt: skip
        assert visible(driver, field) == text, field
    from selenium.webdriver.common.by import By

    cells = [c.text for c in driver.find_elements(By.CSS_SELECTOR, '[data-group="load"] [data-field="chunk-rows"]')]
    assert cells == [f"{CHUNK:,}", f"{CHUNK:,}"]
    assert visible(driver, "rows-line") == f"{ROWS:,} of ~{estimate} rows (100%)"
    report(f"ui: finished run shown, screenshot {shot(driver, 'mapper-finished.png')}")


def check_runs_page(stack: AirflowStack, driver: Any, run_id: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    got = mapper_json(stack, "/runs?limit=20")
    assert got.status_code == 200, got.text
    mine = [r for r in got.json()["runs"] if r["run_id"] == run_id]
    assert len(mine) == 1 and mine[0]["summary"]["rows_inserted"] == ROWS and mine[0]["group"] == "load"
    driver.switch_to.default_content()
    driver.get(f"{stack.url}/mapper/")
    row = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-run="{run_id}"]'))
    assert "success" in row[0].text and f"{ROWS:,}" in row[0].text


def check_access(stack: AirflowStack, dag_id: str, run_id: str) -> None:
    outsider = stack.user_token(NO_ACCESS_USER)
    run_path = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    for path in (run_path, "/runs"):
        assert mapper_json(stack, path, outsider).status_code == 403, path
        assert mapper_json(stack, path, "").status_code == 401, path
    assert stack.client.get(f"/api/v2{run_path.replace('/runs/', '/dagRuns/')}",
                            headers={"Authorization": f"Bearer {outsider}"}).status_code == 403  # fmt: skip


def check_consumer(stack: AirflowStack, consumer: str) -> None:
    def consumer_run() -> dict[str, Any] | None:
        runs = stack.get(f"/dags/{consumer}/dagRuns")["dag_runs"]
        return runs[0] if runs and runs[0]["state"] == "success" else None

    run = stack.wait_for(consumer_run, f"{consumer} to run on the asset event", guard=120)
    events = stack.get(f"/dags/{consumer}/dagRuns/{quote(run['dag_run_id'], safe='')}/upstreamAssetEvents")
    [event] = events["asset_events"]
    assert event["source_task_id"] == "load.finalize" and event["uri"] == ASSET_URI
    assert event["extra"]["rows_inserted"] == ROWS and event["extra"]["status"] == "success"


def check_plugin(stack: AirflowStack) -> None:
    plugins = {p["name"]: p for p in stack.get("/plugins")["plugins"]}
    assert "mapper" in plugins, (
        f"the mapper plugin is not loaded (plugins: {sorted(plugins)}): install the package (pip install -e .) so "
        "that its airflow.plugins entry point is registered"
    )
    views = {v["url_route"]: v for v in plugins["mapper"]["external_views"]}
    assert views["mapper_run"]["destination"] == "dag_run" and views["mapper_runs"]["destination"] == "nav"


def test_mapper_view_running_and_finished(airflow_stack: AirflowStack, pg_dbs: Any, browser: Any) -> None:
    started = time.monotonic()
    stack, dag_id, consumer = airflow_stack, "ui_mapper", "ui_consumer"
    check_plugin(stack)
    make_customers(pg_dbs.source_dsn, ROWS)
    pg_exec(pg_dbs.source_dsn, PACE_FN.replace("{ms}", "25"))  # 1,000 rows a chunk: 25 s of reading until unpaced
    src, tgt = add_connections(stack, "ui", pg_dbs)
    pg_exec(pg_dbs.source_dsn, "ANALYZE customers")
    # IS NOT NULL: PostgreSQL estimates 99.5% of the rows (a bare boolean function: a third, and one chunk)
    sql = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE pace(customer_id) IS NOT NULL"
    write_dag(stack, consumer, CONSUMER_FILE.format(dag_id=consumer, uri=ASSET_URI))
    write_dag(stack, dag_id, DAG_FILE.format(dag_id=dag_id, src=src, tgt=tgt, sql=sql, chunk=CHUNK, uri=ASSET_URI))
    base = trigger(stack, dag_id)
    run_id = base.rsplit("/", 1)[1]
    try:
        check_running(stack, browser, dag_id, run_id)
        stop_chunk(stack, browser, dag_id, run_id)
    finally:
        pg_exec(pg_dbs.source_dsn, "UPDATE pace_ctl SET slow = false")
    stack.wait_for(lambda: finished(stack, base), f"{dag_id} to finish", guard=180)
    assert stack.get(base)["state"] == "failed"
    check_failed_and_resume(stack, browser, dag_id, run_id)
    stack.wait_for(lambda: stack.get(base)["state"] == "success", f"{dag_id} to succeed after the resume", guard=180)
    check_finished(stack, browser, dag_id, run_id)
    check_runs_page(stack, browser, run_id)
    check_access(stack, dag_id, run_id)
    check_consumer(stack, consumer)
    report(f"ui: mapper view test {time.monotonic() - started:.0f} s")
