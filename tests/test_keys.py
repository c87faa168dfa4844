"""Virtual keys without a browser: demo mode's fake /key/* (LiteLLM's shapes, paging and refusals, over the demo's
own keys), the client's handling of changes, the snapshot (every page once, side by side, kept), the join with
the usage store (against the demo's daily rows), the view's filters, sort and CSV (against a recomputation), and
plans (bad input refused before anything is sent; applied through the gate, audited, secrets nowhere)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import httpx
import pandas as pd
import pytest

from lib.appdb import open_app_database
from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.core.clock import utcnow
from lib.keys import plans
from lib.keys.records import keys_frame
from lib.keys.snapshot import KeySnapshots, fetch_keys
from lib.keys.usage import key_usage, with_usage
from lib.keys.view import KeyView, apply_view, facets, filter_keys, keys_csv, sort_keys
from lib.litellm.client import (
    LiteLLMBadResponse,
    LiteLLMClient,
    LiteLLMRefused,
    LiteLLMTimeout,
    LiteLLMUnreachable,
)
from lib.litellm.demo import MODELS, DemoLiteLLM
from lib.litellm.demo_keys import DemoKeys
from lib.litellm.keys_api import LiteLLMKey, generate_key, key_info, list_keys_page
from tests.support.apptest import app_runtime

TODAY = date(2026, 11, 22)
ADMIN = User("root", "Root", None, "admin", None, True)
VIEWER = User("viewer", "Viewer", None, "admin-readonly", None, True)


class Recorder:
    """A transport in front of a handler that records every request (method, path, query)."""

    def __init__(self, handler):
        self.handler = handler
        self.calls: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls.append((request.method, request.url.path, dict(request.url.params)))
        return self.handler(request)

    def posts(self) -> list[str]:
        return [path for method, path, _ in self.calls if method == "POST"]


def _client(handler, **kw) -> LiteLLMClient:
    return LiteLLMClient(
        "http://litellm.test", "sk-admin", transport=httpx.MockTransport(handler), sleep=lambda s: None, **kw
    )


@pytest.fixture
def demo():
    return DemoLiteLLM(seed=42, today=TODAY, days=20)


@pytest.fixture
def engine(tmp_path):
    return open_app_database(f"sqlite:///{tmp_path}/app.db")


def _all_keys(demo: DemoLiteLLM) -> tuple[list[LiteLLMKey], int]:
    with _client(demo.handle) as client:
        return fetch_keys(client)


# -- demo mode's fake /key/* ----------------------------------------------------------------------------------------
def test_the_demo_keys_are_the_keys_its_usage_was_made_with(demo):
    keys, _ = _all_keys(demo)
    live = {k.token: k for k in keys if k.deleted_at is None}
    made = {k["hash"]: k for k in demo.keys if k.get("exists", True)}  # the master key is no virtual key
    assert set(live) == set(made)
    for token, k in live.items():
        assert (k.key_alias, k.user_id, k.team_id, sorted(k.models)) == (
            made[token]["alias"],
            made[token]["user_id"],
            made[token]["team_id"],
            sorted(made[token]["models"]),
        )
        assert k.owner_email == made[token]["user_email"]
    spent = pd.DataFrame(demo.rows).groupby("api_key")["spend"].sum()
    for token, k in live.items():
        assert k.spend == pytest.approx(spent.get(token, 0.0), abs=1e-6)
    deleted = [k for k in keys if k.deleted_at is not None]
    assert len(deleted) == 6 and not {k.token for k in deleted} & set(made)
    periods = {plans.KeySettings.of_key(r).budget_period for _, r in keys_frame(keys, utcnow()).iterrows()}
    assert {None, "30d"} <= periods  # realistic variety: budgets with and without a period
    assert any(k.blocked for k in keys) and any(k.expires for k in keys) and any(k.max_budget for k in keys)


def test_the_demo_keys_are_the_same_for_the_same_seed():
    def settings(seed: int) -> list[dict]:
        demo = DemoLiteLLM(seed=seed, today=TODAY, days=10)
        return [{k: v for k, v in r.items() if k != "budget_reset_at"} for r in demo.key_api._live.values()]

    assert settings(3) == settings(3) != settings(4)


def test_the_demo_pages_and_refuses_like_litellm(demo):
    auth = {"Authorization": "Bearer k"}
    t = httpx.Client(transport=httpx.MockTransport(demo.handle), base_url="http://d", headers=auth)
    assert t.get("/key/list", params={"size": 101}).status_code == 422
    bad = t.get("/key/list", params={"status": "blocked"})  # LiteLLM calls blocked keys "revoked"
    assert bad.status_code == 400 and "Invalid status value" in bad.text
    live = t.get("/key/list", params={"size": 100}).json()
    assert live["total_count"] == len(live["keys"]) > 50 and all(isinstance(k, str) for k in live["keys"])
    parts = [
        set(t.get("/key/list", params={"size": 100, "status": s}).json()["keys"])
        for s in ("active", "expired", "revoked")
    ]
    assert set().union(*parts) == set(live["keys"]) and sum(map(len, parts)) == len(live["keys"])  # a partition
    pages, page = [], 1
    while True:
        body = t.get("/key/list", params={"size": 7, "page": page}).json()
        pages += body["keys"]
        if page >= body["total_pages"]:
            break
        page += 1
    assert sorted(pages) == sorted(live["keys"]) and len(pages) == len(set(pages))
    assert t.get("/key/info", params={"key": "0" * 64}).status_code == 404
    assert t.post("/key/delete", json={"keys": ["0" * 64]}).status_code == 404
    assert (
        httpx.Client(transport=httpx.MockTransport(demo.handle), base_url="http://d").get("/key/list").status_code
        == 401
    )


def test_the_demo_keeps_changes_and_refuses_a_taken_alias(demo):
    with _client(demo.handle) as client:
        made = generate_key(client, {"key_alias": "new-one", "models": ["gpt-4o"], "max_budget": 5})
        plaintext = made.key.get_secret_value()
        assert made.token == hashlib.sha256(plaintext.encode()).hexdigest() and "sk-" in plaintext
        assert plaintext not in repr(made) and plaintext not in str(made)  # a SecretStr
        assert key_info(client, made.token).max_budget == 5
        with pytest.raises(LiteLLMRefused) as taken:
            generate_key(client, {"key_alias": "new-one"})
        assert taken.value.status == 400 and "already exists" in taken.value.reason
        client._change("POST", "/key/update", {"key": made.token, "rpm_limit": 9, "max_budget": None})
        info = key_info(client, made.token)
        assert (info.rpm_limit, info.max_budget) == (9, None)
        client._change("POST", "/key/block", {"key": made.token})
        assert key_info(client, made.token).blocked is True
        client._change("POST", "/key/delete", {"keys": [made.token]})
        assert list_keys_page(client, 1, key_hash=made.token).keys == []
        assert [k.token for k in list_keys_page(client, 1, status="deleted", key_hash=made.token).keys] == [made.token]


# -- the client's changes ------------------------------------------------------------------------------------------
def test_a_change_is_never_retried_once_it_may_have_reached_litellm_but_a_read_is():
    for failure in (lambda r: httpx.Response(503, text="busy"), "timeout"):

        def handler(request, failure=failure):
            if failure == "timeout":
                raise httpx.ReadTimeout("slow", request=request)
            return failure(request)

        rec = Recorder(handler)
        with _client(rec) as client:
            with pytest.raises((LiteLLMRefused, LiteLLMTimeout)):
                client._send_change("POST", "/key/generate", {})
            assert len(rec.calls) == 1  # a second /key/generate would make a second key
            with pytest.raises((LiteLLMBadResponse, LiteLLMTimeout)):
                client._get("/key/list")
            assert len(rec.calls) == 1 + 3
    refused = Recorder(lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)))
    with _client(refused) as client, pytest.raises(LiteLLMUnreachable):
        client._send_change("POST", "/key/block", {"key": "x"})
    assert len(refused.calls) == 3  # never reached LiteLLM: safe to try again


def test_a_malformed_answer_to_generate_never_quotes_the_new_key():
    secret = "sk-plaintext-must-not-leak"
    for body in (json.dumps({"key": secret, "token": None}), f"oops {secret}", json.dumps({"key": secret})):
        with _client(lambda r, body=body: httpx.Response(200, text=body)) as client:
            with pytest.raises(LiteLLMBadResponse) as err:
                generate_key(client, {"key_alias": "x"})
        assert secret not in str(err.value) and "reload the keys" in str(err.value)


def test_litellm_refusals_keep_litellms_own_words():
    answer = {"error": {"message": "max_budget must be a non-negative finite number", "code": "400"}}
    with _client(lambda r: httpx.Response(400, json=answer)) as client, pytest.raises(LiteLLMRefused) as err:
        client._send_change("POST", "/key/generate", {})
    assert (err.value.status, err.value.reason) == (400, answer["error"]["message"])
    detail = {"detail": [{"msg": "Input should be less than or equal to 100"}]}
    with _client(lambda r: httpx.Response(422, json=detail)) as client, pytest.raises(LiteLLMBadResponse) as err:
        client._get("/key/list")
    assert err.value.reason == "Input should be less than or equal to 100"


# -- the snapshot ----------------------------------------------------------------------------------------------------
def test_every_page_is_read_once_and_the_snapshot_is_kept_until_reloaded_or_old(demo):
    demo.key_api = DemoKeys(demo, extra_keys=450)  # 5 pages of live keys
    rec = Recorder(demo.handle)
    with _client(rec) as client:
        keys, requests = fetch_keys(client)
    pages = sorted((q.get("status", "live"), int(q["page"])) for _, _, q in rec.calls)
    assert pages == [("deleted", 1)] + [("live", p) for p in range(1, 7)] and requests == 7
    assert len({k.token for k in keys}) == len(keys) == len(demo.key_api._live) + len(demo.key_api._deleted)

    snaps = KeySnapshots(timedelta(minutes=10))
    factory = lambda: _client(rec)  # noqa: E731
    rec.calls.clear()
    first = snaps.get(factory)
    assert snaps.get(factory) is first and len(rec.calls) == 7  # kept: no second download
    assert snaps.get(factory, reload=True) is not first and len(rec.calls) == 14
    old = KeySnapshots(timedelta(0))
    old.get(factory)
    old.get(factory)
    assert len(rec.calls) == 28  # older than its max age: read again


def test_pages_are_read_side_by_side(demo):
    """Later pages wait until 4 are in flight at once; read one after another, they never would be."""
    demo.key_api = DemoKeys(demo, extra_keys=700)
    state = {"in_flight": 0, "peak": 0}
    cond = threading.Condition()

    def handler(request):
        later = int(request.url.params.get("page", 1)) > 1
        with cond:
            state["in_flight"] += 1
            if later:
                state["peak"] = max(state["peak"], state["in_flight"])
                cond.notify_all()
                cond.wait_for(lambda: state["peak"] >= 4, timeout=5)
        try:
            return demo.handle(request)
        finally:
            with cond:
                state["in_flight"] -= 1

    with _client(handler) as client:
        fetch_keys(client, concurrency=4)
    assert state["peak"] == 4


def test_a_change_patches_its_row_in_place(demo, engine):
    snaps = KeySnapshots(timedelta(minutes=10))
    factory = lambda: _client(demo.handle)  # noqa: E731
    before = snaps.get(factory).keys
    row = before[before["status"] == "active"].iloc[3]
    with factory() as client:
        plans.apply_plan(engine, client, ADMIN, plans.plan_block(row), snaps)
    after = snaps.get(factory).keys
    assert list(after["token"]) == list(before["token"])  # same order
    changed = after["token"] == row["token"]
    assert after.loc[changed, "status"].item() == "blocked"
    pd.testing.assert_frame_equal(after[~changed].drop(columns="models"), before[~changed].drop(columns="models"))


# -- the join with the usage store -----------------------------------------------------------------------------------
def test_key_usage_equals_the_daily_rows_litellm_served(demo_env):
    rt = app_runtime(demo_env)
    served = pd.DataFrame(rt.demo_litellm().rows)
    served["date"] = pd.to_datetime(served["date"]).dt.date
    first, last = rt.store.date_bounds()
    served = served[(served["date"] >= first) & (served["date"] <= last)]
    start, end = last - timedelta(days=13), last
    usage = key_usage(rt.store, start, end)
    window = served[(served["date"] >= start) & (served["date"] <= end)]
    expected = window.groupby("api_key").agg(
        req=("api_requests", "sum"), ok=("successful_requests", "sum"), spend=("spend", "sum")
    )
    shown = usage.loc[expected.index]
    assert list(shown["requests"]) == list(expected["req"])
    assert shown["range_spend"].to_numpy() == pytest.approx(expected["spend"].to_numpy(), abs=1e-9)
    assert shown["success_rate"].to_numpy() == pytest.approx((expected["ok"] * 100 / expected["req"]).to_numpy())
    per_day = window.groupby(["api_key", "date"])["api_requests"].sum()
    days = [start + timedelta(days=i) for i in range(14)]
    for token in expected.index[:10]:
        assert shown.loc[token, "trend"] == [int(per_day.get((token, d), 0)) for d in days]
    active = served[served["api_requests"] > 0].groupby("api_key")["date"].max()
    assert usage.loc[active.index, "last_active"].tolist() == active.tolist()


def test_keys_without_usage_get_zero_and_a_flat_trend(demo_env):
    rt = app_runtime(demo_env)
    _first, last = rt.store.date_bounds()
    with rt.litellm_client() as client:
        frame = keys_frame(fetch_keys(client)[0], utcnow())
    joined = with_usage(frame, key_usage(rt.store, last - timedelta(days=6), last))
    unused = joined[joined["deleted_at"].notna()]  # the archive's keys were never used
    assert len(unused) == 6
    assert (unused["requests"] == 0).all() and (unused["range_spend"] == 0).all()
    assert unused["success_rate"].isna().all() and all(t == [0] * 7 for t in unused["trend"])
    assert joined.loc[joined["deleted_at"].isna(), "requests"].sum() > 0


# -- the view --------------------------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def _key(token: str, **kw) -> LiteLLMKey:
    return LiteLLMKey(token=token, key_name=f"sk-...{token[-4:]}", **kw)


@pytest.fixture
def frame() -> pd.DataFrame:
    """Keys at the edges of every filter, with usage as with_usage gives it."""
    keys = [
        _key(
            "a" * 64,
            key_alias="alice-laptop",
            user_id="alice",
            team_id="search",
            spend=80.0,
            max_budget=100.0,
            created_at=NOW - timedelta(days=200),
            user_email="alice@example.com",
        ),
        _key(
            "b" * 64,
            key_alias="bob-ci",
            user_id="bob",
            team_id="data",
            spend=79.9,
            max_budget=100.0,
            created_at=NOW - timedelta(days=200),
            expires=NOW + timedelta(days=3),
        ),
        _key(
            "c" * 64,
            key_alias="=cmd|' /C calc'!A0",
            user_id="carol",
            spend=5.0,
            max_budget=None,
            created_at=NOW - timedelta(days=2),
            expires=NOW - timedelta(hours=1),
        ),
        _key(
            "d" * 64,
            key_alias="dave-batch",
            user_id=None,
            team_id="data",
            spend=0.0,
            blocked=True,
            created_at=NOW - timedelta(days=90),
            expires=NOW + timedelta(days=8),
        ),
        _key(
            "e" * 64,
            key_alias="erin-old",
            user_id="erin",
            team_id="search",
            spend=120.0,
            max_budget=100.0,
            created_at=NOW - timedelta(days=400),
            deleted_at=NOW - timedelta(days=1),
        ),
        _key("f" * 64, key_alias=None, user_id="frank", team_id=None, spend=1.0, max_budget=0.0, created_at=None),
    ]
    df = keys_frame(keys, NOW)
    last = {"a" * 64: NOW.date() - timedelta(days=29), "b" * 64: NOW.date() - timedelta(days=30)}
    df["requests"] = [10, 0, 3, 0, 0, 7]
    df["range_spend"] = [1.0, 0.0, 0.5, 0.0, 0.0, 0.25]
    df["success_rate"] = [90.0, None, 100.0, None, None, 50.0]
    df["trend"] = [[1, 9], [0, 0], [3, 0], [0, 0], [0, 0], [7, 0]]
    df["last_active"] = [last.get(t, pd.NaT) for t in df["token"]]
    return df


def _aliases(df: pd.DataFrame) -> list:
    return [a if isinstance(a, str) else None for a in df["alias"]]


def test_each_filter_keeps_exactly_the_matching_keys(frame):
    def shown(**kw) -> set:
        return set(_aliases(filter_keys(frame, KeyView(**kw), NOW)))

    live = {"alice-laptop", "bob-ci", "=cmd|' /C calc'!A0", "dave-batch", None}
    assert shown() == live  # deleted keys only when asked for
    assert shown(statuses=("deleted",)) == {"erin-old"}
    assert shown(statuses=("expired", "blocked")) == {"=cmd|' /C calc'!A0", "dave-batch"}
    assert shown(search="ALICE@EXAMPLE") == {"alice-laptop"}  # any case, any searched column
    assert shown(search="bbbb") == {"bob-ci"}  # the hash
    assert shown(search="sk-...ffff") == {None}  # LiteLLM's masked name
    assert shown(teams=("data",)) == {"bob-ci", "dave-batch"}
    assert shown(teams=("(no team)",)) == {"=cmd|' /C calc'!A0", None}
    assert shown(owners=("(no owner)", "alice")) == {"alice-laptop", "dave-batch"}
    assert shown(over_budget=True) == {"alice-laptop"}  # 80 of 100: in; 79.9: out; a $0 budget: not a budget
    assert shown(over_budget=True, statuses=("deleted",)) == {"erin-old"}
    assert shown(expiring=True) == {"bob-ci"}  # in 3 days: in; 8 days: out; expired an hour ago: out
    # idle: no request in the last 30 days (today included), unless made within them
    assert shown(idle=True) == {"bob-ci", "dave-batch", None}
    assert shown(teams=("search",), over_budget=True, search="laptop") == {"alice-laptop"}
    f = facets(frame)
    assert f["teams"] == ["data", "search", "(no team)"] and f["owners"][-1] == "(no owner)"


def test_sorting_puts_missing_values_last_either_way(frame):
    every = frame.assign(status=frame["status"])
    up = _aliases(sort_keys(every, "max_budget", descending=False))
    down = _aliases(sort_keys(every, "max_budget", descending=True))
    assert up[:4] == [None, "alice-laptop", "bob-ci", "erin-old"] and up[4:] == ["=cmd|' /C calc'!A0", "dave-batch"]
    assert down[:4] == ["alice-laptop", "bob-ci", "erin-old", None]  # equal budgets: by alias
    assert _aliases(sort_keys(every, "alias", descending=False))[-1] is None
    assert _aliases(sort_keys(every, "last_active"))[:2] == ["alice-laptop", "bob-ci"]
    with pytest.raises(ValueError, match="unknown sort"):
        sort_keys(every, "token")


def test_the_csv_is_the_view_in_its_order_and_opens_as_data(frame):
    view = apply_view(frame, KeyView(sort_by="spend", descending=True), NOW)
    rows = list(csv.DictReader(io.StringIO(keys_csv(view))))
    assert [r["key_hash"] for r in rows] == list(view["token"])
    assert rows[2]["alias"] == "'=cmd|' /C calc'!A0"  # a formula would run: written as text
    first = rows[0]
    assert (first["alias"], first["spend"], first["requests_in_range"], first["models"]) == (
        "alice-laptop",
        "80.0",
        "10",
        "all models",
    )
    assert first["last_active"] == (NOW.date() - timedelta(days=29)).isoformat()
    assert first["expires"] == "" and rows[1]["expires"].startswith("2026-11-25")


# -- plans -----------------------------------------------------------------------------------------------------------
BAD = [
    (dict(alias="bad alias!"), "is not valid"),
    (dict(alias="x"), "is not valid"),
    (dict(alias="ok-key", max_budget=-1), "between"),
    (dict(alias="ok-key", max_budget="lots"), "number of dollars"),
    (dict(alias="ok-key", max_budget=float("inf")), "between"),
    (dict(alias="ok-key", max_budget=5, soft_budget=6), "above the max budget"),
    (dict(alias="ok-key", rpm_limit=-1), "whole number"),
    (dict(alias="ok-key", tpm_limit=2.5), "whole number"),
    (dict(alias="ok-key", budget_period="fortnightly", max_budget=5), "not one LiteLLM knows"),
    (dict(alias="ok-key", owner="a\nb"), "control characters"),
]


@pytest.mark.parametrize("raw,reason", BAD, ids=[r for _, r in BAD])
def test_bad_input_is_refused_with_its_reason_and_nothing_is_sent(raw, reason):
    with pytest.raises(plans.KeyInputError, match=reason):
        plans.plan_create(plans.KeySettings.of(**raw))


def test_a_plan_refused_before_sending_leaves_litellm_untouched(demo, engine):
    rec = Recorder(demo.handle)
    keys = keys_frame(_all_keys(demo)[0], utcnow())
    row = keys[keys["status"] == "active"].iloc[0]
    attempts = [
        lambda: plans.plan_create(plans.KeySettings.of(alias=None)),
        lambda: plans.plan_create(plans.KeySettings.of(alias="ok-key", budget_period="7d")),  # a period of no budget
        lambda: plans.plan_create(plans.KeySettings.of(alias="ok-key"), expires_in_days=0),
        lambda: plans.plan_create(plans.KeySettings.of(alias="ok-key"), expires_in_days=4000),
        lambda: plans.plan_update(row, plans.KeySettings.of_key(row)),
        lambda: plans.plan_update(row, replace(plans.KeySettings.of_key(row), alias=None)),
        lambda: plans.plan_delete(row, row["alias"].upper()),
        lambda: plans.plan_unblock(row),
        lambda: plans.plan_replace(keys[keys["status"] == "expired"].iloc[0], "copy-of-expired"),
    ]
    for attempt in attempts:
        with pytest.raises(plans.KeyInputError):
            attempt()
    assert rec.calls == [] and list_audit(engine).empty


def test_an_update_sends_and_audits_only_what_changed(demo, engine):
    keys = keys_frame(_all_keys(demo)[0], utcnow())
    row = keys[(keys["status"] == "active") & keys["max_budget"].notna()].iloc[0]
    desired = replace(plans.KeySettings.of_key(row), max_budget=row["max_budget"] + 5, rpm_limit=77)
    plan = plans.plan_update(row, desired)
    assert plan.body == {"max_budget": row["max_budget"] + 5, "rpm_limit": 77}
    assert plan.changes["rpm_limit"] == [plans.KeySettings.of_key(row).rpm_limit, 77]
    with _client(demo.handle) as client:
        outcome = plans.apply_plan(engine, client, ADMIN, plan)
    assert (outcome.key.max_budget, outcome.key.rpm_limit) == (row["max_budget"] + 5, 77)
    audited = list_audit(engine, action="keys.update").iloc[0]
    assert audited["details"]["changes"] == {k: list(v) for k, v in plan.changes.items()}
    assert audited["details"]["hash"] == row["token"] and audited["target"].startswith(row["alias"])


def test_power_levels_pick_the_catalogues_models_by_price():
    prices = {name: m[2] for name, m in MODELS.items()} | {"mystery": None}
    assert plans.models_for_power_level("all", prices) == ()
    assert plans.models_for_power_level("economy", prices) == (
        "fast-chat",
        "gpt-4o-mini",
        "llama3-local",
        "text-embedding-3-small",
    )
    standard = plans.models_for_power_level("standard", prices)
    assert "claude-3-5-sonnet" in standard and "gpt-4o" in standard and "mystery" not in standard
    assert set(standard) == {n for n, p in prices.items() if p is not None and p <= 3}
    with pytest.raises(plans.KeyInputError, match="No model in the catalogue"):
        plans.models_for_power_level("economy", {"gpt-4o": 2.5})
    plan = plans.plan_create(plans.KeySettings.of(alias="cheap-one", models=standard), power_level="standard")
    assert plan.body["models"] == list(standard) and plan.changes["power_level"] == "standard"


def test_a_readonly_admin_is_refused_sends_nothing_and_is_audited_denied(demo, engine):
    rec = Recorder(demo.handle)
    plan = plans.plan_create(plans.KeySettings.of(alias="not-allowed"))
    with _client(rec) as client, pytest.raises(PermissionDenied, match="^Admin access required to manage keys$"):
        plans.apply_plan(engine, client, VIEWER, plan)
    assert rec.calls == []
    row = list_audit(engine, action="keys.create").iloc[0]
    assert (row["actor"], row["outcome"]) == ("viewer", "denied")


def test_litellms_refusal_is_audited_and_the_snapshot_keeps_its_rows(demo, engine):
    snaps = KeySnapshots(timedelta(minutes=10))
    factory = lambda: _client(demo.handle)  # noqa: E731
    before = snaps.get(factory).keys
    taken = before["alias"].dropna().iloc[0]
    with factory() as client, pytest.raises(LiteLLMRefused, match="already exists"):
        plans.apply_plan(engine, client, ADMIN, plans.plan_create(plans.KeySettings.of(alias=taken)), snaps)
    assert snaps.get(factory).keys is before
    row = list_audit(engine, action="keys.create").iloc[0]
    assert row["outcome"] == "failure" and "already exists" in row["details"]["error"]


def test_a_replace_whose_block_fails_still_hands_back_the_new_key(demo, engine):
    def handler(request):
        if request.url.path == "/key/block":
            return httpx.Response(500, json={"error": {"message": "database is down"}})
        return demo.handle(request)

    keys = keys_frame(_all_keys(demo)[0], utcnow())
    row = keys[(keys["status"] == "active") & keys["expires"].isna()].iloc[0]
    with _client(handler) as client:
        outcome = plans.apply_plan(engine, client, ADMIN, plans.plan_replace(row, "the-copy"))
    assert outcome.plaintext is not None and outcome.key.key_alias == "the-copy"
    assert "could not be blocked" in outcome.warning and outcome.replaced is None
    assert not demo.key_api._live[row["token"]]["blocked"]
    audited = list_audit(engine, action="keys.replace").iloc[0]
    assert audited["outcome"] == "partial" and audited["details"]["new_hash"] == outcome.key.token
    assert outcome.plaintext.get_secret_value() not in list_audit(engine).to_json()


def test_a_replacement_copies_every_setting_and_the_moment_of_expiry(demo, engine):
    keys = keys_frame(_all_keys(demo)[0], utcnow())
    row = keys[(keys["status"] == "active") & keys["expires"].notna() & keys["max_budget"].notna()].iloc[0]
    with _client(demo.handle) as client:
        outcome = plans.apply_plan(engine, client, ADMIN, plans.plan_replace(row, plans.replacement_alias(row, TODAY)))
    copy = keys_frame([outcome.key], utcnow()).iloc[0]
    assert plans.KeySettings.of_key(copy) == replace(plans.KeySettings.of_key(row), alias=f"{row['alias']}-20261122")
    assert abs((copy["expires"] - row["expires"]).total_seconds()) < 5
    assert outcome.replaced.blocked is True


def test_a_key_whose_alias_was_made_under_a_looser_rule_can_still_be_edited():
    row = keys_frame([_key("9" * 64, key_alias="legacy key (2024)", max_budget=10.0)], NOW).iloc[0]
    alias = plans.KeySettings.of_key(row).alias
    kept = plans.KeySettings.of(known_alias=alias, alias=alias, max_budget=20.0)
    assert plans.plan_update(row, kept).body == {"max_budget": 20.0}
    with pytest.raises(plans.KeyInputError, match="is not valid"):
        plans.KeySettings.of(known_alias=alias, alias="another bad one", max_budget=20.0)
