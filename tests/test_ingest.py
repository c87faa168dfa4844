"""Ingest: page merging, day replacement, complete vs partial days, failures leaving data intact."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from lib.litellm.client import LiteLLMClient
from lib.litellm.demo import demo_transport
from lib.usage.activity_sql import merge_pages
from lib.usage.ingest import IngestError, backfill, day_status, days_to_fetch, refresh_today
from lib.usage.queries import breakdown, overview
from lib.usage.store import UsageStore

FIXTURES = Path(__file__).parent / "fixtures"
AGG = json.loads((FIXTURES / "activity_aggregated_1_108.json").read_text())
DAY = date.fromisoformat(AGG["results"][0]["date"])


def _body(page: dict) -> bytes:
    return json.dumps(page).encode()


def _split_entry(entry: dict, keep: set[str]) -> tuple[dict, dict]:
    """Split one breakdown entry's key split in two, as two pages of LiteLLM would show it."""

    def part(keys):
        kb = {k: v for k, v in entry["api_key_breakdown"].items() if k in keys}
        metrics = {m: sum(v["metrics"][m] for v in kb.values()) for m in entry["metrics"]}
        return {"metrics": metrics, "metadata": entry.get("metadata", {}), "api_key_breakdown": kb}

    keys = set(entry["api_key_breakdown"])
    return part(keys & keep), part(keys - keep)


def _two_pages(agg: dict) -> list[dict]:
    """The aggregated day, split by API key into two pages, each page's metadata covering only itself."""
    res = agg["results"][0]
    all_keys = sorted(res["breakdown"]["api_keys"])
    keep = set(all_keys[: len(all_keys) // 2])
    pages = []
    for i in (0, 1):
        bd = {}
        for name, entries in res["breakdown"].items():
            if name == "api_keys":
                bd[name] = {k: v for k, v in entries.items() if (k in keep) == (i == 0)}
            elif name in ("models", "model_groups", "providers", "entities"):
                bd[name] = {}
                for value, entry in entries.items():
                    p = _split_entry(entry, keep)[i]
                    if p["api_key_breakdown"]:
                        bd[name][value] = p
            else:
                bd[name] = {}
        metrics = {m: sum(v["metrics"][m] for v in bd["api_keys"].values()) for m in res["metrics"]}
        pages.append(
            {
                "results": [{"date": res["date"], "metrics": metrics, "breakdown": bd}],
                "metadata": {"page": i + 1, "total_pages": 2, "has_more": i == 0},
            }
        )
    return pages


def _as_table(tables):
    return {d: t.to_pandas().sort_values(["dim", "value", "api_key"]).reset_index(drop=True) for d, t in tables.items()}


def test_a_date_split_across_pages_merges_to_the_same_rows():
    whole = merge_pages([_body(AGG)])
    pages = _two_pages(AGG)
    assert {d["results"][0]["date"] for d in pages} == {DAY.isoformat()}  # same date on both pages
    split = merge_pages([_body(p) for p in pages])
    a, b = _as_table(whole)[DAY], _as_table(split)[DAY]
    assert len(a) == len(b)
    for col in ["api_requests", "prompt_tokens", "completion_tokens", "successful_requests", "failed_requests"]:
        assert (a[col].values == b[col].values).all(), col
    assert a["spend"].sum() == pytest.approx(b["spend"].sum(), abs=1e-12)


def test_every_breakdown_totals_the_day(tmp_path):
    store = UsageStore(tmp_path)
    tables = merge_pages([_body(AGG)])
    store.replace_days(tables, {DAY: "complete"}, datetime.now(timezone.utc))
    meta = AGG["metadata"]
    for by in ("model", "model_group", "provider", "user", "api_key", "team", "daily"):
        df = breakdown(store, DAY, DAY, by=by)
        assert df["requests"].sum() == meta["total_api_requests"], by
        assert df["spend"].sum() == pytest.approx(meta["total_spend"], abs=1e-12), by


def test_old_litellm_shape_keeps_exact_totals(tmp_path):
    """1.74-like: no model_groups/entities, no latency fields, some entries without a key split."""
    old = copy.deepcopy(AGG)
    res = old["results"][0]
    for name in ("model_groups", "entities", "endpoints", "mcp_servers"):
        res["breakdown"].pop(name)
    for entry in res["breakdown"]["models"].values():
        entry.pop("api_key_breakdown")

    def strip(m):
        for k in ("total_response_time_ms", "timed_requests", "flat_cost", "ptu_hours"):
            m.pop(k, None)

    strip(res["metrics"])
    for entries in res["breakdown"].values():
        for e in entries.values():
            strip(e["metrics"])
            for kb in e.get("api_key_breakdown", {}).values():
                strip(kb["metrics"])
    res["metrics"]["some_future_metric"] = 7
    store = UsageStore(tmp_path)
    store.replace_days(merge_pages([_body(old)]), {DAY: "complete"}, datetime.now(timezone.utc))
    by_model = breakdown(store, DAY, DAY, by="model")
    assert by_model["requests"].sum() == AGG["metadata"]["total_api_requests"]
    assert by_model["avg_latency_ms"].isna().all()  # unknown, not zero
    assert overview(store, DAY, DAY)["avg_latency_ms"] is None


class FakeLiteLLM:
    """Serves the fixture day through the real client; can be switched off to simulate an outage."""

    def __init__(self, days: dict[date, dict] | None = None):
        self.days = days or {DAY: AGG["results"][0]}
        self.down = False
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("connection refused")
        q = request.url.params
        start, end = date.fromisoformat(q["start_date"]), date.fromisoformat(q["end_date"])
        results = [r for d, r in sorted(self.days.items()) if start <= d <= end]
        return httpx.Response(200, json={"results": results, "metadata": {"page": 1, "total_pages": 1}})

    def client(self) -> LiteLLMClient:
        return LiteLLMClient(
            "http://litellm.test", "sk-test", transport=httpx.MockTransport(self), retries=1, sleep=lambda s: None
        )


def test_reingest_is_idempotent_and_empty_days_are_recorded(tmp_path):
    fake, store = FakeLiteLLM(), UsageStore(tmp_path)
    start = DAY - timedelta(days=3)
    backfill(fake.client(), store, start, DAY, force=True)
    first = store.query("SELECT * FROM activity ORDER BY ALL")
    files = {p.name: p.read_bytes() for p in (tmp_path / "days").iterdir()}
    backfill(fake.client(), store, start, DAY, force=True)
    assert store.query("SELECT * FROM activity ORDER BY ALL").equals(first)
    assert {p.name: p.read_bytes() for p in (tmp_path / "days").iterdir()} == files
    states = store.day_states()
    assert sorted(states) == [start + timedelta(days=i) for i in range(4)]
    assert [states[d].rows for d in sorted(states)][:3] == [0, 0, 0]  # no activity is still a known day


def test_complete_days_are_not_fetched_again_partial_days_are(tmp_path):
    fake, store = FakeLiteLLM(), UsageStore(tmp_path)
    yesterday = DAY - timedelta(days=1)
    # fetched during DAY: yesterday is complete only if fetched after its end + grace
    during_day = datetime(DAY.year, DAY.month, DAY.day, 0, 30, tzinfo=timezone.utc)
    backfill(fake.client(), store, yesterday, DAY, now=lambda: during_day, grace_minutes=60)
    states = store.day_states()
    assert states[yesterday].status == "partial" and states[DAY].status == "partial"
    later = during_day + timedelta(hours=1)
    backfill(fake.client(), store, yesterday, DAY, now=lambda: later, grace_minutes=60)
    assert store.day_states()[yesterday].status == "complete"
    assert days_to_fetch(store, yesterday, DAY) == [DAY]
    calls = fake.calls
    backfill(fake.client(), store, yesterday, yesterday)
    assert fake.calls == calls  # complete day: no call at all
    backfill(fake.client(), store, yesterday, yesterday, force=True)
    assert fake.calls == calls + 1  # an admin's rebuild re-fetches


def test_day_status_uses_utc_day_end_plus_grace():
    d = date(2026, 3, 1)
    end = datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert day_status(d, end + timedelta(minutes=59), 60) == "partial"
    assert day_status(d, end + timedelta(minutes=60), 60) == "complete"


def test_litellm_down_during_refresh_leaves_stored_data_untouched(tmp_path):
    fake, store = FakeLiteLLM(), UsageStore(tmp_path)

    def now():
        return datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=timezone.utc)

    refresh_today(fake.client(), store, now=now)
    before = store.query("SELECT * FROM activity ORDER BY ALL")
    states = store.day_states()
    fake.down = True
    with pytest.raises(IngestError) as err:
        refresh_today(fake.client(), store, now=now)
    assert "Cannot reach LiteLLM" in str(err.value)
    assert store.query("SELECT * FROM activity ORDER BY ALL").equals(before)
    assert store.day_states() == states
    fake.down = False
    refresh_today(fake.client(), store, now=now)  # the next run retries and succeeds
    assert store.day_states()[DAY].version > states[DAY].version


def test_a_spend_out_of_range_fails_the_refresh_and_changes_nothing(tmp_path):
    fake, store = FakeLiteLLM(), UsageStore(tmp_path)

    def now():
        return datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=timezone.utc)

    refresh_today(fake.client(), store, now=now)
    before, states = store.query("SELECT * FROM activity ORDER BY ALL"), store.day_states()
    broken = copy.deepcopy(AGG["results"][0])
    model, entry = next(iter(broken["breakdown"]["models"].items()))
    first_key = next(iter(entry["api_key_breakdown"]))
    entry["api_key_breakdown"][first_key]["metrics"]["spend"] = 1e16  # finite, but no proxy spends it
    fake.days = {DAY: broken}
    with pytest.raises(IngestError, match=f"out of range on {DAY} \\(model '{model}': spend 1e\\+16"):
        refresh_today(fake.client(), store, now=now)
    assert store.query("SELECT * FROM activity ORDER BY ALL").equals(before)
    assert store.day_states() == states
    assert overview(store, DAY, DAY)["spend"] == pytest.approx(AGG["results"][0]["metrics"]["spend"], abs=1e-9)


def test_a_second_process_view_sees_writes(tmp_path):
    """Two UsageStore instances (as two processes would) over one folder: writes become visible."""
    writer, reader = UsageStore(tmp_path), UsageStore(tmp_path)
    assert overview(reader, DAY, DAY)["requests"] == 0
    writer.replace_days(merge_pages([_body(AGG)]), {DAY: "partial"}, datetime.now(timezone.utc))
    assert overview(reader, DAY, DAY)["requests"] == AGG["metadata"]["total_api_requests"]


def _day(day: str, key: str, meta: dict, requests: int, spend: float) -> dict:
    m = {"spend": spend, "api_requests": requests, "successful_requests": requests, "total_tokens": 10 * requests}
    kb = {key: {"metrics": m, "metadata": meta}}
    return {
        "date": day,
        "metrics": m,
        "breakdown": {
            "models": {"openai/gpt-4o": {"metrics": m, "api_key_breakdown": kb}},
            "providers": {"openai": {"metrics": m, "api_key_breakdown": kb}},
            "api_keys": kb,
        },
    }


def test_a_key_takes_the_first_known_value_of_each_field_and_pages_may_come_back_out_of_date_order():
    k = "k" * 64
    meta = {"page": 1, "total_pages": 2, "has_more": True}
    pages = [
        {"results": [_day("2026-11-02", k, {"key_alias": "ci", "team_id": None}, 3, 0.1)], "metadata": meta},
        {
            "results": [
                _day("2026-11-01", k, {"key_alias": "old-ci", "team_id": "red"}, 5, 0.2),
                _day("2026-11-02", k, {"key_alias": "other", "team_id": "blue", "user_id": "ann"}, 4, 0.2),
            ],
            "metadata": meta | {"page": 2, "has_more": False},
        },
    ]
    tables = merge_pages([_body(p) for p in pages])
    assert sorted(tables) == [date(2026, 11, 1), date(2026, 11, 2)]
    first, second = (tables[d].to_pandas() for d in sorted(tables))
    assert set(first["key_alias"]) == {"old-ci"} and set(first["team_id"]) == {"red"}
    # 2 Nov: alias from the first page, team and owner only the second page knew
    assert set(second["key_alias"]) == {"ci"} and set(second["team_id"]) == {"blue"}
    assert set(second["key_user_id"]) == {"ann"}
    by_dim = second.set_index("dim")
    assert by_dim.loc["model", "api_requests"] == 7 and by_dim.loc["api_key", "api_requests"] == 7
    assert by_dim.loc["model", "spend"] == 0.1 + 0.2 and by_dim.loc["model", "provider"] == "openai"
    assert set(first["api_requests"]) == {5}


def test_a_write_only_store_writes_days_that_a_serving_store_then_answers(tmp_path):
    serving = UsageStore(tmp_path)
    assert overview(serving, DAY, DAY)["requests"] == 0
    writer = UsageStore.writer(tmp_path)  # what the CLI's backfill uses beside a running app
    writer.replace_days(merge_pages([_body(AGG)]), {DAY: "complete"}, datetime.now(timezone.utc))
    assert writer.query("SELECT count(*) AS n FROM activity")["n"].iloc[0] == 0  # loaded nothing itself
    assert overview(serving, DAY, DAY)["requests"] == AGG["metadata"]["total_api_requests"]


def test_a_new_usage_store_folder_is_private(tmp_path, umask_022):
    """The store holds users' e-mails, key aliases and spend: its folder is the app user's only."""
    UsageStore(tmp_path / "data" / "usage").close()
    assert [(tmp_path / "data" / "usage").stat().st_mode & 0o777, (tmp_path / "data").stat().st_mode & 0o777] == [
        0o700,
        0o700,
    ]


def _store_files(store_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store_dir)): p.read_bytes() for p in sorted(store_dir.rglob("*")) if p.is_file()}


class ErrorReply(FakeLiteLLM):
    """A LiteLLM whose database is down but which still answers 200 with a JSON error object."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(200, json={"error": "upstream database unavailable"})


def test_a_reply_without_results_fails_the_refresh_and_keeps_todays_rows(tmp_path):
    store = UsageStore(tmp_path)

    def now():
        return datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=timezone.utc)

    refresh_today(FakeLiteLLM().client(), store, now=now)
    files, states = _store_files(tmp_path), store.day_states()
    with pytest.raises(IngestError, match="/user/daily/activity response has no 'metadata'"):
        refresh_today(ErrorReply().client(), store, now=now)
    assert _store_files(tmp_path) == files and store.day_states() == states
    assert overview(store, DAY, DAY)["requests"] == AGG["metadata"]["total_api_requests"]


@pytest.mark.parametrize(
    "body, missing",
    [
        ({"results": [AGG["results"][0]]}, "metadata"),
        ({"results": [AGG["results"][0]], "metadata": {"page": 2, "has_more": False}}, "metadata.total_pages"),
        (
            {"results": [AGG["results"][0]], "metadata": {"page": 2, "total_pages": None, "has_more": False}},
            "metadata.total_pages",
        ),
        ({"results": None, "metadata": {"page": 2, "total_pages": 2, "has_more": False}}, "results"),
        ({"metadata": {"page": 2, "total_pages": 2, "has_more": False}}, "results"),
    ],
)
def test_a_later_page_missing_a_required_field_fails_the_range(tmp_path, body, missing):
    """Page 1 decides how many pages there are; every page must still be an activity page."""
    first = {"results": [], "metadata": {"page": 1, "total_pages": 2, "has_more": True}}
    replies = iter([first, body])
    client = LiteLLMClient(
        "http://litellm.test",
        "sk-test",
        retries=0,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=next(replies))),
    )
    store = UsageStore(tmp_path)
    with pytest.raises(IngestError, match=f"'{missing}'"):
        backfill(client, store, DAY, DAY, force=True)
    assert store.day_states() == {}


def test_a_failed_backfill_is_recorded_and_shown_and_the_store_is_unchanged(tmp_path, monkeypatch):
    from lib import services
    from lib.core.jobs import freshness, last_run
    from lib.core.settings import load_settings
    from lib.runtime import Runtime

    rt = Runtime(
        load_settings(
            {
                "LITELLM_BASE_URL": "http://litellm.test",
                "LITELLM_API_KEY": "sk-test",
                "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
                "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            },
            secrets_path=None,
        )
    )
    store_dir = rt.settings.store_dir
    monkeypatch.setattr(rt, "litellm_client", lambda: FakeLiteLLM().client())
    services.run_backfill(rt, "startup", start=DAY, end=DAY)
    files = _store_files(store_dir)
    monkeypatch.setattr(rt, "litellm_client", lambda: ErrorReply().client())
    with pytest.raises(IngestError):
        services.run_backfill(rt, "alice", start=DAY, end=DAY, force=True)
    run = last_run(rt.engine, "backfill")
    assert run["status"] == "failed" and "/user/daily/activity" in run["error"] and "has no '" in run["error"]
    shown = freshness(rt.engine)
    assert shown["failed"] and shown["error"] == run["error"]
    assert _store_files(store_dir) == files


def test_a_backfill_fetches_the_newest_days_first(tmp_path):
    """While a long history loads, the last days (the Usage page's default range) are stored first."""
    today = date(2026, 3, 1)
    demo, asked = demo_transport(today=today, days=30), []

    def litellm(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params.get("start_date"))
        return demo.handler(request)

    client = LiteLLMClient("http://demo", "k", transport=httpx.MockTransport(litellm))
    backfill(client, UsageStore(tmp_path / "s"), today - timedelta(days=27), today, concurrency=1)
    starts = list(dict.fromkeys(asked))  # a range of several pages asks once per page
    assert starts == [str(today - timedelta(days=n)) for n in (6, 13, 20, 27)]
