import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")

pytest_plugins = [p for p in ("tests.support.apptest", "tests.support.litellm_harness", "tests.support.models_endpoint",
                                "tests.support.postgres", "tests.support.streamlit_server")
                  if (ROOT / (p.replace(".", "/") + ".py")).exists()]


@pytest.fixture
def umask_022():
    """The common default umask, under which files created without an explicit mode are world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)
