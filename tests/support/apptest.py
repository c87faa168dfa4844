"""pytest plugin and helpers for AppTest: `demo_env`, a demo app with a filled store; `app_as`, the app logged in
as a given user."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import accounts
from lib.core.db import get_engine
from lib.core.settings import get_settings
from lib.ui.session import logged_in_state

ROOT = Path(__file__).resolve().parents[2]


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


def start_session(engine, username: str, state) -> None:
    """Log `username` in, into `state` (AppTest's session_state): its server-side session row and the session
    state the login form leaves."""
    user = accounts.get_user(engine, username)
    exp = (datetime.now() + timedelta(days=1)).timestamp()
    accounts.open_session(engine, user.username, exp)
    for k, v in logged_in_state(user, exp).items():
        state[k] = v


def app_as(engine, username: str | None, page: str | None = None, query: dict | None = None) -> AppTest:
    """The app run as `username` (None: logged out), then switched to `page` with `query` as its URL parameters;
    a run that raised fails the test."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    if username:
        start_session(engine, username, at.session_state)
    at.run()
    if page:
        at.query_params.update(query or {})
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at
