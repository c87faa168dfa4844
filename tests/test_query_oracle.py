"""The query layer against an independent pandas computation on random LiteLLM data (hypothesis).

Random daily-table rows (date x user x key x model) are turned into LiteLLM 1.108-shaped
`/user/daily/activity` pages (lib.litellm.demo.aggregate, LiteLLM's aggregation), split at a random page size,
merged and stored by the real ingest code, then queried. The expected answers are pandas group-bys over
the random rows themselves.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.litellm.demo import aggregate
from lib.usage.activity_sql import merge_pages
from lib.usage.queries import (
    BREAKDOWNS,
    Filters,
    QueryError,
    breakdown,
    daily_series,
    filter_options,
    overview,
    resolve_api_keys,
    trends,
    usage_page_queries,
    weekday_grid,
)
from lib.usage.store import SCHEMA, UsageStore

D0 = date(2026, 3, 2)  # a Monday
DAYS = [D0 + timedelta(days=i) for i in range(10)]
USERS = ["ann", "ben", "cho", "dev"]
KEYS = {  # hash -> (alias, owner, team)
    "a" * 64: ("ann-laptop", "ann", "team-x"),
    "b" * 64: ("ann-ci", "ann", None),
    "c" * 64: ("ben-prod", "ben", "team-x"),
    "d" * 64: (None, "cho", "team-y"),
    "e" * 64: ("dev-batch", "dev", "team-y"),
    "f" * 64: ("dev-nb", "dev", None),
}
GROUPS = {
    "gpt-4o": ("openai/gpt-4o", "openai"),
    "fast-chat": ("openai/gpt-4o-mini", "openai"),
    "claude": ("anthropic/claude-3-5-haiku", "anthropic"),
    "llama": ("ollama/llama3", "ollama"),
}

row_strategy = st.builds(
    lambda day, key, group, req, failed_share, prompt, completion, cache, spend, ms: {
        "date": DAYS[day].isoformat(),
        "api_key": key,
        "user_id": KEYS[key][1],
        "model_group": group,
        "model": GROUPS[group][0],
        "custom_llm_provider": GROUPS[group][1],
        "endpoint": "/chat/completions",
        "api_requests": req,
        "failed_requests": min(req, int(req * failed_share)),
        "successful_requests": req - min(req, int(req * failed_share)),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cache_read_input_tokens": cache,
        "cache_creation_input_tokens": cache // 3,
        "spend": spend,
        "total_response_time_ms": float(ms * (req - min(req, int(req * failed_share)))),
        "timed_requests": req - min(req, int(req * failed_share)),
    },
    st.integers(0, len(DAYS) - 1),
    st.sampled_from(sorted(KEYS)),
    st.sampled_from(sorted(GROUPS)),
    st.integers(0, 500),
    st.floats(0, 1),
    st.integers(0, 10**6),
    st.integers(0, 10**5),
    st.integers(0, 1000),
    st.one_of(st.just(0.0), st.floats(1e-7, 50, allow_nan=False)),
    st.integers(50, 5000),
)


def build_store(tmp_path, rows: list[dict], page_size: int) -> UsageStore:
    keys = {
        h: {"alias": a, "user_id": u, "user_email": f"{u}@example.com", "team_id": t} for h, (a, u, t) in KEYS.items()
    }
    bodies = [
        json.dumps(aggregate(rows[i : i + page_size], keys)).encode()  # pages count table rows, like LiteLLM
        for i in range(0, max(len(rows), 1), page_size)
    ]
    store = UsageStore(tmp_path)
    tables = merge_pages(bodies)
    tables = {d: tables.get(d, SCHEMA.empty_table()) for d in DAYS}
    store.replace_days(tables, {d: "complete" for d in DAYS}, datetime.now(timezone.utc))
    return store


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(
            columns=[
                "date",
                "api_key",
                "user_id",
                "model_group",
                "model",
                "custom_llm_provider",
                "api_requests",
                "successful_requests",
                "failed_requests",
                "prompt_tokens",
                "completion_tokens",
                "total_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
                "spend",
                "total_response_time_ms",
                "timed_requests",
            ]
        )
    df["date"] = pd.to_datetime(df["date"]).dt.date
    df["team_id"] = df["api_key"].map(lambda h: KEYS[h][2])
    return df


def select(df: pd.DataFrame, start: date, end: date, f: Filters) -> pd.DataFrame:
    d = df[(df["date"] >= start) & (df["date"] <= end)]
    for column, values in (
        ("model", f.models),
        ("custom_llm_provider", f.providers),
        ("user_id", f.users),
        ("api_key", f.api_keys),
        ("team_id", f.teams),
    ):
        if values:
            d = d[d[column].isin(values)]
    return d


def expected_overview(d: pd.DataFrame) -> dict:
    req = int(d["api_requests"].sum())
    active = d[d["api_requests"] > 0]
    return {
        "requests": req,
        "successful_requests": int(d["successful_requests"].sum()),
        "failed_requests": int(d["failed_requests"].sum()),
        "prompt_tokens": int(d["prompt_tokens"].sum()),
        "total_tokens": int(d["total_tokens"].sum()),
        "cache_read_input_tokens": int(d["cache_read_input_tokens"].sum()),
        "spend": math.fsum(d["spend"]),
        "success_rate": d["successful_requests"].sum() * 100 / req if req else None,
        "avg_latency_ms": d["total_response_time_ms"].sum() / d["timed_requests"].sum()
        if d["timed_requests"].sum()
        else None,
        "active_users": active["user_id"].nunique(),
        "active_keys": active["api_key"].nunique(),
        "active_models": active["model"].nunique(),
    }


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


filters_strategy = st.builds(
    Filters.of,
    models=st.lists(st.sampled_from(sorted({m for m, _ in GROUPS.values()})), max_size=2),
    providers=st.lists(st.sampled_from(["openai", "anthropic", "ollama"]), max_size=2),
    users=st.lists(st.sampled_from(USERS), max_size=2),
    api_keys=st.lists(st.sampled_from(sorted(KEYS)), max_size=2),
    teams=st.lists(st.sampled_from(["team-x", "team-y"]), max_size=1),
)
ranges = st.tuples(st.integers(0, len(DAYS) - 1), st.integers(0, len(DAYS) - 1)).map(
    lambda ab: (DAYS[min(ab)], DAYS[max(ab)])
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@SETTINGS
@given(rows=st.lists(row_strategy, max_size=60), page_size=st.integers(1, 25), f=filters_strategy, rng=ranges)
def test_overview_and_breakdowns_equal_pandas(tmp_path_factory, rows, page_size, f, rng):
    store = build_store(tmp_path_factory.mktemp("s"), rows, page_size)
    df, (start, end) = frame(rows), rng
    d = select(df, start, end, f)
    want = expected_overview(d)
    got = overview(store, start, end, f)
    for k, v in want.items():
        assert close(got[k], v), (k, got[k], v)

    for by, column in (
        ("model", "model"),
        ("provider", "custom_llm_provider"),
        ("user", "user_id"),
        ("api_key", "api_key"),
        ("team", "team_id"),
        ("model_group", "model_group"),
    ):
        if by == "model_group" and (f.models or f.providers):
            if f.models:
                with pytest.raises(QueryError, match="model"):
                    breakdown(store, start, end, f, by=by)
            continue  # a provider filter on model groups uses the documented attribution rule
        got_b = breakdown(store, start, end, f, by=by)
        key = {"user": "user_id", "team": "team"}.get(by, by)
        got_b[key] = got_b[key].replace({"(no team)": "(none)"})
        exp = (
            d.assign(**{column: d[column].fillna("(none)")})
            .groupby(column)
            .agg(requests=("api_requests", "sum"), spend=("spend", math.fsum), tokens=("total_tokens", "sum"))
        )
        assert sorted(map(str, got_b[key])) == sorted(map(str, exp.index)), by
        for value, e in exp.iterrows():
            r = got_b[got_b[key].astype(str) == str(value)].iloc[0]
            assert r["requests"] == e["requests"] and r["total_tokens"] == e["tokens"], (by, value)
            assert close(r["spend"], e["spend"]), (by, value)
        # sorted by spend, biggest first; top-N keeps the biggest
        assert list(got_b["spend"]) == sorted(got_b["spend"], reverse=True)
        top = breakdown(store, start, end, f, by=by, top_n=2)
        top[key] = top[key].replace({"(no team)": "(none)"})
        assert list(top[key].astype(str)) == list(got_b[key].astype(str))[:2]


@SETTINGS
@given(rows=st.lists(row_strategy, max_size=60), f=filters_strategy, rng=ranges)
def test_daily_series_trends_and_heatmap_equal_pandas(tmp_path_factory, rows, f, rng):
    store = build_store(tmp_path_factory.mktemp("s"), rows, 7)
    df, (start, end) = frame(rows), rng
    series = daily_series(store, start, end, f)
    assert list(series["date"]) == [start + timedelta(days=i) for i in range((end - start).days + 1)]
    per_day = select(df, start, end, f).groupby("date")["api_requests"].sum()
    assert [int(x) for x in series["requests"]] == [int(per_day.get(day, 0)) for day in series["date"]]
    # trends: the previous period of the same length, ending the day before start
    length = (end - start).days + 1
    prev = expected_overview(select(df, start - timedelta(days=length), start - timedelta(days=1), f))
    cur = expected_overview(select(df, start, end, f))
    t = trends(store, start, end, f).set_index("metric")
    for metric in ("requests", "spend", "active_users"):
        row = t.loc[metric]
        assert close(row["current"], cur[metric]) and close(row["previous"], prev[metric]), metric
        if prev[metric]:
            pct = (cur[metric] - prev[metric]) / abs(prev[metric]) * 100
            assert math.isclose(row["change_pct"], pct, abs_tol=1e-6)
            assert row["direction"] == ("stable" if abs(pct) <= 1 else "up" if pct > 0 else "down")
        else:
            assert row["direction"] == ("stable" if not cur[metric] else "new")
    # heatmap: each cell is that weekday of that week (weeks start on Monday)
    grid = weekday_grid(series)
    for day, n in zip(series["date"], series["requests"]):
        week = day - timedelta(days=day.weekday())
        assert grid.loc[day.strftime("%A"), week] == n
    # the page's whole question set is the same answers
    page = usage_page_queries(store, start, end, f)
    assert page["daily"].equals(series)


@SETTINGS
@given(rows=st.lists(row_strategy, min_size=1, max_size=40), page_size=st.integers(1, 10))
def test_page_splits_never_change_what_is_stored(tmp_path_factory, rows, page_size):
    one = build_store(tmp_path_factory.mktemp("a"), rows, 10**6)
    split = build_store(tmp_path_factory.mktemp("b"), rows, page_size)
    q = "SELECT * FROM activity ORDER BY ALL"
    a, b = one.query(q), split.query(q)
    # LiteLLM sums each page's rows itself, so where a cell is split across pages its float totals (spend,
    # response time) may differ in the last bit (e.g. 1 + 1e-7 summed on one page, then + 1); all else is exact.
    floats = ["spend", "total_response_time_ms"]
    assert a.drop(columns=floats).equals(b.drop(columns=floats))
    pd.testing.assert_frame_equal(a[floats], b[floats], check_exact=False, rtol=1e-12, atol=0)


def test_filter_options_cascade_and_alias_resolution(tmp_path):
    rows = [
        {
            "date": DAYS[0].isoformat(),
            "api_key": h,
            "user_id": u,
            "model_group": "gpt-4o",
            "model": "openai/gpt-4o",
            "custom_llm_provider": "openai",
            "endpoint": "/chat/completions",
            "api_requests": 1,
            "successful_requests": 1,
            "failed_requests": 0,
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "total_tokens": 2,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "spend": 1e-7,
            "total_response_time_ms": 10.0,
            "timed_requests": 1,
        }
        for h, (_a, u, _t) in KEYS.items()
    ]
    store = build_store(tmp_path, rows, 3)
    opts = filter_options(store)
    assert opts["users"] == sorted(USERS) and opts["teams"] == ["team-x", "team-y"]
    assert set(opts["api_keys"]["api_key"]) == set(KEYS)
    owners = dict(zip(opts["api_keys"]["api_key"], opts["api_keys"]["owner"]))
    assert all(owners[h] == u for h, (_a, u, _t) in KEYS.items())
    mine = filter_options(store, owner="dev")
    assert set(mine["api_keys"]["api_key"]) == {"e" * 64, "f" * 64} and mine["users"] == ["dev"]
    assert resolve_api_keys(store, ["ann-ci", "c" * 64]) == tuple(sorted(["b" * 64, "c" * 64]))
    with pytest.raises(QueryError, match="nobody"):
        resolve_api_keys(store, ["nobody"])
    # a key without alias, a tiny spend, an unknown filter value: numbers, not errors
    assert overview(store, DAYS[0], DAYS[0], Filters.of(api_keys=["d" * 64]))["requests"] == 1
    assert overview(store, DAYS[0], DAYS[0])["spend"] == pytest.approx(6e-7, abs=1e-15)
    assert overview(store, DAYS[0], DAYS[0], Filters.of(models=["no/such-model"]))["requests"] == 0


def test_answers_do_not_depend_on_the_order_days_were_loaded(tmp_path):
    """The app loads days as ingest writes them (chunks finish in any order); a CLI export loads them in date
    order. The same question must get the same numbers to the last bit in both, or a page's download and the
    analysts' cron export of the same view disagree."""
    import random

    rnd = random.Random(7)
    rows = [
        {
            "date": rnd.choice(DAYS).isoformat(),
            "api_key": key,
            "user_id": KEYS[key][1],
            "model_group": group,
            "model": GROUPS[group][0],
            "custom_llm_provider": GROUPS[group][1],
            "endpoint": "/chat/completions",
            "api_requests": 3,
            "successful_requests": 3,
            "failed_requests": 0,
            "prompt_tokens": 100,
            "completion_tokens": 10,
            "total_tokens": 110,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "spend": rnd.uniform(1e-6, 5) * 10 ** rnd.randint(-4, 2),
            "total_response_time_ms": rnd.uniform(100, 9000) * 3,
            "timed_requests": 3,
        }
        for key in KEYS
        for group in GROUPS
        for _ in range(40)
    ]
    by_date_order = build_store(tmp_path / "a", rows, 50)
    by_date_order.sync()
    tables = {
        d: by_date_order.cursor().sql(f"SELECT * FROM activity WHERE date = DATE '{d}'").to_arrow_table() for d in DAYS
    }
    shuffled = UsageStore(tmp_path / "b")
    for d in reversed(DAYS):  # loaded one day at a time, latest first
        shuffled.replace_days({d: tables[d].cast(SCHEMA)}, {d: "complete"}, datetime.now(timezone.utc))
        shuffled.sync()
    assert shuffled.query("SELECT count(*) AS n FROM activity")["n"][0] == sum(t.num_rows for t in tables.values()) > 0
    start, end = DAYS[0], DAYS[-1]
    for f in (Filters(), Filters(providers=["openai"]), Filters(users=["ann", "dev"])):
        assert overview(shuffled, start, end, f) == overview(by_date_order, start, end, f)
        for by in BREAKDOWNS:
            a, b = breakdown(by_date_order, start, end, f, by=by), breakdown(shuffled, start, end, f, by=by)
            pd.testing.assert_frame_equal(a, b, check_exact=True)
