"""The LiteLLM client's failure kinds: each one a clear, actionable message that never carries the key."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pandas as pd
import pytest

from lib.litellm.client import LiteLLMAuthError, LiteLLMBadResponse, LiteLLMClient, LiteLLMTimeout, LiteLLMUnreachable
from lib.usage.activity_sql import merge_pages
from lib.usage.ingest import fetch_range
from tests.support.ports import free_port

KEY = "sk-very-secret-master-key-123"
DAY = date(2026, 11, 20)


class Proxy:
    """A scripted LiteLLM: answers the queued responses in order and records every request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(proxy: Proxy, **kw) -> tuple[LiteLLMClient, list[float]]:
    slept: list[float] = []
    c = LiteLLMClient(
        "http://litellm.test:4000/", KEY, timeout_s=3, transport=httpx.MockTransport(proxy), sleep=slept.append, **kw
    )
    return c, slept


def page(results=None, total_pages=1) -> httpx.Response:
    return httpx.Response(200, json={"results": results or [], "metadata": {"page": 1, "total_pages": total_pages}})


def test_bearer_key_and_query_are_sent():
    proxy = Proxy(page())
    c, _ = client(proxy)
    c.daily_activity_body(DAY, DAY, page=2, page_size=1000)
    req = proxy.requests[0]
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.url.path == "/user/daily/activity"
    assert dict(req.url.params) == {
        "start_date": "2026-11-20",
        "end_date": "2026-11-20",
        "page": "2",
        "page_size": "1000",
    }


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_an_auth_error_at_once(status):
    proxy = Proxy(httpx.Response(status, json={"error": {"message": f"Authentication Error, {KEY} invalid"}}))
    c, slept = client(proxy)
    with pytest.raises(LiteLLMAuthError) as err:
        c.daily_activity_body(DAY, DAY)
    assert len(proxy.requests) == 1 and slept == []  # no retry on a refused key
    assert "LITELLM_API_KEY" in str(err.value) and KEY not in str(err.value)


@pytest.mark.parametrize("status", [404, 422])
def test_other_client_errors_are_not_retried(status):
    proxy = Proxy(httpx.Response(status, json={"detail": "page_size must be <= 1000"}))
    c, slept = client(proxy)
    with pytest.raises(LiteLLMBadResponse) as err:
        c.daily_activity_body(DAY, DAY)
    assert len(proxy.requests) == 1 and slept == []
    assert str(status) in str(err.value) and "page_size must be <= 1000" in str(err.value)


def test_server_errors_are_retried_with_growing_delays_then_reported():
    proxy = Proxy(httpx.Response(503, text="upstream overloaded"))
    c, slept = client(proxy, retries=3, backoff_s=0.5)
    with pytest.raises(LiteLLMBadResponse) as err:
        c.daily_activity_body(DAY, DAY)
    assert len(proxy.requests) == 4
    assert slept == sorted(slept) and slept[0] > 0 and slept[-1] > slept[0]
    assert "503" in str(err.value) and "4 tries" in str(err.value) and KEY not in str(err.value)


def test_a_server_error_then_success_returns_the_data():
    proxy = Proxy(
        httpx.Response(500, text="oops"),
        httpx.Response(502, text="bad gateway"),
        page([{"date": "2026-11-20", "metrics": {"spend": 1.5, "api_requests": 3}}]),
    )
    c, slept = client(proxy)
    got = json.loads(c.daily_activity_body(DAY, DAY))
    assert len(proxy.requests) == 3 and len(slept) == 2
    assert got["results"][0]["metrics"] == {"spend": 1.5, "api_requests": 3}


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect timed out")])
def test_timeouts_are_retried_then_name_the_setting(exc):
    proxy = Proxy(exc)
    c, slept = client(proxy, retries=2)
    with pytest.raises(LiteLLMTimeout) as err:
        c.daily_activity_body(DAY, DAY)
    assert len(proxy.requests) == 3 and len(slept) == 2
    assert "LITELLM_TIMEOUT_S" in str(err.value) and "3" in str(err.value) and KEY not in str(err.value)


def test_a_closed_port_is_unreachable_with_the_url():
    port = free_port()  # nothing listens there
    slept: list[float] = []
    c = LiteLLMClient(f"http://127.0.0.1:{port}", KEY, timeout_s=3, retries=1, sleep=slept.append)
    with pytest.raises(LiteLLMUnreachable) as err:
        c.daily_activity_body(DAY, DAY)
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "LITELLM_BASE_URL" in message and KEY not in message
    assert len(slept) == 1


def read_pages(c) -> dict:
    """What ingest does with a range: every page's body, merged (lib/usage/activity_sql.py)."""
    return merge_pages(fetch_range(c, DAY, DAY))


KEY_SPLIT = {"sk-hash": {"metrics": {"spend": "a lot"}, "metadata": {}}}
META = {"page": 1, "total_pages": 1, "has_more": False}


def activity(results) -> dict:
    return {"results": results, "metadata": META}


@pytest.mark.parametrize(
    "body, where",
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (json.dumps(activity({"2026-11-20": {}})).encode(), "results"),
        (json.dumps(activity([{"date": "yesterday"}])).encode(), "date"),
        (json.dumps(activity([{"date": "2026-11-20", "metrics": {"spend": "a lot"}}])).encode(), "spend"),
        (
            json.dumps(
                activity(
                    [
                        {
                            "date": "2026-11-20",
                            "breakdown": {"models": {"gpt-4o": {"metrics": {}, "api_key_breakdown": KEY_SPLIT}}},
                        }
                    ]
                )
            ).encode(),
            "api_key_breakdown.sk-hash.metrics.spend",
        ),
        # valid JSON that reads as infinity, and a NaN: every total they entered would be meaningless
        (
            json.dumps(
                activity(
                    [
                        {
                            "date": "2026-11-20",
                            "breakdown": {
                                "models": {
                                    "gpt-4o": {
                                        "metrics": {},
                                        "api_key_breakdown": {
                                            "sk-hash": {"metrics": {"spend": "HUGE"}, "metadata": {}}
                                        },
                                    }
                                }
                            },
                        }
                    ]
                )
            )
            .replace('"HUGE"', "1e400")
            .encode(),
            "out of range on 2026-11-20 (model 'gpt-4o': spend inf",
        ),
        (
            json.dumps(
                activity([{"date": "2026-11-20", "metrics": {"total_response_time_ms": float("nan")}}])
            ).encode(),
            "out of range on 2026-11-20 (the day's total: spend 0.0, total_response_time_ms nan)",
        ),
        # a 200 whose top-level fields are missing or null is not "no activity"
        (json.dumps({"error": "upstream database unavailable"}).encode(), "has no 'metadata'"),
        (json.dumps({"metadata": META}).encode(), "has no 'results'"),
        (json.dumps({"results": None, "metadata": META}).encode(), "at 'results'"),
        (json.dumps({"results": [], "metadata": {"page": 1}}).encode(), "has no 'metadata.total_pages'"),
        (json.dumps(activity([None])).encode(), "at 'results.0'"),
        (json.dumps(activity([{"date": 0}])).encode(), "at 'results.0.date'"),  # not 1970-01-01
        # beyond DuckDB's BIGINT (it would read as null, so zero requests)
        (
            json.dumps(activity([{"date": "2026-11-20", "metrics": {"api_requests": 10**19}}])).encode(),
            "at 'results.0.metrics.api_requests': Input should be less than",
        ),
    ],
)
def test_malformed_responses_say_where(body, where):
    proxy = Proxy(httpx.Response(200, content=body, headers={"content-type": "application/json"}))
    c, slept = client(proxy)
    with pytest.raises(LiteLLMBadResponse) as err:
        read_pages(c)
    assert where in str(err.value) and slept == []
    assert KEY not in str(err.value)


def test_a_later_page_that_is_not_utf8_is_refused():
    """Page 1 is read by pydantic first; later pages go straight to DuckDB, so the merge checks the text."""
    first = page([{"date": "2026-11-20", "metrics": {"api_requests": 1}}], total_pages=2).content
    latin1 = json.dumps({"results": [{"date": "2026-11-20", "breakdown": {"models": {"CAFE": {}}}}]}).encode()
    with pytest.raises(LiteLLMBadResponse, match="not UTF-8"):
        merge_pages([first, latin1.replace(b"CAFE", b"caf\xe9")])


def test_old_and_new_litellm_shapes_parse():
    old = {
        "date": "2026-11-20",
        "metrics": {
            "spend": 0.25,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "api_requests": 2,
            "successful_requests": 2,
            "failed_requests": 0,
        },
        "breakdown": {
            "models": {"gpt-4o": {"metrics": {"spend": 0.25, "api_requests": 2}}},
            "providers": {},
            "api_keys": {},
        },
    }
    new = {
        "date": "2026-11-21",
        "metrics": {
            "spend": 1.0,
            "api_requests": 4,
            "total_response_time_ms": 800.0,
            "timed_requests": 4,
            "flat_cost": 0.0,
            "some_future_metric": 7,
        },
        "breakdown": {
            "models": {},
            "model_groups": {"fast-chat": {"metrics": {"api_requests": 4}}},
            "entities": None,
            "mcp_servers": {"x": {}},
            "api_keys": {},
        },
        "a_future_field": {"nested": True},
    }
    c, _ = client(Proxy(page([old, new])))
    days = {d: t.to_pandas().set_index("dim") for d, t in read_pages(c).items()}
    o, n = days[date(2026, 11, 20)], days[date(2026, 11, 21)]
    assert o.loc["model", "value"] == "gpt-4o" and o.loc["model", "api_requests"] == 2
    assert o.loc["model", "spend"] == 0.25 and pd.isna(o.loc["model", "api_key"])  # no key split in 1.74
    assert o.loc["api_key", "total_tokens"] == 15 and o.loc["api_key", "timed_requests"] == 0  # 1.74: absent
    assert n.loc["model_group", "value"] == "fast-chat" and n.loc["model_group", "api_requests"] == 4
    assert n.loc["api_key", "total_response_time_ms"] == 800.0 and n.loc["api_key", "timed_requests"] == 4
    assert set(n.index) == {"model_group", "api_key"}  # unknown breakdowns and fields are ignored


def test_an_absurd_page_count_is_refused_before_another_page_is_fetched():
    proxy = Proxy(page(total_pages=10**30), AssertionError("a second page was requested"))
    c, _ = client(proxy)
    with pytest.raises(LiteLLMBadResponse, match="at 'metadata.total_pages': Input should be less than or equal"):
        read_pages(c)
    assert len(proxy.requests) == 1
