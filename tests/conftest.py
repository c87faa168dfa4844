import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")

pytest_plugins = [p for p in ("tests.support.litellm_harness", "tests.support.postgres", "tests.support.streamlit_server")
                  if (ROOT / (p.replace(".", "/") + ".py")).exists()]
