"""pytest plugin: the real LiteLLM proxy from ../shared/litellm, with real traffic sent through it; and helpers of
the tests that use it (more traffic, waiting for LiteLLM's daily table to settle, its own aggregated answer).

`litellm_harness` (session) sends traffic first; a test module that stops or breaks its proxy starts one of its
own with `harness_up()` / `harness_down(env)`. Mandatory when CI=true (a missing harness fails); on a
developer's machine it skips with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
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


@contextmanager
def admin_http(env: dict, timeout: float = 60):
    """An HTTP client of the proxy with its master key (for the oracle's reads and a test's own setup)."""
    with httpx.Client(
        base_url=env["LITELLM_BASE_URL"],
        headers={"Authorization": f"Bearer {env['LITELLM_MASTER_KEY']}"},
        timeout=timeout,
    ) as http:
        yield http


@contextmanager
def backend_hooks(env: dict):
    """The fake backend's test hooks (no auth: /_requests, /_fail); every failure it was told is undone after."""
    with httpx.Client(base_url=env["LITELLM_FAKE_BACKEND_URL"].removesuffix("/v1"), timeout=30) as http:
        yield http
        http.post("/_fail", json={"models": []})


def console_runtime(env: dict, folder: Path, **settings: str):
    """A console Runtime on the proxy (its master key), its app database and usage store in `folder`, no
    background services; `settings` add or override."""
    from lib.core.settings import load_settings
    from lib.runtime import Runtime

    return Runtime(
        load_settings(
            {
                "LITELLM_BASE_URL": env["LITELLM_BASE_URL"],
                "LITELLM_API_KEY": env["LITELLM_MASTER_KEY"],
                "DATABASE_URL": f"sqlite:///{folder}/app.db",
                "DUCKDB_PATH": str(folder / "usage.duckdb"),
                "BACKGROUND_SERVICES": "false",
                **settings,
            },
            secrets_path=None,
        )
    )


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


def _requests_today(proxy: httpx.Client) -> int:
    today = datetime.now(timezone.utc).date()
    body = proxy.get(
        "/user/daily/activity/aggregated",
        params={"start_date": str(today - timedelta(days=1)), "end_date": str(today + timedelta(days=1))},
    )
    body.raise_for_status()
    return body.json()["metadata"]["total_api_requests"]


def chat(proxy: httpx.Client, key: str, model: str) -> None:
    r = proxy.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hello"}]},
    )
    assert r.status_code == 200, r.text


def send_unlabelled_traffic(harness: dict) -> dict:
    """The traffic a real proxy sees on day one beside traffic.py's: calls made with the master key (LiteLLM stores
    them under `litellm_proxy_master_key`, no alias) and with a bare key (no alias, owner or team), flushed to
    LiteLLM's daily table. Returns the bare key's hash."""
    master = harness["LITELLM_MASTER_KEY"]
    with httpx.Client(
        base_url=harness["LITELLM_BASE_URL"], timeout=60, headers={"Authorization": f"Bearer {master}"}
    ) as proxy:
        before = _requests_today(proxy)
        bare = proxy.post("/key/generate", json={})
        assert bare.status_code == 200, bare.text
        bare_key = bare.json()["key"]
        for model in ("gpt-4o-mini", "gpt-4o", "llama3-local"):
            chat(proxy, master, model)
        for model in ("gpt-4o-mini", "claude-3-5-haiku"):
            chat(proxy, bare_key, model)
        deadline = time.monotonic() + 60  # LiteLLM writes spend in batches (every 2 s here)
        while _requests_today(proxy) < before + 5:
            assert time.monotonic() < deadline, "LiteLLM never recorded the calls in its daily table"
            time.sleep(0.5)
    return {"bare_key_hash": hashlib.sha256(bare_key.encode()).hexdigest()}


def recent_range() -> tuple[date, date]:
    """Yesterday and today (UTC): the days the harness's traffic lands in."""
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=1), today


def wait_until_settled(client, quiet_s: float = 5.0, limit_s: float = 60.0) -> None:
    """Earlier tests send requests through the same proxy, and LiteLLM writes spend to its daily table in batches
    (every 2 s): wait until its totals stop moving. `client` is a lib.litellm.client.LiteLLMClient."""
    start, end = recent_range()
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    deadline = time.monotonic() + limit_s
    last = client._get_json("/user/daily/activity/aggregated", params)["metadata"]
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = client._get_json("/user/daily/activity/aggregated", params)["metadata"]
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return
    raise AssertionError("LiteLLM's daily totals kept changing for a minute; is traffic still running?")


def aggregated_oracle(client, start: date, end: date) -> tuple[dict, dict]:
    """LiteLLM's own `/user/daily/activity/aggregated` for [start, end]: its metadata (the totals) and, per
    breakdown (models, model_groups, providers, api_keys, entities) and value, the metrics summed over the days."""
    raw = client._get_json(
        "/user/daily/activity/aggregated", {"start_date": start.isoformat(), "end_date": end.isoformat()}
    )
    per_dim: dict[str, dict[str, dict]] = {}
    for res in raw["results"]:
        for name, entries in res["breakdown"].items():
            for value, entry in entries.items():
                acc = per_dim.setdefault(name, {}).setdefault(value, {})
                for k, v in entry["metrics"].items():
                    if isinstance(v, (int, float)):
                        acc[k] = acc.get(k, 0) + v
    return raw["metadata"], per_dim


# our breakdown name -> (LiteLLM breakdown key, our key column)
BREAKDOWNS = {
    "model": ("models", "model"),
    "model_group": ("model_groups", "model_group"),
    "provider": ("providers", "provider"),
    "api_key": ("api_keys", "api_key"),
    "user": ("entities", "user_id"),
}
COUNTS = {
    "requests": "api_requests",
    "successful_requests": "successful_requests",
    "failed_requests": "failed_requests",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
    "cache_creation_input_tokens": "cache_creation_input_tokens",
}


def assert_equals_litellm_aggregated(store, client, start: date, end: date) -> None:
    """The store's totals and every breakdown over [start, end] equal LiteLLM's `/aggregated` answer, to the token
    and (floats) 1e-9, for the harness's traffic (which has failures: broken-model)."""
    from lib.usage.queries import breakdown, overview

    meta, per_dim = aggregated_oracle(client, start, end)
    total = overview(store, start, end)
    assert total["requests"] == meta["total_api_requests"] >= 40
    assert total["successful_requests"] == meta["total_successful_requests"]
    assert total["failed_requests"] == meta["total_failed_requests"] > 0  # broken-model always fails
    assert total["prompt_tokens"] == meta["total_prompt_tokens"]
    assert total["completion_tokens"] == meta["total_completion_tokens"]
    assert total["total_tokens"] == meta["total_tokens"]
    assert total["spend"] == pytest.approx(meta["total_spend"], abs=1e-9)
    assert total["avg_latency_ms"] == pytest.approx(meta["total_response_time_ms"] / meta["total_timed_requests"])

    for by, (litellm_name, column) in BREAKDOWNS.items():
        ours = breakdown(store, start, end, by=by).set_index(column)
        theirs = per_dim[litellm_name]
        assert set(ours.index) == set(theirs), by
        for value, m in theirs.items():
            row = ours.loc[value]
            for our_name, their_name in COUNTS.items():
                assert row[our_name] == m[their_name], (by, value, our_name)
            assert row["spend"] == pytest.approx(m["spend"], abs=1e-9), (by, value)
            if m.get("timed_requests"):
                assert row["avg_latency_ms"] == pytest.approx(m["total_response_time_ms"] / m["timed_requests"])
