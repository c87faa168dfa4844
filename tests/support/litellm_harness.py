"""pytest plugin: the real LiteLLM proxy from ../shared/litellm, with real traffic sent through it.

`litellm_harness` (session) sends traffic first; a test module that stops or breaks its proxy starts one of its
own with `harness_up()` / `harness_down(env)`. Mandatory when CI=true (a missing harness fails); on a
developer's machine it skips with the reason.
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


def harness_up(**options: str) -> dict[str, str]:
    """Start proxy + PostgreSQL + fake backend; their variables (LITELLM_BASE_URL, LITELLM_MASTER_KEY, ...).
    `options` are up.sh's variables, e.g. LITELLM_CONFIG=str(HARNESS / "config-dynamic.yaml")."""
    if not (HARNESS / "up.sh").exists():
        _unavailable(f"{HARNESS}/up.sh not found")
    proc = subprocess.run(
        ["bash", str(HARNESS / "up.sh")], capture_output=True, text=True, timeout=600, env={**os.environ, **options}
    )
    if proc.returncode != 0:
        _unavailable(f"up.sh failed: {proc.stderr[-2000:]}")
    return _parse_exports(proc.stdout)


def harness_down(env: dict) -> None:
    subprocess.run(["bash", str(HARNESS / "down.sh"), env["LITELLM_HARNESS_RUN"]], capture_output=True, timeout=120)


@contextmanager
def running_harness(**options: str):
    """A harness of its own for the `with` block (see harness_up); yields up.sh's exported variables."""
    env = harness_up(**options)
    try:
        yield env
    finally:
        harness_down(env)


def send_traffic(env: dict, out: Path, users: int = 3, keys_per_user: int = 2, requests: int = 40) -> dict:
    """Real requests through the proxy (traffic.py, seed 7), flushed to LiteLLM's tables; its JSON summary."""
    t = subprocess.run(
        [
            sys.executable,
            str(HARNESS / "traffic.py"),
            "--users",
            str(users),
            "--keys-per-user",
            str(keys_per_user),
            "--requests",
            str(requests),
            "--seed",
            "7",
            "--json",
            str(out),
        ],
        env={**os.environ, **{k: v for k, v in env.items() if isinstance(v, str)}},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if t.returncode != 0:
        pytest.fail(f"traffic.py failed: {t.stdout[-1000:]} {t.stderr[-2000:]}")
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def litellm_harness(tmp_path_factory):
    """Start proxy + PostgreSQL + fake backend, send traffic; yields env vars and the traffic summary."""
    env = harness_up()
    try:
        env["traffic"] = send_traffic(env, tmp_path_factory.mktemp("traffic") / "traffic.json")
        yield env
    finally:
        harness_down(env)
