"""Browser end-to-end: logins per role, deep links, no data without a login, replayed cookies, lockout."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from lib.ui.navigation import PAGES

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def login(page: Page, base: str, username: str, password: str, path: str = "") -> None:
    page.goto(f"{base}/{path}")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("username,landing,menu_size", [("admin", "Usage analytics", 5),
                                                        ("viewer", "Usage analytics", 5),
                                                        ("alice", "My usage", 1)])
def test_login_and_logout_per_role(page: Page, streamlit_server, username, landing, menu_size):
    login(page, streamlit_server.url, username, username)
    expect(page.get_by_role("heading", name=landing)).to_be_visible(timeout=TIMEOUT)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stPageLink")).to_have_count(menu_size, timeout=TIMEOUT)
    sidebar.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=TIMEOUT)
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=TIMEOUT)


def test_deep_link_to_an_admin_page_lands_there_after_login(page: Page, streamlit_server):
    login(page, streamlit_server.url, "admin", "admin", path="audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible(timeout=TIMEOUT)
    assert page.url.rstrip("/").endswith("/audit")


def test_user_gets_403_on_admin_page_deep_link(page: Page, streamlit_server):
    login(page, streamlit_server.url, "alice", "alice", path="users")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)


def test_every_page_url_on_a_fresh_server_shows_no_data(page: Page, fresh_server):
    for spec in PAGES:
        page.goto(f"{fresh_server.url}/{spec.url_path}")
        expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_test_id("stMetric")).to_have_count(0)
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
        assert "alice.martin" not in page.content()


def test_a_logged_out_cookie_replayed_does_not_log_in(browser, streamlit_server):
    ctx = browser.new_context()
    page = ctx.new_page()
    login(page, streamlit_server.url, "admin", "admin")
    expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(1500)     # the cookie is set by a component after the login
    saved = [c for c in ctx.cookies() if c["name"] == "litellm_console_auth"]
    assert saved, "login sets the auth cookie"
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=TIMEOUT)
    ctx.close()
    replay = browser.new_context()
    replay.add_cookies(saved)
    p2 = replay.new_page()
    p2.goto(streamlit_server.url)
    expect(p2.get_by_role("button", name="Log in")).to_be_visible(timeout=TIMEOUT)
    expect(p2.get_by_test_id("stMetric")).to_have_count(0)
    replay.close()


def test_a_valid_cookie_keeps_the_login_across_reloads(browser, streamlit_server):
    ctx = browser.new_context()
    page = ctx.new_page()
    login(page, streamlit_server.url, "viewer", "viewer")
    expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    p2 = ctx.new_page()
    p2.goto(streamlit_server.url + "/audit")
    expect(p2.get_by_role("heading", name="Audit log")).to_be_visible(timeout=TIMEOUT)
    ctx.close()


def test_lockout_after_repeated_failures(page: Page, streamlit_server):
    created = streamlit_server.cli("create-user", "--username", "mallory", "--role", "user", "--password-stdin",
                                   stdin="right-password-1\n")
    assert created.returncode == 0, created.stderr
    for i in range(5):
        login(page, streamlit_server.url, "mallory", "wrong-password")
        expect(page.get_by_text(re.compile("Wrong username or password|locked"))).to_be_visible(timeout=TIMEOUT)
    login(page, streamlit_server.url, "mallory", "right-password-1")
    expect(page.get_by_text(re.compile("locked"))).to_be_visible(timeout=TIMEOUT)
    assert "right-password-1" not in page.content() and "wrong-password" not in page.content()
