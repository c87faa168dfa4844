"""Request logs (lib/logs) on demo mode's fake of `/spend/logs/v2` and on LiteLLM-shaped answers: windows, filters,
paging, charts, export through the gate, LiteLLM's errors. The demo's daily table is the oracle for counts: the
fake makes each daily row's requests into that many logged requests (lib/litellm/demo_logs.py).

The same behaviour against the real LiteLLM: tests/test_logs_litellm.py."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import httpx
import numpy as np
import pandas as pd
import pytest

from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.core.settings import load_settings
from lib.litellm.client import LiteLLMBadResponse, LiteLLMClient, LiteLLMNoDatabase
from lib.litellm.demo import MODELS, DemoLiteLLM
from lib.litellm.demo_logs import PROMPTS, DemoSpendLogs
from lib.litellm.logs_api import SpendLogsPage
from lib.logs import charts
from lib.logs.export import LogsExportError, export_logs, fetch_all, to_csv
from lib.logs.options import resolve_key
from lib.logs.query import LogQuery, LogQueryError, LogWindow
from lib.logs.rows import prompt_and_response, to_frame
from lib.logs.view import empty_reason, load_view
from lib.runtime import Runtime

UTC = timezone.utc
TODAY = date(2026, 11, 22)  # a Sunday
SATURDAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)  # before the demo's today ends (13:12, 55% of the day)
ADMIN = User("root", "Root", None, "admin", None, True)
USER = User("alice", "Alice", None, "user", "alice.martin", True)


@pytest.fixture(scope="module")
def demo() -> DemoLiteLLM:
    d = DemoLiteLLM(seed=42, today=TODAY)
    d.spend_logs = DemoSpendLogs(d, MODELS, 0.55, now=lambda: NOW)
    return d


class Calls:
    """A transport that counts what reaches the fake."""

    def __init__(self, handler):
        self.handler, self.requests = handler, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def calls(demo) -> Calls:
    return Calls(demo.handle)


@pytest.fixture
def client(calls) -> LiteLLMClient:
    return LiteLLMClient("http://demo", "sk-demo", transport=httpx.MockTransport(calls), sleep=lambda s: None)


def daily(demo, day: date, **match) -> list[dict]:
    return [r for r in demo.rows if r["date"] == day.isoformat() and all(r[k] == v for k, v in match.items())]


def every_page(client, query: LogQuery, **kw) -> list[str]:
    """The request ids of every page of a view, page after page, as the page shows them."""
    ids, page = [], 1
    while True:
        view = load_view(client, query.but(page=page), **kw)
        ids += list(view.rows["request_id"])
        if page >= view.pages:
            return ids
        page += 1


# -- the window ---------------------------------------------------------------------------------------------
def test_a_window_is_whole_utc_seconds_and_a_day_ends_at_23_59_59():
    assert LogWindow.days(date(2026, 11, 20), date(2026, 11, 21)).as_params() == {
        "start_date": "2026-11-20 00:00:00",
        "end_date": "2026-11-21 23:59:59",
    }
    # "until 10:30" includes the 10:30 minute; a time of day is UTC whatever zone it was given in
    w = LogWindow.between(date(2026, 11, 20), time(9, 0), date(2026, 11, 20), time(10, 30))
    assert w.as_params() == {"start_date": "2026-11-20 09:00:00", "end_date": "2026-11-20 10:30:59"}
    cet = timezone(timedelta(hours=1))
    last = LogWindow.last(60, datetime(2026, 11, 20, 11, 0, 0, 987654, tzinfo=cet))
    assert last.as_params() == {"start_date": "2026-11-20 09:00:00", "end_date": "2026-11-20 10:00:00"}


@pytest.mark.parametrize(
    "bad, says",
    [
        (dict(window=LogWindow.days(TODAY, TODAY), status="failed"), "status must be one of success, failure"),
        (dict(window=LogWindow.days(TODAY, TODAY), cache_hit="yes"), "cache hit must be one of hit, miss"),
        (dict(window=LogWindow.days(TODAY, TODAY), min_spend=-1), "minimum spend must be"),
        (dict(window=LogWindow.days(TODAY, TODAY), min_spend=float("nan")), "minimum spend must be"),
        (dict(window=LogWindow.days(TODAY, TODAY), sort="cost"), "sort must be one of"),
        (dict(window=LogWindow.days(TODAY, TODAY), page_size=5000), "page size must be between 1 and 1000"),
        (dict(window=LogWindow.days(TODAY, TODAY), user_id="a\nb"), "user id is not a name"),
    ],
)
def test_a_bad_filter_is_refused_with_the_reason(bad, says):
    with pytest.raises(LogQueryError, match=says):
        LogQuery(**bad)


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(LogQueryError, match="starts after it ends"):
        LogWindow.between(TODAY, time(10, 0), TODAY - timedelta(days=1), time(9, 0))


def test_filters_are_sent_as_litellms_own_parameters():
    q = LogQuery(
        LogWindow.days(TODAY, TODAY),
        model="openai/gpt-4o",
        model_group="gpt-4o",
        api_key="a" * 64,
        user_id="alice.martin",
        team_id="team-data",
        status="failure",
        cache_hit="miss",
        min_spend=0.01,
        request_id=" chatcmpl-1 ",
        sort="duration",
        order="asc",
        page=3,
        page_size=100,
    )
    assert q.params() == {
        "start_date": "2026-11-22 00:00:00",
        "end_date": "2026-11-22 23:59:59",
        "model": "openai/gpt-4o",
        "model_group": "gpt-4o",
        "api_key": "a" * 64,
        "user_id": "alice.martin",
        "team_id": "team-data",
        "status_filter": "failure",
        "cache_hit_filter": "miss",
        "min_spend": 0.01,
        "request_id": "chatcmpl-1",
        "sort_by": "request_duration_ms",
        "sort_order": "asc",
        "page": 3,
        "page_size": 100,
    }
    # empty texts and a zero minimum are no filter at all
    assert LogQuery(LogWindow.days(TODAY, TODAY), model=" ", min_spend=0).filters() == {}


def test_a_key_is_picked_by_alias_and_sent_as_its_hash(demo):
    keys = pd.DataFrame(
        [
            {"api_key": k["hash"], "key_alias": k["alias"], "owner": k["user_id"]}
            for k in demo.keys
            if k.get("exists", True)
        ]
    )
    alice = next(k for k in demo.keys if k["alias"] and k["alias"].startswith("alice-"))
    assert resolve_key(keys, alice["alias"]) == alice["hash"]
    assert resolve_key(keys, alice["hash"]) == alice["hash"]
    assert resolve_key(keys, f"{alice['alias']} ({alice['user_id']})") == alice["hash"]  # the picker's label
    assert resolve_key(keys, "F" * 64) == "f" * 64  # a key the store has not seen yet
    with pytest.raises(LogQueryError, match="no key is named 'alice'"):
        resolve_key(keys, "alice")  # LiteLLM's own key_alias filter would match every alice-… key
    twice = pd.concat([keys, keys.head(1).assign(api_key="b" * 64)])
    with pytest.raises(LogQueryError, match="2 keys are named"):
        resolve_key(twice, keys["key_alias"].iloc[0])


# -- filters: exactly the matching requests (the demo's daily table as oracle) ------------------------------
def test_a_days_window_counts_every_request_of_that_day(client, demo):
    view = load_view(client, LogQuery(LogWindow.days(SATURDAY, SATURDAY)))
    expected = sum(r["api_requests"] for r in daily(demo, SATURDAY))
    assert 1000 < expected < 10_000
    assert (view.total, view.total_is_capped) == (expected, False)


def test_each_filter_returns_exactly_the_matching_requests(client, demo):
    rows = daily(demo, SATURDAY)
    window = LogWindow.days(SATURDAY, SATURDAY)
    busiest_key = Counter({r["api_key"]: r["failed_requests"] for r in rows}).most_common(1)[0][0]
    key = next(k for k in demo.keys if k["hash"] == busiest_key)
    team = next(k["team_id"] for k in demo.keys if k["team_id"])
    team_keys = {k["hash"] for k in demo.keys if k["team_id"] == team}
    cases = [
        (dict(api_key=key["hash"]), sum(r["api_requests"] for r in rows if r["api_key"] == key["hash"])),
        (
            dict(api_key=key["hash"], status="failure"),
            sum(r["failed_requests"] for r in rows if r["api_key"] == key["hash"]),
        ),
        (dict(status="success"), sum(r["successful_requests"] for r in rows)),
        (dict(model_group="fast-chat"), sum(r["api_requests"] for r in rows if r["model_group"] == "fast-chat")),
        (dict(model="openai/gpt-4o-mini"), sum(r["api_requests"] for r in rows if r["model"] == "openai/gpt-4o-mini")),
        (dict(user_id=key["user_id"]), sum(r["api_requests"] for r in rows if r["user_id"] == key["user_id"])),
        (dict(team_id=team), sum(r["api_requests"] for r in rows if r["api_key"] in team_keys)),
    ]  # fmt: skip
    for filters, expected in cases:
        assert expected > 0, filters
        found = fetch_all(client, LogQuery(window, **filters), max_rows=100_000)
        assert len(found) == expected, filters
        for name, column in (("api_key", "api_key"), ("model_group", "model_group"), ("model", "model")):
            if name in filters:
                assert set(found[column]) == {filters[name]}
        if "status" in filters:
            assert set(found["status"]) == {filters["status"]}
        if "user_id" in filters:
            assert set(found["user"]) == {filters["user_id"]}
        if "team_id" in filters:
            assert set(found["team"]) == {team}


def test_cache_minimum_spend_and_request_id_filters(client, demo):
    window = LogWindow.days(SATURDAY, SATURDAY)
    everything = fetch_all(client, LogQuery(window), max_rows=100_000)
    hits = fetch_all(client, LogQuery(window, cache_hit="hit"), max_rows=100_000)
    misses = fetch_all(client, LogQuery(window, cache_hit="miss"), max_rows=100_000)
    assert len(hits) > 0 and hits["cache_hit"].all() and not misses["cache_hit"].any()
    assert set(hits["request_id"]) | set(misses["request_id"]) == set(everything["request_id"])
    dear = fetch_all(client, LogQuery(window, min_spend=0.005), max_rows=100_000)
    assert set(dear["request_id"]) == set(everything.loc[everything["spend"] >= 0.005, "request_id"]) != set()
    one = everything.iloc[17]
    found = fetch_all(client, LogQuery(window, request_id=one["request_id"]), max_rows=10)
    assert list(found["request_id"]) == [one["request_id"]]


# -- paging -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["time", "spend", "tokens", "duration"])
@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("sample_rows", [1000, 37], ids=["paged-here", "paged-by-litellm"])
def test_paging_covers_every_row_once_in_order(client, demo, sort, order, sample_rows):
    query = LogQuery(LogWindow.last(6 * 60, NOW), sort=sort, order=order, page_size=100)
    every = fetch_all(client, query, max_rows=100_000)
    assert 200 < len(every) < 1000
    ids = every_page(client, query, sample_rows=sample_rows)
    assert len(ids) == len(set(ids)) == len(every)
    if sample_rows == 1000:
        assert ids == list(every["request_id"])  # the export's order is the view's, equal values included
    column = {"time": "time", "spend": "spend", "tokens": "total_tokens", "duration": "duration_ms"}[sort]
    shown = every.set_index("request_id").loc[ids, column]
    steps = np.diff(shown.astype("int64" if sort == "time" else "float64").to_numpy())
    assert (steps <= 0).all() if order == "desc" else (steps >= 0).all()


def test_the_newest_page_of_a_large_window_costs_one_call(client, calls):
    view = load_view(client, LogQuery(LogWindow.last(7 * 24 * 60, NOW)))
    assert view.total_is_capped and view.total == 10_000
    assert len(calls.requests) == 1 and len(view.rows) == 50 and not view.sample_complete
    assert "newest 1,000 of more than 10,000 requests" in view.sample_text()
    assert view.chart_span() == (view.sample["time"].min(), view.query.window.end)  # what the charts cover
    load_view(client, LogQuery(LogWindow.last(7 * 24 * 60, NOW), page=40))
    assert [r.url.params["page_size"] for r in calls.requests[1:]] == ["1000", "50"]  # the sample, then page 40


def _row(i: int, spend: float, **over) -> dict:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC) + timedelta(seconds=i)
    return {
        "request_id": f"chatcmpl-{i:04d}",
        "call_type": "acompletion",
        "api_key": "c" * 64,
        "spend": spend,
        "total_tokens": 30,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "startTime": start.isoformat(),
        "endTime": (start + timedelta(milliseconds=400)).isoformat(),
        "completionStartTime": (start + timedelta(milliseconds=400)).isoformat(),
        "model": "openai/gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "user": "u1",
        "team_id": "",
        "metadata": {"user_api_key_alias": "ci-key", "status": None},
        "cache_hit": "None",
        "status": "success",
        "request_duration_ms": 400,
    } | over


class TiesShuffledLikeLiteLLM:
    """`/spend/logs/v2` ordering equal values differently on each page, as LiteLLM 1.108 does (its ORDER BY has
    no tie-breaker and PostgreSQL's top-N sort depends on LIMIT + OFFSET)."""

    def __init__(self, rows: list[dict], cap: int = 10_000):
        self.rows, self.cap = rows, cap

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        page, size = int(q["page"]), int(q["page_size"])
        column, desc = q["sort_by"], q["sort_order"] == "desc"
        if column == "startTime":
            ordered = sorted(self.rows, key=lambda r: r["startTime"], reverse=desc)
        else:
            shuffled = random.Random(page * 7919 + size).sample(self.rows, len(self.rows))
            ordered = sorted(shuffled, key=lambda r: r[column], reverse=desc)  # stable: ties keep the shuffle
        total = len(self.rows)
        return httpx.Response(
            200,
            json={
                "data": ordered[(page - 1) * size : page * size],
                "total": min(total, self.cap),
                "page": page,
                "page_size": size,
                "total_pages": -(-min(total, self.cap) // size),
                "total_is_capped": total > self.cap,
            },
        )


def test_equal_values_are_paged_exactly_once_where_litellm_repeats_them():
    rows = [_row(i, spend=[0.0, 0.001, 0.002][i % 3]) for i in range(60)]
    fake = TiesShuffledLikeLiteLLM(rows)
    client = LiteLLMClient("http://litellm", "k", transport=httpx.MockTransport(fake))
    query = LogQuery(LogWindow.days(TODAY, TODAY), sort="spend", page_size=50)
    # LiteLLM's own pages: one request twice, another never (what the view must not show)
    theirs = [r.request_id for p in (1, 2) for r in client.spend_logs(query.but(page=p).params()).data]
    assert len(set(theirs)) < len(theirs) == 60
    ids = every_page(client, query)
    assert sorted(ids) == sorted(r["request_id"] for r in rows)
    assert ids[:20] == sorted(r["request_id"] for r in rows if r["spend"] == 0.002)  # equal spends by request id
    # more requests than the sample: LiteLLM's pages, and the page says what that means
    view = load_view(client, query, sample_rows=10)
    assert not view.paged_here and "may do so differently from one page to the next" in view.notes[0]
    assert load_view(client, query.but(sort="time"), sample_rows=10).notes == []


# -- LiteLLM's answers --------------------------------------------------------------------------------------
def test_a_real_shaped_row_becomes_a_table_row():
    failure = _row(
        1,
        0.0,
        status="failure",
        model_group="broken-model",
        model="openai/gpt-4o",
        team_id="team-a",
        metadata=json.dumps(  # older LiteLLM: metadata as JSON text
            {
                "user_api_key_alias": '=HYPERLINK("http://x")',
                "error_information": {
                    "error_class": "InternalServerError",
                    "error_code": "500",
                    "error_message": "litellm.InternalServerError: Connection error.",
                },
            }
        ),
        startTime="2026-11-22T10:00:01",  # naive: UTC
    )
    streamed = _row(
        2,
        0.002,
        completionStartTime="2026-11-22T10:00:02.150+00:00",
        cache_hit="True",
        api_key="litellm_proxy_master_key",
        metadata={},
    )
    page = SpendLogsPage.model_validate({"data": [failure, streamed], "total": 2})
    df = to_frame(page.data)
    f, s = df.iloc[0], df.iloc[1]
    assert (f["status"], f["error_class"], f["error_code"]) == ("failure", "InternalServerError", "500")
    assert f["route"] == "broken-model → openai/gpt-4o (openai)" and f["team"] == "team-a"
    assert f["time"] == pd.Timestamp("2026-11-22T10:00:01Z")
    assert pd.isna(f["ttft_ms"])  # completion start = end: not streamed
    assert (s["ttft_ms"], s["duration_ms"], s["cache_hit"]) == (150.0, 400.0, True)
    assert (s["key"], s["route"], s["team"]) == (
        "LiteLLM master key",
        "gpt-4o-mini → openai/gpt-4o-mini (openai)",
        None,
    )
    assert pd.isna(s["error_class"])
    text = to_csv(df)
    assert '"\'=HYPERLINK(""http://x"")"' in text  # a spreadsheet reads it as text, not a formula


@pytest.mark.parametrize("missing", ["data", "total"])
def test_a_reply_without_its_rows_or_total_is_a_bad_response(missing):
    body = {"data": [_row(1, 0.0)], "total": 1}
    del body[missing]
    client = LiteLLMClient("http://l", "k", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    with pytest.raises(LiteLLMBadResponse, match=f"has no '{missing}'"):
        load_view(client, LogQuery(LogWindow.days(TODAY, TODAY)))


@pytest.mark.parametrize(
    "status, body",
    [
        (401, {"error": {"message": "Prisma Client is not initialized", "type": "internal_error", "code": "401"}}),
        (500, {"detail": {"error": "DB not connected. This endpoint needs a database; set DATABASE_URL"}}),
    ],
)
def test_litellm_without_a_database_is_named_as_such_and_not_retried(status, body):
    seen = Calls(lambda r: httpx.Response(status, json=body))
    client = LiteLLMClient("http://l", "k", transport=httpx.MockTransport(seen), sleep=lambda s: None)
    with pytest.raises(LiteLLMNoDatabase, match="has no database connected.*no spend logs"):
        load_view(client, LogQuery(LogWindow.days(TODAY, TODAY)))
    assert len(seen.requests) == 1


def test_an_empty_window_says_when_spend_logs_are_off():
    nothing = LiteLLMClient(
        "http://l",
        "k",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"data": [], "total": 0})),
    )
    query = LogQuery(LogWindow.last(60, NOW))
    reason = empty_reason(nothing, lambda first, last: 812, query)
    assert "counted 812 requests on 2026-11-22" in reason and "disable_spend_logs" in reason
    assert empty_reason(nothing, lambda first, last: 0, query) is None  # a quiet proxy
    assert empty_reason(nothing, lambda first, last: 812, query.but(status="failure")) is None  # a filter's doing
    some = LiteLLMClient(
        "http://l",
        "k",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"data": [], "total": 3})),
    )
    assert empty_reason(some, lambda first, last: 812, query) is None  # logs exist that day, not in this hour


# -- charts -------------------------------------------------------------------------------------------------
def test_charts_count_every_sampled_request_and_take_percentiles_per_minute(client):
    window = LogWindow.last(60, NOW)
    view = load_view(client, LogQuery(window))
    assert view.sample_complete and len(view.sample) == view.total > 100
    per_minute, minutes = charts.requests_per_minute(view.sample, window.start, window.end)
    assert minutes == 1 and per_minute["bucket"].nunique() == 61  # 11:00:00 to 12:00:00, quiet minutes too
    assert per_minute.groupby("status")["requests"].sum().to_dict() == view.sample["status"].value_counts().to_dict()
    latency, _ = charts.latency_percentiles(view.sample, window.start, window.end)
    ok = view.sample[view.sample["status"] == "success"]
    for row in latency.itertuples():
        in_minute = ok.loc[ok["time"].dt.floor("1min") == row.bucket, "duration_ms"]
        assert row.requests == len(in_minute)
        assert row.p50_ms == pytest.approx(np.percentile(in_minute, 50))
        assert row.p95_ms == pytest.approx(np.percentile(in_minute, 95))
    week = LogWindow.last(7 * 24 * 60, NOW)
    assert charts.bucket_minutes(week.start, week.end) == 120


# -- export -------------------------------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path):
    rt = Runtime(load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/app.db"}, secrets_path=None))
    yield rt.engine
    rt.close()


def test_the_export_is_the_filtered_view_every_page_in_its_order(client, demo, engine):
    query = LogQuery(LogWindow.days(SATURDAY, SATURDAY), model_group="gpt-4o", sort="spend", page_size=100)
    shown = every_page(client, query)
    name, text, rows = export_logs(engine, ADMIN, client, query, "csv", max_rows=100_000)
    got = list(csv.DictReader(io.StringIO(text)))
    assert rows == len(got) == len(shown) == sum(r["api_requests"] for r in daily(demo, SATURDAY, model_group="gpt-4o"))
    assert [r["Request id"] for r in got] == shown
    assert name == "request-logs-20261121T000000-to-20261121T235959.csv"
    _, text, _ = export_logs(engine, ADMIN, client, query, "json", max_rows=100_000)
    body = json.loads(text)
    assert [r["request_id"] for r in body["data"]] == shown
    assert body["metadata"]["filters"] == {"model_group": "gpt-4o"} and body["metadata"]["record_count"] == len(shown)
    audited = list_audit(engine, action="logs.export")
    assert list(audited["outcome"]) == ["success", "success"]
    details = audited.iloc[0]["details"]
    details = json.loads(details) if isinstance(details, str) else details
    assert details["rows"] == len(shown) and details["filters"] == {"model_group": "gpt-4o"}


def test_an_export_reports_progress_and_reads_past_litellms_count_cap():
    rows = [_row(i, 0.001) for i in range(25)]
    client = LiteLLMClient("http://l", "k", transport=httpx.MockTransport(TiesShuffledLikeLiteLLM(rows, cap=10)))
    seen = []
    df = fetch_all(client, LogQuery(LogWindow.days(TODAY, TODAY)), 1000, lambda n, t: seen.append((n, t)), page_size=4)
    assert sorted(df["request_id"]) == sorted(r["request_id"] for r in rows)
    assert seen == [(4 * i, None) for i in range(1, 7)] + [(25, None)]  # LiteLLM's total stops at its cap


def test_an_export_is_refused_to_a_user_and_too_large_ones_are_refused_and_audited(engine, calls, client):
    query = LogQuery(LogWindow.days(SATURDAY, SATURDAY))
    with pytest.raises(PermissionDenied, match="Admin access required to view and export request logs"):
        export_logs(engine, USER, client, query, "csv", max_rows=100_000)
    assert calls.requests == []  # refused before LiteLLM is asked
    with pytest.raises(LogsExportError, match="more than an export holds .LOGS_EXPORT_MAX_ROWS = 1,000."):
        export_logs(engine, ADMIN, client, query, "csv", max_rows=1000)
    audited = list_audit(engine, action="logs.export")
    assert list(audited["outcome"]) == ["failure", "denied"]


def test_the_export_fails_rather_than_leave_a_gap_when_pages_shift():
    rows = sorted([_row(i, 0.001) for i in range(12)], key=lambda r: r["startTime"], reverse=True)

    def shifting(request: httpx.Request) -> httpx.Response:  # a row of page 1 is deleted before page 2 is read
        page = int(request.url.params["page"])
        now_rows = rows if page == 1 else rows[:2] + rows[3:]
        return httpx.Response(200, json={"data": now_rows[(page - 1) * 5 : page * 5], "total": len(now_rows)})

    client = LiteLLMClient("http://l", "k", transport=httpx.MockTransport(shifting))
    with pytest.raises(LogsExportError, match="counted 12 matching requests but its pages listed 11"):
        fetch_all(client, LogQuery(LogWindow.days(TODAY, TODAY)), 1000, page_size=5)


# -- the demo fake itself ------------------------------------------------------------------------------------
def test_the_demo_logs_are_deterministic_and_realistic(demo):
    again = DemoLiteLLM(seed=42, today=TODAY, days=demo.days)
    again.spend_logs = DemoSpendLogs(again, MODELS, 0.55, now=lambda: NOW)
    other = DemoLiteLLM(seed=7, today=TODAY, days=demo.days)
    other.spend_logs = DemoSpendLogs(other, MODELS, 0.55, now=lambda: NOW)
    day = demo.spend_logs.day(SATURDAY)
    assert day.equals(again.spend_logs.day(SATURDAY)) and not day["request_id"].equals(
        other.spend_logs.day(SATURDAY)["request_id"]
    )
    assert day["request_id"].is_unique and day["call_id"].is_unique
    hours = pd.to_datetime(day["t"], unit="ms").dt.hour.value_counts().reindex(range(24), fill_value=0)
    assert hours.loc[9:16].mean() > 3 * hours.loc[0:4].mean()  # a working day
    assert 0.2 < day.loc[~day["failed"] & (day["ttft_ms"].notna()), "t"].size / (~day["failed"]).sum() < 0.5
    assert day.loc[day["failed"], "spend"].eq(0).all() and day.loc[day["cache_hit"], "spend"].eq(0).all()


def test_the_demo_keeps_prompts_for_recent_days_only(client, demo):
    recent = fetch_all(client, LogQuery(LogWindow.last(60, NOW), status="success"), 5000).iloc[0]
    old = fetch_all(client, LogQuery(LogWindow.days(date(2026, 11, 10), date(2026, 11, 10))), 100_000).iloc[0]
    prompt, response = prompt_and_response(client.request_payload(recent["request_id"]))
    assert prompt[0]["content"] in PROMPTS and response["choices"][0]["message"]["content"]
    failed = fetch_all(client, LogQuery(LogWindow.last(60, NOW), status="failure"), 5000).iloc[0]
    prompt, response = prompt_and_response(client.request_payload(failed["request_id"]))
    assert prompt[0]["content"] in PROMPTS and response is None  # a failure: its prompt, no response
    assert prompt_and_response(client.request_payload(old["request_id"])) is None  # before prompts were kept
    assert client.request_payload("chatcmpl-unknown") is None


def test_the_demo_answers_bad_parameters_like_litellm(client):
    bad = {"start_date": "2026-11-22 00:00:00", "end_date": "2026-11-22 23:59:59"}
    http = httpx.Client(
        transport=client._http._transport, base_url="http://demo", headers={"Authorization": "Bearer k"}
    )
    r = http.get("/spend/logs/v2", params=bad | {"sort_by": "cost"})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("Invalid sort_by: cost.")
    r = http.get("/spend/logs/v2", params=bad | {"page_size": 1001})
    assert r.status_code == 422
    r = http.get("/spend/logs/v2", params={"start_date": "2026-11-22 00:00:00.5", "end_date": "2026-11-22"})
    assert r.status_code == 400 and "Invalid date format" in r.text
    # a bare end date is that day's midnight: the day itself is left out (why the console sends 23:59:59)
    r = http.get("/spend/logs/v2", params={"start_date": "2026-11-21", "end_date": "2026-11-21"})
    assert r.json()["total"] == 0
    assert http.get("/spend/logs/v2", params=bad, headers={"Authorization": ""}).status_code == 401
