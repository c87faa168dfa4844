"""Browser end-to-end: the Users page's change form shows the selected user's current role and LiteLLM link in
the browser itself (the browser keeps a widget's value unless the server sets it, which AppTest cannot show)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.appdb import open_app_database
from lib.auth import accounts
from tests.support.browser import TIMEOUT, login, wait_idle

pytestmark = pytest.mark.browser


def change_form(page: Page):
    return page.get_by_test_id("stColumn").filter(has=page.get_by_role("heading", name="Change a user"))


def selectbox(page: Page, label: str):
    """The change form's selectbox labelled `label` (its value is the option it shows)."""
    return change_form(page).get_by_role("combobox", name=label, exact=True)


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the change form's selectbox labelled `label`, then wait for the run it starts."""
    box = selectbox(page, label)
    for _ in range(5):
        wait_idle(page)
        box.click()
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.wait_for(timeout=5_000)
        except Exception:  # the dropdown closed under a rerun: open it again
            page.keyboard.press("Escape")
            continue
        choice.click()
        expect(box).to_have_value(option)
        wait_idle(page)
        return
    raise AssertionError(f"option {option!r} never appeared in {label!r}")


def link_field(page: Page):
    return change_form(page).get_by_role("textbox", name="LiteLLM user id")


def test_the_change_form_follows_the_selected_user(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "admin", "admin", "users")
    expect(page.get_by_role("heading", name="Change a user")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    for username, role, link in (
        ("alice", "User", "alice.martin"),
        ("viewer", "Admin (read-only)", ""),
        ("admin", "Admin", ""),
        ("alice", "User", "alice.martin"),
    ):
        choose(page, "User", username)
        expect(selectbox(page, "Role")).to_have_value(role, timeout=TIMEOUT)
        expect(link_field(page)).to_have_value(link, timeout=TIMEOUT)

    # Set role as shown, then Save link as shown: nothing changes for the user selected
    choose(page, "User", "viewer")
    expect(selectbox(page, "Role")).to_have_value("Admin (read-only)", timeout=TIMEOUT)
    change_form(page).get_by_role("button", name="Set role").click()
    expect(page.get_by_text("viewer already has the role Admin (read-only)")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    change_form(page).get_by_role("button", name="Save LiteLLM link").click()
    expect(page.get_by_text("viewer is not linked to LiteLLM")).to_be_visible(timeout=TIMEOUT)
    viewer = accounts.get_user(open_app_database(streamlit_server.db_url), "viewer")
    assert (viewer.role, viewer.litellm_user_id) == ("admin-readonly", None)
    page.context.close()
