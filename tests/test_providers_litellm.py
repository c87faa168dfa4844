"""Providers against the real LiteLLM proxy (../shared/litellm, config-dynamic.yaml), one harness for the module.

The oracle is LiteLLM itself (GET /credentials, /model/info), requests sent through the proxy, and the fake
backend's own log of what reached it (GET /_requests). Each test uses a fresh console database and deletes what it
added; the fake backend is one server, so two providers differ by their provider model names.
"""

from __future__ import annotations

import httpx
import pytest
from cryptography.fernet import Fernet

from lib.core.settings import load_settings
from lib.litellm.client import LiteLLMClient, LiteLLMUnreachable
from lib.providers import service
from lib.providers.records import ProviderInput, load_providers
from lib.providers.service import ProviderApplyError
from lib.runtime import Runtime
from tests.support.litellm_harness import HARNESS, admin_http, backend_hooks, running_harness
from tests.support.ports import free_port

pytestmark = pytest.mark.litellm
FAKE_KEY = "sk-fake-backend"  # the fake backend's one accepted key


@pytest.fixture(scope="module")
def proxy_env():
    with running_harness(LITELLM_CONFIG=str(HARNESS / "config-dynamic.yaml")) as env:
        yield env


@pytest.fixture(scope="module")
def proxy(proxy_env):
    with admin_http(proxy_env, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def backend(proxy_env):
    with backend_hooks(proxy_env) as http:
        yield http


@pytest.fixture
def rt(proxy_env, tmp_path):
    settings = load_settings(
        {
            "LITELLM_BASE_URL": proxy_env["LITELLM_BASE_URL"],
            "LITELLM_API_KEY": proxy_env["LITELLM_MASTER_KEY"],
            "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        },
        secrets_path=None,
    )
    rt = Runtime(settings)
    yield rt
    for view in service.list_providers(rt):  # leave LiteLLM as the test found it
        service.delete_provider(rt, None, view.name)
    rt.close()


def fake(proxy_env, path: str = "/v1") -> str:
    return proxy_env["LITELLM_FAKE_BACKEND_URL"].removesuffix("/v1") + path


def credentials(proxy) -> dict[str, dict]:
    return {c["credential_name"]: c for c in proxy.get("/credentials").json()["credentials"]}


def deployments(proxy) -> dict[str, dict]:
    return {m["model_info"]["id"]: m for m in proxy.get("/model/info").json()["data"]}


def using(proxy, credential: str) -> dict[str, dict]:
    return {
        i: m for i, m in deployments(proxy).items() if m["litellm_params"].get("litellm_credential_name") == credential
    }


def chat(proxy, model: str) -> httpx.Response:
    return proxy.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hello"}]})


def arrived(backend) -> list[str]:
    return [r["model"] for r in backend.get("/_requests").json() if r["path"].endswith("/chat/completions")]


def add(rt, name, models, priority=50, auto_fallback=True, api_base=None, key=FAKE_KEY):
    inp = ProviderInput(
        name, "openai_compatible", api_key=key, api_base=api_base, priority=priority, auto_fallback=auto_fallback
    )
    return service.add_provider(rt, None, inp, models)


def test_adding_a_provider_makes_one_credential_and_a_deployment_per_model_that_serve_requests(
    rt, proxy, proxy_env, backend
):
    add(rt, "acme", [("acme-chat", "gpt-4o"), ("acme-mini", "gpt-4o-mini")], api_base=fake(proxy_env))

    cred = credentials(proxy)["acme"]
    assert cred["credential_values"]["api_base"] == fake(proxy_env)
    assert cred["credential_info"]["custom_llm_provider"] == "openai"
    assert cred["credential_info"]["console_managed"] is True
    deps = using(proxy, "acme")
    assert sorted((m["model_name"], m["litellm_params"]["model"]) for m in deps.values()) == [
        ("acme-chat", "openai/gpt-4o"),
        ("acme-mini", "openai/gpt-4o-mini"),
    ]
    assert all(m["model_info"]["console_provider"] == "acme" for m in deps.values())

    backend.delete("/_requests")
    for public in ("acme-chat", "acme-mini"):
        answer = chat(proxy, public)
        assert answer.status_code == 200, answer.text
    assert sorted(arrived(backend)) == ["gpt-4o", "gpt-4o-mini"]
    assert service.preview_plan(rt).empty  # the record and LiteLLM agree
    # the key is stored encrypted: not in the database file in clear
    db = (rt.settings.store_dir.parent / "app.db").read_bytes()
    assert FAKE_KEY.encode() not in db


def test_failover_reaches_the_second_provider_and_auto_fallback_off_stops_it(rt, proxy, proxy_env, backend):
    add(rt, "first", [("failover-model", "first-backend-model")], priority=10, api_base=fake(proxy_env))
    add(rt, "second", [("failover-model", "second-backend-model")], priority=20, api_base=fake(proxy_env))
    both = [*using(proxy, "first").values(), *using(proxy, "second").values()]
    orders = {m["litellm_params"]["litellm_credential_name"]: m["litellm_params"]["order"] for m in both}
    assert orders == {"first": 1, "second": 2}

    backend.delete("/_requests")
    assert chat(proxy, "failover-model").status_code == 200
    assert arrived(backend) == ["first-backend-model"]  # the priority-10 provider serves

    backend.post("/_fail", json={"models": ["first-backend-model"], "status": 503})
    backend.delete("/_requests")
    for _ in range(3):
        answer = chat(proxy, "failover-model")
        assert answer.status_code == 200, answer.text
    assert arrived(backend).count("second-backend-model") == 3  # every request ended at the second

    service.configure_provider(rt, None, "first", {"auto_fallback": False})
    assert using(proxy, "second") == {}  # parked: the first serves the name alone
    backend.delete("/_requests")
    assert chat(proxy, "failover-model").status_code >= 400
    assert "second-backend-model" not in arrived(backend)
    backend.post("/_fail", json={"models": []})


def test_disable_and_delete_remove_exactly_that_providers_deployments(rt, proxy, proxy_env):
    add(rt, "gone", [("gone-a", "gpt-4o"), ("shared-name", "gpt-4o-mini")], priority=10, api_base=fake(proxy_env))
    add(rt, "kept", [("shared-name", "gpt-4o")], priority=20, api_base=fake(proxy_env))
    before = deployments(proxy)
    theirs = set(using(proxy, "gone"))
    assert len(theirs) == 2

    preview = service.deletion_preview(rt, "gone")
    assert sum(line.startswith("Delete deployment") for line in preview) == 2

    service.set_enabled(rt, None, "gone", False)
    assert set(deployments(proxy)) == set(before) - theirs
    assert "gone" in credentials(proxy)  # disabling keeps the credential
    service.set_enabled(rt, None, "gone", True)
    assert set(deployments(proxy)) == set(before)

    service.delete_provider(rt, None, "gone")
    after = deployments(proxy)
    assert set(after) == set(before) - theirs
    assert "gone" not in credentials(proxy)
    kept = next(iter(using(proxy, "kept").values()))
    assert kept["litellm_params"]["model"] == "openai/gpt-4o"


def test_adopting_a_database_deployment_changes_nothing_in_litellm(rt, proxy, proxy_env):
    proxy.post(
        "/credentials",
        json={
            "credential_name": "legacy",
            "credential_values": {"api_key": FAKE_KEY, "api_base": fake(proxy_env)},
            "credential_info": {"custom_llm_provider": "openai"},
        },
    ).raise_for_status()
    proxy.post(
        "/model/new",
        json={
            "model_name": "legacy-model",
            "litellm_params": {"model": "openai/gpt-4o", "litellm_credential_name": "legacy"},
        },
    ).raise_for_status()
    creds_before, deps_before = credentials(proxy), deployments(proxy)

    found = {c.name: c for c in service.adoption_candidates(rt)}
    assert found["legacy"].adoptable, found["legacy"].reason
    config_file = [c for c in found.values() if c.from_config_file]
    assert config_file and all(not c.adoptable and "config file" in c.reason for c in config_file)

    assert service.adopt(rt, None, ["legacy"]) == ["legacy"]
    assert service.preview_plan(rt).empty
    assert credentials(proxy) == creds_before and deployments(proxy) == deps_before
    view = next(v for v in service.list_providers(rt) if v.name == "legacy")
    assert (view.type, view.key_held_by, [m.public_name for m in view.models]) == (
        "openai_compatible",
        "litellm",
        ["legacy-model"],
    )
    assert chat(proxy, "legacy-model").status_code == 200


class RefuseSecondDeployment(httpx.BaseTransport):
    """The real proxy, except that it answers the second /model/new with a 500 (LiteLLM refusing a step)."""

    def __init__(self):
        self.real = httpx.HTTPTransport()
        self.creates = 0

    def handle_request(self, request):
        if request.url.path == "/model/new":
            self.creates += 1
            if self.creates == 2:
                return httpx.Response(500, json={"error": {"message": "{'error': 'Failed to add model to db.'}"}})
        return self.real.handle_request(request)


def test_a_refused_step_is_rolled_back_and_a_retry_completes_the_change(rt, proxy, proxy_env, monkeypatch):
    real = rt.litellm_client
    s = rt.settings
    monkeypatch.setattr(
        rt,
        "litellm_client",
        lambda: LiteLLMClient(s.LITELLM_BASE_URL, s.LITELLM_API_KEY, transport=RefuseSecondDeployment()),
    )
    with pytest.raises(ProviderApplyError) as err:
        add(rt, "flaky", [("flaky-a", "gpt-4o"), ("flaky-b", "gpt-4o-mini")], api_base=fake(proxy_env))
    assert "Failed to add model to db" in str(err.value)
    assert "Nothing was changed" in str(err.value)
    assert "flaky" not in credentials(proxy) and using(proxy, "flaky") == {}  # LiteLLM is as before
    with rt.engine.connect() as conn:
        assert load_providers(conn) == []  # and nothing LiteLLM refused was stored

    monkeypatch.setattr(rt, "litellm_client", real)
    add(rt, "flaky", [("flaky-a", "gpt-4o"), ("flaky-b", "gpt-4o-mini")], api_base=fake(proxy_env))
    assert "flaky" in credentials(proxy) and len(using(proxy, "flaky")) == 2
    assert service.preview_plan(rt).empty


def test_litellm_down_changes_nothing_and_says_so(tmp_path):
    settings = load_settings(
        {
            "LITELLM_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "LITELLM_API_KEY": "sk-master",
            "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        },
        secrets_path=None,
    )
    rt = Runtime(settings)
    try:
        with pytest.raises(LiteLLMUnreachable, match="Cannot reach LiteLLM"):
            add(rt, "acme", [("a", "gpt-4o")], api_base="http://llm.internal/v1")
        with rt.engine.connect() as conn:
            assert load_providers(conn) == []
    finally:
        rt.close()
