"""Demo mode's fake LiteLLM: realistic, deterministic, and paged exactly like LiteLLM."""

from collections import Counter
from datetime import date, timedelta

import httpx
import pytest

from lib.litellm.demo import DemoLiteLLM, demo_transport

TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def demo():
    return DemoLiteLLM(seed=42, today=TODAY)


def _client(transport, auth=True):
    return httpx.Client(
        transport=transport, base_url="http://demo", headers={"Authorization": "Bearer k"} if auth else {}
    )


def test_deterministic_per_seed():
    a, b, c = (DemoLiteLLM(seed=s, today=TODAY, days=20) for s in (1, 1, 2))
    assert a.rows == b.rows and a.rows != c.rows


def test_realistic_shape(demo):
    days = {r["date"] for r in demo.rows}
    assert len(days) >= 90
    assert len({r["user_id"] for r in demo.rows}) >= 30
    assert len({r["api_key"] for r in demo.rows}) >= 50
    assert len({r["model"] for r in demo.rows}) >= 5 and len({r["custom_llm_provider"] for r in demo.rows}) >= 4
    assert sum(r["failed_requests"] for r in demo.rows) > 0
    assert sum(r["cache_read_input_tokens"] for r in demo.rows) > 0
    per_weekday = Counter()
    for r in demo.rows:
        per_weekday[date.fromisoformat(r["date"]).weekday() >= 5] += r["api_requests"]
    assert per_weekday[False] / 5 > 2 * per_weekday[True] / 2  # weekdays busier than weekends
    assert all(r["spend"] == 0 for r in demo.rows if r["successful_requests"] == 0)


def test_pages_count_rows_and_merge_to_the_aggregate(demo):
    client = _client(httpx.MockTransport(demo.handle))
    start, end = TODAY - timedelta(days=2), TODAY
    params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "page_size": 7}
    first = client.get("/user/daily/activity", params=params | {"page": 1}).json()
    pages = [first] + [
        client.get("/user/daily/activity", params=params | {"page": p}).json()
        for p in range(2, first["metadata"]["total_pages"] + 1)
    ]
    dates_per_page = [{r["date"] for r in p["results"]} for p in pages]
    assert any(len([s for s in dates_per_page if d in s]) > 1 for d in set().union(*dates_per_page))
    for p in pages:
        assert p["metadata"]["total_api_requests"] == sum(r["metrics"]["api_requests"] for r in p["results"])
    agg = client.get(
        "/user/daily/activity/aggregated", params={"start_date": start.isoformat(), "end_date": end.isoformat()}
    ).json()
    assert sum(p["metadata"]["total_api_requests"] for p in pages) == agg["metadata"]["total_api_requests"] > 0
    for res in agg["results"]:
        for name in ("models", "model_groups", "providers", "entities"):
            for entry in res["breakdown"][name].values():
                assert entry["metrics"]["api_requests"] == sum(
                    kb["metrics"]["api_requests"] for kb in entry["api_key_breakdown"].values()
                )


def test_errors_like_litellm(demo):
    t = httpx.MockTransport(demo.handle)
    assert _client(t, auth=False).get("/user/daily/activity").status_code == 401
    r = _client(t).get(
        "/user/daily/activity", params={"start_date": "2026-11-01", "end_date": "2026-11-02", "page_size": 5000}
    )
    assert r.status_code == 422
    assert _client(t).get("/nope").status_code == 404


def test_model_info_never_has_keys():
    client = _client(demo_transport(today=TODAY, days=10))
    data = client.get("/model/info").json()["data"]
    assert data and all("api_key" not in d["litellm_params"] for d in data)
    names = {m["id"] for m in client.get("/v1/models").json()["data"]}
    assert "fast-chat" in names and "fast-chat" not in {d["model_name"] for d in data}
