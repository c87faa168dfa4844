"""Browser: the console follows the browser's light or dark preference (page and charts), and fits a 390 px phone:
range controls not cut, the page title not covered by notices, plotly's toolbar over no chart text.

Screenshots to look at: `python -m tests.support.screenshots` (light, dark and phone width).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import TIMEOUT, login, wait_for_cookie, wait_idle
from tests.support.colours import luminance

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# The Usage page's chart tabs (written out, not read from lib.ui.usage) and a heading in each; over the demo's 30 days
# each shows two charts under the metric over time.
CHART_TABS = {
    "Cost": "Cost by provider",
    "By model and provider": "By model",
    "Weekday and outcomes": "Success vs failure",
}
CHARTS = 3


def _usage_page(browser: Browser, base: str, **context) -> Page:
    page = browser.new_context(**context).new_page()
    login(page, base, "admin", "admin", "usage")
    expect(page.get_by_role("heading", name="Usage analytics")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS, timeout=TIMEOUT)
    wait_idle(page)
    return page


def _each_chart_tab(page: Page):
    """Open each chart tab in turn (the first is open already); yields its name once its charts are drawn."""
    for n, (tab, heading) in enumerate(CHART_TABS.items()):
        if n:
            wait_idle(page)
            page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true", timeout=TIMEOUT)
        expect(page.get_by_text(heading, exact=True).first).to_be_visible(timeout=TIMEOUT)
        wait_idle(page)
        expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS, timeout=TIMEOUT)
        yield tab


# What the browser paints: the app's background, and for each chart its paper, plot area and texts' fill.
PAINTED = """() => ({
  app: getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor,
  charts: [...document.querySelectorAll('.js-plotly-plot')].map(plot => ({
    paper: getComputedStyle(plot.querySelector('svg.main-svg')).backgroundColor,
    plot: plot._fullLayout.plot_bgcolor || null,  // a donut has no plot area
    texts: [...plot.querySelectorAll('.xtick text, .ytick text, .legendtext, .g-ytitle text, .annotation-text')]
      .map(t => getComputedStyle(t).fill),
  })),
})"""


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_page_and_charts_follow_the_browsers_colour_scheme(browser: Browser, streamlit_server, scheme):
    page = _usage_page(browser, streamlit_server.url, color_scheme=scheme)
    dark = scheme == "dark"
    painted = {tab: page.evaluate(PAINTED) for tab in _each_chart_tab(page)}
    charts = [chart for shown in painted.values() for chart in shown["charts"]]
    assert len(charts) == CHARTS * len(CHART_TABS)
    app = painted["Cost"]["app"]
    assert (luminance(app) < 0.05) is dark, app
    assert charts[0]["plot"], "the daily series has a plot area"
    for chart in charts:
        for background in filter(None, (chart["paper"], chart["plot"])):
            assert (luminance(background) < 0.05) is dark, chart  # in dark: not white, dark
        assert chart["texts"], chart
        for text in chart["texts"]:  # light text on dark, dark text on light
            assert (luminance(text) > 0.4) is dark, chart


# Each option of each segmented control: its box inside the window and inside every ancestor that clips, and
# no part of its label clipped or ellipsised (scrollWidth beyond clientWidth).
CUT_OPTIONS = """() => [...document.querySelectorAll('[data-testid=stButtonGroup] [role=radio]')].filter(option => {
  const r = option.getBoundingClientRect();
  if (r.left < -0.5 || r.right > window.innerWidth + 0.5) return true;
  for (let a = option.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX === 'visible') continue;
    const ar = a.getBoundingClientRect();
    if (r.left < ar.left - 0.5 || r.right > ar.right + 0.5) return true;
  }
  return [option, ...option.querySelectorAll('*')].some(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1);
}).map(option => option.innerText)"""


def test_phone_shows_every_option_of_the_range_and_metric_controls(browser: Browser, streamlit_server):
    page = _usage_page(browser, streamlit_server.url, viewport=PHONE)
    for option in ("Today", "7d", "30d", "90d", "All time", "Custom", "Failed requests"):
        expect(page.get_by_role("radio", name=option)).to_be_visible()
    assert page.evaluate(CUT_OPTIONS) == []


# Points along the title's middle line: what is drawn there is the title itself, not something over it.
TITLE_COVERED_BY = """() => {
  const title = document.querySelector('h1');
  const r = title.getBoundingClientRect();
  return [0.25, 0.5, 0.75].map(f => document.elementFromPoint(r.left + r.width * f, r.top + r.height / 2))
    .filter(e => !title.contains(e)).map(e => e.innerText || e.tagName);
}"""


def test_phone_notices_leave_the_page_title_visible(browser: Browser, streamlit_server):
    """A shared link naming filter values no longer known, then Refresh today: what they say leaves the title
    readable (a phone stacks toasts over the top of the page)."""
    page = _usage_page(browser, streamlit_server.url, viewport=PHONE)
    wait_for_cookie(page)
    page.goto(f"{streamlit_server.url}/usage?range=30d&model=retired-model&provider=retired-provider")
    expect(page.get_by_text("Ignored unknown provider filter value(s): retired-provider")).to_be_visible(
        timeout=TIMEOUT
    )
    expect(page.get_by_text("Ignored unknown model filter value(s): retired-model")).to_be_visible()
    assert page.evaluate(TITLE_COVERED_BY) == []
    wait_idle(page)
    page.get_by_role("button", name="Refresh today").click()
    expect(page.get_by_text(re.compile(r"^Refreshed \d+ day\(s\): [\d,]+ rows$"))).to_be_visible(timeout=TIMEOUT)
    assert page.evaluate(TITLE_COVERED_BY) == []


# A chart's plotly toolbar (top right, shown on hover) and the boxes of the chart's texts (titles, legend, ticks,
# colour bar) that it overlaps; hover labels excepted.
UNDER_TOOLBAR = """(i) => {
  const plot = document.querySelectorAll('.js-plotly-plot')[i];
  const bar = plot.querySelector('.modebar');
  const b = bar.getBoundingClientRect();
  const texts = [...plot.querySelectorAll('svg text')].filter(t => !t.closest('.hoverlayer') && t.textContent.trim());
  return texts.filter(t => {
    const r = t.getBoundingClientRect();
    return r.width > 0 && r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top;
  }).map(t => t.textContent);
}"""
TOOLBAR_SHOWN = (
    "i => getComputedStyle(document.querySelectorAll('.js-plotly-plot')[i].querySelector('.modebar')).opacity === '1'"
)


def test_phone_chart_toolbar_covers_no_chart_text(browser: Browser, streamlit_server):
    page = _usage_page(browser, streamlit_server.url, viewport=PHONE)
    for tab in _each_chart_tab(page):
        for i in range(CHARTS):
            plot = page.locator(".js-plotly-plot").nth(i)
            plot.scroll_into_view_if_needed()
            plot.hover(position={"x": 2, "y": 2})  # shows the toolbar, away from any data point's hover label
            page.wait_for_function(TOOLBAR_SHOWN, arg=i, timeout=TIMEOUT)  # it fades in
            assert page.evaluate(UNDER_TOOLBAR, i) == [], (tab, i)
