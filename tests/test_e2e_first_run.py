"""Browser end-to-end: the first start on an empty data folder (an operator's first `make run`, demo mode), three
times over, each on a new server: the login form comes, never Streamlit's raw list of page files; one click on
"Log in" with the right password logs in; while the history loads, the Usage page shows the loading's progress
(no zero KPIs, no advice to clear a filter) and then, with no click, the loaded numbers."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, expect

from lib.core.formatting import kpi_value
from lib.usage.store import UsageStore
from tests.support.browser import ADMIN_MENU, login_button, menu, menu_links
from tests.support.streamlit_server import StreamlitServer

pytestmark = pytest.mark.browser
PROMPT = 20_000  # ms: generous bounds for what should take a second or two
HISTORY = 90_000  # ms: the whole history loaded and the page run again
DAYS = 7  # the history to load: the Usage page's default range
# Every page-menu entry the page ever showed, from the first byte on (a list shown for an instant counts too).
RECORD_MENU_ENTRIES = """
window.menuEntriesSeen = [];
new MutationObserver(() => {
  for (const link of document.querySelectorAll(
      '[data-testid="stSidebarNavLink"], [data-testid="stPageLink-NavLink"]')) {
    const title = link.innerText.split('\\n').pop().trim();
    if (!window.menuEntriesSeen.includes(title)) window.menuEntriesSeen.push(title);
  }
}).observe(document, {childList: true, subtree: true});
"""


def requests_last_7_days(server: StreamlitServer) -> int:
    """LiteLLM's requests over the Usage page's default range, by the CLI's export of the stored days."""
    today = datetime.now(timezone.utc).date()
    args = ("--start", str(today - timedelta(days=6)), "--end", str(today), "--breakdown", "daily", "--format", "json")
    done = server.cli("export", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["metadata"]["totals"]["requests"]


@pytest.mark.parametrize("start", [1, 2, 3])
def test_first_start_on_an_empty_data_folder(browser: Browser, tmp_path, start):
    server = StreamlitServer(
        tmp_path, backfill_days=DAYS
    )  # nothing in its data folder: no app database, no usage store
    context = browser.new_context()
    context.add_init_script(RECORD_MENU_ENTRIES)
    page = context.new_page()
    main = page.get_by_test_id("stMain")
    progress = main.get_by_text(re.compile(rf"Loading history from LiteLLM: \d+ of {DAYS} days"))
    try:
        # Until the test lets go of the store's write lock the history cannot be stored: it is still loading
        # whenever the page is looked at, however fast or slow this machine is.
        with UsageStore.writer(server.store_dir).write_lock():
            server.start()
            page.goto(server.url)
            expect(login_button(page)).to_be_visible(timeout=PROMPT)
            assert page.evaluate("window.menuEntriesSeen") == []  # no page list before the login, not even raw

            page.get_by_role("textbox", name="Username").fill("admin")
            page.get_by_role("textbox", name="Password").fill("admin")
            login_button(page).click()  # once: no second try
            expect(main.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=PROMPT)
            expect(menu_links(page)).to_have_count(len(ADMIN_MENU))
            assert menu(page) == ADMIN_MENU

            expect(progress).to_be_visible(timeout=PROMPT)
            expect(main.get_by_test_id("stMetric")).to_have_count(0)
            expect(main.get_by_text("clear a filter")).to_have_count(0)

        # The history loads now; the page shows it without being touched.
        expect(progress).to_have_count(0, timeout=HISTORY)
        expect(main.get_by_test_id("stMetric")).to_have_count(8, timeout=PROMPT)
        shown = main.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")
        expect(shown).to_have_text(kpi_value("requests", requests_last_7_days(server)))
        assert set(page.evaluate("window.menuEntriesSeen")) == set(ADMIN_MENU)  # never "app", "audit", ...
    finally:
        context.close()
        server.stop()
