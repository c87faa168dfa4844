"""Health without the real LiteLLM: the Health page per role (demo mode), the rules that turn what LiteLLM and
the console report into green, amber or red, the metrics read from the app database (SQLite and PostgreSQL),
and the console's endpoints' lifecycle (once per process, stopped with the services, a port in use)."""

from __future__ import annotations

import json
import logging
import re
import socket
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.core.formatting import latency
from lib.core.jobs import job_runs, last_run, record_job
from lib.core.settings import load_settings
from lib.core.text_safety import WORD_JOINER
from lib.health.console_checks import check_usage_store, job_statuses
from lib.health.litellm_checks import check_deployments, check_readiness, litellm_health
from lib.litellm.client import LiteLLMClient
from lib.routing.service import run_drift_check
from lib.runtime import Runtime
from lib.services import run_backfill, run_refresh_today
from lib.ui.actions import export_auditor
from lib.usage.queries import Filters
from tests.support.apptest import app_as, app_runtime, demo_settings, shown_table
from tests.support.metrics import parse, scrape, value
from tests.support.ports import free_port

NO_CHECK = "Admin access required to run LiteLLM's health checks"


def _plain(markdown: str) -> str:
    """Markdown as read on screen: CommonMark's backslash escapes and the invisible word joiners removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def _markdown(at) -> list[str]:
    return [_plain(str(m.value)) for m in at.markdown]


def _line(at, name: str) -> str:
    """The Health page's line of check `name` (badge, name, reason)."""
    found = [m for m in _markdown(at) if f"**{name}**" in m]
    assert len(found) == 1, (name, _markdown(at))
    return found[0]


# -- the page per role (demo mode) ---------------------------------------------------------------------------
def test_admin_sees_every_check_with_its_status_and_the_demos_broken_deployment(app_env):
    at = app_as(app_env, "admin", "pages/health.py")
    assert [t.value for t in at.title] == ["Health"]
    assert [s.value for s in at.subheader] == ["LiteLLM", "Deployments", "Console", "Background jobs"]
    for name in ("LiteLLM liveness", "LiteLLM readiness", "LiteLLM details", "App database"):
        assert ":green-badge[" in _line(at, name), _line(at, name)
    assert "LiteLLM 1.108.7" in _line(at, "LiteLLM details")
    demo = app_runtime(app_env).demo_litellm()
    broken = [m for m, c in demo.health.latest.items() if c["status"] == "unhealthy"]
    assert broken == ["llama3-local"]
    assert ":red-badge[" in _line(at, "Deployments") and "unhealthy: llama3-local" in _line(at, "Deployments")
    table = at.dataframe[0].value
    row = table[table["Model"] == "llama3-local"].iloc[0]
    assert row["Status"].endswith("Failing") and "Connection refused" in row["Error"]
    assert set(table["Model"]) == set(demo.health.latest)
    # response times as LiteLLM stored them, written by the latency rule; nothing shown as "None"
    text = shown_table(at.dataframe[0]).set_index("Model")
    for model, check in demo.health.latest.items():
        assert text.loc[model, "Response"] == latency(check["response_time_ms"]), model
    for frame in (text, shown_table(at.dataframe[1])):
        assert not {str(v) for v in frame.to_numpy().ravel()} & {"None", "nan", "NaN", "NaT", "<NA>"}
    # an empty store and no job run yet: amber, with the reason
    assert ":orange-badge[" in _line(at, "Usage store") and "No usage data stored yet" in _line(at, "Usage store")
    jobs = at.dataframe[1].value
    assert list(jobs["Job"]) == ["Refresh today", "Backfill", "Model sync", "Routing drift check"]
    assert set(jobs["Outcome"]) == {"never run"}
    assert not at.button(key="health_check_now").disabled


def test_admin_checks_a_model_now_and_sees_litellms_answer_stored_and_audited(app_env):
    demo = app_runtime(app_env).demo_litellm()
    before = demo.health.latest["llama3-local"]["checked_at"]
    at = app_as(app_env, "admin", "pages/health.py")
    at.selectbox(key="health_check_model").select("llama3-local").run()
    at.button(key="health_check_now").click().run()
    assert not at.exception, at.exception
    assert any("llama3-local: 0 healthy, 1 unhealthy deployment(s)" in _plain(e.value) for e in at.error), at.error
    result = next(d.value for d in at.dataframe if "Deployment" in d.value.columns)
    assert list(result["Deployment"]) == ["ollama/llama3"] and "Connection refused" in result["Error"][0]
    assert demo.health.latest["llama3-local"]["checked_at"] > before  # LiteLLM stored the new check
    row = list_audit(app_runtime(app_env).engine, action="health.check_now").iloc[0]
    assert (row["actor"], row["target"], row["outcome"]) == ("admin", "llama3-local", "success")
    assert row["details"] == {"healthy": 0, "unhealthy": 1}


def test_readonly_admin_sees_the_page_with_check_now_disabled_and_why(app_env):
    at = app_as(app_env, "viewer", "pages/health.py")
    assert [t.value for t in at.title] == ["Health"] and _line(at, "LiteLLM liveness")
    button = at.button(key="health_check_now")
    assert button.disabled and button.help == NO_CHECK
    assert at.selectbox(key="health_check_model").disabled


def test_a_user_gets_403_and_no_health_data(app_env):
    at = app_as(app_env, "alice", "pages/health.py")
    assert [e.value for e in at.error] == ["403 — admin access required"]
    assert not at.dataframe and not at.get("metric") and not any("LiteLLM" in m for m in _markdown(at))


def test_page_render_time_is_recorded_by_page(app_env):
    metrics = app_runtime(app_env).metrics
    before = parse(metrics.exposition()[0].decode())
    app_as(app_env, "viewer", "pages/health.py")
    after = parse(metrics.exposition()[0].decode())
    count = "litellm_console_page_render_seconds_count"
    assert value(after, count, page="health") == value(before, count, page="health") + 1
    # the login's landing page, shown at the root, counts as that page
    assert value(after, count, page="usage") == value(before, count, page="usage") + 1


# -- the rules -----------------------------------------------------------------------------------------------
def _client(reply) -> LiteLLMClient:
    return LiteLLMClient("http://litellm.test", "sk-test", retries=0, transport=httpx.MockTransport(reply))


@pytest.mark.parametrize(
    "status,body,reason",
    [
        (200, {"status": "healthy", "db": "connected"}, "Ready; its database is connected"),
        (200, {"status": "healthy", "db": "Not connected"}, "LiteLLM runs without a database"),
        (503, {"status": "healthy", "db": "disconnected"}, "LiteLLM cannot use its database (disconnected)"),
        (503, {"status": "shutting_down"}, "LiteLLM reports itself 'shutting_down'"),
    ],
)
def test_readiness_is_green_only_with_litellms_database_connected(status, body, reason):
    check = check_readiness(_client(lambda r: httpx.Response(status, json=body)))
    assert check.reason.startswith(reason)
    assert check.status == ("green" if body.get("db") == "connected" else "red")


def test_a_deployment_checked_long_ago_is_amber_and_an_unhealthy_one_red_with_the_first_line_of_its_error():
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    trace = "litellm.APIError: upstream 502\nstack trace: Traceback (most recent call last):\n  File x"

    def latest(request):
        return httpx.Response(
            200,
            json={
                "latest_health_checks": {
                    "gpt-4o": {"model_name": "gpt-4o", "status": "healthy", "checked_at": "2026-11-30T11:00:00Z"},
                    "old": {"model_name": "old", "status": "healthy", "checked_at": "2026-11-28T11:00:00Z"},
                    "abc123def4567890": {
                        "model_name": "claude",
                        "status": "unhealthy",
                        "error_message": trace,
                        "checked_at": "2026-11-30T11:59:00Z",
                    },
                },
                "total_models": 3,
            },
        )

    check, rows = check_deployments(_client(latest), now)
    assert {r.label: r.status for r in rows} == {
        "claude (deployment abc123def456)": "red",
        "gpt-4o": "green",
        "old": "amber",
    }
    assert [r.error for r in rows if r.status == "red"] == ["litellm.APIError: upstream 502"]
    assert check.status == "red"
    assert check.reason == "2 of 3 healthy; unhealthy: claude (deployment abc123def456); not checked for 24 h: old"


def test_litellm_down_makes_every_litellm_check_red_without_trying_each(tmp_path):
    rt = Runtime(demo_settings(tmp_path, LITELLM_BASE_URL=f"http://127.0.0.1:{free_port()}", LITELLM_API_KEY="sk-x"))
    try:
        health = litellm_health(rt)
        assert [c.status for c in health.checks] == ["red"] * 4
        assert health.checks[0].reason.startswith("Cannot reach LiteLLM at http://127.0.0.1:")
        assert {c.reason for c in health.checks[1:]} == {"not checked: LiteLLM does not answer"}
        samples = parse(rt.metrics.exposition()[0].decode())
        # one try (no retries), counted as unreachable; nothing else was asked
        probe = {"endpoint": "/health/liveliness"}
        assert value(samples, "litellm_console_litellm_request_duration_seconds_count", **probe) == 1
        assert value(samples, "litellm_console_litellm_request_errors_total", kind="unreachable", **probe) == 1
    finally:
        rt.close()


def test_a_failed_refresh_is_red_with_its_message_and_a_stale_store_amber(tmp_path):
    settings = demo_settings(tmp_path, BACKFILL_DAYS="3", COMPLETE_GRACE_MINUTES="0")
    rt = Runtime(settings)
    down = Runtime(settings.model_copy(update={"LITELLM_BASE_URL": f"http://127.0.0.1:{free_port()}"}))
    try:
        run_backfill(rt, "startup")
        fetched = rt.store.day_states()[datetime.now(timezone.utc).date()].fetched_at
        check, facts = check_usage_store(rt, now=fetched + timedelta(minutes=1))
        assert check.status == "green" and facts.days == 3 and facts.complete_days == 2
        later = fetched + timedelta(minutes=3 * settings.REFRESH_INTERVAL_MINUTES + 1)
        check, _ = check_usage_store(rt, now=later)
        assert check.status == "amber" and check.reason.startswith("Today last refreshed 16 min ago (every 5 min)")

        down.litellm_client = lambda **_: LiteLLMClient(down.settings.LITELLM_BASE_URL, None, retries=0)
        with pytest.raises(Exception, match="Cannot reach LiteLLM"):
            run_refresh_today(down, "scheduler")
        run_drift_check(rt, "scheduler")  # demo mode: nothing applied yet, so nothing differs
        refresh, backfill, sync, drift = job_statuses(rt)
        assert (drift.status, drift.label) == ("green", "Routing drift check")
        assert drift.reason.startswith("Succeeded just now") and drift.reason.endswith(", 0 differences from LiteLLM")
        assert (refresh.status, refresh.outcome, refresh.trigger) == ("red", "failed", "scheduler")
        recorded = last_run(rt.engine, "refresh_today")["error"]
        assert "Cannot reach LiteLLM at http://127.0.0.1:" in recorded
        assert (refresh.error, refresh.reason) == (recorded, f"Failed just now: {recorded}")
        assert (backfill.status, backfill.outcome) == ("green", "success")
        assert backfill.reason.startswith("Succeeded just now in") and backfill.reason.endswith(" rows")
        assert (sync.status, sync.reason) == ("amber", "Never run")
        assert refresh.next_run_text.startswith("not run by this process")
    finally:
        down.close()
        rt.close()


# -- metrics read from the app database ----------------------------------------------------------------------
def test_metrics_count_what_the_app_database_recorded(app_db_url, tmp_path):
    """On SQLite and PostgreSQL: job runs, durations and rows, logins, exports by format, open sessions, each
    against the rows themselves."""
    rt = Runtime(
        load_settings(
            {"DATABASE_URL": app_db_url, "DUCKDB_PATH": str(tmp_path / "u.duckdb"), "METRICS_PORT": "0"},
            secrets_path=None,
        )
    )
    try:
        engine = rt.engine
        for rows in (120, 30):
            with record_job(engine, "refresh_today", "scheduler") as run:
                run.rows = rows
        with pytest.raises(RuntimeError), record_job(engine, "refresh_today", "scheduler"):
            raise RuntimeError("LiteLLM is down")
        with record_job(engine, "model_sync", "scheduler") as run:
            run.rows = 9
        accounts.create_user(engine, None, "root", "root-password", "admin")
        accounts.authenticate(engine, "root", "root-password")
        for _ in range(2):
            with pytest.raises(accounts.LoginError):
                accounts.authenticate(engine, "root", "wrong-password")
        root = accounts.get_user(engine, "root")
        exporter = export_auditor(rt, root, datetime(2026, 1, 1).date(), datetime(2026, 1, 31).date(), Filters())
        exporter("model", "csv", "a.csv")
        exporter("model", "csv", "b.csv")
        exporter("user", "json", "c.json")
        now = datetime.now(timezone.utc).timestamp()
        for exp in (now + 3600, now + 7200):
            accounts.open_session(engine, "root", exp)
        accounts.close_session(engine, "root", now + 7200)

        samples = parse(rt.metrics.exposition()[0].decode())
        runs = "litellm_console_job_runs_total"
        assert value(samples, runs, job="refresh_today", status="success") == 2
        assert value(samples, runs, job="refresh_today", status="failed") == 1
        assert value(samples, runs, job="model_sync", status="success") == 1
        assert value(samples, "litellm_console_rows_ingested_total", job="refresh_today") == 150
        assert value(samples, "litellm_console_rows_ingested_total", job="backfill") == 0
        with engine.connect() as conn:
            recorded = conn.execute(select(job_runs).where(job_runs.c.job == "refresh_today")).mappings().all()
        seconds = sum((r["finished_at"] - r["started_at"]).total_seconds() for r in recorded)
        assert value(samples, "litellm_console_job_duration_seconds_count", job="refresh_today") == 3
        assert value(samples, "litellm_console_job_duration_seconds_sum", job="refresh_today") == pytest.approx(
            seconds, abs=0.01
        )
        logins = "litellm_console_logins_total"
        assert [value(samples, logins, outcome=o) for o in ("success", "failure", "locked")] == [1, 2, 0]
        assert value(samples, "litellm_console_exports_total", kind="usage", format="csv") == 2
        assert value(samples, "litellm_console_exports_total", kind="usage", format="json") == 1
        assert value(samples, "litellm_console_active_sessions") == 1
        assert value(samples, "litellm_console_source_up", source="app_database") == 1
        assert "litellm_console_last_successful_refresh_timestamp_seconds" in {name for name, _ in samples}
    finally:
        rt.close()


# -- the endpoints' lifecycle --------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    """A demo runtime whose background services serve the endpoints on a free port."""
    rt = Runtime(demo_settings(tmp_path, METRICS_PORT=str(free_port()), BACKFILL_DAYS="0"))
    yield rt
    rt.close()


def _get(rt: Runtime, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{rt.settings.METRICS_PORT}{path}", timeout=30)


def test_background_services_serve_the_endpoints_once_and_stop_with_them(served):
    first = served.start_background_services()
    endpoints = served.start_console_endpoints()
    assert served.start_background_services() is first and served.start_console_endpoints() is endpoints
    assert (_get(served, "/healthz").status_code, _get(served, "/healthz").text) == (200, "ok\n")
    ready = _get(served, "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    assert set(ready.json()["checks"]) == {"app_database", "usage_store", "litellm"}
    samples = scrape(f"http://127.0.0.1:{served.settings.METRICS_PORT}")
    assert value(samples, "litellm_console_source_up", source="app_database") == 1
    assert _get(served, "/nothing").status_code == 404
    # the jobs' next runs are the scheduler's; a job it will run is fine before its first run
    refresh = next(j for j in job_statuses(served) if j.job == "refresh_today")
    assert refresh.next_run == first.get_job("refresh_today").next_run_time
    assert (refresh.outcome, refresh.status) == (None, "green")
    assert refresh.reason.startswith(f"Not run yet; first run {refresh.next_run:%H:%M:%S} UTC (in 4 min")
    served.stop_background_services()
    with pytest.raises(httpx.ConnectError):
        _get(served, "/healthz")
    with socket.socket() as s:  # nobody listens on the port any more (a server can bind it again)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", served.settings.METRICS_PORT))
        s.listen(1)


def test_a_port_in_use_is_logged_once_and_the_app_runs_on(served, caplog):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", served.settings.METRICS_PORT))
        taken.listen(1)
        with caplog.at_level(logging.ERROR, logger="lib.health.endpoints"):
            scheduler = served.start_background_services()
            served.start_background_services()
            served.start_console_endpoints()
        errors = [r.getMessage() for r in caplog.records if r.name == "lib.health.endpoints"]
        assert len(errors) == 1, errors
        assert f":{served.settings.METRICS_PORT}" in errors[0] and "METRICS_PORT" in errors[0]
        assert scheduler.running and {j.id for j in scheduler.get_jobs()} >= {"refresh_today", "model_sync"}
        assert json.loads(json.dumps(served.readiness().as_json()))["status"] == "ready"
