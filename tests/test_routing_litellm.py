"""Routing against the real LiteLLM proxy (../shared/litellm, config-dynamic.yaml), one harness for the module.

The oracles are LiteLLM's own answers (GET /router/settings, /model/info), requests sent through the proxy, and the
fake backend's log of what reached it (GET /_requests: the model name and the parameters it was sent). The console's
providers (lib.providers) put the groups routing works on into LiteLLM: `team-large` (backend model large-model),
`team-small` (small-model), and `team-chat` served by two providers (gpt-4o on `pricey`, priority 10; gpt-4o-mini on
`cheap`, priority 20), priced from LiteLLM's cost map.
"""

from __future__ import annotations

import httpx
import pytest
from cryptography.fernet import Fernet

from lib.core.settings import load_settings
from lib.providers import service as providers
from lib.providers.records import ProviderInput
from lib.routing import service
from lib.routing.state import RoutingInputError, parse_state
from lib.runtime import Runtime
from tests.support.litellm_harness import HARNESS, admin_http, backend_hooks, running_harness

pytestmark = pytest.mark.litellm
FAKE_KEY = "sk-fake-backend"


@pytest.fixture(scope="module")
def proxy_env():
    with running_harness(LITELLM_CONFIG=str(HARNESS / "config-dynamic.yaml")) as env:
        yield env


@pytest.fixture(scope="module")
def proxy(proxy_env):
    with admin_http(proxy_env, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def backend(proxy_env):
    with backend_hooks(proxy_env) as http:
        yield http


@pytest.fixture(scope="module")
def rt(proxy_env, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("routing")
    settings = load_settings(
        {
            "LITELLM_BASE_URL": proxy_env["LITELLM_BASE_URL"],
            "LITELLM_API_KEY": proxy_env["LITELLM_MASTER_KEY"],
            "DATABASE_URL": f"sqlite:///{tmp}/app.db",
            "DUCKDB_PATH": str(tmp / "usage.duckdb"),
            "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        },
        secrets_path=None,
    )
    rt = Runtime(settings)
    base = proxy_env["LITELLM_FAKE_BACKEND_URL"]
    for name, priority, models in (
        ("fakeco", 50, [("team-large", "large-model"), ("team-small", "small-model")]),
        ("pricey", 10, [("team-chat", "gpt-4o")]),
        ("cheap", 20, [("team-chat", "gpt-4o-mini")]),
    ):
        inp = ProviderInput(name, "openai_compatible", api_key=FAKE_KEY, api_base=base, priority=priority)
        providers.add_provider(rt, None, inp, models)
    yield rt
    rt.close()


def apply(rt, data: dict):
    return service.apply(rt, None, parse_state(data))


def chat(proxy, model: str, text: str = "hello", **params) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **params}
    return proxy.post("/chat/completions", json=body)


def arrivals(backend) -> list[dict]:
    return [r for r in backend.get("/_requests").json() if r["path"].endswith("/chat/completions")]


def served_by(proxy, backend, model: str, text: str = "hello") -> dict:
    """Send one request to `model` through the proxy; what reached the backend for it."""
    backend.delete("/_requests")
    resp = chat(proxy, model, text)
    assert resp.status_code == 200, resp.text
    return arrivals(backend)[-1]


def router(proxy) -> dict:
    return proxy.get("/router/settings").json()["current_values"]


def group_orders(proxy, group: str) -> list[tuple[str, int | None, int | None]]:
    deps = [m for m in proxy.get("/model/info").json()["data"] if m["model_name"] == group]
    out = [
        (m["litellm_params"]["model"], m["litellm_params"].get("order"), m["litellm_params"].get("weight"))
        for m in deps
    ]
    return sorted(out, key=lambda t: (t[1] or 0, t[0]))


def test_each_strategy_sets_what_its_card_says(rt, proxy, backend):
    apply(rt, {"strategy": "cost"})
    assert router(proxy)["routing_strategy"] == "cost-based-routing"
    assert group_orders(proxy, "team-chat") == [("openai/gpt-4o-mini", 1, None), ("openai/gpt-4o", 2, None)]
    assert served_by(proxy, backend, "team-chat")["model"] == "gpt-4o-mini"
    # the providers' plan keeps routing's order: applying providers again changes nothing
    assert providers.preview_plan(rt).empty

    apply(rt, {"strategy": "quality", "quality_rank": {"openai/gpt-4o": 1, "openai/gpt-4o-mini": 2}})
    assert router(proxy)["routing_strategy"] == "simple-shuffle"
    assert group_orders(proxy, "team-chat") == [("openai/gpt-4o", 1, None), ("openai/gpt-4o-mini", 2, None)]
    assert served_by(proxy, backend, "team-chat")["model"] == "gpt-4o"

    apply(rt, {"strategy": "balanced"})
    assert group_orders(proxy, "team-chat") == [("openai/gpt-4o", 1, 91), ("openai/gpt-4o-mini", 1, 81)]
    assert providers.preview_plan(rt).empty


def test_an_invalid_strategy_is_refused_before_litellm(rt, proxy):
    before = router(proxy)
    with pytest.raises(RoutingInputError, match="advanced.routing_strategy"):
        service.set_desired(rt, None, {"strategy": "advanced", "advanced": {"routing_strategy": "fastest-please"}})
    assert router(proxy) == before


def test_an_alias_is_served_by_its_target_group(rt, proxy, backend):
    apply(rt, {"aliases": {"fast-chat": "team-small"}})
    assert router(proxy)["model_group_alias"] == {"fast-chat": "team-small"}
    assert served_by(proxy, backend, "fast-chat")["model"] == "small-model"


def test_a_use_case_request_without_params_arrives_with_the_configured_ones(rt, proxy, backend):
    apply(rt, {"use_cases": [{"name": "sql-generation", "model": "team-large", "temperature": 0.2, "max_tokens": 123}]})
    got = served_by(proxy, backend, "sql-generation")
    assert (got["model"], got["params"].get("temperature"), got["params"].get("max_tokens")) == (
        "large-model",
        0.2,
        123,
    )


def test_a_power_level_is_served_by_its_first_candidate(rt, proxy, backend):
    apply(rt, {"power_levels": {"eco": ["team-small", "team-large"]}})
    assert served_by(proxy, backend, "eco")["model"] == "small-model"


def test_smart_routing_sends_simple_prompts_to_the_simple_model_and_hard_ones_to_the_complex(rt, proxy, backend):
    apply(
        rt,
        {"smart": {"enabled": True, "simple": "team-small", "complex": "team-large", "fallback": "team-small"}},
    )
    assert served_by(proxy, backend, "smart", "hi")["model"] == "small-model"
    hard = (
        "Think step by step and reason carefully. Prove rigorously that the algorithm below is correct, analyse its "
        "time and space complexity, compare it with three alternative architectures, derive the recurrence, and "
        "then explain the trade-offs of a distributed implementation across multiple data centres. "
    ) * 6
    assert served_by(proxy, backend, "smart", hard)["model"] == "large-model"


def test_apply_twice_changes_nothing_and_a_direct_change_shows_as_drift(rt, proxy):
    state = {"strategy": "cost", "aliases": {"fast-chat": "team-small"}, "power_levels": {"eco": ["team-small"]}}
    first = apply(rt, state)
    assert service.preview_plan(rt, parse_state(state)).empty
    assert apply(rt, state).plan.empty and first.plan is not None
    assert service.drift(rt).empty
    proxy.post("/config/update", json={"router_settings": {"routing_strategy": "least-busy"}}).raise_for_status()
    drift = service.drift(rt)
    assert [s.kind for s in drift.steps] == ["router_settings"]
    assert "least-busy" in drift.steps[0].description
    apply(rt, state)
    assert service.drift(rt).empty


def test_a_failing_group_is_served_by_its_fallback_group(rt, proxy, backend):
    apply(rt, {"fallbacks": [{"group": "team-large", "fallbacks": ["team-small"]}]})
    assert router(proxy)["fallbacks"] == [{"team-large": ["team-small"]}]
    backend.post("/_fail", json={"models": ["large-model"], "status": 503}).raise_for_status()
    try:
        backend.delete("/_requests")
        resp = chat(proxy, "team-large")
        assert resp.status_code == 200, resp.text
        assert [r["model"] for r in arrivals(backend)][-1] == "small-model"
        assert "large-model" in [r["model"] for r in arrivals(backend)]  # it was tried first
    finally:
        backend.post("/_fail", json={"models": []})


def test_the_exported_litellm_config_boots_a_litellm_serving_the_same_routes(rt, proxy, backend, tmp_path):
    state = {
        "aliases": {"fast-chat": "team-small"},
        "fallbacks": [{"group": "team-large", "fallbacks": ["team-small"]}],
        "power_levels": {"eco": ["team-small", "team-large"]},
        "use_cases": [{"name": "sql-generation", "model": "team-large", "temperature": 0.2, "max_tokens": 123}],
    }
    apply(rt, state)
    text, variables = service.litellm_config_yaml(rt)
    assert FAKE_KEY not in text  # keys only as os.environ references
    config = tmp_path / "config.yaml"
    config.write_text(text)
    keys = {name: FAKE_KEY for name in variables if name != "LITELLM_MASTER_KEY"}
    assert {"FAKECO_API_KEY", "PRICEY_API_KEY", "CHEAP_API_KEY"} <= set(keys)
    names = {m["model_name"] for m in proxy.get("/model/info").json()["data"]}
    with running_harness(LITELLM_CONFIG=str(config), **keys) as second_env:
        with httpx.Client(
            base_url=second_env["LITELLM_BASE_URL"],
            headers={"Authorization": f"Bearer {second_env['LITELLM_MASTER_KEY']}"},
            timeout=120,
        ) as second:
            assert {m["model_name"] for m in second.get("/model/info").json()["data"]} == names
            assert router(second)["model_group_alias"] == {"fast-chat": "team-small"}
            # the routes reach the first harness's fake backend (the api_base LiteLLM resolved): same oracle
            assert served_by(second, backend, "fast-chat")["model"] == "small-model"
            got = served_by(second, backend, "sql-generation")
            assert (got["model"], got["params"].get("temperature")) == ("large-model", 0.2)
            assert served_by(second, backend, "eco")["model"] == "small-model"
            backend.post("/_fail", json={"models": ["large-model"], "status": 503}).raise_for_status()
            try:
                assert served_by(second, backend, "team-large")["model"] == "small-model"
            finally:
                backend.post("/_fail", json={"models": []})


def test_a_refusal_midway_is_reported_as_litellm_really_is_and_a_retry_completes_it(rt, proxy, monkeypatch):
    from lib.litellm.client import LiteLLMClient
    from lib.routing.service import RoutingApplyError

    apply(rt, {})
    real_create = LiteLLMClient.create_deployment
    calls = []

    def second_is_a_duplicate(client, body):  # LiteLLM itself refuses a deployment id it already has
        calls.append(body["model_info"]["id"])
        if len(calls) == 2:
            body = {**body, "model_info": {**body["model_info"], "id": calls[0]}}
        return real_create(client, body)

    monkeypatch.setattr(LiteLLMClient, "create_deployment", second_is_a_duplicate)
    state = {"aliases": {"fast-chat": "team-small"}, "power_levels": {"precision": ["team-large", "team-small"]}}
    with pytest.raises(RoutingApplyError) as err:
        apply(rt, state)
    report = err.value.result.as_dict()
    assert [s["status"] for s in report["steps"]] == ["done", "failed", "not_attempted"]
    assert "LiteLLM refused" in report["steps"][1]["message"]
    # the report matches LiteLLM: one precision deployment, no alias; the console's applied state is unchanged
    precision = [m for m in proxy.get("/model/info").json()["data"] if m["model_name"] == "precision"]
    assert [m["model_info"]["id"] for m in precision] == [calls[0]]
    assert router(proxy)["model_group_alias"] in ({}, None)
    assert service.load(rt).applied == parse_state({})
    monkeypatch.undo()
    retry = apply(rt, state)
    assert [s.kind for s in retry.plan.steps] == ["create_deployment", "router_settings"]
    assert service.preview_plan(rt, parse_state(state)).empty
    apply(rt, {})


def test_an_exported_config_imported_into_a_fresh_console_leaves_nothing_to_plan(
    rt, proxy, proxy_env, backend, tmp_path
):
    state = {
        "strategy": "cost",
        "aliases": {"fast-chat": "team-small"},
        "fallbacks": [
            {"group": "team-large", "fallbacks": ["team-small"]},
            {"group": "team-small", "type": "context_window", "fallbacks": ["team-large"]},
        ],
        "power_levels": {"eco": ["team-small", "team-large"]},
        "use_cases": [{"name": "sql-generation", "model": "team-large", "temperature": 0.2, "max_tokens": 123}],
    }
    apply(rt, state)
    text, variables = service.litellm_config_yaml(rt)
    before = proxy.get("/model/info").json()["data"]
    settings = load_settings(
        {
            "LITELLM_BASE_URL": proxy_env["LITELLM_BASE_URL"],
            "LITELLM_API_KEY": proxy_env["LITELLM_MASTER_KEY"],
            "DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db",
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        },
        secrets_path=None,
    )
    fresh = Runtime(settings)
    try:
        env = {name: FAKE_KEY for name in variables if name != "LITELLM_MASTER_KEY"}
        out = service.import_litellm_config(fresh, None, text, env=env)
        # everything the file serves is in LiteLLM already (config file or database): nothing is made twice
        assert out["added"] == [] and any("config file" in s for s in out["skipped"])
        assert any(s.startswith("team-large") and "database already" in s for s in out["skipped"])
        assert service.preview_plan(fresh).empty, service.preview_plan(fresh).as_dict()
        after = proxy.get("/model/info").json()["data"]
        assert sorted(m["model_info"]["id"] for m in after) == sorted(m["model_info"]["id"] for m in before)
        imported = service.load(fresh).desired
        assert imported.aliases == {"fast-chat": "team-small"} and len(imported.fallbacks) == 2
        assert [(u.name, u.temperature, u.max_tokens) for u in imported.use_cases] == [("sql-generation", 0.2, 123)]
        assert imported.power_levels == {"eco": ("team-small", "team-large")}

    finally:
        fresh.close()
        apply(rt, {})


def test_the_scheduled_drift_check_flags_a_change_made_directly_in_litellm(rt, proxy):
    from datetime import timedelta

    from lib.core.jobs import last_run
    from lib.services import build_scheduler

    state = {"strategy": "cost", "aliases": {"fast-chat": "team-small"}}
    apply(rt, state)
    job = build_scheduler(rt).get_job("routing_drift")
    assert job.trigger.interval == timedelta(minutes=rt.settings.ROUTING_DRIFT_INTERVAL_MINUTES)
    job.func(*job.args)  # the scheduler's call
    assert last_run(rt.engine, service.DRIFT_JOB)["details"]["changes"] == 0

    proxy.post("/config/update", json={"router_settings": {"model_group_alias": {"fast-chat": "team-large"}}})
    job.func(*job.args)
    run = last_run(rt.engine, service.DRIFT_JOB)
    assert (run["status"], run["trigger"], run["details"]["changes"]) == ("success", "scheduler", 1)
    assert "team-large" in run["details"]["descriptions"][0]
    shown = service.current_drift(rt)
    assert (shown.scheduled, shown.changes, shown.descriptions) == (True, 1, tuple(run["details"]["descriptions"]))

    apply(rt, state)  # re-applied after the check: its result is stale, the page checks LiteLLM itself
    shown = service.current_drift(rt)
    assert not shown.scheduled and shown.empty
    apply(rt, {})
