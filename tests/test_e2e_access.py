"""Browser end-to-end: no data without a login on a fresh server, logins and logouts per role, deep links,
replayed cookies, lockout, and no password or secret in pages, logs or the audit log."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.appdb import open_app_database
from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.ui.navigation import available_pages
from lib.ui.session import COOKIE_DAYS
from tests.support.browser import (
    ADMIN_MENU,
    TIMEOUT,
    login,
    login_button,
    menu,
    menu_links,
    submit_login,
    wait_for_cookie,
    wait_idle,
)
from tests.support.metrics import scrape, value
from tests.support.ports import free_port
from tests.support.streamlit_server import StreamlitServer

pytestmark = pytest.mark.browser
DATA = ("stMetric", "stDataFrame", "stPlotlyChart", "stTable", "stDownloadButton")


def assert_no_data(page: Page) -> None:
    for test_id in DATA:
        expect(page.get_by_test_id(test_id)).to_have_count(0)


def test_a_fresh_server_shows_only_the_login_on_every_url(browser: Browser, fresh_server):
    """The first request of a new server process is an admin page (Streamlit's pages/ mode pitfall)."""
    page = browser.new_context().new_page()
    paths = sorted((p.url_path for p in available_pages()), key=lambda u: u != "users") + [""]
    for path in paths:
        page.goto(f"{fresh_server.url}/{path}")
        expect(login_button(page)).to_be_visible(timeout=TIMEOUT)
        assert_no_data(page)
        expect(menu_links(page)).to_have_count(0)
        html = page.content()
        assert "alice.martin" not in html and "Log out" not in html, path
    page.context.close()


@pytest.mark.parametrize(
    "username,path,landing,expected_menu",
    [
        (
            "admin",
            "",
            "Usage analytics",
            ADMIN_MENU,
        ),
        (
            "viewer",
            "audit",
            "Audit log",
            ADMIN_MENU,
        ),
        ("alice", "", "My usage", []),  # one page: Streamlit shows no menu at all
    ],
    ids=["admin", "readonly-deep-link", "user"],
)
def test_login_and_logout_per_role(browser: Browser, streamlit_server, username, path, landing, expected_menu):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, username, username, path)
    expect(page.get_by_role("heading", name=landing)).to_be_visible(timeout=TIMEOUT)
    if path:
        assert page.url.rstrip("/").endswith("/" + path)  # the deep link survived the login
    expect(menu_links(page)).to_have_count(len(expected_menu))  # a page link's code loads on first use
    assert menu(page) == expected_menu
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(username, exact=True)).to_be_visible()
    wait_for_cookie(page)
    wait_idle(page)
    sidebar.get_by_role("button", name="Log out").click()
    expect(login_button(page)).to_be_visible(timeout=TIMEOUT)
    page.reload()  # the cookie does not log back in
    expect(login_button(page)).to_be_visible(timeout=TIMEOUT)
    assert_no_data(page)
    page.context.close()


def test_a_user_deep_linking_to_an_admin_page_gets_403(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "alice", "alice", "users")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    assert_no_data(page)
    page.get_by_role("link", name="Go to My usage").click()
    expect(page.get_by_role("heading", name="My usage")).to_be_visible(timeout=TIMEOUT)
    page.context.close()


def test_a_cookie_works_until_logout_and_never_after(browser: Browser, streamlit_server):
    page = browser.new_context().new_page()
    login(page, streamlit_server.url, "admin", "admin", "users")
    expect(page.get_by_role("heading", name="Users")).to_be_visible(timeout=TIMEOUT)
    cookie = wait_for_cookie(page)
    # as the browser keeps it: same-site only, for the whole app, and expiring with the server-side session
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/" and not cookie["secure"]
    assert abs(cookie["expires"] - (time.time() + COOKIE_DAYS * 86400)) < 600

    other = browser.new_context()  # the cookie alone logs in ...
    other.add_cookies([cookie])
    p2 = other.new_page()
    p2.goto(streamlit_server.url + "/audit")
    expect(p2.get_by_role("heading", name="Audit log")).to_be_visible(timeout=TIMEOUT)
    other.close()

    wait_idle(page)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    expect(login_button(page)).to_be_visible(timeout=TIMEOUT)
    replay = browser.new_context()  # ... until its session is logged out
    replay.add_cookies([cookie])
    p3 = replay.new_page()
    for path in ("audit", ""):
        p3.goto(f"{streamlit_server.url}/{path}")
        expect(login_button(p3)).to_be_visible(timeout=TIMEOUT)
        assert_no_data(p3)
    replay.close()
    page.context.close()


def test_lockout_and_no_secret_in_pages_logs_or_audit(browser: Browser, streamlit_server):
    engine = open_app_database(streamlit_server.db_url)
    admin = accounts.get_user(engine, "admin")
    right, wrong = "Right-pw-7f3a91", "Wrong-pw-c2e8d4"
    accounts.create_user(engine, admin, "mallory", right, "user", litellm_user_id="mallory.l")
    page = browser.new_context().new_page()
    pages_seen = []

    login(page, streamlit_server.url, "mallory", right)  # a good login first
    expect(page.get_by_role("heading", name="My usage")).to_be_visible(timeout=TIMEOUT)
    # Until the run ends, Streamlit keeps the previous run's elements (the login form as it was submitted)
    # on screen, faded; the page to judge is the one the run leaves.
    wait_idle(page)
    pages_seen.append(page.content())
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    expect(login_button(page)).to_be_visible(timeout=TIMEOUT)

    def attempts() -> int:
        return len(list_audit(engine, user="mallory", action="login"))

    def attempt(password: str) -> None:
        """Submit the form and wait until the server has judged this very attempt (its audit row)."""
        wait_idle(page)
        before = attempts()
        submit_login(page, "mallory", password)
        deadline = time.time() + 30
        while attempts() == before and time.time() < deadline:
            time.sleep(0.1)
        assert attempts() == before + 1
        expect(page.get_by_role("textbox", name="Password")).to_have_value("", timeout=TIMEOUT)  # cleared
        wait_idle(page)
        pages_seen.append(page.content())

    for _ in range(accounts.MAX_FAILED_LOGINS):
        attempt(wrong)
        expect(page.get_by_text(accounts.LOGIN_FAILED)).to_be_visible(timeout=TIMEOUT)
    attempt(right)  # the right password, while locked
    expect(page.get_by_text(accounts.LOGIN_FAILED)).to_be_visible(timeout=TIMEOUT)  # the same answer as any failure
    expect(page.get_by_role("heading", name="My usage")).to_have_count(0)
    assert_no_data(page)
    assert list_audit(engine, user="mallory", action="login")["outcome"].iloc[0] == "locked"

    audit_rows = json.dumps(list_audit(engine).to_dict("records"), default=str)
    for secret in (right, wrong, streamlit_server.secret):
        for n, html in enumerate(pages_seen):
            i = html.find(secret)
            assert i < 0, f"a secret in page source {n}: {html[max(0, i - 300) : i + 50]}"
        assert secret not in streamlit_server.log_text(), "a secret in the server log"
        assert secret not in audit_rows, "a secret in the audit log"
    page.context.close()


def test_a_login_or_a_reload_runs_the_page_once(browser: Browser, demo_store, tmp_path):
    """A login runs its page once, and so does a page load logged in by the cookie. No cookie component reruns the
    page: the cookie library's reported the browser's cookies back on every page load and after every login, and
    each report cut the page's first run short (about a second; a click in it was lost). Counted by the console's
    own metrics: each page run is timed, however it ends."""
    server = StreamlitServer(tmp_path, store_path=demo_store)
    server.env["METRICS_PORT"] = str(free_port())
    server.env["BACKGROUND_SERVICES"] = "false"  # no startup refresh, whose end reruns the page to show it
    server.start()

    def usage_runs() -> float:
        wait_idle(page, quiet_ms=1500)
        samples = scrape(f"http://127.0.0.1:{server.env['METRICS_PORT']}")
        return value(samples, "litellm_console_page_render_seconds_count", page="usage")

    try:
        page = browser.new_context().new_page()
        login(page, server.url, "admin", "admin", "usage")
        expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)
        wait_for_cookie(page)
        assert usage_runs() == 1
        page.reload()  # a new browser session, logged in by the cookie
        expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)
        assert usage_runs() == 2
        page.context.close()
    finally:
        server.stop()
