"""Browser end-to-end on the Usage page: range and filters update the view; downloads equal the CLI export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import TIMEOUT, login, pick_option, wait_for_cookie, wait_idle

pytestmark = pytest.mark.browser


def _login_admin(page: Page, base: str, path: str = "usage") -> None:
    login(page, base, "admin", "admin", path)
    expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)


def _kpi(page: Page, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_range_and_filter_change_the_kpis_and_the_url(page: Page, streamlit_server):
    _login_admin(page, streamlit_server.url)
    expect(page.get_by_test_id("stMetric")).to_have_count(8, timeout=TIMEOUT)
    seven = _kpi(page, "Requests")
    wait_idle(page)
    page.get_by_role("radio", name="30d").click()
    page.wait_for_url("**range=30d**", timeout=TIMEOUT)
    expect(
        page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")
    ).not_to_have_text(seven, timeout=TIMEOUT)
    thirty = _kpi(page, "Requests")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
    # a provider filter narrows every number
    wait_idle(page)
    page.get_by_text("Filters").click()
    pick_option(page, "Providers", "anthropic")
    page.wait_for_url("**provider=anthropic**", timeout=TIMEOUT)
    expect(
        page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")
    ).not_to_have_text(thirty, timeout=TIMEOUT)
    # the link reproduces the view in a fresh page of the same browser
    wait_for_cookie(page)
    url = page.url
    page.goto(url)
    expect(
        page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")
    ).not_to_have_text(thirty, timeout=TIMEOUT)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_downloads_equal_the_cli_export(page: Page, streamlit_server, fmt):
    _login_admin(page, streamlit_server.url)
    wait_for_cookie(page)
    page.goto(f"{streamlit_server.url}/usage?range=30d&provider=openai")  # a shared link
    expect(page.get_by_role("radio", name="30d")).to_be_checked(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric")).to_have_count(8, timeout=TIMEOUT)
    box = page.get_by_role("combobox", name="Export breakdown")
    box.click()
    box.fill("Model")
    page.keyboard.press("Enter")
    expect(box).to_have_value("Model", timeout=TIMEOUT)
    wait_idle(page)  # the rerun rebuilds the download buttons for this breakdown
    with page.expect_download(timeout=TIMEOUT) as info:
        page.get_by_role("button", name=f"Download {fmt.upper()}").click()
    download = info.value
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=29)
    assert download.suggested_filename == f"admin-usage-export-{start}-to-{today}.{fmt}"
    got = open(download.path()).read()
    cli = streamlit_server.cli(
        "export",
        "--start",
        str(start),
        "--end",
        str(today),
        "--breakdown",
        "model",
        "--format",
        fmt,
        "--provider",
        "openai",
    )
    assert cli.returncode == 0, cli.stderr
    if fmt == "csv":
        ours, theirs = list(csv.DictReader(io.StringIO(got))), list(csv.DictReader(io.StringIO(cli.stdout)))
        assert ours == theirs and len(ours) > 0
        assert {r["model"].split("/")[0] for r in ours} == {"openai"}  # the provider filter is honoured
    else:
        ours, theirs = json.loads(got), json.loads(cli.stdout)
        assert ours["data"] == theirs["data"] and ours["data"]
        assert ours["metadata"]["filters"]["providers"] == ["openai"]
        for k in ("start", "end", "breakdown", "record_count", "totals"):
            assert ours["metadata"][k] == theirs["metadata"][k]
