"""Browser end-to-end on the Budgets page (demo mode): an admin sets a monthly budget and sees its projection; a
read-only admin sees the budget and the controls disabled."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import TIMEOUT, login, wait_for_cookie, wait_idle

pytestmark = pytest.mark.browser


def _open(browser: Browser, server, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
    login(page, server.url, username, username, "budgets")
    expect(page.get_by_role("heading", name="Budgets")).to_be_visible(timeout=TIMEOUT)
    wait_for_cookie(page)
    wait_idle(page)
    return page


def test_an_admin_sets_a_monthly_budget_and_sees_the_projection(browser: Browser, streamlit_server):
    page = _open(browser, streamlit_server, "admin")
    page.get_by_text("Set a budget").click()
    amount = page.get_by_role("spinbutton", name="Amount (USD)")
    amount.fill("90000")
    amount.press("Tab")
    page.get_by_role("button", name="Set budget").click()
    expect(page.get_by_text("Budget set.")).to_be_visible(timeout=TIMEOUT)
    projection = re.compile(r"Everything, monthly: on course for \$[\d,]+ of \$90,000 by \d+ \w{3} \([+-]\d+%\)")
    expect(page.get_by_text(projection)).to_be_visible(timeout=TIMEOUT)
    page.context.close()

    viewer = _open(browser, streamlit_server, "viewer")
    expect(viewer.get_by_text(projection)).to_be_visible(timeout=TIMEOUT)
    viewer.get_by_text("Set a budget").click()
    expect(viewer.get_by_role("button", name="Set budget")).to_be_disabled()
    expect(viewer.get_by_role("button", name="Delete")).to_be_disabled()
    viewer.context.close()
