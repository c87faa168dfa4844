"""The routing plan (lib.routing.plan): pure, so each rule is shown on small cases, and applying a plan to a
simulated LiteLLM (what /router/settings and /model/info would then answer) leaves nothing to do."""

from __future__ import annotations

import copy

import pytest

from lib.providers.plan import LiteLLMState
from lib.providers.plan import compute_plan as provider_plan
from lib.providers.records import Provider, ProviderModel
from lib.routing.plan import ORDER_MARK, ROUTING_MARK, RoutingActual, compute_plan, routing_id
from lib.routing.state import RoutingInputError, parse_state


def dep(dep_id, name, model, db=True, order=None, **info):
    params = {"model": model, "api_base": "http://fake/v1"} | ({"order": order} if order is not None else {})
    return {"model_name": name, "litellm_params": params, "model_info": {"id": dep_id, "db_model": db, **info}}


CONFIG_MODELS = [
    dep("cfg-4o", "gpt-4o", "openai/gpt-4o", db=False, input_cost_per_token=2.5e-6, output_cost_per_token=1e-5),
    dep(
        "cfg-mini",
        "gpt-4o-mini",
        "openai/gpt-4o-mini",
        db=False,
        input_cost_per_token=1.5e-7,
        output_cost_per_token=6e-7,
    ),
    dep("cfg-llama", "llama3-local", "ollama/llama3", db=False, input_cost_per_token=0, output_cost_per_token=0),
]


def settings(values=None, config_keys=()):
    fields = [{"field_name": k, "source": "config"} for k in config_keys]
    return {"current_values": values or {"routing_strategy": "simple-shuffle"}, "fields": fields}


def actual(models=CONFIG_MODELS, values=None, config_keys=()) -> RoutingActual:
    return RoutingActual.from_litellm(settings(values, config_keys), copy.deepcopy(models))


def simulate(act: RoutingActual, plan) -> RoutingActual:
    """LiteLLM after the plan's steps (PATCH merges litellm_params and model_info; /config/update merges)."""
    models = {
        d.id: {"model_name": d.public_name, "litellm_params": dict(d.params), "model_info": dict(d.info)}
        for d in act.deployments
    }
    values = dict(act.settings)
    for step in plan.steps:
        body = copy.deepcopy(step.payload)
        if step.kind in ("create_deployment", "replace_deployment"):
            models[step.target] = body | {"model_info": body["model_info"] | {"db_model": True}}
        elif step.kind == "update_deployment":
            m = models[step.target]
            m["model_name"] = body["model_name"]
            m["litellm_params"].update(body["litellm_params"])
            m["model_info"].update(body["model_info"])
        elif step.kind == "delete_deployment":
            del models[step.target]
        elif step.kind == "router_settings":
            values.update(body["router_settings"])
    fields = [{"field_name": k, "source": v} for k, v in act.sources.items()]
    return RoutingActual.from_litellm({"current_values": values, "fields": fields}, models.values())


def test_the_strategy_and_fallbacks_and_aliases_become_one_router_settings_step_and_then_nothing():
    state = parse_state(
        {
            "strategy": "cost",
            "fallbacks": [{"group": "gpt-4o", "fallbacks": ["gpt-4o-mini"]}],
            "aliases": {"fast-chat": "gpt-4o-mini"},
        }
    )
    plan = compute_plan(state, actual())
    assert [s.kind for s in plan.steps] == ["router_settings"]
    sent = plan.steps[0].payload["router_settings"]
    assert sent == {
        "routing_strategy": "cost-based-routing",
        "fallbacks": [{"gpt-4o": ["gpt-4o-mini"]}],
        "model_group_alias": {"fast-chat": "gpt-4o-mini"},
    }
    assert "simple-shuffle" in plan.steps[0].description and "cost-based-routing" in plan.steps[0].description
    assert compute_plan(state, simulate(actual(), plan)).empty


def test_a_key_owned_by_the_config_file_is_read_only_never_a_step():
    state = parse_state({"strategy": "cost", "aliases": {"fast": "gpt-4o-mini"}})
    plan = compute_plan(state, actual(config_keys=("model_group_alias",)))
    assert plan.steps[0].payload["router_settings"] == {"routing_strategy": "cost-based-routing"}
    (note,) = plan.read_only
    assert note.what == "model_group_alias" and "config file" in note.reason


def test_a_use_case_copies_its_target_with_default_params_and_a_deterministic_id():
    state = parse_state(
        {"use_cases": [{"name": "sql-generation", "model": "gpt-4o", "temperature": 0.1, "max_tokens": 300}]}
    )
    plan = compute_plan(state, actual())
    (step,) = plan.steps
    assert step.kind == "create_deployment" and step.target == routing_id("use-case", "sql-generation")
    assert step.payload["model_name"] == "sql-generation"
    assert step.payload["litellm_params"] == {
        "model": "openai/gpt-4o",
        "api_base": "http://fake/v1",
        "temperature": 0.1,
        "max_tokens": 300,
    }
    after = simulate(actual(), plan)
    assert compute_plan(state, after).empty
    # dropping a default param replaces the deployment (a PATCH merge could not remove it)
    fewer = parse_state({"use_cases": [{"name": "sql-generation", "model": "gpt-4o", "temperature": 0.1}]})
    assert [s.kind for s in compute_plan(fewer, after).steps] == ["replace_deployment"]
    # removing the use case deletes only routing's deployment
    gone = compute_plan(parse_state({}), after)
    assert [(s.kind, s.target) for s in gone.steps] == [("delete_deployment", step.target)]


def test_a_power_level_is_a_group_with_its_candidates_in_order():
    state = parse_state({"power_levels": {"eco": ["llama3-local", "gpt-4o-mini"]}})
    plan = compute_plan(state, actual())
    made = [
        (s.payload["model_name"], s.payload["litellm_params"]["model"], s.payload["litellm_params"]["order"])
        for s in plan.steps
    ]
    assert made == [("eco", "ollama/llama3", 1), ("eco", "openai/gpt-4o-mini", 2)]
    assert all(s.payload["model_info"][ROUTING_MARK] == "power_level" for s in plan.steps)
    assert compute_plan(state, simulate(actual(), plan)).empty


def test_smart_routing_is_one_complexity_router_deployment():
    state = parse_state(
        {"smart": {"enabled": True, "simple": "gpt-4o-mini", "complex": "gpt-4o", "fallback": "gpt-4o-mini"}}
    )
    (step,) = compute_plan(state, actual()).steps
    assert step.payload["model_name"] == "smart"
    assert step.payload["litellm_params"] == {
        "model": "auto_router/complexity_router",
        "complexity_router_config": {
            "tiers": {"SIMPLE": "gpt-4o-mini", "MEDIUM": "gpt-4o", "COMPLEX": "gpt-4o", "REASONING": "gpt-4o"}
        },
        "complexity_router_default_model": "gpt-4o-mini",
    }


def test_a_use_case_of_a_group_without_deployments_is_refused_naming_the_field():
    with pytest.raises(RoutingInputError, match=r"use_cases\[0\]\.model: 'nope'"):
        compute_plan(parse_state({"use_cases": [{"name": "x", "model": "nope"}]}), actual())


# -- ordering within a group, with the providers' plan ---------------------------------------------------------
def provider(name, priority, backend_model):
    return Provider(
        name=name,
        type="openai_compatible",
        api_base=f"http://fake/{name}/v1",
        priority=priority,
        models=(ProviderModel("team-chat", backend_model).with_id(name),),
    )


PROVIDERS = [provider("pricey", 10, "gpt-4o"), provider("cheap", 20, "gpt-4o-mini")]
PRICES = {"openai/gpt-4o": (2.5e-6, 1e-5), "openai/gpt-4o-mini": (1.5e-7, 6e-7)}


def litellm_after_providers(models) -> list[dict]:
    """The providers' plan applied to a LiteLLM with `models`; /model/info then shows prices from the cost map."""
    from tests.test_provider_plan import simulate as provider_simulate

    state = LiteLLMState.from_litellm([], models)
    state = provider_simulate(state, provider_plan(PROVIDERS, state))
    out = []
    for d in state.deployments:
        info = dict(d.info)
        if d.params.get("model") in PRICES:
            info["input_cost_per_token"], info["output_cost_per_token"] = PRICES[d.params["model"]]
        out.append({"model_name": d.public_name, "litellm_params": dict(d.params), "model_info": info})
    return out


def orders(act: RoutingActual, group="team-chat") -> list[tuple[str, object, object]]:
    deps = sorted(
        (d for d in act.deployments if d.public_name == group), key=lambda d: (d.params.get("order") or 99, d.id)
    )
    return [(d.params["model"], d.params.get("order"), d.params.get("weight")) for d in deps]


def test_cost_orders_cheapest_first_and_the_providers_plan_keeps_it():
    models = litellm_after_providers([])
    before = actual(models)
    assert orders(before) == [("openai/gpt-4o", 1, None), ("openai/gpt-4o-mini", 2, None)]  # by priority
    plan = compute_plan(parse_state({"strategy": "cost"}), before)
    after = simulate(before, plan)
    assert orders(after) == [("openai/gpt-4o-mini", 1, None), ("openai/gpt-4o", 2, None)]
    assert all(d.info.get(ORDER_MARK) for d in after.deployments if d.public_name == "team-chat")
    # providers, then routing, then providers again: the providers' plan leaves routing's order alone
    as_models = [
        {"model_name": d.public_name, "litellm_params": d.params, "model_info": d.info} for d in after.deployments
    ]
    again = provider_plan(PROVIDERS, LiteLLMState.from_litellm([], as_models))
    assert [s.description for s in again.steps if s.kind.endswith("deployment")] == []
    assert compute_plan(parse_state({"strategy": "cost"}), after).empty


def test_quality_orders_by_the_admins_rank_and_balanced_weights_by_priority():
    before = actual(litellm_after_providers([]))
    quality = parse_state({"strategy": "quality", "quality_rank": {"openai/gpt-4o-mini": 1, "openai/gpt-4o": 2}})
    assert orders(simulate(before, compute_plan(quality, before)))[0][:2] == ("openai/gpt-4o-mini", 1)
    balanced = compute_plan(parse_state({"strategy": "balanced"}), before, {"pricey": 10, "cheap": 20})
    after = simulate(before, balanced)
    assert sorted(orders(after)) == [("openai/gpt-4o", 1, 91), ("openai/gpt-4o-mini", 1, 81)]


def test_prefer_local_puts_the_local_deployment_first_and_config_file_ones_are_read_only():
    models = [
        dep("db-mini", "chat", "openai/gpt-4o-mini", input_cost_per_token=1e-7, output_cost_per_token=1e-7),
        dep("db-llama", "chat", "ollama/llama3", input_cost_per_token=1e-6, output_cost_per_token=1e-6),
        dep("cfg-x", "chat", "openai/gpt-4o", db=False),
    ]
    state = parse_state({"strategy": "cost", "smart": {"prefer_local": True}})
    plan = compute_plan(state, actual(models))
    after = simulate(actual(models), plan)
    assert orders(after, "chat")[:2] == [("ollama/llama3", 1, None), ("openai/gpt-4o-mini", 2, None)]
    assert [n.what for n in plan.read_only] == ["order of chat (openai/gpt-4o)"]
    assert compute_plan(state, after).empty


def test_the_providers_plan_leaves_routings_own_deployments_alone():
    before = actual(litellm_after_providers([]))
    state = parse_state({"use_cases": [{"name": "sql", "model": "team-chat", "temperature": 0}]})
    after = simulate(before, compute_plan(state, before))
    (use_case,) = [d for d in after.deployments if d.public_name == "sql"]
    assert use_case.credential == "pricey"  # the copy uses the first provider's credential
    as_models = [
        {"model_name": d.public_name, "litellm_params": d.params, "model_info": d.info} for d in after.deployments
    ]
    again = provider_plan(PROVIDERS, LiteLLMState.from_litellm([], as_models))
    assert [s.description for s in again.steps if s.kind.endswith("deployment")] == []
