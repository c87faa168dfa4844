"""pytest plugin: the real LiteLLM proxy from ../shared/litellm, with real traffic sent through it.

Mandatory when CI=true (a missing harness fails); on a developer's machine it skips with the reason.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[3] / "shared" / "litellm"


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"LiteLLM harness required in CI: {reason}")
    pytest.skip(f"LiteLLM harness not available: {reason}")


def _parse_exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export ") :].split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    return env


@contextmanager
def running_harness(**env: str):
    """A proxy of its own (up.sh with `env`, e.g. LITELLM_CONFIG or LITELLM_NO_DB), stopped on exit: for a test
    module whose traffic or settings must not mix with the session's proxy. Yields up.sh's variables."""
    if not (HARNESS / "up.sh").exists():
        _unavailable(f"{HARNESS}/up.sh not found")
    proc = subprocess.run(
        ["bash", str(HARNESS / "up.sh")], capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    if proc.returncode != 0:
        _unavailable(f"up.sh failed: {proc.stderr[-2000:]}")
    started = _parse_exports(proc.stdout)
    try:
        yield started
    finally:
        subprocess.run(
            ["bash", str(HARNESS / "down.sh"), started["LITELLM_HARNESS_RUN"]], capture_output=True, timeout=120
        )


@pytest.fixture(scope="session")
def litellm_harness(tmp_path_factory):
    """Start proxy + PostgreSQL + fake backend, send traffic; yields env vars and the traffic summary."""
    with running_harness() as env:
        out = tmp_path_factory.mktemp("traffic") / "traffic.json"
        t = subprocess.run(
            [
                sys.executable,
                str(HARNESS / "traffic.py"),
                "--users",
                "3",
                "--keys-per-user",
                "2",
                "--requests",
                "40",
                "--seed",
                "7",
                "--json",
                str(out),
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if t.returncode != 0:
            pytest.fail(f"traffic.py failed: {t.stdout[-1000:]} {t.stderr[-2000:]}")
        env["traffic"] = json.loads(out.read_text())
        yield env
