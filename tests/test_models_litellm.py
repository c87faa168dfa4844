"""Model sync against the real LiteLLM proxy (../shared/litellm): new, unchanged, updated, unavailable, concurrent.

The harness is shared by the whole session: models added here get unique names and are deleted again, and no
assertion depends on how many models other test files may have added.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from lib.appdb import open_app_database
from lib.auth.audit import list_audit
from lib.catalog.browse import catalogue, sync_history
from lib.catalog.sync import run_model_sync, sync_models
from lib.core.jobs import job_runs
from lib.core.settings import load_settings
from lib.litellm.client import LiteLLMClient
from lib.runtime import Runtime

pytestmark = pytest.mark.litellm
ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
CONFIGURED = {
    "gpt-4o",
    "gpt-4o-mini",
    "fast-chat",
    "claude-3-5-haiku",
    "llama3-local",
    "in-house-model",
    "broken-model",
}


@pytest.fixture
def proxy(litellm_harness):
    """An admin HTTP client on the proxy; deletes every model a test added through it."""
    http = httpx.Client(
        base_url=litellm_harness["LITELLM_BASE_URL"],
        timeout=30,
        headers={"Authorization": f"Bearer {litellm_harness['LITELLM_MASTER_KEY']}"},
    )
    http.added = []  # type: ignore[attr-defined]
    yield http
    for model_id in http.added:  # type: ignore[attr-defined]
        http.post("/model/delete", json={"id": model_id})
    http.close()


@pytest.fixture
def settings(litellm_harness, app_db_url, tmp_path):
    return load_settings(
        {
            "LITELLM_BASE_URL": litellm_harness["LITELLM_BASE_URL"],
            "LITELLM_API_KEY": litellm_harness["LITELLM_MASTER_KEY"],
            "DATABASE_URL": app_db_url,
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
        },
        secrets_path=None,
    )


@pytest.fixture
def rt(settings):
    rt = Runtime(settings)
    yield rt
    rt.close()


def _public_names(proxy) -> set[str]:
    return {m["id"] for m in proxy.get("/v1/models").json()["data"]}


def _info_names(proxy) -> dict[str, dict]:
    return {e["model_name"]: e for e in proxy.get("/model/info").json()["data"]}


def _add(proxy, litellm_harness, name: str, pin: float, pout: float) -> str:
    resp = proxy.post(
        "/model/new",
        json={
            "model_name": name,
            "litellm_params": {
                "model": "openai/gpt-4o-mini",
                "api_base": litellm_harness["LITELLM_FAKE_BACKEND_URL"],
                "api_key": "sk-fake-backend",
                "input_cost_per_token": pin,
                "output_cost_per_token": pout,
            },
            "model_info": {"mode": "chat"},
        },
    )
    assert resp.status_code == 200, resp.text
    model_id = resp.json()["model_id"]
    proxy.added.append(model_id)
    _until(lambda: name in _info_names(proxy), f"{name} listed by /model/info")
    return model_id


def _until(check, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_first_sync_finds_every_configured_model_and_the_second_changes_nothing(rt, settings, proxy):
    expected = _public_names(proxy)
    assert CONFIGURED <= expected
    first = run_model_sync(rt, "scheduler")
    engine = open_app_database(settings.DATABASE_URL)
    df = catalogue(engine).set_index("name")
    assert set(df.index) == expected and first.total == len(expected) and first.new == len(expected)

    gpt = df.loc["gpt-4o"]
    assert (gpt["provider"], gpt["underlying_model"], gpt["mode"]) == ("openai", "openai/gpt-4o", "chat")
    assert gpt["input_cost_per_1m"] == pytest.approx(2.5) and gpt["output_cost_per_1m"] == pytest.approx(10.0)
    assert gpt["max_input_tokens"] == 128000 and {
        "vision",
        "function_calling",
        "tool_choice",
        "parallel_function_calling",
    } <= set(gpt["capabilities"])
    assert gpt["api_base"] == settings_backend(proxy) and gpt["litellm_model_id"]
    assert df.loc["in-house-model", "input_cost_per_token"] == pytest.approx(2e-6)
    assert df.loc["in-house-model", "output_cost_per_token"] == pytest.approx(4e-6)
    assert df.loc["llama3-local", "input_cost_per_token"] == 0.0 and df.loc["llama3-local", "provider"] == "ollama"
    assert df.loc["fast-chat", "alias_of"] == "gpt-4o-mini"
    assert df.loc["claude-3-5-haiku", "provider"] == "anthropic"
    # claude-3-5-haiku has no price in LiteLLM: stored, and reported as a problem (partial success)
    assert first.status == "partial" and "claude-3-5-haiku" in {e["model"] for e in first.errors}
    assert df["available"].all()

    second = run_model_sync(rt, "scheduler")
    assert (second.new, second.updated, second.unavailable) == (0, 0, 0)
    assert second.total == first.total

    with engine.connect() as c:
        runs = c.execute(select(job_runs).where(job_runs.c.job == "model_sync")).mappings().all()
    assert [r["status"] for r in runs] == ["success", "success"]
    dump = json.dumps(catalogue(engine).to_dict("records"), default=str)
    assert "sk-fake-backend" not in dump and settings.LITELLM_API_KEY not in dump


def settings_backend(proxy) -> str:
    return _info_names(proxy)["gpt-4o"]["litellm_params"]["api_base"]


def test_new_updated_unavailable_and_back(rt, settings, proxy, litellm_harness):
    engine = open_app_database(settings.DATABASE_URL)
    run_model_sync(rt, "scheduler")
    name = f"mm-test-{uuid.uuid4().hex[:8]}"

    model_id = _add(proxy, litellm_harness, name, 1e-6, 2e-6)
    added = run_model_sync(rt, "alice")
    assert added.new_models == [name] and added.updated == 0
    row = catalogue(engine).set_index("name").loc[name]
    assert row["input_cost_per_1m"] == pytest.approx(1.0) and row["output_cost_per_1m"] == pytest.approx(2.0)
    assert row["litellm_model_id"] == model_id and row["available"]

    resp = proxy.post(
        "/model/update",
        json={"model_name": name, "litellm_params": {"input_cost_per_token": 3e-6}, "model_info": {"id": model_id}},
    )
    assert resp.status_code == 200, resp.text
    _until(lambda: _info_names(proxy)[name]["model_info"].get("input_cost_per_token") == 3e-6, "the new price")
    updated = run_model_sync(rt, "alice")
    assert updated.new == 0 and updated.updated_models == {name: ["input_cost_per_token"]}
    assert catalogue(engine).set_index("name").loc[name, "input_cost_per_1m"] == pytest.approx(3.0)

    assert proxy.post("/model/delete", json={"id": model_id}).status_code == 200
    proxy.added.remove(model_id)
    _until(lambda: name not in _info_names(proxy), f"{name} gone")
    gone = run_model_sync(rt, "alice")
    assert gone.unavailable_models == [name] and gone.new == 0 and gone.updated == 0
    row = catalogue(engine).set_index("name").loc[name]
    assert not row["available"] and row["unavailable_since"] is not None

    _add(proxy, litellm_harness, name, 3e-6, 2e-6)  # back, as a new deployment (new id)
    back = run_model_sync(rt, "alice")
    assert back.new == 0 and back.restored_models == [name]
    assert set(back.updated_models[name]) == {"available", "litellm_model_ids"}
    row = catalogue(engine).set_index("name").loc[name]
    assert row["available"] and row["unavailable_since"] is None

    hist = sync_history(engine)
    assert hist["trigger"].tolist()[:4] == ["alice"] * 4
    outcomes = list_audit(engine, action="models.sync")["outcome"].tolist()
    assert len(outcomes) == 5 and set(outcomes) <= {"success", "partial"}


def test_delete_and_new_with_another_price_is_an_update(rt, settings, proxy, litellm_harness):
    engine = open_app_database(settings.DATABASE_URL)
    name = f"mm-test-{uuid.uuid4().hex[:8]}"
    old_id = _add(proxy, litellm_harness, name, 1e-6, 2e-6)
    assert name in run_model_sync(rt, "alice").new_models
    proxy.post("/model/delete", json={"id": old_id})
    proxy.added.remove(old_id)
    _until(lambda: name not in _info_names(proxy), f"{name} gone")
    _add(proxy, litellm_harness, name, 1e-6, 5e-6)
    r = run_model_sync(rt, "alice")
    assert r.new == 0 and r.unavailable == 0
    assert {"output_cost_per_token", "litellm_model_ids"} <= set(r.updated_models[name])
    assert catalogue(engine).set_index("name").loc[name, "output_cost_per_1m"] == pytest.approx(5.0)


def test_scheduler_and_manual_sync_together_stay_consistent(rt, settings, proxy, litellm_harness):
    """The scheduler's job and an admin's sync at the same moment: both complete, one after the other."""
    engine = open_app_database(settings.DATABASE_URL)
    name = f"mm-test-{uuid.uuid4().hex[:8]}"
    _add(proxy, litellm_harness, name, 1e-6, 2e-6)
    expected = _public_names(proxy)

    done, results, errors = threading.Barrier(2), [], []

    def job(trigger):
        try:
            done.wait(10)
            results.append(run_model_sync(rt, trigger))
        except Exception as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(job, "date", args=["scheduler"], run_date=datetime.now(timezone.utc) + timedelta(seconds=0.2))
    scheduler.start()
    try:
        job("admin")
        _until(lambda: len(results) + len(errors) == 2, "both syncs", timeout=60)
    finally:
        scheduler.shutdown(wait=True)
    assert not errors, errors
    assert sorted(r.trigger for r in results) == ["admin", "scheduler"]
    assert sum(r.new for r in results) == len(expected) and sum(r.updated for r in results) == 0
    first, second = sorted(results, key=lambda r: r.finished_at)
    assert second.started_at >= first.finished_at or second.new == 0  # never interleaved
    df = catalogue(engine)
    assert set(df["name"]) == expected and df["name"].is_unique and df["available"].all()
    with engine.connect() as c:
        runs = c.execute(select(job_runs).where(job_runs.c.job == "model_sync")).mappings().all()
    assert sorted(r["status"] for r in runs) == ["success", "success"]


def test_syncs_in_two_processes_stay_consistent(rt, settings, proxy):
    """The CLI (another process) and the app syncing at once: the lease serialises them."""
    expected = _public_names(proxy)
    env = {
        "DATABASE_URL": settings.DATABASE_URL,
        "DUCKDB_PATH": settings.DUCKDB_PATH,
        "PATH": "/usr/bin:/bin",
        "LITELLM_BASE_URL": settings.LITELLM_BASE_URL,
        "LITELLM_API_KEY": settings.LITELLM_API_KEY,
    }
    open_app_database(settings.DATABASE_URL)  # schema first, as the app does
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lib.cli", "sync-models", "--wait", "60"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    local = run_model_sync(rt, "admin")
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    stats = [json.loads(o[0]) for o in outs] + [local.as_dict()]
    assert sum(s["new"] for s in stats) == len(expected) and sum(s["updated"] for s in stats) == 0
    df = catalogue(open_app_database(settings.DATABASE_URL))
    assert set(df["name"]) == expected and df["name"].is_unique


def test_sync_models_with_the_real_client_directly(rt, settings, litellm_harness):
    engine = open_app_database(settings.DATABASE_URL)
    with LiteLLMClient(settings.LITELLM_BASE_URL, settings.LITELLM_API_KEY) as client:
        r = sync_models(engine, client, "alice")
    assert r.total >= len(CONFIGURED) and CONFIGURED <= set(r.new_models)


def test_wrong_master_key_fails_cleanly(rt, settings, litellm_harness, tmp_path):
    from lib.catalog.sync import ModelSyncError

    bad = settings.model_copy(update={"LITELLM_API_KEY": "sk-wrong"})
    run_model_sync(rt, "scheduler")
    with pytest.raises(ModelSyncError, match="refused the API key"):
        run_model_sync(Runtime(bad), "alice")
    engine = open_app_database(settings.DATABASE_URL)
    assert sync_history(engine)["status"].tolist() == ["failed", "partial"]
    assert catalogue(engine)["available"].all()
