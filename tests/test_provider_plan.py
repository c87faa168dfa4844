"""The plan (lib.providers.plan): pure, so each rule of the desired LiteLLM state is shown on small cases, and
applying a plan to a simulated LiteLLM (what /credentials and /model/info would then answer) leaves nothing to do."""

from __future__ import annotations

import copy
from dataclasses import replace

from lib.providers.plan import STEP_ORDER, LiteLLMState, compute_plan, parked
from lib.providers.records import Provider, ProviderModel, deployment_id

KEY = "sk-live-0123456789abcdef"


def provider(name, priority=50, models=(("gpt-4o", "gpt-4o"),), **kw) -> Provider:
    return Provider(
        name=name,
        type=kw.pop("type", "openai_compatible"),
        api_base=kw.pop("api_base", f"http://llm.internal/{name}/v1"),
        priority=priority,
        models=tuple(ProviderModel(pub, back).with_id(name) for pub, back in models),
        **kw,
    )


def simulate(state: LiteLLMState, plan) -> LiteLLMState:
    """What LiteLLM answers after the plan's steps (credentials and /model/info as the real proxy reports them)."""
    creds = {
        n: {"credential_name": n, "credential_values": dict(c.values), "credential_info": dict(c.info)}
        for n, c in state.credentials.items()
    }
    models = {
        d.id: {"model_name": d.public_name, "litellm_params": dict(d.params), "model_info": dict(d.info)}
        for d in state.deployments
    }
    for step in plan.steps:
        body = copy.deepcopy(step.payload)
        if step.kind in ("create_credential", "patch_credential"):
            body["credential_values"].pop("api_key", None)
            creds[step.target] = body
        elif step.kind == "delete_credential":
            del creds[step.target]
        elif step.kind == "create_deployment":
            models[step.target] = body | {"model_info": body["model_info"] | {"db_model": True}}
        elif step.kind == "update_deployment":
            m = models[step.target]
            m["model_name"] = body["model_name"]
            m["litellm_params"].update(body["litellm_params"])
            m["model_info"].update(body["model_info"])
        elif step.kind == "delete_deployment":
            del models[step.target]
    return LiteLLMState.from_litellm(creds.values(), models.values())


def served(state: LiteLLMState) -> dict[str, list[tuple[str, int | None]]]:
    """public name -> [(credential, order)] by order: who serves each name."""
    out: dict[str, list] = {}
    for d in state.deployments:
        out.setdefault(d.public_name, []).append((d.credential, d.params.get("order")))
    return {k: sorted(v, key=lambda t: (t[1] or 0, t[0] or "")) for k, v in out.items()}


def converge(desired, state: LiteLLMState | None = None, **kw) -> LiteLLMState:
    state = state or LiteLLMState()
    after = simulate(state, compute_plan(desired, state, **kw))
    assert compute_plan(desired, after, **kw).empty  # idempotent: nothing left to do
    return after


def test_a_provider_is_one_credential_and_one_deployment_per_model_with_no_key_in_any_description():
    acme = provider("acme", models=(("gpt-4o", "gpt-4o"), ("mini", "gpt-4o-mini")))
    plan = compute_plan([acme], LiteLLMState(), keys={"acme": KEY}, fingerprints={"acme": "f" * 16})
    assert [s.kind for s in plan.steps] == ["create_credential", "create_deployment", "create_deployment"]
    cred = plan.steps[0].payload
    assert cred["credential_values"] == {"api_base": "http://llm.internal/acme/v1", "api_key": KEY}
    assert cred["credential_info"] == {
        "custom_llm_provider": "openai",
        "console_managed": True,
        "console_type": "openai_compatible",
        "console_key_fingerprint": "f" * 16,
    }
    dep = plan.steps[1].payload
    assert dep == {
        "model_name": "gpt-4o",
        "litellm_params": {"model": "openai/gpt-4o", "litellm_credential_name": "acme", "order": 1},
        "model_info": {"id": deployment_id("acme", "gpt-4o"), "console_provider": "acme"},
    }
    assert plan.descriptions()[1] == "Create deployment gpt-4o → openai/gpt-4o on acme (order 1)"
    assert KEY not in repr(plan) and all(KEY not in d for d in plan.descriptions())


def test_priority_ranks_the_providers_of_a_public_name_and_ties_go_by_name():
    state = converge([provider("zeta", 10), provider("beta", 20), provider("alpha", 20)])
    assert served(state)["gpt-4o"] == [("zeta", 1), ("alpha", 2), ("beta", 3)]


def test_a_priority_change_only_reorders():
    a, b = provider("a", 10), provider("b", 20)
    state = converge([a, b])
    plan = compute_plan([replace(a, priority=30), b], state)
    assert [s.kind for s in plan.steps] == ["update_deployment", "update_deployment"]
    assert "order 1 → 2" in plan.steps[0].description or "order 1 → 2" in plan.steps[1].description
    assert served(simulate(state, plan))["gpt-4o"] == [("b", 1), ("a", 2)]


def test_auto_fallback_off_at_the_top_serves_alone_and_parks_the_others():
    desired = [provider("a", 10, auto_fallback=False), provider("b", 20), provider("c", 30)]
    state = converge(desired)
    assert served(state)["gpt-4o"] == [("a", 1)]
    assert parked(desired) == {"b": ["gpt-4o"], "c": ["gpt-4o"]}


def test_auto_fallback_off_below_the_top_parks_only_that_provider():
    desired = [provider("a", 10), provider("b", 20, auto_fallback=False), provider("c", 30)]
    state = converge(desired)
    assert served(state)["gpt-4o"] == [("a", 1), ("c", 3)]
    # turning it back on restores its deployment
    desired[1] = replace(desired[1], auto_fallback=True)
    plan = compute_plan(desired, state)
    assert [s.kind for s in plan.steps] == ["create_deployment"]
    assert served(simulate(state, plan))["gpt-4o"] == [("a", 1), ("b", 2), ("c", 3)]


def test_parking_is_per_public_name():
    a = provider("a", 10, models=(("gpt-4o", "gpt-4o"),), auto_fallback=False)
    b = provider("b", 20, models=(("gpt-4o", "gpt-4o"), ("mini", "gpt-4o-mini")))
    state = converge([a, b])
    assert served(state) == {"gpt-4o": [("a", 1)], "mini": [("b", 1)]}


def test_disabling_keeps_the_credential_and_removes_exactly_its_deployments_and_enabling_restores_them():
    a = provider("a", 10, models=(("gpt-4o", "gpt-4o"), ("mini", "m"))), provider("b", 20)
    state = converge(list(a))
    off = [replace(a[0], enabled=False), a[1]]
    plan = compute_plan(off, state)
    assert {(s.kind, s.provider) for s in plan.steps} == {("delete_deployment", "a")}
    assert len(plan.steps) == 2 and all("(provider disabled)" in d for d in plan.descriptions())
    state = simulate(state, plan)
    assert set(state.credentials) == {"a", "b"} and served(state) == {"gpt-4o": [("b", 2)]}
    assert compute_plan(off, state).empty
    back = converge(list(a), state)
    assert served(back) == {"gpt-4o": [("a", 1), ("b", 2)], "mini": [("a", 1)]}


def test_config_file_and_foreign_deployments_are_never_touched():
    foreign = LiteLLMState.from_litellm(
        [{"credential_name": "theirs", "credential_values": {}, "credential_info": {}}],
        [
            {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"id": "cfg-1"}},
            {  # a config-file deployment using a console credential: cannot be changed, so never planned
                "model_name": "x",
                "litellm_params": {"model": "openai/x", "litellm_credential_name": "acme"},
                "model_info": {"id": "cfg-2", "db_model": False},
            },
            {
                "model_name": "y",
                "litellm_params": {"model": "openai/y", "litellm_credential_name": "theirs"},
                "model_info": {"id": "db-3", "db_model": True},
            },
        ],
    )
    plan = compute_plan([provider("acme")], foreign)
    assert [s.kind for s in plan.steps] == ["create_credential", "create_deployment"]
    assert compute_plan([], foreign).empty


def test_what_a_failed_change_left_behind_is_removed():
    state = converge([provider("a"), provider("b", 60)])
    plan = compute_plan([provider("a")], state)  # b has no record (e.g. its add was rolled back half-way)
    assert [(s.kind, s.target) for s in plan.steps] == [
        ("delete_deployment", deployment_id("b", "gpt-4o")),
        ("delete_credential", "b"),
    ]


def test_removing_an_adopted_provider_deletes_its_credential_and_deployments():
    adopted = LiteLLMState.from_litellm(
        [{"credential_name": "old", "credential_values": {"api_base": "http://o/v1"}, "credential_info": {}}],
        [
            {
                "model_name": "m",
                "litellm_params": {"model": "openai/m", "litellm_credential_name": "old"},
                "model_info": {"id": "random-1", "db_model": True},
            }
        ],
    )
    record = provider("old", models=(("m", "m"),), api_base="http://o/v1")
    record = replace(record, models=(ProviderModel("m", "m", "random-1"),))
    assert compute_plan([record], adopted).empty  # alone in its name: no order needed
    plan = compute_plan([], adopted, removing={"old"})
    assert [(s.kind, s.target) for s in plan.steps] == [("delete_deployment", "random-1"), ("delete_credential", "old")]
    assert compute_plan([], adopted).empty  # without being removed, an unmarked credential is not the console's


def test_a_key_litellm_does_not_hold_is_pushed_again_and_only_named():
    state = converge([provider("a")], keys={"a": KEY}, fingerprints={"a": "1" * 16})
    plan = compute_plan([provider("a")], state, keys={"a": "sk-new-key-abcdef0123"}, fingerprints={"a": "2" * 16})
    assert [s.kind for s in plan.steps] == ["patch_credential"]
    assert plan.steps[0].description == "Update credential a (key)"
    assert plan.steps[0].payload["credential_values"]["api_key"] == "sk-new-key-abcdef0123"


def test_steps_run_credentials_first_and_delete_deployments_before_their_credential():
    state = converge([provider("old")])
    plan = compute_plan([provider("new", models=(("gpt-4o", "x"),))], state)
    kinds = [s.kind for s in plan.steps]
    assert kinds == ["create_credential", "create_deployment", "delete_deployment", "delete_credential"]
    assert kinds == sorted(kinds, key=STEP_ORDER.index)


def test_a_partly_applied_plan_is_completed_by_the_next_plan():
    desired = [provider("a", 10, models=(("x", "x"), ("y", "y"))), provider("b", 20, models=(("x", "x2"),))]
    full = compute_plan(desired, LiteLLMState())
    for done in range(len(full.steps)):
        half = simulate(LiteLLMState(), type(full)(full.steps[:done]))
        rest = compute_plan(desired, half)
        assert len(rest.steps) == len(full.steps) - done
        assert served(simulate(half, rest)) == served(simulate(LiteLLMState(), full))
