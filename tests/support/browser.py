"""Steps shared by the browser tests, made to hold on a loaded 2-core machine.

A Streamlit page keeps the previous run's elements on screen while a run is in flight, and a page can rerun by
itself (the end of the server's startup refresh reruns it): a click that lands in such a rerun can be lost (a form
redrawn between typing and clicking, a dropdown closed as it opens). Each step here waits for a quiet page,
acts, and checks that the action took before it returns.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from lib.ui.session import COOKIE_NAME

TIMEOUT = 30_000
# The menu an admin (and a read-only admin) sees, in order: written out, not read from lib.ui.navigation.
ADMIN_MENU = [
    "Usage analytics",
    "My usage",
    "Models",
    "Providers",
    "Routing",
    "Users",
    "Budgets",
    "Audit log",
    "Settings",
    "Virtual keys",
    "Request logs",
    "Health",
]
LOGIN_ERROR = re.compile("Wrong username or password|locked|disabled", re.IGNORECASE)


def wait_idle(page: Page, quiet_ms: int = 300, timeout_ms: int = 60_000) -> None:
    """Until no script run has been in flight for `quiet_ms` (polled every 100 ms)."""
    state = page.locator("[data-test-script-state]")
    quiet = 0
    for _ in range(timeout_ms // 100):
        quiet = quiet + 100 if state.get_attribute("data-test-script-state") == "notRunning" else 0
        if quiet >= quiet_ms:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page was still running a script after {timeout_ms // 1000} s")


def menu_links(page: Page) -> Locator:
    """The sidebar's page links: the app's menu, or Streamlit's own page list if it ever shows one."""
    return (
        page.get_by_test_id("stSidebar")
        .get_by_test_id("stPageLink-NavLink")
        .or_(page.get_by_test_id("stSidebarNavLink"))
    )


def menu(page: Page) -> list[str]:
    """The menu's page titles, in order (a link's text starts with its icon's name)."""
    return [link.inner_text().split("\n")[-1] for link in menu_links(page).all()]


def login_button(page: Page):
    return page.get_by_role("button", name="Log in")


def submit_login(page: Page, username: str, password: str) -> None:
    """Type and submit once the form is quiet; returns when the server has answered this submit: the form
    is gone (logged in) or shows an error. A submit lost in a concurrent rerun (the form stays, with nothing
    to say, for seconds) is typed again, a few times."""
    for _ in range(5):
        wait_idle(page)
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password").fill(password)
        if (
            page.get_by_role("textbox", name="Username").input_value() != username
            or page.get_by_role("textbox", name="Password").input_value() != password
        ):
            continue  # redrawn while typing
        login_button(page).click()
        answered = page.get_by_text(LOGIN_ERROR).or_(page.get_by_role("button", name="Log out"))
        try:  # the run a click starts can take a while to begin on a loaded machine: wait for its answer
            expect(answered.first).to_be_visible(timeout=TIMEOUT)
            return
        except AssertionError:
            if login_button(page).count() == 0:
                return
    raise AssertionError("the login form kept losing the submit")


def login(page: Page, base: str, username: str, password: str, path: str = "") -> None:
    page.goto(f"{base}/{path}")
    expect(login_button(page)).to_be_visible(timeout=TIMEOUT)
    submit_login(page, username, password)


def wait_for_cookie(page: Page) -> dict:
    """The login cookie is set by a browser component just after the login."""
    for _ in range(100):
        found = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError("the login cookie was never set")


def open_dropdown(page: Page, widget_label: str) -> list[str]:
    """Open the multiselect labelled `widget_label` and return its options' texts (the dropdown stays open)."""
    box = page.get_by_test_id("stMultiSelect").filter(has_text=widget_label)
    for _ in range(5):
        wait_idle(page)
        box.click()
        try:
            page.get_by_role("option").first.wait_for(timeout=5_000)
        except Exception:  # the dropdown closed under a rerun: open it again
            page.keyboard.press("Escape")
            continue
        return page.get_by_role("option").all_inner_texts()
    raise AssertionError(f"the options of {widget_label!r} never appeared")


def pick_option(page: Page, widget_label: str, option: str) -> None:
    """Choose `option` in the multiselect labelled `widget_label` and close its dropdown."""
    for _ in range(5):
        open_dropdown(page, widget_label)
        choice = page.get_by_role("option", name=option)
        try:
            choice.wait_for(timeout=5_000)
        except Exception:  # the dropdown closed under a rerun: open it again
            page.keyboard.press("Escape")
            continue
        choice.click()
        page.keyboard.press("Escape")
        return
    raise AssertionError(f"option {option!r} never appeared in {widget_label!r}")
