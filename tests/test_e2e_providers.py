"""Browser end-to-end, demo mode: an admin adds an OpenAI-compatible provider pointing at a local endpoint that
lists its models (tests/support/models_endpoint.py), tests it, configures it and deletes it; its key never
reaches the page; a read-only admin sees every action disabled with the reason; a user gets 403."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.appdb import open_app_database
from lib.providers.records import load_providers
from lib.ui.providers import READ_ONLY_HINT
from tests.support.browser import TIMEOUT, login, wait_idle
from tests.support.models_endpoint import KEY, LOCAL_MODELS

pytestmark = pytest.mark.browser
NAME = "e2e-local"


def dialog(page: Page):
    return page.get_by_role("dialog")


def card(page: Page, name: str):
    return page.locator(f".st-key-prov_card_{name}")


def type_into(page: Page, label: str, text: str) -> None:
    """Type into the dialog's text field and commit it (Enter), then wait for the run it starts."""
    wait_idle(page)
    field = dialog(page).get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")
    wait_idle(page)
    expect(field).to_have_value(text)


def choose(page: Page, label: str, option: str) -> None:
    box = dialog(page).get_by_role("combobox", name=label)
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


def pick_in_dialog(page: Page, label: str, option: str) -> None:
    """Pick `option` in the dialog's multiselect (Escape, which browser.pick_option uses to close the dropdown,
    would close the dialog: a click on the dialog's title closes the dropdown instead)."""
    box = dialog(page).get_by_test_id("stMultiSelect").filter(has_text=label)
    for _ in range(5):
        wait_idle(page)
        box.click()
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.wait_for(timeout=5_000)
        except Exception:
            continue
        choice.click()
        dialog(page).get_by_text(label, exact=True).click()
        wait_idle(page)
        expect(box.get_by_text(option, exact=True).first).to_be_visible(timeout=TIMEOUT)
        return
    raise AssertionError(f"option {option!r} never appeared in {label!r}")


def click(page: Page, locator) -> None:
    wait_idle(page)
    locator.click()
    wait_idle(page)


def stored_priority(server) -> int | None:
    with open_app_database(server.db_url).connect() as conn:
        return next((p.priority for p in load_providers(conn) if p.name == NAME), None)


def test_an_admin_adds_tests_configures_and_deletes_a_provider(browser: Browser, streamlit_server, local_backend):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "admin", "admin", "providers")
    expect(page.get_by_role("heading", name="Providers", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(card(page, "openai-prod")).to_be_visible(timeout=TIMEOUT)  # the demo's first start

    click(page, page.get_by_role("button", name="Add provider"))
    expect(dialog(page)).to_be_visible(timeout=TIMEOUT)
    choose(page, "Type", "OpenAI-compatible (custom endpoint)")
    type_into(page, "Name", NAME)
    type_into(page, "API key", KEY)
    type_into(page, "API base", local_backend)
    click(page, dialog(page).get_by_role("button", name="Test connection"))
    expect(dialog(page).get_by_text(f"{len(LOCAL_MODELS)} model(s)")).to_be_visible(timeout=TIMEOUT)
    pick_in_dialog(page, "Models to serve", "in-house-model")
    wait_idle(page)
    expect(dialog(page).get_by_text("Create deployment in-house-model → openai/in-house-model")).to_be_visible(
        timeout=TIMEOUT
    )
    click(page, dialog(page).get_by_role("button", name="Save and apply"))
    expect(page.get_by_text(f"Added {NAME}")).to_be_visible(timeout=TIMEOUT)
    expect(card(page, NAME)).to_be_visible(timeout=TIMEOUT)
    assert KEY not in page.content()

    click(page, card(page, NAME).get_by_role("button", name="Test"))
    expect(page.get_by_text(f"{NAME}: Connected")).to_be_visible(timeout=TIMEOUT)
    expect(card(page, NAME).get_by_text("Connected")).to_be_visible(timeout=TIMEOUT)  # its last test

    click(page, card(page, NAME).get_by_role("button", name="Configure"))
    expect(dialog(page)).to_be_visible(timeout=TIMEOUT)
    priority = dialog(page).get_by_role("spinbutton", name="Priority")
    priority.fill("20")
    priority.press("Enter")
    wait_idle(page)
    click(page, dialog(page).get_by_role("button", name="Save and apply"))
    expect(page.get_by_text(f"Saved {NAME}")).to_be_visible(timeout=TIMEOUT)
    assert stored_priority(streamlit_server) == 20
    expect(card(page, NAME).get_by_text("priority 20")).to_be_visible(timeout=TIMEOUT)
    assert KEY not in page.content()

    click(page, card(page, NAME).get_by_role("button", name="Delete"))
    expect(dialog(page).get_by_text("Delete deployment in-house-model")).to_be_visible(timeout=TIMEOUT)
    click(page, dialog(page).get_by_role("button", name="Delete provider"))
    expect(page.get_by_text(f"Deleted {NAME}")).to_be_visible(timeout=TIMEOUT)
    expect(card(page, NAME)).to_have_count(0)
    assert stored_priority(streamlit_server) is None
    assert KEY not in page.content()
    page.context.close()


def test_a_read_only_admin_sees_disabled_actions_with_the_reason(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "viewer", "viewer", "providers")
    expect(card(page, "openai-prod")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    for label in ("Configure", "Test", "Disable", "Delete"):
        expect(card(page, "openai-prod").get_by_role("button", name=label)).to_be_disabled()
    expect(page.get_by_role("button", name="Add provider")).to_be_disabled()
    card(page, "openai-prod").get_by_role("button", name="Configure").hover(force=True)
    expect(page.get_by_text(READ_ONLY_HINT).first).to_be_visible(timeout=TIMEOUT)
    page.context.close()


def test_a_user_gets_403_on_the_providers_page(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "alice", "alice", "providers")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Add provider")).to_have_count(0)
    page.context.close()
