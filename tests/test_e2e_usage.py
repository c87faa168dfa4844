"""Browser end-to-end on the Usage page: range and filters update the view; downloads equal the CLI export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import TIMEOUT, login, open_dropdown, pick_option, wait_for_cookie, wait_idle

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
    page.get_by_text("Filters", exact=True).click()
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


def _stored(server, start, end, dim: str, value: str | None = None) -> dict[str, tuple[int, float]]:
    """Oracle: (requests, spend) per value of one LiteLLM breakdown, read straight from the server's day files."""
    import duckdb

    days = f"{server.store_dir}/days/*.parquet"
    sql = (
        "SELECT value, sum(api_requests)::BIGINT, sum(spend) FROM read_parquet(?) "
        "WHERE dim = ? AND date BETWEEN ? AND ? GROUP BY value"
    )
    rows = duckdb.connect().execute(sql, [days, dim, start, end]).fetchall()
    return {v: (int(r), float(s)) for v, r, s in rows if value is None or v == value}


def test_a_click_on_a_cost_bar_filters_the_view_by_it(page: Page, streamlit_server):
    from lib.core.formatting import kpi_value

    _login_admin(page, streamlit_server.url)
    wait_for_cookie(page)
    page.goto(f"{streamlit_server.url}/usage?range=7d")
    expect(page.get_by_test_id("stMetric")).to_have_count(8, timeout=TIMEOUT)
    today = datetime.now(timezone.utc).date()
    providers = _stored(streamlit_server, today - timedelta(days=6), today, "provider")
    top = max(providers, key=lambda p: providers[p][1])  # the largest spend: the top bar
    column = page.get_by_test_id("stColumn").filter(has_text="Cost by provider")
    expect(column.get_by_text("click a bar to filter")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    column.locator(".js-plotly-plot g.point path").first.click(force=True)  # plotly's drag layer lies on top
    page.wait_for_url(f"**provider={top}**", timeout=TIMEOUT)
    chosen = page.get_by_test_id("stMultiSelect").filter(has_text="Providers")
    expect(chosen).to_contain_text(top, timeout=TIMEOUT)
    requests, spend = providers[top]
    expect(page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")).to_have_text(
        kpi_value("requests", requests), timeout=TIMEOUT
    )
    expect(page.get_by_test_id("stMetric").filter(has_text="Spend").get_by_test_id("stMetricValue")).to_have_text(
        kpi_value("spend", spend), timeout=TIMEOUT
    )
    # the click is spent: taking the filter away again shows everyone, it does not come back by itself
    wait_idle(page)
    chosen.get_by_role("button", name="Clear all").or_(chosen.locator("[aria-label='Clear all']")).first.click()
    page.wait_for_url(lambda url: "provider=" not in url, timeout=TIMEOUT)
    wait_idle(page)
    everyone = sum(r for r, _ in providers.values())
    expect(page.get_by_test_id("stMetric").filter(has_text="Requests").get_by_test_id("stMetricValue")).to_have_text(
        kpi_value("requests", everyone), timeout=TIMEOUT
    )
    assert "provider=" not in page.url


def test_a_provider_pick_narrows_the_models_offered_and_clear_all_filters_resets(page: Page, streamlit_server):
    import duckdb

    _login_admin(page, streamlit_server.url)
    wait_for_cookie(page)
    page.goto(f"{streamlit_server.url}/usage?range=7d")
    expect(page.get_by_test_id("stMetric")).to_have_count(8, timeout=TIMEOUT)
    today = datetime.now(timezone.utc).date()
    models = (
        duckdb.connect()
        .execute(  # oracle: the stored models with anthropic traffic in the range
            "SELECT DISTINCT value FROM read_parquet(?) WHERE dim = 'model' AND provider = 'anthropic' "
            "AND api_requests > 0 AND date BETWEEN ? AND ? ORDER BY 1",
            [f"{streamlit_server.store_dir}/days/*.parquet", today - timedelta(days=6), today],
        )
        .fetchall()
    )
    wait_idle(page)
    page.get_by_text("Filters", exact=True).click()
    pick_option(page, "Providers", "anthropic")
    page.wait_for_url("**provider=anthropic**", timeout=TIMEOUT)
    wait_idle(page)
    offered = open_dropdown(page, "Models")
    page.keyboard.press("Escape")
    offered = [o for o in offered if o != "Select all"]  # Streamlit's own first entry
    assert sorted(offered) == [m for (m,) in models] and offered
    wait_idle(page)
    page.get_by_role("button", name="Clear all filters").click()
    page.wait_for_url(lambda url: "provider=" not in url, timeout=TIMEOUT)
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Providers")).not_to_contain_text(
        "anthropic", timeout=TIMEOUT
    )
    wait_idle(page)
    assert len(open_dropdown(page, "Models")) > len(offered)  # every model again
