"""pytest plugin: a real `streamlit run app.py` server in demo mode, and Debian's Chromium for Playwright.

Browser suites are mandatory when CI=true; elsewhere they skip with the reason if Chromium is missing.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class StreamlitServer:
    def __init__(self, tmp: Path, backfill_days: int = 30):
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/app.db", "DUCKDB_PATH": str(tmp / "usage.duckdb"),
                    "BACKFILL_DAYS": str(backfill_days), "LITELLM_BASE_URL": "", "APP_SECRET_KEY": "",
                    "PYTHONPATH": str(ROOT)}
        self.proc = None

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300, input=stdin)

    def start(self) -> "StreamlitServer":
        self.log = open(self.tmp / "streamlit.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {(self.tmp / 'streamlit.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("streamlit did not become healthy within 90 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self.log.close()

    def log_text(self) -> str:
        return (self.tmp / "streamlit.log").read_text()


def _require_chromium():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium required in CI: /usr/bin/chromium not found (apt-get install chromium)")
        pytest.skip("Chromium not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def streamlit_server(tmp_path_factory):
    """A demo server with 30 days of usage already in its store (filled by the CLI, as an operator would)."""
    _require_chromium()
    server = StreamlitServer(tmp_path_factory.mktemp("server"))
    done = server.cli("backfill", "--start", _days_ago(29), "--end", _days_ago(0))
    assert done.returncode == 0, done.stderr
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A freshly started server that nobody has visited yet."""
    _require_chromium()
    server = StreamlitServer(tmp_path).start()
    yield server
    server.stop()


def _days_ago(n: int) -> str:
    from datetime import datetime, timedelta, timezone
    return (datetime.now(timezone.utc).date() - timedelta(days=n)).isoformat()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (playwright cannot download browsers here), flags for a closed network."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]}
