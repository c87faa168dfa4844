"""pytest plugin and helpers for AppTest: `demo_env`, a demo app with a filled store; `app_env`, one with an empty
store; `app_as`, the app logged in as a given user.

The app under test gets its settings the way a deployment's `.streamlit/secrets.toml` gives them (AppTest's
secrets), and the same runtime object a test builds (`app_runtime(settings)`: one per process and settings).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import accounts
from lib.core.settings import Settings, load_settings
from lib.runtime import Runtime
from lib.services import run_backfill
from lib.ui.runtime import runtime_for
from lib.ui.session import logged_in_state

ROOT = Path(__file__).resolve().parents[2]


def demo_settings(tmp, **overrides: str) -> Settings:
    """Demo-mode settings over a folder of the test's own (no background jobs, no metrics port unless asked)."""
    values = {
        "DATABASE_URL": f"sqlite:///{tmp}/app.db",
        "DUCKDB_PATH": str(tmp / "usage.duckdb"),
        "BACKGROUND_SERVICES": "false",
        "METRICS_PORT": "0",
    } | overrides
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


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    """A demo-mode app over its own SQLite database and empty usage store, no background jobs."""
    settings = demo_settings(tmp_path_factory.mktemp("app_access"), APP_SECRET_KEY="t" * 48)
    accounts.bootstrap_accounts(app_runtime(settings).engine, settings)
    return settings


def new_app(settings: Settings) -> AppTest:
    """app.py under AppTest with these settings (as a secrets.toml would give them)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    for name, value in settings.model_dump().items():
        if value is not None:
            at.secrets[name] = str(value)
    return at


def start_session(engine, username: str, state) -> None:
    """Log `username` in, into `state` (AppTest's session_state): its server-side session row and the session
    state the login form leaves."""
    user = accounts.get_user(engine, username)
    exp = (datetime.now() + timedelta(days=1)).timestamp()
    accounts.open_session(engine, user.username, exp)
    for k, v in logged_in_state(user, exp).items():
        state[k] = v


def app_as(settings: Settings, username: str | None, page: str | None = None, query: dict | None = None) -> AppTest:
    """The app run as `username` (None: logged out), then switched to `page` with `query` as its URL parameters;
    a run that raised fails the test."""
    at = new_app(settings)
    if username:
        start_session(app_runtime(settings).engine, username, at.session_state)
    at.run()
    if page:
        at.query_params.update(query or {})
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def shown_table(element):
    """A st.dataframe's cells as the browser writes them: the pandas Styler's text where the page sent a Styler
    (lib.core.formatting.styled), else the values themselves; a missing value as the table's placeholder (Streamlit
    draws "None" without one). `element.value` stays the numbers underneath."""
    import numpy as np
    import pandas as pd
    from streamlit import dataframe_util

    values = element.value.reset_index(drop=True)
    styler = element.proto.arrow_data.styler
    text = dataframe_util.convert_arrow_bytes_to_pandas_df(styler.display_values) if styler.display_values else values
    text = text.reset_index(drop=True).astype(object)
    placeholder = element.proto.placeholder if element.proto.HasField("placeholder") else "None"
    missing = np.array([[_missing(v) for v in row] for row in values.itertuples(index=False)], dtype=bool)
    if missing.size:
        text = pd.DataFrame(np.where(missing, placeholder, text.to_numpy()), columns=text.columns)
    return text


def _missing(v) -> bool:
    from lib.core.formatting import is_missing

    return not isinstance(v, (list, tuple)) and getattr(v, "ndim", 0) == 0 and is_missing(v)
