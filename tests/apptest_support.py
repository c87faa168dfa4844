"""Helpers for AppTest: an app with a filled demo store, logged in as a given demo user."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import accounts
from lib.appdb import get_engine
from lib.core.settings import get_settings
from lib.ui.session import start_session_for_tests

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """Settings for a demo app over a store filled with 40 days of demo data (no background jobs)."""
    tmp = tmp_path_factory.mktemp("app")
    env = {"DATABASE_URL": f"sqlite:///{tmp}/app.db", "DUCKDB_PATH": str(tmp / "usage.duckdb"),
           "BACKGROUND_SERVICES": "false", "BACKFILL_DAYS": "40", "LITELLM_BASE_URL": "", "APP_SECRET_KEY": ""}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    get_settings.cache_clear()
    from lib.services import run_backfill
    settings = get_settings()
    run_backfill(settings, "test")
    accounts.bootstrap_accounts(get_engine(settings.DATABASE_URL), settings)
    yield settings
    mp.undo()
    get_settings.cache_clear()


def app_as(settings, username: str | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    if username:
        engine = get_engine(settings.DATABASE_URL)
        start_session_for_tests(engine, accounts.get_user(engine, username), at.session_state)
    at.run()
    if page:
        at.switch_page(page).run()
    return at
