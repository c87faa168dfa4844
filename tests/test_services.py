"""Background services: job runs recorded, one scheduler per process, refreshes never overlap."""

from __future__ import annotations

import pytest

from lib import services
from lib.core import leases
from lib.core.jobs import last_run, recent_runs
from lib.core.settings import load_settings
from lib.runtime import Runtime
from lib.usage.ingest import IngestError
from tests.support.ports import free_port


@pytest.fixture
def down(tmp_path):
    """A runtime whose LiteLLM is down."""
    rt = Runtime(
        load_settings(
            {
                "LITELLM_BASE_URL": f"http://127.0.0.1:{free_port()}",
                "LITELLM_API_KEY": "sk-secret-xyz",
                "LITELLM_TIMEOUT_S": "2",
                "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
                "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
                "METRICS_PORT": "0",
            },
            secrets_path=None,
        )
    )
    yield rt
    rt.close()


def test_failed_refresh_is_recorded_with_its_error(down):
    with pytest.raises(IngestError):
        services.run_refresh_today(down, "scheduler")
    run = last_run(down.engine, "refresh_today")
    assert run["status"] == "failed" and run["trigger"] == "scheduler"
    assert "Cannot reach LiteLLM" in run["error"]
    assert "sk-secret-xyz" not in run["error"]
    assert run["finished_at"] is not None


def test_second_refresh_in_the_same_process_is_refused(down):
    engine = down.engine
    lease = leases.acquire(engine, services.REFRESH_LEASE, "scheduler", services.REFRESH_LEASE_TTL)
    try:
        with pytest.raises(
            services.RefreshInProgress, match=r"^A refresh is already running; try again in a moment\.$"
        ):
            services.run_refresh_today(down, "admin")
    finally:
        leases.release(engine, lease)


def test_a_refresh_asked_to_wait_runs_once_the_running_one_ends(down, monkeypatch):
    engine = down.engine
    running = leases.acquire(engine, services.REFRESH_LEASE, "scheduler", services.REFRESH_LEASE_TTL)
    waited = []

    def the_running_refresh_ends(seconds):  # the waiter polls: let the running refresh end during its first wait
        waited.append(seconds)
        leases.release(engine, running)

    monkeypatch.setattr(leases.time, "sleep", the_running_refresh_ends)
    with pytest.raises(IngestError):  # it ran (LiteLLM is down here), after waiting
        services.run_refresh_today(down, "cli", wait=True)
    assert len(waited) == 1
    assert last_run(engine, "refresh_today")["trigger"] == "cli"
    assert leases.holder(engine, services.REFRESH_LEASE) is None


def test_one_scheduler_per_process(down):
    down_settings = down.settings
    try:
        a = down.start_background_services()
        b = down.start_background_services()
        assert a is b
        jobs = {j.id: j for j in a.get_jobs()}
        assert {"refresh_today", "model_sync"} <= set(jobs)
        assert jobs["model_sync"].trigger.interval.total_seconds() == down_settings.MODEL_SYNC_INTERVAL_MINUTES * 60
        refresh = jobs["refresh_today"]
        assert refresh.trigger.interval.total_seconds() == down_settings.REFRESH_INTERVAL_MINUTES * 60
        assert refresh.coalesce and refresh.max_instances == 1
    finally:
        down.stop_background_services()


def test_demo_backfill_and_refresh_record_success(tmp_path):
    settings = load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
            "DUCKDB_PATH": str(tmp_path / "u.duckdb"),
            "BACKFILL_DAYS": "10",
            "COMPLETE_GRACE_MINUTES": "0",
        },
        secrets_path=None,
    )
    assert settings.demo_mode
    rt = Runtime(settings)
    summary = services.run_backfill(rt, "startup")
    assert summary.days_fetched == 10 and summary.rows_written > 0
    again = services.run_backfill(rt, "startup")
    # only today (partial) is fetched again; with no grace period yesterday is complete even just after midnight
    assert again.days_fetched == 1
    services.run_refresh_today(rt, "scheduler")
    runs = recent_runs(rt.engine)
    assert list(runs["status"]) == ["success"] * 3
    assert list(runs["job"]) == ["refresh_today", "backfill", "backfill"]
