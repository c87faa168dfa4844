"""Model sync and catalogue queries against a scripted /model/info, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select, update

from lib.appdb import open_app_database
from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.catalog.browse import catalogue, facets, filter_catalogue, last_sync, sync_history, sync_running, with_usage
from lib.catalog.parse import catalogue_rows, changed_fields
from lib.catalog.sync import (
    JOB_NAME,
    ModelSyncError,
    SyncInProgress,
    acquire_sync_lease,
    run_model_sync,
    sync_models,
    sync_models_as,
)
from lib.core.jobs import job_runs, last_run
from lib.core.leases import leases, release
from lib.core.settings import load_settings
from lib.litellm.client import LiteLLMUnreachable
from lib.litellm.schemas import ModelInfoResponse
from lib.runtime import Runtime

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def dep(name, model, mid, pin=2.5e-6, pout=1e-5, provider=None, api_base=None, **info):
    params = {"model": model}
    if api_base:
        params["api_base"] = api_base
    mi = {
        "id": mid,
        "input_cost_per_token": pin,
        "output_cost_per_token": pout,
        "mode": "chat",
        "litellm_provider": provider or model.split("/")[0],
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
        "supports_vision": True,
        "supports_function_calling": True,
    }
    mi.update(info)
    return {"model_name": name, "litellm_params": params, "model_info": mi}


BASE = [
    dep("gpt-4o", "openai/gpt-4o", "id-4o", api_base="https://api.openai.com/v1"),
    dep("gpt-4o-mini", "openai/gpt-4o-mini", "id-mini", 1.5e-7, 6e-7),
    dep("llama3-local", "ollama/llama3", "id-llama", 0.0, 0.0, supports_vision=None, supports_function_calling=None),
    dep(
        "embed",
        "openai/text-embedding-3-small",
        "id-emb",
        2e-8,
        None,
        mode="embedding",
        supports_vision=None,
        supports_function_calling=None,
    ),
    dep("fast-chat", "openai/gpt-4o-mini", "id-mini", 1.5e-7, 6e-7),  # alias: repeats gpt-4o-mini's id
]


class FakeClient:
    """Stands in for LiteLLMClient.model_info(); `gate` makes a call wait (to overlap two syncs)."""

    def __init__(self, entries, gate: threading.Event | None = None, error: Exception | None = None):
        self.entries, self.gate, self.error, self.calls = entries, gate, error, 0
        self.entered = threading.Event()

    def model_info(self):
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(20)
        if self.error is not None:
            raise self.error
        return ModelInfoResponse.model_validate({"data": self.entries})


@pytest.fixture
def engine(app_db_url):
    return open_app_database(app_db_url)


def _rows(engine):
    return catalogue(engine).set_index("name")


# -- parsing ---------------------------------------------------------------------------------------
def test_rows_alias_and_embedding_and_issues():
    rows, errors = catalogue_rows(ModelInfoResponse.model_validate({"data": BASE}).data)
    assert set(rows) == {"gpt-4o", "gpt-4o-mini", "llama3-local", "embed", "fast-chat"}
    assert rows["fast-chat"]["alias_of"] == "gpt-4o-mini" and rows["gpt-4o-mini"]["alias_of"] is None
    assert rows["embed"]["capabilities"] == ["embeddings"]
    assert rows["gpt-4o"]["capabilities"] == ["function_calling", "vision"]
    assert rows["llama3-local"]["input_cost_per_token"] == 0.0  # free is a price, not a missing one
    assert errors == []  # embeddings need no output price


def test_missing_and_invalid_values_are_problems_not_failures():
    entries = [
        dep("no-price", "anthropic/claude", "a", None, None),
        dep("bad", "openai/x", "b", "abc", -1, max_input_tokens="lots", max_output_tokens=10**400, tpm=2**31),
    ]
    rows, errors = catalogue_rows(ModelInfoResponse.model_validate({"data": entries}).data)
    assert rows["no-price"]["input_cost_per_token"] is None
    assert rows["bad"]["input_cost_per_token"] is None and rows["bad"]["max_input_tokens"] is None
    msgs = {(e["model"], e["message"].split(" (")[0]) for e in errors}
    assert ("no-price", "no pricing in LiteLLM") in msgs
    assert ("bad", "invalid input_cost_per_token 'abc'") in msgs
    assert ("bad", "invalid output_cost_per_token -1") in msgs
    assert ("bad", "invalid max_input_tokens 'lots'") in msgs
    assert ("bad", "invalid max_output_tokens 100000000000000000...0000000000000000000") in msgs  # beyond a float
    assert ("bad", "invalid tpm 2147483648") in msgs  # beyond the catalogue's INTEGER column


def test_several_deployments_merge_whatever_the_order():
    a = dep(
        "gpt-4o",
        "azure/gpt-4o",
        "z-azure",
        3e-6,
        1e-5,
        api_base="https://me.openai.azure.com",
        tpm=100,
        rpm=5,
        max_input_tokens=64000,
    )
    b = dep("gpt-4o", "openai/gpt-4o", "a-openai", 2.5e-6, 1.2e-5, supports_vision=False, tpm=50)
    for order in ([a, b], [b, a]):
        row = catalogue_rows(ModelInfoResponse.model_validate({"data": order}).data)[0]["gpt-4o"]
        assert row["deployments"] == 2 and row["litellm_model_ids"] == ["a-openai", "z-azure"]
        assert row["provider"] == "azure, openai" and row["underlying_model"] == "azure/gpt-4o, openai/gpt-4o"
        assert row["input_cost_per_token"] == 3e-6 and row["output_cost_per_token"] == 1.2e-5
        assert row["max_input_tokens"] == 64000 and row["tpm"] == 150 and row["rpm"] == 5
        assert row["capabilities"] == ["function_calling"]


def test_api_base_loses_credentials_and_keys_are_never_read():
    e = dep("m", "openai/m", "i", api_base="https://user:pw@host.example:8443/v1?key=sk-secret#x")
    e["litellm_params"]["api_key"] = "sk-secret"
    row = catalogue_rows(ModelInfoResponse.model_validate({"data": [e]}).data)[0]["m"]
    assert row["api_base"] == "https://host.example:8443/v1"
    assert "sk-secret" not in json.dumps(row) and "pw" not in json.dumps(row)


def test_price_tolerance():
    old = {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5}
    assert changed_fields(old, {"input_cost_per_token": 2.5e-6 * (1 + 1e-9), "output_cost_per_token": 1e-5}) == []
    assert changed_fields(old, {"input_cost_per_token": 2.5e-6 + 1e-13, "output_cost_per_token": 1e-5}) == []
    assert "input_cost_per_token" in changed_fields(old, {"input_cost_per_token": 3e-6, "output_cost_per_token": 1e-5})
    assert "output_cost_per_token" in changed_fields(
        old, {"input_cost_per_token": 2.5e-6, "output_cost_per_token": None}
    )


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(BASE + [dep("gpt-4o", "azure/gpt-4o", "id-az", 3e-6, 1e-5)]))
def test_rows_do_not_depend_on_litellm_order_except_which_name_is_the_alias(entries):
    rows, errors = catalogue_rows(ModelInfoResponse.model_validate({"data": entries}).data)
    ref, _ = catalogue_rows(
        ModelInfoResponse.model_validate({"data": BASE + [dep("gpt-4o", "azure/gpt-4o", "id-az", 3e-6, 1e-5)]}).data
    )
    for name in rows:
        assert {k: v for k, v in rows[name].items() if k != "alias_of"} == {
            k: v for k, v in ref[name].items() if k != "alias_of"
        }
    # exactly one of the two names sharing a deployment is the alias of the other
    aliases = {rows["fast-chat"]["alias_of"], rows["gpt-4o-mini"]["alias_of"]}
    assert aliases in ({None, "gpt-4o-mini"}, {None, "fast-chat"})


# -- the sync --------------------------------------------------------------------------------------
def test_first_second_update_unavailable_and_return(engine):
    r1 = sync_models(engine, FakeClient(BASE), "scheduler")
    assert (r1.total, r1.new, r1.updated, r1.unavailable, r1.status) == (5, 5, 0, 0, "success")
    first_seen = _rows(engine).loc["gpt-4o", "first_seen"]

    r2 = sync_models(engine, FakeClient(BASE), "alice")
    assert (r2.total, r2.new, r2.updated, r2.unavailable) == (5, 0, 0, 0)

    tiny = [dict(e) for e in BASE]
    tiny[0] = dep("gpt-4o", "openai/gpt-4o", "id-4o", 2.5e-6 * (1 + 1e-9), api_base="https://api.openai.com/v1")
    assert sync_models(engine, FakeClient(tiny), "alice").updated == 0  # within the price tolerance

    changed = [dep("gpt-4o", "openai/gpt-4o", "id-4o", 5e-6, api_base="https://api.openai.com/v1")] + BASE[1:4]
    r3 = sync_models(engine, FakeClient(changed), "alice")
    assert r3.updated_models == {"gpt-4o": ["input_cost_per_token"]}
    assert r3.unavailable_models == ["fast-chat"] and r3.new == 0
    df = _rows(engine)
    assert df.loc["gpt-4o", "input_cost_per_1m"] == pytest.approx(5.0)
    assert not df.loc["fast-chat", "available"] and df.loc["fast-chat", "unavailable_since"] is not None
    assert df.loc["gpt-4o", "first_seen"] == first_seen

    r4 = sync_models(engine, FakeClient(changed), "alice")
    assert (r4.new, r4.updated, r4.unavailable) == (0, 0, 0)  # still gone: counted once

    r5 = sync_models(engine, FakeClient(changed + [BASE[4]]), "alice")
    assert r5.restored_models == ["fast-chat"] and r5.updated_models == {"fast-chat": ["available"]}
    df = _rows(engine)
    assert df.loc["fast-chat", "available"] and df.loc["fast-chat", "unavailable_since"] is None

    hist = sync_history(engine)
    assert list(hist["new"]) == [0, 0, 0, 0, 0, 5] and list(hist["trigger"])[-1] == "scheduler"
    assert last_sync(engine).run_id == r5.run_id


def test_partial_success_lists_problems_and_keeps_the_model(engine):
    entries = BASE + [dep("claude", "anthropic/claude-3-5-haiku", "id-c", None, None)]
    r = sync_models(engine, FakeClient(entries), "scheduler")
    assert r.status == "partial" and r.total == 6 and "claude" in _rows(engine).index
    assert [e["model"] for e in r.errors] == ["claude"]
    assert last_sync(engine).errors == r.errors
    row = sync_history(engine).iloc[0]
    assert row["status"] == "partial" and row["error_count"] == 1


def test_failure_changes_nothing_and_is_recorded(engine):
    sync_models(engine, FakeClient(BASE), "scheduler")
    before = _rows(engine)
    with pytest.raises(ModelSyncError, match="unchanged.*Cannot reach") as exc:
        sync_models(engine, FakeClient(BASE, error=LiteLLMUnreachable("Cannot reach LiteLLM")), "alice")
    assert exc.value.result.status == "failed"
    assert _rows(engine)[["available", "input_cost_per_token"]].equals(before[["available", "input_cost_per_token"]])
    assert last_sync(engine).status == "failed" and last_sync(engine, succeeded=True).new == 5
    assert list_audit(engine, action="models.sync")["outcome"].tolist()[:2] == ["failure", "success"]
    assert sync_running(engine) is None  # the lease was released


def test_database_error_mid_sync_rolls_back_everything(engine, monkeypatch):
    sync_models(engine, FakeClient(BASE[:2]), "scheduler")
    import lib.catalog.sync as mc

    real, calls = mc.audit, []

    def audit_fails_once(*args, **kwargs):  # the audit row is the last write of the transaction
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(mc, "audit", audit_fails_once)
    with pytest.raises(ModelSyncError, match="disk full"):
        sync_models(engine, FakeClient(BASE), "alice")
    assert sorted(_rows(engine).index) == ["gpt-4o", "gpt-4o-mini"]  # none of the 3 new rows stayed
    assert sync_history(engine)["status"].tolist() == ["failed", "success"]


def test_backend_keys_are_stored_nowhere(engine):
    e = dep("m", "openai/m", "i", api_base="https://u:pw@h.example/v1?api-key=sk-very-secret")
    e["litellm_params"]["api_key"] = "sk-very-secret"
    sync_models(engine, FakeClient([e]), "alice")
    with engine.connect() as c:
        from lib.auth.audit import audit_log
        from lib.catalog.tables import model_catalog

        dump = json.dumps(
            [[dict(r) for r in c.execute(select(t)).mappings()] for t in (model_catalog, job_runs, audit_log)],
            default=str,
        )
    assert "sk-very-secret" not in dump and "pw@" not in dump


def _catalogue_rows(engine) -> list[tuple]:
    from lib.catalog.tables import model_catalog

    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(model_catalog).order_by(model_catalog.c.name))]


def _replying(body):
    """The real client over a LiteLLM answering /model/info with `body` (HTTP 200)."""
    from lib.litellm.client import LiteLLMClient

    return LiteLLMClient(
        "http://litellm.test", "sk-test", transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    )


def test_a_reply_without_data_fails_the_sync_is_recorded_and_changes_nothing(demo_rt, monkeypatch):
    engine = demo_rt.engine
    run_model_sync(demo_rt, "startup")  # the demo LiteLLM's models
    before = _catalogue_rows(engine)
    assert len(before) >= 5 and catalogue(engine)["available"].all()
    monkeypatch.setattr(demo_rt, "litellm_client", lambda: _replying({"error": "upstream database unavailable"}))
    with pytest.raises(ModelSyncError, match="unchanged.*/model/info response has no 'data'"):
        run_model_sync(demo_rt, "scheduler")
    assert _catalogue_rows(engine) == before
    job = last_run(engine, "model_sync")
    assert job["status"] == "failed" and "has no 'data'" in job["error"]
    assert last_sync(engine).status == "failed" and "has no 'data'" in last_sync(engine).error


@pytest.mark.parametrize("body", [{"data": []}, {"data": [{"model_name": "  "}]}])
def test_an_empty_model_list_is_refused_while_the_catalogue_has_available_models(engine, body):
    sync_models(engine, FakeClient(BASE), "scheduler")
    before = _catalogue_rows(engine)
    with pytest.raises(ModelSyncError, match=r"no models.*5 available.*--allow-empty") as exc:
        sync_models(engine, _replying(body), "scheduler")
    assert exc.value.result.status == "failed" and _catalogue_rows(engine) == before
    assert last_sync(engine).status == "failed"


def test_allow_empty_marks_every_model_unavailable(engine):
    sync_models(engine, FakeClient(BASE), "scheduler")
    r = sync_models(engine, _replying({"data": []}), "alice", allow_empty=True)
    assert r.status == "success" and r.total == 0 and len(r.unavailable_models) == 5
    assert not catalogue(engine)["available"].any()
    assert sync_models(engine, _replying({"data": []}), "scheduler").unavailable == 0  # nothing left to lose


def test_cli_sync_models_allow_empty_is_passed_on(monkeypatch, demo_rt):
    import lib.catalog.sync
    from lib.cli import build_parser

    seen = {}

    def fake_sync(rt, trigger, **kw):
        seen.update(kw)
        raise ModelSyncError("stop here")

    monkeypatch.setattr(lib.catalog.sync, "run_model_sync", fake_sync)
    for argv, expected in ((["sync-models"], False), (["sync-models", "--allow-empty"], True)):
        args = build_parser().parse_args(argv)
        assert args.func(args, demo_rt) == 1 and seen["allow_empty"] is expected


# -- concurrency -----------------------------------------------------------------------------------
def test_second_sync_is_refused_clearly_or_waits(engine):
    gate = threading.Event()
    slow = FakeClient(BASE, gate=gate)
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("first", sync_models(engine, slow, "scheduler")))
    t.start()
    assert slow.entered.wait(10)
    assert sync_running(engine) == "scheduler"
    with pytest.raises(SyncInProgress, match=r"already running \(started by scheduler"):
        sync_models(engine, FakeClient(BASE), "alice")
    waiter = threading.Thread(
        target=lambda: out.setdefault("second", sync_models(engine, FakeClient(BASE), "bob", wait_s=20))
    )
    waiter.start()
    time.sleep(0.5)
    gate.set()
    t.join(20)
    waiter.join(20)
    assert out["first"].new == 5 and out["second"].new == 0 and out["second"].updated == 0
    assert len(_rows(engine)) == 5
    outcomes = list_audit(engine, action="models.sync")["outcome"].tolist()
    assert sorted(outcomes) == ["refused", "success", "success"]


def test_many_concurrent_syncs_stay_consistent(engine):
    results, errors = [], []

    def one(i):
        try:
            results.append(sync_models(engine, FakeClient(BASE), f"u{i}", wait_s=30))
        except Exception as exc:  # pragma: no cover - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r.new for r in results) == 5 and sum(r.updated for r in results) == 0
    assert len(_rows(engine)) == 5 and len(sync_history(engine)) == 6


def test_expired_lease_is_taken_over_and_the_stale_sync_cannot_commit(engine):
    stale = acquire_sync_lease(engine, "crashed")
    with pytest.raises(SyncInProgress):
        acquire_sync_lease(engine, "alice")
    with engine.begin() as c:  # the holder crashed long ago
        c.execute(
            update(leases)
            .where(leases.c.name == JOB_NAME)
            .values(expires_at=leases.c.acquired_at - timedelta(seconds=1))
        )
    fresh = acquire_sync_lease(engine, "alice")
    with pytest.raises(SyncInProgress, match="expired"):
        sync_models(engine, FakeClient(BASE), "crashed", lease=stale)
    assert catalogue(engine).empty
    sync_models(engine, FakeClient(BASE), "alice", lease=fresh)
    release(engine, fresh)
    assert len(_rows(engine)) == 5 and sync_running(engine) is None


def test_a_sync_in_another_process_is_refused_while_one_runs(app_db_url):
    engine = open_app_database(app_db_url)
    lease = acquire_sync_lease(engine, "scheduler")
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from lib.appdb import open_app_database; from lib.catalog.sync import acquire_sync_lease, SyncInProgress\n"
        "try:\n  acquire_sync_lease(open_app_database(sys.argv[1]), 'cli', wait_s=0.5)\n"
        "except SyncInProgress as e:\n"
        "  print('refused:', e)\nelse:\n  print('acquired')"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, app_db_url], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert out.stdout.startswith("refused: A model sync is already running (started by scheduler"), out.stderr
    finally:
        release(engine, lease)
    out = subprocess.run([sys.executable, "-c", code, app_db_url], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "acquired", out.stderr


# -- run_model_sync (job run, audit, permissions) over the demo LiteLLM ------------------------------
@pytest.fixture
def demo_rt(tmp_path, app_db_url):
    rt = Runtime(
        load_settings({"DATABASE_URL": app_db_url, "DUCKDB_PATH": str(tmp_path / "usage.duckdb")}, secrets_path=None)
    )
    yield rt
    rt.close()


def test_run_model_sync_records_a_job_and_audits(demo_rt):
    r = run_model_sync(demo_rt, "scheduler")
    engine = demo_rt.engine
    assert r.total >= 5 and r.new == r.total and r.status == "success"
    with engine.connect() as c:
        job = c.execute(select(job_runs).where(job_runs.c.job == "model_sync")).mappings().one()
    assert job["status"] == "success" and job["trigger"] == "scheduler" and job["details"]["new"] == r.total
    audit = list_audit(engine, action="models.sync").iloc[0]
    assert audit["actor"] == "scheduler" and audit["outcome"] == "success" and audit["details"]["total"] == r.total


def test_run_model_sync_safe_from_a_background_thread(demo_rt):
    out = []
    t = threading.Thread(target=lambda: out.append(run_model_sync(demo_rt, "scheduler")))
    t.start()
    t.join(60)
    assert out and out[0].status == "success"


def test_only_admins_may_sync(demo_rt):
    viewer = User("viewer", "Viewer", None, "admin-readonly", None, True)
    with pytest.raises(PermissionDenied, match="Admin access required to sync models"):
        sync_models_as(demo_rt, viewer)
    engine = demo_rt.engine
    assert list_audit(engine, action="models.sync")["outcome"].tolist() == ["denied"]
    admin = User("root", "Root", None, "admin", None, True)
    assert sync_models_as(demo_rt, admin).trigger == "root"


def test_user_sync_is_refused_at_once_while_the_scheduler_syncs(demo_rt):
    engine = demo_rt.engine
    lease = acquire_sync_lease(engine, "scheduler")
    try:
        started = time.monotonic()
        with pytest.raises(SyncInProgress, match="started by scheduler"):
            sync_models_as(demo_rt, User("root", "Root", None, "admin", None, True))
        assert time.monotonic() - started < 5
    finally:
        release(engine, lease)
    with engine.connect() as c:
        assert c.execute(select(job_runs)).first() is None  # refused: no run recorded


def test_cli_sync_models_prints_the_statistics(demo_rt, tmp_path):
    env = {
        "DATABASE_URL": demo_rt.settings.DATABASE_URL,
        "DUCKDB_PATH": demo_rt.settings.DUCKDB_PATH,
        "LITELLM_BASE_URL": "",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-m", "lib.cli", "sync-models"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert {"total", "new", "updated", "unavailable", "errors", "synced_at"} <= set(stats)
    assert stats["new"] == stats["total"] > 0 and stats["errors"] == []


def test_cli_sync_models_failure_exits_non_zero(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "DUCKDB_PATH": str(tmp_path / "u.duckdb"),
        "LITELLM_BASE_URL": "http://127.0.0.1:9",
        "LITELLM_TIMEOUT_S": "1",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-m", "lib.cli", "sync-models"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 1 and "Cannot reach LiteLLM" in out.stderr
    assert json.loads(out.stdout)["status"] == "failed"


# -- queries ---------------------------------------------------------------------------------------
def test_browser_queries(engine):
    sync_models(
        engine,
        FakeClient(
            BASE + [dep("claude", "anthropic/claude-3-5", "id-c", 3e-6, 1.5e-5, supports_function_calling=False)]
        ),
        "alice",
    )
    sync_models(
        engine,
        FakeClient(
            BASE[:4] + [dep("claude", "anthropic/claude-3-5", "id-c", 3e-6, 1.5e-5, supports_function_calling=False)]
        ),
        "alice",
    )
    df = catalogue(engine)
    assert df["name"].tolist()[-1] == "fast-chat"  # unavailable ones last
    assert df.set_index("name").loc["gpt-4o", "input_cost_per_1m"] == pytest.approx(2.5)
    f = facets(df)
    assert f["providers"] == ["anthropic", "ollama", "openai"] and "embeddings" in f["capabilities"]
    names = lambda d: sorted(d["name"])  # noqa: E731
    assert names(filter_catalogue(df, search="GPT-4O")) == ["fast-chat", "gpt-4o", "gpt-4o-mini"]  # its model too
    assert names(filter_catalogue(df, search="api.openai.com")) == ["gpt-4o"]
    assert names(filter_catalogue(df, search="mini openai")) == ["fast-chat", "gpt-4o-mini"]
    assert names(filter_catalogue(df, providers=["anthropic"])) == ["claude"]
    assert names(filter_catalogue(df, modes=["embedding"])) == ["embed"]
    assert names(filter_catalogue(df, capabilities=["vision", "function_calling"])) == [
        "fast-chat",
        "gpt-4o",
        "gpt-4o-mini",
    ]
    assert names(filter_catalogue(df, availability="unavailable")) == ["fast-chat"]
    assert len(filter_catalogue(df, availability="available")) == 5


def test_usage_of_the_last_30_days(engine, tmp_path):
    from datetime import datetime, timezone

    from lib.litellm.client import LiteLLMClient
    from lib.litellm.demo import MODELS, demo_transport
    from lib.usage.ingest import backfill
    from lib.usage.queries import Filters, breakdown
    from lib.usage.store import UsageStore

    today = datetime.now(timezone.utc).date()
    client = LiteLLMClient("http://demo", "k", transport=demo_transport(seed=3, today=today))
    store = UsageStore(tmp_path / "store")
    backfill(client, store, today - timedelta(days=34), today, concurrency=2)
    sync_models(engine, client, "alice")
    sync_models(
        engine, FakeClient(client.model_info().model_dump()["data"] + [dep("never-used", "openai/x", "nu")]), "alice"
    )
    df = with_usage(catalogue(engine), store, today)
    ref = breakdown(store, today - timedelta(days=29), today, Filters(), by="model_group").set_index("model_group")
    for _, row in df.iterrows():
        expected = ref["requests"].get(row["name"], 0)
        assert row["requests_30d"] == expected, row["name"]
    assert df.set_index("name").loc["never-used", "requests_30d"] == 0
    assert df["requests_30d"].sum() > 0 and set(MODELS) - {"fast-chat"} <= set(df["name"])
