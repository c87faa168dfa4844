"""Browser end-to-end against the real LiteLLM proxy, with the traffic a real proxy sees on day one: calls made
with the master key (stored by LiteLLM under `litellm_proxy_master_key`, with no alias) and with a key that has
no alias, owner or team. Every page opens as every role with no exception, in the page or in the server log."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect

from lib.ui.navigation import available_pages, menu
from tests.support.browser import TIMEOUT, login, open_dropdown, pick_option, wait_for_cookie, wait_idle
from tests.support.litellm_harness import send_unlabelled_traffic
from tests.support.streamlit_server import StreamlitServer, _require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.litellm]
PASSWORD = "harness-pass-1"


@pytest.fixture(scope="module")
def unlabelled_traffic(litellm_harness) -> dict:
    """Master-key calls and calls with a bare key (no alias, owner or team), flushed to LiteLLM's daily table."""
    return {"bare_key_suffix": send_unlabelled_traffic(litellm_harness)["bare_key_hash"][-6:]}


@pytest.fixture(scope="module")
def harness_server(tmp_path_factory, litellm_harness, unlabelled_traffic):
    """The console in production mode on the real proxy: an admin, a read-only admin, a user linked to a
    traffic user, and a user linked to LiteLLM's master-key user (`default_user_id`)."""
    _require_chromium()
    server = StreamlitServer(tmp_path_factory.mktemp("harness_server"), backfill_days=3)
    server.env.update(
        {
            "LITELLM_BASE_URL": litellm_harness["LITELLM_BASE_URL"],
            "LITELLM_API_KEY": litellm_harness["LITELLM_MASTER_KEY"],
            "ADMIN_USERNAME": "root",
            "ADMIN_PASSWORD": PASSWORD,
        }
    )
    today = datetime.now(timezone.utc).date()
    filled = server.cli("backfill", "--start", str(today - timedelta(days=2)), "--end", str(today))
    assert filled.returncode == 0, filled.stderr
    traffic_user = litellm_harness["traffic"]["users"][0]["user_id"]
    for username, role, link in (
        ("root", "admin", None),
        ("ro", "admin-readonly", None),
        ("trafficker", "user", traffic_user),
        ("operator", "user", "default_user_id"),
    ):
        args = ["create-user", "--username", username, "--role", role, "--password-stdin"]
        made = server.cli(*args, *(["--litellm-user-id", link] if link else []), stdin=PASSWORD)
        assert made.returncode == 0 or "already exists" in made.stderr, made.stderr
    server.start()
    yield server
    server.stop()


def _assert_page_healthy(page: Page, title: str) -> None:
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)


@pytest.mark.parametrize(
    "username,role", [("root", "admin"), ("ro", "admin-readonly"), ("trafficker", "user"), ("operator", "user")]
)
def test_every_page_opens_for_every_role(browser: Browser, harness_server, username, role):
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, harness_server.url, username, PASSWORD)
    wait_for_cookie(page)  # each page below is a fresh page load: it logs in by the cookie
    mine = {p.url_path for specs in menu(role).values() for p in specs}
    for spec in available_pages():
        page.goto(f"{harness_server.url}/{spec.url_path}")
        if spec.url_path in mine:
            _assert_page_healthy(page, spec.title)
        else:
            expect(page.get_by_text("403")).to_be_visible(timeout=TIMEOUT)
            expect(page.get_by_test_id("stException")).to_have_count(0)
    assert not errors, errors
    page.context.close()
    log = harness_server.log_text()
    assert "Traceback" not in log and "Error" not in log, log[-3000:]


def test_the_master_key_and_a_bare_key_are_offered_by_name(browser: Browser, harness_server, unlabelled_traffic):
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    login(page, harness_server.url, "root", PASSWORD, "usage")
    _assert_page_healthy(page, "Usage analytics")
    page.get_by_text("Filters", exact=True).click()
    offered = open_dropdown(page, "API keys")
    page.keyboard.press("Escape")
    assert "LiteLLM master key (default_user_id)" in offered, offered
    assert f"key …{unlabelled_traffic['bare_key_suffix']}" in offered, offered
    pick_option(page, "API keys", "LiteLLM master key (default_user_id)")
    wait_idle(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stMetric").filter(has_text="Requests")).not_to_contain_text("—")
    page.context.close()


def test_the_master_key_user_sees_master_key_usage_as_theirs(browser: Browser, harness_server):
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    login(page, harness_server.url, "operator", PASSWORD)
    _assert_page_healthy(page, "My usage")
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    requests = page.get_by_test_id("stMetric").filter(has_text="Requests").inner_text()
    assert re.match(r"Requests\s+[1-9]", requests), requests  # the three master-key calls, at least
    page.context.close()
