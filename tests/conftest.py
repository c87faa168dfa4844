import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")

pytest_plugins = [
    p
    for p in (
        "tests.support.apptest",
        "tests.support.litellm_harness",
        "tests.support.models_endpoint",
        "tests.support.postgres",
        "tests.support.streamlit_server",
    )
    if (ROOT / (p.replace(".", "/") + ".py")).exists()
]


@pytest.fixture
def umask_022():
    """The common default umask, under which files created without an explicit mode are world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(scope="session", autouse=True)
def _no_app_settings_from_the_environment():
    """Tests give the app its settings explicitly; a developer's exported LITELLM_BASE_URL or DATABASE_URL
    (the environment wins over secrets) must not reach an app under test."""
    from lib.core.settings import Settings

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in Settings.model_fields}
    yield
    os.environ.update(saved)
