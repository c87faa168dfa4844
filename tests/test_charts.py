"""The Usage page's figures on demo data: what they draw adds up to the query answers, and a model or
provider keeps one colour across the view's charts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from lib.usage import charts
from lib.usage.queries import Filters, usage_page_queries
from lib.usage.store import UsageStore
from tests.support.colours import contrast


@pytest.fixture(scope="module")
def view(demo_env):
    store = UsageStore(demo_env.store_dir)
    end = datetime.now(timezone.utc).date()
    yield usage_page_queries(store, end - timedelta(days=29), end, Filters())
    store.close()


def _bar_totals(fig) -> dict:
    out: dict = {}
    for trace in fig.data:
        for x, y in zip(trace.x, trace.y):
            out[x] = out.get(x, 0) + y
    return out


@pytest.mark.parametrize("dim", ["model", "provider"])
def test_stacked_bars_add_up_to_the_daily_totals_with_the_rest_folded_into_other(view, dim):
    fig = charts.stacked_daily(view[f"daily_by_{dim}"], dim, "requests", top=3)
    names = [t.name for t in fig.data]
    assert len(names) == 4 and names[-1] == "other"  # the demo has more than 3 of each
    daily = dict(zip(view["daily"]["date"], view["daily"]["requests"]))
    assert _bar_totals(fig) == {d: v for d, v in daily.items() if v}


@pytest.mark.parametrize("dim", ["model", "provider"])
def test_a_name_has_one_colour_in_the_bars_and_the_donut(view, dim):
    names = set(view[f"daily_by_{dim}"][dim]) | set(view[dim][dim])
    colours = charts.colour_map(names)
    bars = charts.stacked_daily(view[f"daily_by_{dim}"], dim, "spend", colours=colours)
    donut = charts.cost_share(view[dim], dim, colours=colours)
    bar_colour = {t.name: t.marker.color for t in bars.data}
    donut_colour = dict(zip(donut.data[0].labels, donut.data[0].marker.colors))
    shared = set(bar_colour) & set(donut_colour) - {"other"}
    assert len(shared) >= 3
    assert all(bar_colour[n] == donut_colour[n] for n in shared)
    drawn = [c for n, c in bar_colour.items() if n != "other"]
    assert len(set(drawn)) == len(drawn)  # no two names share a colour


def test_cost_donut_shares_are_the_spend_breakdown(view):
    frame = view["provider"]
    donut = charts.cost_share(frame, "provider")
    drawn = dict(zip(donut.data[0].labels, donut.data[0].values))
    expected = {p: s for p, s in zip(frame["provider"], frame["spend"]) if s > 0}
    assert drawn == pytest.approx(expected)


@pytest.mark.parametrize("dim", ["model", "provider"])
def test_cost_bars_are_the_spend_breakdown_largest_first_in_each_names_colour(view, dim):
    """The Usage page's cost chart: one clickable bar per name (a pie's slices send no selection to Streamlit), the
    bars' amounts the spend breakdown, their hovers written as the cards write money, beyond 8 folded into other."""
    from lib.core.formatting import money

    frame = view[dim]
    colours = charts.colour_map(set(frame[dim]))
    fig = charts.cost_bars(frame, dim, top=3, colours=colours)
    bars = fig.data[0]
    assert bars.type == "bar" and bars.orientation == "h" and fig.layout.yaxis.autorange == "reversed"
    spend = frame[frame["spend"] > 0].sort_values("spend", ascending=False)
    assert list(bars.y[:3]) == list(spend[dim][:3]) and bars.y[3] == "other"
    assert list(bars.x) == pytest.approx(list(spend["spend"][:3]) + [spend["spend"][3:].sum()])
    assert list(bars.customdata) == [money(v) for v in bars.x]
    assert list(bars.marker.color[:3]) == [colours[n] for n in spend[dim][:3]]
    assert fig.layout.clickmode == "event+select"


HTML_NAMES = ["<b>bold</b><a href=x>", "AT&T <br> model", "openai/gpt-4o"]


def test_names_with_html_are_shown_as_typed_in_legends_labels_and_hover():
    """plotly reads tags and entities in trace names and labels: a model named `<a href=x>` must not be a link."""
    days = pd.to_datetime(["2026-11-01", "2026-11-02"]).date
    daily = pd.DataFrame(
        [{"date": d, "model": n, "requests": 10 + i, "spend": 1.0 + i} for d in days for i, n in enumerate(HTML_NAMES)]
    )
    escaped = ["&lt;b&gt;bold&lt;/b&gt;&lt;a href=x&gt;", "AT&amp;T &lt;br&gt; model", "openai/gpt-4o"]
    bars = charts.stacked_daily(daily, "model", "requests", colours=charts.colour_map(HTML_NAMES))
    assert sorted(t.name for t in bars.data) == sorted(escaped)
    assert {t.name: t.marker.color for t in bars.data}["&lt;b&gt;bold&lt;/b&gt;&lt;a href=x&gt;"] == charts.colour_map(
        HTML_NAMES
    )["<b>bold</b><a href=x>"]  # colours still follow the raw name
    totals = daily.groupby("model", as_index=False)["spend"].sum()
    donut = charts.cost_share(totals, "model", colours=charts.colour_map(HTML_NAMES))
    assert sorted(donut.data[0].labels) == sorted(escaped)
    assert (
        dict(zip(donut.data[0].labels, donut.data[0].marker.colors))["AT&amp;T &lt;br&gt; model"]
        == charts.colour_map(HTML_NAMES)["AT&T <br> model"]
    )


def test_a_name_keeps_its_colour_whatever_else_the_view_shows():
    """An admin's view has every provider, a user's view only theirs: openai is the same colour in both."""
    everyone = charts.colour_map(["anthropic", "mistral", "ollama", "openai", "vertex_ai", "custom-gw"])
    alice = charts.colour_map(["openai", "custom-gw"])
    assert alice["openai"] == everyone["openai"] and alice["custom-gw"] == everyone["custom-gw"]
    assert len({everyone[p] for p in ("anthropic", "mistral", "ollama", "openai", "vertex_ai")}) == 5


def test_one_day_is_drawn_on_a_date_axis(view):
    daily = view["daily"].tail(1)
    fig = charts.daily_metric(daily, "requests")
    assert fig.data[0].type == "bar"  # a lone point on a line says little
    axis = fig.layout.xaxis
    assert axis.type == "date" and axis.tickformat == "%d %b %Y"
    day = pd.Timestamp(daily["date"].iloc[0])
    assert [pd.Timestamp(x) for x in axis.range] == [day - pd.Timedelta(days=1), day + pd.Timedelta(days=1)]
    assert fig.layout.yaxis.rangemode == "tozero"  # not 399-401 around one value
    for fig in (charts.stacked_daily(view["daily_by_model"].tail(1), "model"), charts.success_failure(daily)):
        assert fig.layout.xaxis.type == "date" and fig.layout.xaxis.range is not None


def test_two_names_of_one_view_never_share_a_colour():
    """Colours come from the names' hashes, and two hashes can meet: the view still tells them apart."""
    assert charts.colour_of("model-2") == charts.colour_of("model-4")
    both = charts.colour_map(["model-2", "model-4"])
    assert both["model-2"] != both["model-4"] and both["model-2"] == charts.colour_of("model-2")


# Streamlit's page backgrounds, light and dark (what tests/test_e2e_layout.py measures in the browser): the app
# follows the browser's preference, and the figures take the page's background.
BACKGROUNDS = {"light": "#ffffff", "dark": "#171614"}


def test_every_colour_a_chart_draws_stands_out_on_light_and_dark_pages(view):
    names = [f"model-{i}" for i in range(200)] + list(charts.PROVIDER_COLOURS)
    drawn = set(charts.colour_map(names).values())
    drawn |= {t.marker.color for t in charts.success_failure(view["daily"]).data}
    assert len(drawn) >= 40  # the whole palette, the providers' colours, "other", success and failure
    faint = {
        (colour, page, round(contrast(colour, bg), 2))
        for colour in drawn
        for page, bg in BACKGROUNDS.items()
        if contrast(colour, bg) < 1.8
    }
    assert faint == set()
