"""pytest plugin: a real `streamlit run app.py` server in demo mode, and Debian's Chromium for Playwright.

Fixtures:
- `streamlit_server` (module): a demo server whose usage store already holds 30 days (filled once per test
  session by the CLI, as an operator would). `.url`, `.cli(*args, stdin=)`, `.log_text()`, `.db_url`,
  `.secret` (its APP_SECRET_KEY).
- `fresh_server` (function): a newly started server over the same filled store that nobody has visited.
- `StreamlitServer(tmp)` itself: a server over a data folder of its own (empty until started), e.g. a first start.
- `browser_type_launch_args`: pytest-playwright's launch arguments for /usr/bin/chromium (Playwright cannot
  download browsers here).

Browser suites are mandatory when CI=true; elsewhere they skip with the reason if Chromium is missing.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, with flags for a closed network (the tests' browser and the development tools')
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
STORE_DAYS = 30


def _clean_env() -> dict[str, str]:
    """The test process's environment minus every app setting (a developer's LITELLM_BASE_URL or
    ADMIN_PASSWORD must not leak into a demo server)."""
    from lib.core.settings import Settings

    return {k: v for k, v in os.environ.items() if k not in Settings.model_fields}


class StreamlitServer:
    def __init__(self, tmp: Path, store_path: Path | None = None, backfill_days: int = STORE_DAYS, root: Path = ROOT):
        """`root`: the checkout whose app.py runs (a benchmark's baseline runs another commit's)."""
        self.tmp = tmp
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = f"sqlite:///{tmp}/app.db"
        self.secret = secrets.token_urlsafe(48)
        self.env = {
            **_clean_env(),
            "DATABASE_URL": self.db_url,
            "DUCKDB_PATH": str(store_path or tmp / "usage.duckdb"),
            "BACKFILL_DAYS": str(backfill_days),
            "APP_SECRET_KEY": self.secret,
            "METRICS_PORT": "0",  # a test that scrapes the console sets a free port of its own
            "PYTHONPATH": str(root),
        }
        self.proc = None
        self.log = None

    @property
    def store_dir(self) -> Path:
        """Its usage store's folder (as the app derives it from DUCKDB_PATH)."""
        from lib.core.settings import load_settings

        return load_settings(self.env, secrets_path=None).store_dir

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lib.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            input=stdin,
        )

    def start(self) -> StreamlitServer:
        self.log = open(self.tmp / "streamlit.log", "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=self.root,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("streamlit did not become healthy within 90 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self.log:
            self.log.close()
            self.log = None

    def log_text(self) -> str:
        return (self.tmp / "streamlit.log").read_text()


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium required in CI: {CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(
            f"Chromium not installed at {CHROMIUM} (apt-get install chromium); "
            "`playwright install` cannot download browsers here"
        )


def _days_ago(n: int) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc).date() - timedelta(days=n)).isoformat()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> Path:
    """A usage store with the last 30 days of demo data, filled once per session by the CLI."""
    _require_chromium()
    tmp = tmp_path_factory.mktemp("demo_store")
    filler = StreamlitServer(tmp)
    done = filler.cli("backfill", "--start", _days_ago(STORE_DAYS - 1), "--end", _days_ago(0))
    assert done.returncode == 0, done.stderr
    return tmp / "usage.duckdb"


@pytest.fixture(scope="module")
def streamlit_server(tmp_path_factory, demo_store):
    server = StreamlitServer(tmp_path_factory.mktemp("server"), store_path=demo_store).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_server(tmp_path, demo_store):
    """A freshly started server (its store already has data) that nobody has visited yet."""
    server = StreamlitServer(tmp_path, store_path=demo_store).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, headless, with flags for a closed network."""
    _require_chromium()
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": LAUNCH_ARGS,
    }


@pytest.fixture(autouse=True)
def _apptest_runs_like_a_warm_server(monkeypatch):
    """AppTest starts every run like a brand-new server process: with a pages/ directory, Streamlit first runs
    the requested page file by itself (its old multipage mode) and the page guard then reruns through app.py,
    which drops a button click's return value. Make AppTest runs start as on a warm server, with app.py.
    (The fresh-server case itself is tested in a real browser: test_e2e_access.) No effect on real servers."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
