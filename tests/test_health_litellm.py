"""Health and metrics against the real LiteLLM (its own harness, for this module: the tests take it down).

LiteLLM and the app database (PostgreSQL) are each reached through a TCP switch (tests/support/tcp_switch.py):
switched off, their address refuses connections and open ones are cut, as when the server stops; switched on,
the same server answers again at the same address. The console's /metrics is read with prometheus_client's
parser; its counters are compared with what the test did and with what the console and LiteLLM recorded.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.core.settings import load_settings
from lib.health.litellm_checks import check_now
from lib.health.report import health_report
from lib.health.status import short_error
from lib.runtime import Runtime
from lib.services import run_refresh_today
from lib.usage.ingest import IngestError
from tests.support.browser import TIMEOUT, login, wait_idle
from tests.support.litellm_harness import harness_down, harness_up, send_traffic
from tests.support.metrics import scrape, value
from tests.support.ports import free_port
from tests.support.streamlit_server import StreamlitServer, _require_chromium
from tests.support.tcp_switch import TcpSwitch

pytestmark = pytest.mark.litellm
PASSWORD = "health-pass-1"


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    env = harness_up()
    try:
        env["traffic"] = send_traffic(env, tmp_path_factory.mktemp("traffic") / "t.json", 1, 1, 12)
        yield env
    finally:
        harness_down(env)


@pytest.fixture(scope="module")
def litellm(harness):
    """The real LiteLLM, behind a switch."""
    switch = TcpSwitch("127.0.0.1", urlsplit(harness["LITELLM_BASE_URL"]).port).start()
    yield switch
    switch.stop()


@pytest.fixture(scope="module")
def app_db(pg_server):
    """A PostgreSQL app database behind a switch; its URL through the switch."""
    name = "health_" + uuid.uuid4().hex[:10]
    with psycopg.connect(pg_server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    switch = TcpSwitch("127.0.0.1", urlsplit(pg_server).port).start()
    yield switch, f"postgresql://postgres@127.0.0.1:{switch.port}/{name}"
    switch.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory, harness, litellm, app_db):
    """The console's runtime on the real LiteLLM, serving its endpoints (no scheduler: the tests run the jobs)."""
    settings = load_settings(
        {
            "LITELLM_BASE_URL": litellm.url,
            "LITELLM_API_KEY": harness["LITELLM_MASTER_KEY"],
            "DATABASE_URL": app_db[1],
            "DUCKDB_PATH": str(tmp_path_factory.mktemp("health_store") / "usage.duckdb"),
            "METRICS_PORT": str(free_port()),
            "LITELLM_TIMEOUT_S": "10",
        },
        secrets_path=None,
    )
    rt = Runtime(settings)
    assert rt.start_console_endpoints().serving
    accounts.create_user(rt.engine, None, "root", PASSWORD, "admin")
    yield rt
    rt.close()


@pytest.fixture(autouse=True)
def everything_back_up(litellm, app_db):
    yield
    litellm.start()
    app_db[0].start()


def _base(rt: Runtime) -> str:
    return f"http://127.0.0.1:{rt.settings.METRICS_PORT}"


def _readyz(rt: Runtime) -> httpx.Response:
    resp = httpx.get(f"{_base(rt)}/readyz", timeout=60)
    assert resp.headers["content-type"] == "application/json"
    return resp


def _moved(before, after, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _litellm(harness, path: str) -> dict:
    """LiteLLM's own answer (the oracle), straight from the proxy."""
    resp = httpx.get(
        harness["LITELLM_BASE_URL"] + path,
        headers={"Authorization": f"Bearer {harness['LITELLM_MASTER_KEY']}"},
        timeout=120,
    )
    assert resp.status_code in (200, 503), resp.text
    return resp.json()


# -- /metrics --------------------------------------------------------------------------------------------
def test_metrics_counters_move_after_a_refresh(console):
    started = datetime.now(timezone.utc).timestamp()
    before = scrape(_base(console))
    summary = run_refresh_today(console, "test")
    after = scrape(_base(console))
    assert summary.rows_written > 0  # the traffic sent today
    for name, labels, moved in (
        ("litellm_console_job_runs_total", {"job": "refresh_today", "status": "success"}, 1),
        ("litellm_console_job_duration_seconds_count", {"job": "refresh_today"}, 1),
        ("litellm_console_rows_ingested_total", {"job": "refresh_today"}, summary.rows_written),
        ("litellm_console_litellm_request_duration_seconds_count", {"endpoint": "/user/daily/activity"}, summary.pages),
    ):
        assert _moved(before, after, name, **labels) == moved, name
    assert value(after, "litellm_console_last_successful_refresh_timestamp_seconds") >= started
    days = console.store.day_states()
    for status in ("complete", "partial"):
        stored = sum(1 for s in days.values() if s.status == status)
        assert value(after, "litellm_console_usage_days_stored", status=status) == stored


def test_metrics_counters_move_after_a_failed_refresh(console, litellm):
    run_refresh_today(console, "test")  # a success first: the failure must not move its timestamp
    before = scrape(_base(console))
    litellm.stop()
    with pytest.raises(IngestError, match="Cannot reach LiteLLM") as failed_refresh:
        run_refresh_today(console, "test")
    after = scrape(_base(console))
    failed = {"job": "refresh_today", "status": "failed"}
    assert _moved(before, after, "litellm_console_job_runs_total", **failed) == 1
    errors = {"endpoint": "/user/daily/activity", "kind": "unreachable"}
    with console.litellm_client() as client:
        tries = client.retries + 1
    ranges = len(failed_refresh.value.summary.errors)  # one error per range of days asked (today, maybe yesterday)
    moved = _moved(before, after, "litellm_console_litellm_request_errors_total", **errors)
    assert ranges >= 1 and moved == tries * ranges
    last = "litellm_console_last_successful_refresh_timestamp_seconds"
    assert value(after, last) == value(before, last)


def test_metrics_count_a_failed_login_and_a_lockout(console):
    before = scrape(_base(console))
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(accounts.LoginError):
            accounts.authenticate(console.engine, "root", "not-the-password")
    after = scrape(_base(console))
    logins = "litellm_console_logins_total"
    moved = {o: _moved(before, after, logins, outcome=o) for o in ("success", "failure", "locked")}
    assert moved == {"success": 0, "failure": accounts.MAX_FAILED_LOGINS - 1, "locked": 1}
    audited = list_audit(console.engine, action="login")
    assert {o: int((audited["outcome"] == o).sum()) for o in moved} == {
        o: value(after, logins, outcome=o) for o in moved
    }


# -- /readyz ---------------------------------------------------------------------------------------------
def test_readyz_turns_503_while_litellm_is_down_and_200_when_it_returns(console, litellm):
    ready = _readyz(console)
    assert (ready.status_code, ready.json()["status"], ready.json()["reasons"]) == (200, "ready", [])
    litellm.stop()
    down = _readyz(console)
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "not ready"
    assert [r.split(":")[0] for r in body["reasons"]] == ["LiteLLM liveness"]
    assert f"Cannot reach LiteLLM at {litellm.url}" in body["reasons"][0]
    assert {k: c["status"] for k, c in body["checks"].items()} == {
        "app_database": "green",
        "usage_store": "green",
        "litellm": "red",
    }
    litellm.start()
    back = _readyz(console)
    assert (back.status_code, back.json()["status"]) == (200, "ready")


def test_readyz_turns_503_while_the_app_database_is_down_and_200_when_it_returns(console, app_db):
    assert _readyz(console).status_code == 200
    app_db[0].stop()
    down = _readyz(console)
    assert down.status_code == 503
    why = "App database: Cannot use the app database (OperationalError); see the server log"
    assert down.json()["reasons"] == [why]
    assert "postgres" not in down.text  # nothing of the database's address or user
    metrics = scrape(_base(console))  # still served: what cannot be read is reported as such
    assert value(metrics, "litellm_console_source_up", source="app_database") == 0
    assert value(metrics, "litellm_console_source_up", source="usage_store") == 1
    app_db[0].start()
    back = _readyz(console)
    assert (back.status_code, back.json()["status"]) == (200, "ready"), back.text


# -- the Health page's checks on the real LiteLLM --------------------------------------------------------
def test_litellms_checks_agree_with_its_own_answers_and_check_now_is_stored_by_it(console, harness):
    report = health_report(console)
    checks = {c.name: c for c in report.litellm}
    assert _litellm(harness, "/health/latest")["latest_health_checks"] == {}  # nobody checked a model yet
    assert {n: c.status for n, c in checks.items()} == {
        "LiteLLM liveness": "green",
        "LiteLLM readiness": "green",
        "LiteLLM details": "green",
        "Deployments": "amber",
    }
    assert checks["Deployments"].reason.startswith("LiteLLM has no stored health checks yet")
    own = _litellm(harness, "/health/readiness/details")
    assert (
        own["litellm_version"]
        and f"LiteLLM {own['litellm_version']} · database: {own['db']}" in checks["LiteLLM details"].reason
    )

    root = accounts.get_user(console.engine, "root")
    broken = check_now(console, root, "broken-model")
    working = check_now(console, root, "gpt-4o")
    assert [(r.model, r.healthy) for r in broken] == [("openai/gpt-4o", False)]  # broken-model's deployment
    assert [(r.model, r.healthy) for r in working] == [("openai/gpt-4o", True)]
    assert broken[0].api_base == "http://127.0.0.1:9/v1" and "Connection error" in broken[0].error
    audited = list_audit(console.engine, action="health.check_now")
    assert list(audited["target"]) == ["gpt-4o", "broken-model"]
    assert list(audited["details"]) == [{"healthy": 1, "unhealthy": 0}, {"healthy": 0, "unhealthy": 1}]

    latest = _litellm(harness, "/health/latest")["latest_health_checks"]
    rows = {d.model: d for d in health_report(console).deployments}
    assert set(rows) == {c["model_name"] for c in latest.values()}
    for stored in latest.values():
        row = rows[stored["model_name"]]
        assert row.result == stored["status"]
        assert row.status == ("green" if stored["status"] == "healthy" else "red")
        assert row.error == short_error(stored["error_message"])
    assert rows["broken-model"].status == "red" and rows["gpt-4o"].status == "green"


# -- the page in a browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def health_server(tmp_path_factory, harness, litellm):
    """The console (a real `streamlit run`) on the real LiteLLM through the switch, serving its own endpoints."""
    _require_chromium()
    server = StreamlitServer(tmp_path_factory.mktemp("health_server"), backfill_days=2)
    server.env.update(
        {
            "LITELLM_BASE_URL": litellm.url,
            "LITELLM_API_KEY": harness["LITELLM_MASTER_KEY"],
            "ADMIN_USERNAME": "root",
            "ADMIN_PASSWORD": PASSWORD,
            "METRICS_PORT": str(free_port()),
        }
    )
    for username, role in (("ro", "admin-readonly"), ("someone", "user")):
        made = server.cli("create-user", "--username", username, "--role", role, "--password-stdin", stdin=PASSWORD)
        assert made.returncode == 0, made.stderr
    server.start()
    yield server
    server.stop()


def _check_line(page: Page, name: str):
    return page.get_by_test_id("stMarkdown").filter(has_text=name)


def _check_again(page: Page) -> None:
    wait_idle(page)
    page.get_by_role("button", name="Check again").click()
    wait_idle(page)


@pytest.mark.browser
def test_health_page_shows_red_while_litellm_is_stopped_and_green_when_it_returns(
    browser: Browser, health_server, litellm
):
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    login(page, health_server.url, "root", PASSWORD, "health")
    expect(page.get_by_role("heading", name="Health")).to_be_visible(timeout=TIMEOUT)
    liveness = _check_line(page, "LiteLLM liveness")
    expect(liveness).to_contain_text("OK", timeout=TIMEOUT)
    # the app process serves its own endpoints since its first page run
    port = health_server.env["METRICS_PORT"]
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200

    litellm.stop()
    _check_again(page)
    expect(liveness).to_contain_text("Failing", timeout=TIMEOUT)
    # the address is shown as plain text: word joiners keep it from becoming a link
    expect(liveness).to_contain_text(re.compile(rf"Cannot reach LiteLLM at http:\W*//127\.0\.0\.1:\W*{litellm.port} "))
    for name in ("LiteLLM readiness", "LiteLLM details", "Deployments"):
        expect(_check_line(page, name)).to_contain_text("Failing")
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=60).status_code == 503

    litellm.start()
    _check_again(page)
    expect(liveness).to_contain_text("OK", timeout=TIMEOUT)
    expect(liveness).not_to_contain_text("Failing")
    expect(_check_line(page, "LiteLLM readiness")).to_contain_text("Ready; its database is connected")
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=60).status_code == 200
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.context.close()


@pytest.mark.browser
def test_health_page_readonly_admin_sees_check_now_disabled_with_why_and_users_get_403(browser, health_server):
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    login(page, health_server.url, "ro", PASSWORD, "health")
    expect(page.get_by_role("heading", name="Health")).to_be_visible(timeout=TIMEOUT)
    button = page.get_by_role("button", name="Check now")
    expect(button).to_be_disabled(timeout=TIMEOUT)
    tooltip = page.get_by_text("Admin access required to run LiteLLM's health checks")
    for _ in range(10):  # the page may still be re-rendering after the login: hover until it shows
        wait_idle(page)
        page.mouse.move(0, 0)
        page.get_by_test_id("stTooltipHoverTarget").filter(has=button).hover()
        try:
            expect(tooltip).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            continue
    expect(tooltip).to_be_visible()
    page.context.close()

    page = browser.new_context().new_page()
    login(page, health_server.url, "someone", PASSWORD, "health")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("LiteLLM liveness")).to_have_count(0)
    page.context.close()


def test_the_switch_really_takes_litellm_down(litellm):
    """The tests above rely on it: switched off, LiteLLM's address refuses; on, the real proxy answers."""
    litellm.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{litellm.url}/health/liveliness", timeout=10)
    litellm.start()
    assert httpx.get(f"{litellm.url}/health/liveliness", timeout=10).json() == "I'm alive!"
