"""Ingest from the real LiteLLM proxy equals LiteLLM's own aggregated totals, to the cent and the token."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest

from lib.litellm.client import LiteLLMAuthError, LiteLLMClient
from lib.usage.ingest import backfill
from lib.usage.queries import Filters, breakdown, overview
from lib.usage.store import UsageStore

pytestmark = pytest.mark.litellm

# our breakdown name -> (LiteLLM breakdown key, our key column)
BREAKDOWNS = {
    "model": ("models", "model"),
    "model_group": ("model_groups", "model_group"),
    "provider": ("providers", "provider"),
    "api_key": ("api_keys", "api_key"),
    "user": ("entities", "user_id"),
}
COUNTS = {
    "requests": "api_requests",
    "successful_requests": "successful_requests",
    "failed_requests": "failed_requests",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
    "cache_creation_input_tokens": "cache_creation_input_tokens",
}


@pytest.fixture(scope="module")
def client(litellm_harness):
    c = LiteLLMClient(litellm_harness["LITELLM_BASE_URL"], litellm_harness["LITELLM_MASTER_KEY"], timeout_s=30)
    _wait_until_settled(c)
    yield c
    c.close()


def _wait_until_settled(client, quiet_s: float = 5.0, limit_s: float = 60.0) -> None:
    """Earlier tests (config probes, model tests) send requests through the same proxy, and LiteLLM
    writes spend to its daily table in batches (every 2 s): wait until its totals stop moving."""
    start, end = _range()
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    deadline = time.monotonic() + limit_s
    last = client._get_json("/user/daily/activity/aggregated", params)["metadata"]
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = client._get_json("/user/daily/activity/aggregated", params)["metadata"]
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return
    raise AssertionError("LiteLLM's daily totals kept changing for a minute; is traffic still running?")


def _range():
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=1), today


def _oracle(client) -> tuple[dict, dict]:
    start, end = _range()
    raw = client._get_json(
        "/user/daily/activity/aggregated", {"start_date": start.isoformat(), "end_date": end.isoformat()}
    )
    per_dim: dict[str, dict[str, dict]] = {}
    for res in raw["results"]:
        for name, entries in res["breakdown"].items():
            for value, entry in entries.items():
                acc = per_dim.setdefault(name, {}).setdefault(value, {})
                for k, v in entry["metrics"].items():
                    if isinstance(v, (int, float)):
                        acc[k] = acc.get(k, 0) + v
    return raw["metadata"], per_dim


@pytest.mark.parametrize("page_size", [1000, 2])
def test_ingest_equals_litellm_aggregated(client, tmp_path, page_size):
    start, end = _range()
    store = UsageStore(tmp_path / "store")
    summary = backfill(client, store, start, end, page_size=page_size, concurrency=2)
    meta, per_dim = _oracle(client)
    if page_size == 2:
        assert summary.pages > 3, "a tiny page size must split the day across pages"

    total = overview(store, start, end)
    assert total["requests"] == meta["total_api_requests"] >= 40
    assert total["successful_requests"] == meta["total_successful_requests"]
    assert total["failed_requests"] == meta["total_failed_requests"] > 0  # broken-model always fails
    assert total["prompt_tokens"] == meta["total_prompt_tokens"]
    assert total["completion_tokens"] == meta["total_completion_tokens"]
    assert total["total_tokens"] == meta["total_tokens"]
    assert total["spend"] == pytest.approx(meta["total_spend"], abs=1e-9)
    assert total["avg_latency_ms"] == pytest.approx(meta["total_response_time_ms"] / meta["total_timed_requests"])

    for by, (litellm_name, column) in BREAKDOWNS.items():
        ours = breakdown(store, start, end, by=by).set_index(column)
        theirs = per_dim[litellm_name]
        assert set(ours.index) == set(theirs), by
        for value, m in theirs.items():
            row = ours.loc[value]
            for our_name, their_name in COUNTS.items():
                assert row[our_name] == m[their_name], (by, value, our_name)
            assert row["spend"] == pytest.approx(m["spend"], abs=1e-9), (by, value)
            if m.get("timed_requests"):
                assert row["avg_latency_ms"] == pytest.approx(m["total_response_time_ms"] / m["timed_requests"])


def test_filter_by_api_key_alias_matches_litellm_key_totals(client, litellm_harness, tmp_path):
    start, end = _range()
    store = UsageStore(tmp_path / "store")
    backfill(client, store, start, end, page_size=5)
    _, per_dim = _oracle(client)
    key = litellm_harness["traffic"]["keys"][0]
    f = Filters.of(api_keys=[key["hash"]])
    by_model = breakdown(store, start, end, f, by="model")
    # the key's per-model split summed is the key's own total in LiteLLM
    assert by_model["requests"].sum() == per_dim["api_keys"][key["hash"]]["api_requests"]
    assert by_model["spend"].sum() == pytest.approx(per_dim["api_keys"][key["hash"]]["spend"], abs=1e-9)
    user = key["user_id"]
    by_key = breakdown(store, start, end, Filters.of(users=[user]), by="api_key")
    assert set(by_key["api_key"]) <= {k["hash"] for k in litellm_harness["traffic"]["keys"] if k["user_id"] == user}
    assert by_key["requests"].sum() == per_dim["entities"][user]["api_requests"]


def test_wrong_key_is_an_auth_error(litellm_harness):
    with LiteLLMClient(litellm_harness["LITELLM_BASE_URL"], "sk-wrong", timeout_s=10) as bad:
        with pytest.raises(LiteLLMAuthError) as err:
            bad.daily_activity_body(date.today(), date.today())
    assert "sk-wrong" not in str(err.value)


def test_reingest_changes_nothing(client, tmp_path):
    start, end = _range()
    store = UsageStore(tmp_path / "store")
    backfill(client, store, start, end, page_size=7)
    before = store.query("SELECT * FROM activity ORDER BY ALL")
    backfill(client, store, start, end, page_size=7, force=True)
    assert before.equals(store.query("SELECT * FROM activity ORDER BY ALL")), "same pages, same bytes"

    # Other page boundaries: LiteLLM sums each page's rows in its own order, so a float total may differ in
    # the last bit (0.0032052999999999995 against 0.0032053); everything else stays identical.
    backfill(client, store, start, end, page_size=3, force=True)
    after = store.query("SELECT * FROM activity ORDER BY ALL")
    floats = [c for c in before.columns if before[c].dtype.kind == "f"]
    assert floats, "spend is a float column"
    assert before.drop(columns=floats).equals(after.drop(columns=floats))
    for c in floats:
        assert after[c].to_numpy() == pytest.approx(before[c].to_numpy(), rel=1e-12, abs=1e-15), c
