"""The command line applies what an admin saved on the Settings page: `refresh-today` (cron's) evaluates the budget
alerts and sends them to the webhook saved in the console, in a process of its own. A command that needs no app
database (export) still opens none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lib.auth.accounts import User
from lib.budgets import service
from lib.console_settings.service import change_setting
from lib.core.settings import Settings, load_settings
from lib.runtime import Runtime
from lib.usage.queries import overview
from lib.usage.store import UsageStore
from tests.support.notify_servers import Receiver

ROOT = Path(__file__).resolve().parent.parent
ADMIN = User("root", "Root", None, "admin", None, True)


@pytest.fixture
def env(tmp_path):
    """A demo-mode CLI environment over a store and app database of its own; nothing of the caller's settings."""
    e = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    e.update(
        {
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
            "BACKGROUND_SERVICES": "false",
            "METRICS_PORT": "0",
            "PYTHONPATH": str(ROOT),
        }
    )
    return e


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_refresh_today_sends_budget_alerts_to_the_webhook_saved_on_the_settings_page(env, receiver, tmp_path):
    names = ("DATABASE_URL", "DUCKDB_PATH", "BACKGROUND_SERVICES", "METRICS_PORT")
    rt = Runtime(load_settings({k: env[k] for k in names}, secrets_path=None), environ={})
    try:
        budget = service.create_budget(rt.engine, ADMIN, "global", None, 0.01, "day", 0.8)
        change_setting(rt, ADMIN, "ALERT_WEBHOOK_URL", receiver.url)  # saved in the console, not in the environment
    finally:
        rt.close()
    assert "ALERT_WEBHOOK_URL" not in env

    done = cli(env, "refresh-today")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows_written"] > 0

    today = datetime.now(timezone.utc).date()
    spent = overview(UsageStore(tmp_path / "usage"), today, today)["spend"]  # what the refresh stored for today
    assert spent > 0.01
    ((body,),) = [receiver.bodies]  # one alert, delivered once
    assert (body["budget_id"], body["state"], body["amount"]) == (budget.id, "exceeded", 0.01)
    assert body["spent"] == pytest.approx(spent, abs=1e-4)
    assert receiver.url not in done.stdout + done.stderr  # the webhook's URL is a secret


def test_export_opens_no_app_database(env, tmp_path):
    done = cli(env, "export", "--start", "2026-01-01", "--end", "2026-01-02", "--breakdown", "model")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "app.db").exists()


def test_backfill_without_a_range_fills_the_backfill_days_saved_on_the_settings_page(env, tmp_path):
    names = ("DATABASE_URL", "DUCKDB_PATH", "BACKGROUND_SERVICES", "METRICS_PORT")
    rt = Runtime(load_settings({k: env[k] for k in names}, secrets_path=None), environ={})
    try:
        change_setting(rt, ADMIN, "BACKFILL_DAYS", "3")  # saved in the console; the demo has 120 days
    finally:
        rt.close()

    done = cli(env, "backfill")
    assert done.returncode == 0, done.stderr
    today = datetime.now(timezone.utc).date()
    stored = UsageStore(tmp_path / "usage").date_bounds()
    assert stored == (today - timedelta(days=2), today)  # three days, today's included
