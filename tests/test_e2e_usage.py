"""Browser end-to-end on the Usage page: range and filters update the view; downloads equal the CLI export."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def _login_admin(page: Page, base: str, path: str = "usage") -> None:
    page.goto(f"{base}/{path}")
    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill("admin")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)


def _wait_for_login_cookie(page: Page) -> None:
    for _ in range(60):
        if any(c["name"] == "litellm_console_auth" for c in page.context.cookies()):
            return
        page.wait_for_timeout(250)
    raise AssertionError("the login cookie was never set")


def _kpi(page: Page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_range_and_filter_change_the_kpis_and_the_url(page: Page, streamlit_server):
    _login_admin(page, streamlit_server.url)
    expect(page.get_by_test_id("stMetric")).to_have_count(8, timeout=TIMEOUT)
    seven = _kpi(page, "Requests")
    page.get_by_role("radio", name="30d").click()
    page.wait_for_url("**range=30d**", timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")) \
        .not_to_have_text(seven, timeout=TIMEOUT)
    thirty = _kpi(page, "Requests")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
    # a provider filter narrows every number
    page.get_by_text("Filters").click()
    page.get_by_test_id("stMultiSelect").filter(has_text="Providers").click()
    page.get_by_role("option", name="anthropic").click()
    page.keyboard.press("Escape")
    page.wait_for_url("**provider=anthropic**", timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")) \
        .not_to_have_text(thirty, timeout=TIMEOUT)
    # the link reproduces the view in a fresh page of the same browser
    _wait_for_login_cookie(page)
    url = page.url
    page.goto(url)
    expect(page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")) \
        .not_to_have_text(thirty, timeout=TIMEOUT)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_downloads_equal_the_cli_export(page: Page, streamlit_server, fmt):
    _login_admin(page, streamlit_server.url)
    _wait_for_login_cookie(page)
    page.goto(f"{streamlit_server.url}/usage?range=30d&provider=openai")       # a shared link
    expect(page.get_by_role("radio", name="30d")).to_be_checked(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric")).to_have_count(8, timeout=TIMEOUT)
    box = page.get_by_role("combobox", name="Export breakdown")
    box.click()
    box.fill("Model")
    page.keyboard.press("Enter")
    expect(box).to_have_value("Model", timeout=TIMEOUT)
    page.wait_for_timeout(2500)       # let the rerun rebuild the download buttons for this breakdown
    with page.expect_download(timeout=TIMEOUT) as info:
        page.get_by_role("button", name=f"Download {fmt.upper()}").click()
    download = info.value
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    assert download.suggested_filename == f"admin-usage-export-{start}-to-{today}.{fmt}"
    got = open(download.path()).read()
    cli = streamlit_server.cli("export", "--start", str(start), "--end", str(today), "--breakdown", "model",
                               "--format", fmt, "--provider", "openai")
    assert cli.returncode == 0, cli.stderr
    if fmt == "csv":
        ours, theirs = list(csv.DictReader(io.StringIO(got))), list(csv.DictReader(io.StringIO(cli.stdout)))
        assert ours == theirs and len(ours) > 0
        assert {r["model"].split("/")[0] for r in ours} == {"openai"}      # the provider filter is honoured
    else:
        ours, theirs = json.loads(got), json.loads(cli.stdout)
        assert ours["data"] == theirs["data"] and ours["data"]
        assert ours["metadata"]["filters"]["providers"] == ["openai"]
        for k in ("start", "end", "breakdown", "record_count", "totals"):
            assert ours["metadata"][k] == theirs["metadata"][k]
