"""Browser end-to-end on the Request logs page (demo mode): the status filter leaves only failures in the table; a
read-only admin opens a request's detail but never sees its prompt, an admin does; a user gets 403."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.litellm.demo_logs import PROMPTS
from tests.support.browser import TIMEOUT, login, wait_idle

pytestmark = pytest.mark.browser
STATUS_COLUMN = 1  # the table's cells: time, status, …


def open_logs(browser: Browser, server, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    login(page, server.url, username, username, "logs")
    expect(page.get_by_role("heading", name="Request logs")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    return page


def statuses(page: Page) -> list[str]:
    """The Status cells of the table's rendered rows."""
    rows = page.get_by_test_id("stDataFrame").locator("[role=row]")
    expect(rows.nth(1)).to_be_attached(timeout=TIMEOUT)  # row 0 is the header
    return [rows.nth(i).locator("[role=gridcell]").nth(STATUS_COLUMN).inner_text() for i in range(1, rows.count())]


def pick_first_row(page: Page) -> None:
    """Tick the first row's box (the grid is a canvas: its selection column is clicked by position)."""
    grid = page.get_by_test_id("stDataFrame")
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    for _ in range(3):  # a click landing in a rerun is lost: try again until the detail shows
        page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)
        try:
            expect(page.get_by_role("heading", name="Request detail")).to_be_visible(timeout=10_000)
            wait_idle(page)
            return
        except AssertionError:
            wait_idle(page)
    raise AssertionError("picking a row never opened its detail")


def test_the_status_filter_shows_only_failures(browser: Browser, streamlit_server):
    page = open_logs(browser, streamlit_server, "admin")
    assert "success" in statuses(page)  # the last hour has both
    page.get_by_role("radio", name="Failure").click()
    wait_idle(page)
    expect(page.get_by_role("radio", name="Failure")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_text("Charts: all")).to_be_visible(timeout=TIMEOUT)
    shown = statuses(page)
    assert shown and set(shown) == {"failure"}, shown
    page.context.close()


@pytest.mark.parametrize("username, sees_prompt", [("viewer", False), ("admin", True)])
def test_only_admins_see_a_requests_prompt(browser: Browser, streamlit_server, username, sees_prompt):
    page = open_logs(browser, streamlit_server, username)
    pick_first_row(page)
    note = page.get_by_text("Prompts and responses are shown to admins only.")
    if sees_prompt:
        expect(page.get_by_text("Prompt", exact=True)).to_be_visible(timeout=TIMEOUT)
        expect(note).to_have_count(0)
    else:
        expect(note).to_be_visible(timeout=TIMEOUT)
    html = page.content()
    assert any(p in html for p in PROMPTS) == sees_prompt
    page.context.close()


def test_a_user_gets_403(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "alice", "alice", "logs")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    page.context.close()
