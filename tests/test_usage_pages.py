"""The Usage and My usage pages (AppTest) against an independent oracle: the demo LiteLLM's own daily table.

The store holds 40 days of demo data ingested through the real client and ingest code. The oracle is
computed with pandas straight from the rows the demo proxy served (LiteLLM's daily table), never with the
app's query functions; KPI cards must show those numbers (as lib.core.formatting prints them).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import accounts
from lib.core.formatting import kpi_delta, kpi_value
from lib.litellm.demo import UNASSIGNED_ENTITY
from lib.services import run_backfill
from tests.support.apptest import app_as, app_runtime, demo_settings, shown_table
from tests.test_text_safety import displayed, live_markup, rewrites

USAGE, MINE = "pages/usage.py", "pages/my_usage.py"


@pytest.fixture(scope="module")
def litellm_rows(demo_env):
    """The daily-table rows the demo LiteLLM served, limited to the days the store holds."""
    demo = app_runtime(demo_env).demo_litellm()
    keys = {k["hash"]: k for k in demo.keys}
    df = pd.DataFrame(demo.rows)
    df["date"] = pd.to_datetime(df["date"]).dt.date
    df["user_id"] = df["user_id"].fillna(UNASSIGNED_ENTITY)  # LiteLLM's user for a key with no owner
    df["team_id"] = df["api_key"].map(lambda h: keys[h]["team_id"])
    df["key_alias"] = df["api_key"].map(lambda h: keys[h]["alias"])
    first, last = app_runtime(demo_env).store.date_bounds()
    df = df[(df["date"] >= first) & (df["date"] <= last)]
    df.attrs.update(first=first, last=last, keys=keys)
    return df


def oracle(rows: pd.DataFrame, start: date, end: date, **filters) -> dict:
    d = rows[(rows["date"] >= start) & (rows["date"] <= end)]
    for column, values in filters.items():
        d = d[d[column].isin(values)]
    req = int(d["api_requests"].sum())
    return {
        "requests": req,
        "spend": float(d["spend"].sum()),
        "total_tokens": int(d["total_tokens"].sum()),
        "prompt_tokens": int(d["prompt_tokens"].sum()),
        "completion_tokens": int(d["completion_tokens"].sum()),
        "success_rate": d["successful_requests"].sum() * 100.0 / req if req else None,
        "avg_latency_ms": (
            d["total_response_time_ms"].sum() / d["timed_requests"].sum() if d["timed_requests"].sum() else None
        ),
        "active_users": d.loc[d["api_requests"] > 0, "user_id"].nunique(),
    }


def cards(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def assert_cards_show(at: AppTest, expected: dict, total_users: int | None = None) -> None:
    shown = cards(at)
    for label, metric in (
        ("Requests", "requests"),
        ("Spend", "spend"),
        ("Total tokens", "total_tokens"),
        ("Prompt tokens", "prompt_tokens"),
        ("Completion tokens", "completion_tokens"),
        ("Success rate", "success_rate"),
        ("Avg latency", "avg_latency_ms"),
    ):
        assert shown[label][0] == kpi_value(metric, expected[metric]), (label, shown[label], expected[metric])
    users = kpi_value("active_users", expected["active_users"])
    assert shown["Active users"][0] == (f"{users} of {total_users}" if total_users else users)


def _range(preset: str, today: date, first: date) -> tuple[date, date]:
    if preset == "Today":
        return today, today
    if preset == "All time":
        return first, today
    return today - timedelta(days=int(preset[:-1]) - 1), today


@pytest.mark.parametrize("preset", ["Today", "7d", "30d", "90d", "All time"])
def test_each_preset_shows_litellms_numbers(demo_env, litellm_rows, preset):
    rows, today = litellm_rows, litellm_rows.attrs["last"]
    at = app_as(demo_env, "admin", USAGE, {"range": preset})
    assert at.session_state["usage_range"] == preset
    start, end = _range(preset, today, rows.attrs["first"])
    total_users = rows["user_id"].nunique()
    assert_cards_show(at, oracle(rows, start, end), total_users)
    # the trend compares like with like: the range's whole days (today, partial, left out) against as many days
    # just before them (as far as the store reaches); a range with no whole day ("Today") or nothing stored before
    # it ("All time") has no trend
    last_whole = min(end, today - timedelta(days=1))
    length = (last_whole - start).days + 1
    now, before = (
        oracle(rows, start, last_whole),
        oracle(rows, start - timedelta(days=length), start - timedelta(days=1)),
    )
    if start <= rows.attrs["first"] or last_whole < start:
        want = ""  # no delta
    elif before["requests"]:
        pct = (now["requests"] - before["requests"]) / before["requests"] * 100
        want = "stable" if abs(pct) <= 1 else kpi_delta(pct, "up" if pct > 0 else "down")
    else:
        want = "new" if now["requests"] else "stable"
    assert cards(at)["Requests"][1] == want


def _help(at: AppTest, label: str) -> str:
    return next(m.help for m in at.metric if m.label == label)


def test_trends_compare_whole_days_only_and_say_so(demo_env, litellm_rows):
    """Today is partial (the store keeps days, not hours): a range ending today shows its numbers with today in
    them, but its trend compares only its whole days with as many days before; "Today" alone has no trend."""
    rows, today = litellm_rows, litellm_rows.attrs["last"]
    at = app_as(demo_env, "admin", USAGE, {"range": "7d"})
    start, last_whole = today - timedelta(days=6), today - timedelta(days=1)
    assert_cards_show(at, oracle(rows, start, today), rows["user_id"].nunique())  # today is in the values
    now = oracle(rows, start, last_whole)
    before = oracle(rows, start - timedelta(days=6), start - timedelta(days=1))
    for label, metric in (("Requests", "requests"), ("Spend", "spend"), ("Total tokens", "total_tokens")):
        pct = (now[metric] - before[metric]) / before[metric] * 100
        assert cards(at)[label][1] == ("stable" if abs(pct) <= 1 else kpi_delta(pct, "up" if pct > 0 else "down"))
        assert kpi_value(metric, now[metric]) in _help(at, label)
        assert kpi_value(metric, before[metric]) in _help(at, label)
    caption = at.main.caption[0].value
    assert (
        f"trends compare the 6 whole days {start:%-d %b} – {last_whole:%-d %b} with the 6 days before; "
        "today is partial and not in the trend" in caption
    )
    # Today: its value, no badge, and the help says why
    at.segmented_control(key="usage_range").set_value("Today").run()
    assert_cards_show(at, oracle(rows, today, today), rows["user_id"].nunique())
    assert all(delta == "" for _, delta in cards(at).values())
    assert "today is partial" in _help(at, "Requests")
    assert "today is partial" in at.main.caption[0].value
    # a custom range of whole days compares all of them
    start, end = today - timedelta(days=13), today - timedelta(days=7)
    at = app_as(demo_env, "alice", MINE, {"range": "Custom", "start": str(start), "end": str(end)})
    mine = rows[rows["user_id"] == "alice.martin"]
    now, before = oracle(mine, start, end), oracle(mine, start - timedelta(days=7), start - timedelta(days=1))
    pct = (now["requests"] - before["requests"]) / before["requests"] * 100
    assert cards(at)["Requests"][1] == ("stable" if abs(pct) <= 1 else kpi_delta(pct, "up" if pct > 0 else "down"))
    assert "trends compare these 7 days with the 7 days before" in at.main.caption[0].value


def test_all_time_in_demo_mode_is_the_whole_demo_history_with_no_trend(tmp_path_factory):
    """Demo mode with its default settings, its history loaded as at a first start: "All time" is every day the
    demo LiteLLM has (the README's 120), and no card claims a trend ("new") against the nothing before it."""
    settings = demo_settings(tmp_path_factory.mktemp("demo_defaults"))  # BACKFILL_DAYS not set
    rt = app_runtime(settings)
    run_backfill(rt, "startup")
    accounts.bootstrap_accounts(rt.engine, settings)
    demo = rt.demo_litellm()
    assert demo.days == 120
    rows = pd.DataFrame(demo.rows)
    first, today = date.fromisoformat(rows["date"].min()), date.fromisoformat(rows["date"].max())
    assert (today - first).days + 1 == demo.days

    at = app_as(settings, "admin", USAGE, {"range": "All time"})
    assert at.main.caption[0].value.startswith(f"{first:%d %b %Y} – {today:%d %b %Y}")
    assert cards(at)["Requests"][0] == kpi_value("requests", int(rows["api_requests"].sum()))
    assert {label: delta for label, (_, delta) in cards(at).items()} == {label: "" for label in cards(at)}  # none
    at.segmented_control(key="usage_range").set_value("30d").run()  # a range with stored days before it
    assert cards(at)["Requests"][1] not in ("", "new")


def test_a_custom_range_from_the_link(demo_env, litellm_rows):
    today = litellm_rows.attrs["last"]
    start, end = today - timedelta(days=20), today - timedelta(days=6)
    at = app_as(demo_env, "admin", USAGE, {"range": "Custom", "start": str(start), "end": str(end)})
    assert at.session_state["usage_range"] == "Custom"
    assert tuple(at.date_input(key="usage_custom").value) == (start, end)
    assert_cards_show(at, oracle(litellm_rows, start, end), litellm_rows["user_id"].nunique())


def test_changing_the_range_widget_changes_the_numbers(demo_env, litellm_rows):
    today = litellm_rows.attrs["last"]
    at = app_as(demo_env, "admin", USAGE)
    at.segmented_control(key="usage_range").set_value("30d").run()
    assert at.query_params["range"] == "30d"
    assert_cards_show(at, oracle(litellm_rows, today - timedelta(days=29), today), litellm_rows["user_id"].nunique())


@pytest.mark.parametrize(
    "widgets, columns",
    [
        (
            {"usage_providers": ["anthropic"], "usage_models": ["anthropic/claude-3-5-haiku-20241022"]},
            {"custom_llm_provider": ["anthropic"], "model": ["anthropic/claude-3-5-haiku-20241022"]},
        ),
        ({"usage_providers": ["openai", "vertex_ai"]}, {"custom_llm_provider": ["openai", "vertex_ai"]}),
        (
            {"usage_teams": ["team-data"], "usage_providers": ["openai"]},
            {"team_id": ["team-data"], "custom_llm_provider": ["openai"]},
        ),
    ],
)
def test_filters_combine(demo_env, litellm_rows, widgets, columns):
    today = litellm_rows.attrs["last"]
    at = app_as(demo_env, "admin", USAGE, {"range": "30d"})
    for key, value in widgets.items():
        at.multiselect(key=key).set_value(value)
    at.run()
    assert not at.exception
    expected = oracle(litellm_rows, today - timedelta(days=29), today, **columns)
    assert expected["requests"] > 0, "pick filters that match some data"
    assert_cards_show(at, expected, litellm_rows["user_id"].nunique())


def test_traffic_of_keys_without_owner_is_one_user_in_every_view(demo_env, litellm_rows):
    """LiteLLM names the user of an owner-less key "Unassigned": that user filters the same with or without
    another filter (the app answers from different tables then)."""
    today = litellm_rows.attrs["last"]
    start = today - timedelta(days=29)
    at = app_as(demo_env, "admin", USAGE, {"range": "30d", "user": UNASSIGNED_ENTITY})
    assert at.multiselect(key="usage_users").value == [UNASSIGNED_ENTITY]
    assert_cards_show(
        at, oracle(litellm_rows, start, today, user_id=[UNASSIGNED_ENTITY]), litellm_rows["user_id"].nunique()
    )
    at.multiselect(key="usage_providers").set_value(["openai"]).run()
    expected = oracle(litellm_rows, start, today, user_id=[UNASSIGNED_ENTITY], custom_llm_provider=["openai"])
    assert expected["requests"] > 0
    assert_cards_show(at, expected, litellm_rows["user_id"].nunique())


def test_users_and_keys_filters_and_the_cascade(demo_env, litellm_rows):
    today, keys = litellm_rows.attrs["last"], litellm_rows.attrs["keys"]
    busiest = litellm_rows.groupby("user_id")["api_requests"].sum().sort_values(ascending=False).index[:2].tolist()
    at = app_as(demo_env, "admin", USAGE, {"range": "30d"})
    every_key = at.multiselect(key="usage_api_keys").options
    at.multiselect(key="usage_users").set_value(busiest).run()
    offered = at.multiselect(key="usage_api_keys").options
    # only the chosen users' keys, labelled by alias and owner, never by a raw key
    theirs = {f"{k['alias']} ({k['user_id']})" for k in keys.values() if k["user_id"] in busiest}
    assert set(offered) <= theirs and len(offered) < len(every_key)
    assert all("sk-" not in o and len(o) < 64 for o in offered)
    assert_cards_show(
        at, oracle(litellm_rows, today - timedelta(days=29), today, user_id=busiest), litellm_rows["user_id"].nunique()
    )
    one = next(h for h, k in keys.items() if f"{k['alias']} ({k['user_id']})" == offered[0])
    at.multiselect(key="usage_api_keys").select(one).run()
    assert_cards_show(
        at, oracle(litellm_rows, today - timedelta(days=29), today, api_key=[one]), litellm_rows["user_id"].nunique()
    )
    # clearing the users clears the chosen keys
    at.multiselect(key="usage_users").set_value([]).run()
    assert at.multiselect(key="usage_api_keys").value == []
    assert_cards_show(at, oracle(litellm_rows, today - timedelta(days=29), today), litellm_rows["user_id"].nunique())


def test_a_pick_that_no_longer_occurs_with_the_others_is_dropped_with_a_notice(demo_env, litellm_rows):
    """A link (or a range change) can combine picks that never occur together: the page drops the impossible one,
    says so, and shows the rest's numbers instead of an empty view."""
    rows, today = litellm_rows, litellm_rows.attrs["last"]
    start = today - timedelta(days=29)
    openai_model = sorted(rows.loc[rows["custom_llm_provider"] == "openai", "model"])[0]
    at = app_as(demo_env, "admin", USAGE, {"range": "30d", "model": openai_model, "provider": "anthropic"})
    assert at.multiselect(key="usage_models").value == []
    assert at.multiselect(key="usage_providers").value == ["anthropic"]
    assert any("Models filter dropped" in i.value and openai_model in displayed(i.value) for i in at.info)
    expected = oracle(rows, start, today, custom_llm_provider=["anthropic"])
    assert expected["requests"] > 0
    assert_cards_show(at, expected, rows["user_id"].nunique())
    assert "model" not in at.query_params  # the link follows


def _cooccurring(rows: pd.DataFrame, start: date, end: date, column: str, **filters) -> list[str]:
    """Oracle: the distinct values of `column` in LiteLLM's rows with traffic in the range that match the filters."""
    d = rows[(rows["date"] >= start) & (rows["date"] <= end) & (rows["api_requests"] > 0)]
    for other, values in filters.items():
        d = d[d[other].isin(values)]
    return sorted(d[column].dropna().unique().tolist())


def test_each_filter_offers_what_occurs_with_the_others_and_clear_all_empties_them(demo_env, litellm_rows):
    rows, today = litellm_rows, litellm_rows.attrs["last"]
    start = today - timedelta(days=6)
    at = app_as(demo_env, "admin", USAGE, {"range": "7d"})
    assert at.multiselect(key="usage_models").options == _cooccurring(rows, start, today, "model")
    at.multiselect(key="usage_providers").set_value(["anthropic"]).run()
    models = _cooccurring(rows, start, today, "model", custom_llm_provider=["anthropic"])
    assert at.multiselect(key="usage_models").options == models
    assert 0 < len(models) < len(_cooccurring(rows, start, today, "model"))
    assert at.multiselect(key="usage_users").options == _cooccurring(
        rows, start, today, "user_id", custom_llm_provider=["anthropic"]
    )
    # a team narrows the users (and the users' own choices are not narrowed by themselves)
    team = rows.loc[rows["date"] >= start, "team_id"].dropna().value_counts().index[0]
    at.multiselect(key="usage_providers").set_value([])
    at.multiselect(key="usage_teams").set_value([team]).run()
    users = _cooccurring(rows, start, today, "user_id", team_id=[team])
    assert at.multiselect(key="usage_users").options == users
    assert len(users) < rows.loc[rows["date"] >= start, "user_id"].nunique()
    keys = rows.attrs["keys"]
    team_keys = _cooccurring(rows, start, today, "api_key", team_id=[team])
    assert sorted(at.multiselect(key="usage_api_keys").options) == sorted(
        f"{keys[h]['alias']} ({keys[h]['user_id']})" if keys[h]["user_id"] else keys[h]["alias"] for h in team_keys
    )
    at.multiselect(key="usage_users").set_value([users[0]]).run()
    assert at.multiselect(key="usage_teams").options == _cooccurring(rows, start, today, "team_id", user_id=[users[0]])
    assert_cards_show(at, oracle(rows, start, today, team_id=[team], user_id=[users[0]]), rows["user_id"].nunique())
    # Clear all filters: every filter empty, every choice back, the whole range's numbers
    at.button(key="usage_clear_filters").click().run()
    for name in ("models", "providers", "teams", "users", "api_keys"):
        assert at.multiselect(key=f"usage_{name}").value == []
    assert at.multiselect(key="usage_users").options == _cooccurring(rows, start, today, "user_id")
    assert_cards_show(at, oracle(rows, start, today), rows["user_id"].nunique())
    assert at.button(key="usage_clear_filters").disabled


def test_my_usage_filters_cascade_over_her_keys_and_clear(demo_env, litellm_rows):
    rows, today = _alice(litellm_rows), litellm_rows.attrs["last"]
    start = today - timedelta(days=29)
    at = app_as(demo_env, "alice", MINE, {"range": "30d"})
    assert at.multiselect(key="mine_providers").options == _cooccurring(rows, start, today, "custom_llm_provider")
    provider = rows.loc[rows["date"] >= start].groupby("custom_llm_provider")["api_requests"].sum().idxmax()
    at.multiselect(key="mine_providers").set_value([provider]).run()
    assert at.multiselect(key="mine_models").options == _cooccurring(
        rows, start, today, "model", custom_llm_provider=[provider]
    )
    assert_cards_show(at, oracle(rows, start, today, custom_llm_provider=[provider]))
    at.button(key="mine_clear_filters").click().run()
    assert at.multiselect(key="mine_providers").value == []
    assert_cards_show(at, oracle(rows, start, today))


@pytest.mark.parametrize(
    "query",
    [
        {"model": "[click](https://evil.example)![x](https://evil.example/i.png)"},
        {"range": "<b>7d</b>:material/warning: https://evil.example"},
    ],
)
def test_link_values_echoed_in_a_notice_are_shown_as_typed(demo_env, query):
    """A shared link is anyone's text: the notice naming what was ignored is no link, image or icon."""
    at = app_as(demo_env, "admin", USAGE, query)
    notices = [str(t.value) for t in at.warning]
    value = next(iter(query.values()))
    assert [t for t in notices if value in displayed(t)], notices
    for md in notices:
        assert live_markup(md) == set() and rewrites(md) == [], md


@pytest.mark.parametrize("who, enabled", [("admin", True), ("viewer", False)])
def test_refresh_today_is_for_admins_only(demo_env, who, enabled):
    at = app_as(demo_env, who, USAGE)
    button = at.button(key="refresh_today")
    assert button.disabled is (not enabled)
    if not enabled:
        assert "admin" in (button.help or "").lower()


def _alice(rows):
    return rows[rows["user_id"] == "alice.martin"]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"user": "OTHER_USER"},
        {"key": "OTHER_KEY"},
        {"key": ["OTHER_KEY", "ALICE_KEY"]},
        {"team": "OTHER_TEAM", "user": "OTHER_USER", "provider": "openai"},
    ],
)
def test_my_usage_shows_only_alices_data_whatever_the_link_says(demo_env, litellm_rows, query):
    rows = litellm_rows
    keys = rows.attrs["keys"]
    other = rows[rows["user_id"] != "alice.martin"].groupby("user_id")["api_requests"].sum().idxmax()
    other_key = next(h for h, k in keys.items() if k["user_id"] == other)
    other_team = next(k["team_id"] for k in keys.values() if k["user_id"] == other and k["team_id"])
    alice_key = next(h for h, k in keys.items() if k["user_id"] == "alice.martin")
    subst = {"OTHER_USER": other, "OTHER_KEY": other_key, "OTHER_TEAM": other_team, "ALICE_KEY": alice_key}
    query = {k: ([subst.get(x, x) for x in v] if isinstance(v, list) else subst.get(v, v)) for k, v in query.items()}
    today = rows.attrs["last"]
    at = app_as(demo_env, "alice", MINE, {"range": "30d", **query})
    assert not at.exception
    start = today - timedelta(days=29)
    requests = int(cards(at)["Requests"][0].replace(",", "")) if cards(at)["Requests"][0][-1].isdigit() else None
    alice_total = oracle(_alice(rows), start, today)
    if not query or set(query) == {"user"}:
        assert_cards_show(at, alice_total)  # a user filter in the link is simply not hers to set
    # never anyone else's numbers: at most hers, and never the other user's own total
    other_total = oracle(rows[rows["user_id"] == other], start, today)
    shown = cards(at)["Requests"][0]
    assert shown != kpi_value("requests", other_total["requests"]) or other_total["requests"] == alice_total["requests"]
    if requests is not None:
        assert requests <= alice_total["requests"]
    page_text = " ".join(displayed(str(e.value)) for e in [*at.markdown, *at.caption])
    assert other not in page_text and other_key not in page_text
    for df in at.dataframe:
        text = df.value.to_string()
        assert other not in text and keys[other_key]["alias"] not in text
    # the API-key choices are hers only
    offered = at.multiselect(key="mine_api_keys").options
    assert offered and all("(alice.martin)" in o for o in offered)


@pytest.mark.parametrize("start_back, end_ahead", [(400, 0), (5, 30), (400, 30)], ids=["before", "future", "both"])
def test_a_shared_custom_range_beyond_the_stored_days_is_narrowed_with_a_notice(
    demo_env, litellm_rows, start_back, end_ahead
):
    first, today = litellm_rows.attrs["first"], litellm_rows.attrs["last"]
    start = max(first - timedelta(days=start_back), today - timedelta(days=start_back))
    query = {"range": "Custom", "start": str(start), "end": str(today + timedelta(days=end_ahead))}
    at = app_as(demo_env, "admin", USAGE, query)
    shown = (max(start, first), today)
    assert tuple(at.date_input(key="usage_custom").value) == shown
    assert any("narrowed" in t.value for t in at.warning)
    assert_cards_show(at, oracle(litellm_rows, *shown), litellm_rows["user_id"].nunique())
    at.segmented_control(key="usage_range").set_value("7d").run()  # and the presets work afterwards
    assert not at.exception
    assert_cards_show(at, oracle(litellm_rows, today - timedelta(days=6), today), litellm_rows["user_id"].nunique())


@pytest.mark.parametrize(
    "query",
    [
        {"range": "Custom", "start": "1999-01-01", "end": "1999-02-01"},
        {"range": "Custom", "start": "2999-01-01", "end": "2999-02-01"},
        {"range": "Custom", "start": "2026-13-45", "end": "x"},
        {"range": "Custom", "start": "9999-12-31", "end": "0001-01-01"},
        {"range": ["7d", "Custom"], "start": ["a", "b"], "user": ["", "\x00"], "key": "k" * 5000},
    ],
)
def test_any_link_however_malformed_yields_a_working_page(demo_env, litellm_rows, query):
    today = litellm_rows.attrs["last"]
    at = app_as(demo_env, "admin", USAGE, query)  # asserts no exception
    assert at.warning, "the link's problem is said"
    assert_cards_show(at, oracle(litellm_rows, today - timedelta(days=6), today), litellm_rows["user_id"].nunique())


@pytest.fixture(scope="module")
def quiet_today_env(tmp_path_factory):
    """A demo app whose stored today has no traffic yet (just after midnight UTC): an empty view that no filter
    made (filters only offer what occurs together, so they never empty a view)."""
    from datetime import datetime, timezone

    from lib.usage.store import SCHEMA

    settings = demo_settings(tmp_path_factory.mktemp("quiet_today"), BACKFILL_DAYS="3")
    rt = app_runtime(settings)
    run_backfill(rt, "test")
    accounts.bootstrap_accounts(rt.engine, settings)
    today = rt.store.date_bounds()[1]
    rt.store.replace_days({today: SCHEMA.empty_table()}, {today: "partial"}, datetime.now(timezone.utc))
    return settings


def test_an_empty_view_draws_no_chart_that_could_pass_for_data(quiet_today_env):
    at = app_as(quiet_today_env, "admin", USAGE, {"range": "Today"})
    assert cards(at)["Requests"][0] == "0"
    assert not at.get("plotly_chart")
    assert "No data to chart in this view." in [c.value for c in at.caption]


def test_after_refresh_today_the_sidebar_says_just_now(demo_env):
    from datetime import datetime, timezone

    from sqlalchemy import update

    from lib.core.jobs import job_runs

    engine = app_runtime(demo_env).engine
    ten_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    with engine.begin() as c:  # the last refresh was a while ago
        c.execute(update(job_runs).values(started_at=ten_minutes_ago, finished_at=ten_minutes_ago))
    at = app_as(demo_env, "admin", USAGE)
    assert "Today refreshed 10 min ago" in [c.value for c in at.sidebar.caption]
    at.button(key="refresh_today").click().run()
    assert not at.exception
    assert "Today refreshed just now" in [c.value for c in at.sidebar.caption]
    assert any(t.value.startswith("Refreshed ") for t in at.success)


def test_while_the_history_loads_an_empty_view_shows_the_progress_not_zeros(quiet_today_env, litellm_rows):
    """A view none of whose days has arrived yet: the loading's progress, not zero KPIs and advice to widen it; the
    link's filters are kept meanwhile (their days may be on the way)."""
    progress = app_runtime(quiet_today_env).backfill_progress
    progress.running, progress.done_days, progress.total_days = True, 14, 90
    model = sorted(litellm_rows["model"])[0]
    try:
        at = app_as(quiet_today_env, "admin", USAGE, {"range": "Today", "model": model})
    finally:
        progress.running = False
    shown = [p.proto.text for p in at.main.get("progress")]
    assert shown == ["Loading history from LiteLLM: 14 of 90 days"]
    assert not at.metric and not at.main.info
    assert at.multiselect(key="usage_models").value == [model]
    at.run()  # loaded: the filter that has no traffic today is dropped, and the empty day says how to widen it
    assert cards(at)["Requests"][0] == "0" and not at.main.get("progress")
    assert at.multiselect(key="usage_models").value == []
    assert any("Widen the range or clear a filter" in i.value for i in at.main.info)


def _figures(at: AppTest) -> dict[str, dict]:
    import json

    return {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _hover_texts(figure: dict) -> list:
    return [x for trace in figure["data"] for x in _flat(trace.get("customdata", []))]


def _flat(values):
    for v in values:
        yield from (_flat(v) if isinstance(v, list) else [v])


def test_one_value_reads_the_same_in_the_kpi_the_table_and_the_hover(demo_env, litellm_rows):
    """One provider's and one model's view: its spend, requests, tokens and latency are written the same way on the
    card, in the table row and in the chart hovers (oracle: LiteLLM's rows), and no table cell says None or nan."""
    rows, today = litellm_rows, litellm_rows.attrs["last"]
    start = today - timedelta(days=29)
    d = rows[(rows["date"] >= start) & (rows["api_requests"] > 0)]
    model = d.groupby("model")["spend"].sum().idxmax()
    at = app_as(demo_env, "admin", USAGE, {"range": "30d", "model": model})
    want = oracle(rows, start, today, model=[model])
    assert_cards_show(at, want, rows["user_id"].nunique())
    table = next(df.value for df in at.dataframe if "Model" in df.value.columns)
    row = table[table["Model"] == model].iloc[0]
    for heading, metric in (
        ("Spend", "spend"),
        ("Requests", "requests"),
        ("Tokens", "total_tokens"),
        ("Success", "success_rate"),
        ("Avg latency", "avg_latency_ms"),
    ):
        assert row[heading] == kpi_value(metric, want[metric]), heading
    figures = _figures(at).values()
    cost = [f for f in figures if f["data"] and f["data"][0].get("orientation") == "h"]
    assert cost and all(_hover_texts(f) == [kpi_value("spend", want["spend"])] for f in cost)
    # the daily line's hovers: each day's requests written as the cards write counts
    per_day = rows[(rows["date"] >= start) & (rows["model"] == model)].groupby("date")["api_requests"].sum()
    line = next(f for f in figures if f["data"] and f["data"][0].get("mode") == "lines+markers")
    shown = dict(zip(line["data"][0]["x"], line["data"][0]["customdata"]))
    assert shown == {str(day): kpi_value("requests", per_day.get(day, 0)) for day in pd.date_range(start, today).date}
    for df in at.dataframe:
        cells = {str(v) for v in df.value.to_numpy().ravel()}
        assert not cells & {"None", "nan", "NaN", "<NA>", "NaT"}, df.value
    # full width: no table sits in a half-width column
    assert all(not col.dataframe for col in at.main.columns)


def test_my_usage_tables_read_like_its_cards(demo_env, litellm_rows):
    """My usage: her model table's spend is written as the Spend card writes it, and neither it nor her keys table
    (LiteLLM's keys, some with no budget) shows None or nan."""
    rows, today = _alice(litellm_rows), litellm_rows.attrs["last"]
    start = today - timedelta(days=29)
    model = rows[rows["date"] >= start].groupby("model")["spend"].sum().idxmax()
    at = app_as(demo_env, "alice", MINE, {"range": "30d", "model": model})
    want = oracle(rows, start, today, model=[model])
    assert cards(at)["Spend"][0] == kpi_value("spend", want["spend"])
    table = next(df.value for df in at.dataframe if "Model" in df.value.columns)
    assert table.loc[table["Model"] == model, "Spend"].tolist() == [kpi_value("spend", want["spend"])]
    for df in at.dataframe:
        cells = {str(v) for v in shown_table(df).drop(columns=["models"], errors="ignore").to_numpy().ravel()}
        assert not cells & {"None", "nan", "NaN", "<NA>"}, shown_table(df)
    own = next(shown_table(df) for df in at.dataframe if "key_name" in df.value.columns)
    assert all(v == "—" or v.startswith(("$", "<$")) for v in own["spend"]), own["spend"]
    assert all(v == "—" or v.startswith(("$", "<$")) for v in own["max_budget"]), own["max_budget"]


def test_only_the_open_chart_tab_is_drawn_and_another_tab_draws_its_own(demo_env):
    """Under the metric over time, the chart tabs: a first view draws the cost bars only, and opening another tab
    (a rerun) draws that tab's charts instead, on Usage analytics and on My usage."""
    for page, user, prefix in ((USAGE, "admin", "usage"), (MINE, "alice", "mine")):
        at = app_as(demo_env, user, page, {"range": "30d"})

        def drawn(at=at) -> list[str]:
            kinds = []
            for f in _figures(at).values():
                trace = f["data"][0]
                kinds.append("cost bars" if trace.get("orientation") == "h" else trace.get("type", "scatter"))
            return sorted(kinds)

        assert drawn() == ["cost bars", "cost bars", "scatter"], page
        at.session_state[f"{prefix}_chart_tab"] = "Weekday and outcomes"
        at.run()
        assert not at.exception
        assert drawn() == ["bar", "heatmap", "scatter"], page
        at.session_state[f"{prefix}_chart_tab"] = "By model and provider"
        at.run()
        assert [len(f["data"]) > 1 for f in _figures(at).values()].count(True) >= 1  # stacked: a trace per name
        assert "heatmap" not in drawn() and "cost bars" not in drawn(), page
