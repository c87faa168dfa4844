"""Helpers for AppTest: an app with a filled demo store, logged in as a given demo user.

The app under test gets its settings the way a deployment's `.streamlit/secrets.toml` gives them (AppTest's
secrets), and the same runtime object a test builds (`runtime_for(settings)`: one per process and settings).
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import accounts
from lib.core.settings import Settings, load_settings
from lib.runtime import Runtime
from lib.services import run_backfill
from lib.ui.runtime import runtime_for
from lib.ui.session import start_session_for_tests

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def demo_settings(tmp, **overrides: str) -> Settings:
    """Demo-mode settings over a folder of the test's own (no background jobs unless asked)."""
    values = {"DATABASE_URL": f"sqlite:///{tmp}/app.db", "DUCKDB_PATH": str(tmp / "usage.duckdb"),
              "BACKGROUND_SERVICES": "false"} | overrides
    return load_settings(values, secrets_path=None)


def app_runtime(settings: Settings) -> Runtime:
    """The runtime the app under test will use for these settings (the same object)."""
    return runtime_for(settings)


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """Settings for a demo app over a store filled with 40 days of demo data (no background jobs)."""
    settings = demo_settings(tmp_path_factory.mktemp("app"), BACKFILL_DAYS="40")
    rt = app_runtime(settings)
    run_backfill(rt, "test")
    accounts.bootstrap_accounts(rt.engine, settings)
    return settings


def new_app(settings: Settings) -> AppTest:
    """app.py under AppTest with these settings (as a secrets.toml would give them)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    for name, value in settings.model_dump().items():
        if value is not None:
            at.secrets[name] = str(value)
    return at


def app_as(settings, username: str | None, page: str | None = None) -> AppTest:
    at = new_app(settings)
    if username:
        engine = app_runtime(settings).engine
        start_session_for_tests(engine, accounts.get_user(engine, username), at.session_state)
    at.run()
    if page:
        at.switch_page(page).run()
    return at
