"""Browser end-to-end, demo mode: an admin changes the strategy, adds a fallback chain, reviews the plan and
applies it (the console's stored state shows both); a read-only admin sees the controls disabled with the reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.appdb import open_app_database
from lib.routing.store import load_routing
from lib.ui.routing import READ_ONLY_HINT
from tests.support.browser import TIMEOUT, login, pick_option, wait_idle

pytestmark = pytest.mark.browser


def applied(server):
    with open_app_database(server.db_url).connect() as conn:
        return load_routing(conn).applied


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (again if a rerun closed the dropdown)."""
    box = page.get_by_role("combobox", name=label)
    for _ in range(5):
        wait_idle(page)
        box.click()
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.wait_for(timeout=5_000)
        except Exception:
            page.keyboard.press("Escape")
            continue
        choice.click()
        wait_idle(page)
        return
    raise AssertionError(f"option {option!r} never appeared in {label!r}")


def click(page: Page, locator) -> None:
    wait_idle(page)
    locator.click()
    wait_idle(page)


def test_an_admin_changes_the_strategy_adds_a_fallback_reviews_and_applies(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "admin", "admin", "routing")
    expect(page.get_by_role("heading", name="Routing", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("cost-based-routing; within each group").first).to_be_visible(timeout=TIMEOUT)

    click(page, page.get_by_test_id("stRadio").get_by_text("Cost optimized", exact=True))
    choose(page, "Model group", "claude-3-5-haiku")
    pick_option(page, "Fall back to, in this order", "gpt-4o-mini")
    click(page, page.get_by_role("button", name="Set chain"))
    expect(page.get_by_text("claude-3-5-haiku (on any error) → gpt-4o-mini")).to_be_visible(timeout=TIMEOUT)

    click(page, page.get_by_role("button", name="Review changes"))
    plan = page.locator(".st-key-route_plan")
    expect(plan.get_by_text('"cost-based-routing"')).to_be_visible(timeout=TIMEOUT)
    expect(plan.get_by_text('[{"claude-3-5-haiku": ["gpt-4o-mini"]}]')).to_be_visible(timeout=TIMEOUT)
    assert applied(streamlit_server) is None or applied(streamlit_server).strategy != "cost"  # nothing written yet

    click(page, plan.get_by_role("button", name="Apply to LiteLLM"))
    expect(page.get_by_text("Applied.", exact=False).first).to_be_visible(timeout=TIMEOUT)
    state = applied(streamlit_server)
    assert state.strategy == "cost"
    assert [(c.group, c.type, c.fallbacks) for c in state.fallbacks] == [
        ("claude-3-5-haiku", "general", ("gpt-4o-mini",))
    ]
    page.context.close()


def test_a_read_only_admin_sees_disabled_controls_with_the_reason(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "viewer", "viewer", "routing")
    expect(page.get_by_role("heading", name="Routing", exact=True)).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    set_chain = page.get_by_role("button", name="Set chain")
    expect(set_chain).to_be_disabled()
    expect(page.get_by_role("radio", name="Cost optimized")).to_be_disabled()
    expect(page.get_by_role("combobox", name="Model group")).to_be_disabled()
    click(page, page.get_by_role("button", name="Review changes"))
    expect(page.get_by_role("button", name="Apply to LiteLLM")).to_be_disabled()
    set_chain.hover(force=True)
    expect(page.get_by_text(READ_ONLY_HINT).first).to_be_visible(timeout=TIMEOUT)
    page.context.close()


OPERATOR_CONFIG = b"""\
model_list:
  - model_name: canned
    litellm_params: {model: openai/gpt-4o, mock_response: hi}
router_settings:
  routing_strategy: latency-based-routing
  fallbacks: [{gpt-4o: [gpt-4o-mini]}]
  model_group_alias: {quick: gpt-4o-mini}
"""


def desired(server):
    with open_app_database(server.db_url).connect() as conn:
        return load_routing(conn).desired


def test_an_admin_imports_a_litellm_config_file_as_the_desired_routing(browser: Browser, streamlit_server, tmp_path):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "admin", "admin", "routing")
    expect(page.get_by_role("heading", name="Routing", exact=True)).to_be_visible(timeout=TIMEOUT)
    click(page, page.get_by_text("Import a LiteLLM config.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(OPERATOR_CONFIG.replace(b"latency-based-routing", b"fastest"))
    page.locator("input[type=file]").set_input_files(str(bad))
    wait_idle(page)
    click(page, page.get_by_role("button", name="Import", exact=True))
    expect(page.get_by_text("is not one of LiteLLM's routing strategies", exact=False).first).to_be_visible(
        timeout=TIMEOUT
    )
    assert desired(streamlit_server).aliases.get("quick") is None  # refused: nothing stored

    click(page, page.get_by_text("Import a LiteLLM config.yaml"))
    good = tmp_path / "config.yaml"
    good.write_bytes(OPERATOR_CONFIG)
    page.locator("input[type=file]").set_input_files(str(good))
    wait_idle(page)
    click(page, page.get_by_role("button", name="Import", exact=True))
    expect(page.get_by_text("Imported: routing stored as desired").first).to_be_visible(timeout=TIMEOUT)
    state = desired(streamlit_server)
    assert (state.strategy, state.advanced.routing_strategy, state.aliases) == (
        "advanced",
        "latency-based-routing",
        {"quick": "gpt-4o-mini"},
    )
    assert [(c.group, c.fallbacks) for c in state.fallbacks] == [("gpt-4o", ("gpt-4o-mini",))]
    page.context.close()
