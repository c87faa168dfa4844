"""Browser end-to-end on the Virtual keys page (demo mode): an admin creates a key, its plaintext is shown once
and is gone after a rerun (from the page's HTML, the server's log, the audit log and the app database); a
read-only admin sees every action disabled with its reason; a user gets 403 and sees their own keys on My usage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.appdb import open_app_database
from lib.auth.audit import list_audit
from lib.core.clock import utcnow
from lib.litellm.demo import DemoLiteLLM
from tests.support.browser import TIMEOUT, login, wait_idle

pytestmark = pytest.mark.browser
READONLY = "Admin access required to manage keys"


@pytest.fixture(scope="module")
def demo_keys():
    """The keys the server's demo LiteLLM starts with (the same seed and day: the same keys)."""
    return DemoLiteLLM(seed=42, today=utcnow().date()).key_api._live


def _open(browser: Browser, server, username: str, path: str) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
    login(page, server.url, username, username, path)
    return page


def _search(page: Page, text: str) -> None:
    wait_idle(page)
    box = page.get_by_role("textbox", name="Search")
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Key "))).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)


def test_a_new_key_is_shown_once_and_is_gone_after_a_rerun(browser: Browser, streamlit_server):
    page = _open(browser, streamlit_server, "admin", "keys")
    expect(page.get_by_role("heading", name="Virtual keys")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    page.get_by_text("Create a key").click()
    page.get_by_role("textbox", name="Alias").fill("e2e-made-key")
    page.get_by_role("textbox", name="Owner (LiteLLM user id)").fill("alice.martin")
    wait_idle(page)
    page.get_by_role("button", name="Create key").click()
    code = page.get_by_test_id("stCode")
    try:
        expect(code).to_be_visible(timeout=TIMEOUT // 2)
    except AssertionError:
        # On a loaded machine a click landing while the page reruns (the end of the server's startup refresh
        # reruns it) can be lost before it reaches the app: only then (nothing was created, the audit says) the
        # form is sent again.
        made = list_audit(open_app_database(streamlit_server.db_url), action="keys.create")
        assert made.empty, "a key was created but its plaintext was not shown"
        wait_idle(page)
        page.get_by_role("button", name="Create key").click()
        expect(code).to_be_visible(timeout=TIMEOUT)
    plaintext = code.inner_text().strip()
    assert re.fullmatch(r"sk-[\w-]{16,}", plaintext), plaintext
    expect(page.get_by_text("this is the only time it is shown")).to_be_visible()
    wait_idle(page)

    page.get_by_role("button", name="Reload from LiteLLM").click()  # any rerun
    expect(page.get_by_test_id("stCode")).to_have_count(0, timeout=TIMEOUT)
    wait_idle(page)
    html = page.content()
    assert plaintext not in html
    assert plaintext not in streamlit_server.log_text()
    engine = open_app_database(streamlit_server.db_url)
    audit = list_audit(engine)
    assert plaintext not in json.dumps(audit.to_dict("records"), default=str)
    assert (audit["action"] == "keys.create").sum() == 1
    db = Path(streamlit_server.db_url.removeprefix("sqlite:///"))
    for path in (db, Path(f"{db}-wal")):
        if path.exists():
            assert plaintext.encode() not in path.read_bytes(), path
    _search(page, "e2e-made-key")  # the new key is listed (the only one of that name)
    expect(page.get_by_role("heading", name=re.compile(r"^Key e2e-made-key \(sk-"))).to_be_visible()
    assert plaintext not in page.content()
    page.context.close()


def test_a_readonly_admin_sees_every_action_disabled_with_its_reason(browser: Browser, streamlit_server, demo_keys):
    token = next(t for t, r in demo_keys.items() if not r["blocked"] and r["expires"] is None)
    page = _open(browser, streamlit_server, "viewer", "keys")
    expect(page.get_by_role("heading", name="Virtual keys")).to_be_visible(timeout=TIMEOUT)
    _search(page, token)
    page.get_by_text("Create a key").click()
    buttons = {
        "Create key": None,
        "Block key": None,
        "Save changes": "Edit",
        "Replace key (copy, then block this one)": "Replace",
        "Delete key": "Delete",
    }
    for name, tab in buttons.items():
        if tab:
            page.get_by_role("tab", name=tab).click()
        button = page.get_by_role("button", name=name)
        expect(button).to_be_visible(timeout=TIMEOUT)
        expect(button).to_be_disabled()
    block = page.get_by_role("button", name="Block key")
    tooltip = page.get_by_text(READONLY)
    for _ in range(10):  # hover until the tooltip shows (the page may still be settling)
        page.mouse.move(0, 0)
        page.get_by_test_id("stTooltipHoverTarget").filter(has=block).hover()
        if tooltip.first.is_visible() or (page.wait_for_timeout(1000) or tooltip.first.is_visible()):
            break
    expect(tooltip.first).to_be_visible(timeout=TIMEOUT)
    page.context.close()


def test_a_user_gets_403_on_keys_and_sees_their_own_keys_on_my_usage(browser: Browser, streamlit_server):
    page = _open(browser, streamlit_server, "alice", "keys")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    page.get_by_role("link", name="Go to My usage").click()
    expect(page.get_by_role("heading", name="Your keys")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    expect(page.get_by_text("Ask an admin to create, change or block a key.")).to_be_visible()
    expect(page.get_by_role("button", name="Block key")).to_have_count(0)
    page.context.close()
