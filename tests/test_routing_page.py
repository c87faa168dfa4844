"""The Routing page in demo mode (AppTest): an admin changes the strategy, reviews the plan (the router setting
before → after, as the demo LiteLLM holds it) and applies it (the stored state and LiteLLM's own router settings
show it); a fallback chain that would close a cycle is refused with the backend's message; a read-only admin
sees every control disabled with the reason; a user gets 403."""

from __future__ import annotations

import pytest

from lib.core.text_safety import markdown_literal
from lib.routing import service
from lib.routing.state import PRESET_SUMMARY
from lib.ui.routing import READ_ONLY_HINT
from tests.support.apptest import app_as, app_runtime, demo_settings


@pytest.fixture
def env(tmp_path):
    from lib.auth import accounts

    settings = demo_settings(tmp_path)
    accounts.bootstrap_accounts(app_runtime(settings).engine, settings)
    return settings


def litellm_strategy(rt) -> str | None:
    """The routing strategy as LiteLLM (the demo proxy) answers GET /router/settings."""
    client = rt.litellm_client()
    try:
        return client.router_settings()["current_values"].get("routing_strategy")
    finally:
        client.close()


def plan_table(at):
    """The plan's router settings table (the page's other tables are the data editors)."""
    return next(t.value.reset_index() for t in at.table if "After apply" in t.value.columns)


def test_admin_changes_the_strategy_reviews_the_plan_and_applies_it(env):
    rt = app_runtime(env)
    before = litellm_strategy(rt)
    assert before != "cost-based-routing"
    at = app_as(env, "admin", "pages/routing.py")
    captions = " ".join(c.value for c in at.caption)
    assert all(markdown_literal(summary) in captions for summary in PRESET_SUMMARY.values())  # the cards say it
    at.radio(key="route_strategy").set_value("cost").run()
    at.button(key="route_review").click().run()
    assert not at.exception
    plan = plan_table(at)
    row = plan[plan["Setting"] == "routing_strategy"].iloc[0]
    assert row["In LiteLLM now"] == (f'"{before}"' if before else "null")
    assert row["After apply"] == '"cost-based-routing"'
    assert litellm_strategy(rt) == before  # reviewing writes nothing

    at.button(key="route_apply").click().run()
    assert not at.exception
    assert any("Applied" in s.value for s in at.success)
    assert service.load(rt).applied.strategy == "cost"
    assert litellm_strategy(rt) == "cost-based-routing"
    assert at.radio(key="route_strategy").value == "cost"  # the editors start again from what is stored
    at.button(key="route_review").click().run()
    assert any("nothing to change" in i.value for i in at.info)  # applying twice changes nothing


def test_a_fallback_chain_closing_a_cycle_is_refused_with_the_reason(env):
    at = app_as(env, "admin", "pages/routing.py")
    at.selectbox(key="route_fb_group").set_value("gpt-4o").run()
    at.multiselect(key="route_fb_chain").set_value(["gpt-4o-mini", "claude-3-5-haiku"]).run()
    at.button(key="route_fb_set").click().run()
    shown = " ".join(m.value for m in at.markdown)
    assert "gpt\\-4o\\-mini → claude\\-3\\-5\\-haiku" in shown and not at.error
    at.selectbox(key="route_fb_group").set_value("claude-3-5-haiku").run()
    at.multiselect(key="route_fb_chain").set_value(["gpt-4o"]).run()
    at.button(key="route_fb_set").click().run()
    assert [e.value for e in at.error] == [
        markdown_literal("fallbacks (general): the chains make a cycle: claude-3-5-haiku → gpt-4o → claude-3-5-haiku")
    ]
    assert "claude\\-3\\-5\\-haiku** (on any error)" not in " ".join(m.value for m in at.markdown)  # not added
    at.button(key="route_review").click().run()
    plan = plan_table(at)
    assert plan[plan["Setting"] == "fallbacks"].iloc[0]["After apply"] == (
        '[{"gpt-4o": ["gpt-4o-mini", "claude-3-5-haiku"]}]'
    )


def test_a_read_only_admin_sees_everything_with_every_control_disabled(env):
    at = app_as(env, "viewer", "pages/routing.py")
    assert at.radio(key="route_strategy").disabled and at.radio(key="route_strategy").help == READ_ONLY_HINT
    assert at.button(key="route_fb_set").disabled and at.button(key="route_fb_set").help == READ_ONLY_HINT
    for key in ("route_fb_group", "route_smart_fallback", "route_adv_strategy"):
        assert at.selectbox(key=key).disabled and at.selectbox(key=key).help == READ_ONLY_HINT
    at.button(key="route_review").click().run()  # reviewing is reading
    apply = at.button(key="route_apply")
    assert apply.disabled and apply.help == READ_ONLY_HINT


def test_a_user_gets_403(env):
    at = app_as(env, "alice", "pages/routing.py")
    assert [e.value for e in at.error] == ["403 — admin access required"]
    assert not [b for b in at.button if (b.key or "").startswith("route_")]


def test_a_change_made_directly_in_litellm_shows_as_drift_and_can_be_adopted(env):
    rt = app_runtime(env)
    service.apply(rt, None, service.load(rt).desired)
    client = rt.litellm_client()
    try:
        client.update_router_settings(
            {"routing_strategy": "least-busy", "num_retries": 7}
        )  # behind the console (num_retries: unmanaged, not drift)
    finally:
        client.close()
    at = app_as(env, "admin", "pages/routing.py")
    assert "LiteLLM differs from the console: 1 change" in [w.value for w in at.warning]
    at.button(key="route_adopt").click().run()
    assert not at.exception and not [w.value for w in at.warning if "differs" in w.value]
    stored = service.load(rt).applied
    assert (stored.strategy, stored.advanced.routing_strategy, stored.advanced.num_retries) == (
        "advanced",
        "least-busy",
        7,
    )
    assert at.radio(key="route_strategy").value == "advanced"  # the editors show what was adopted


def test_the_page_shows_the_scheduled_checks_result_while_it_is_fresh(env):
    rt = app_runtime(env)
    service.apply(rt, None, service.load(rt).desired)
    client = rt.litellm_client()
    try:
        client.update_router_settings({"routing_strategy": "least-busy"})
        service.run_drift_check(rt, "scheduler")  # the job sees the change ...
        client.update_router_settings({"routing_strategy": service.load(rt).applied.router_strategy()})
    finally:
        client.close()
    assert service.drift(rt).empty  # ... LiteLLM is back as applied, but the page shows the check's result
    at = app_as(env, "admin", "pages/routing.py")
    assert "LiteLLM differs from the console: 1 change" in [w.value for w in at.warning]
    assert any("Found by the scheduled check" in c.value for c in at.caption)
