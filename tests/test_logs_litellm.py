"""Request logs against the real LiteLLM (a proxy of this module's own, storing prompts): after traffic with two
keys, the master key and failures on `broken-model`, each filter returns exactly the matching requests — the
same as LiteLLM's own `/spend/logs/v2` answer and as what was sent (recorded here, request by request); paging
covers every row once; the export equals the filtered view; the page shows admins the prompt, read-only admins a
note; and a proxy without a database gets a clear message."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from lib.auth import accounts
from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.litellm.client import LiteLLMClient, LiteLLMNoDatabase
from lib.logs.export import export_logs, fetch_all
from lib.logs.options import filter_choices, resolve_key
from lib.logs.query import LogQuery, LogWindow
from lib.logs.rows import prompt_and_response
from lib.logs.view import load_view
from lib.services import run_backfill
from tests.support.apptest import app_as, app_runtime, demo_settings
from tests.support.litellm_harness import HARNESS, running_harness

pytestmark = pytest.mark.litellm
UTC = timezone.utc
ADMIN = User("root", "Root", None, "admin", None, True)
PASSWORD = "logs-pass-1"


@dataclass
class Sent:
    key: str  # "A", "B" or "master"
    model_group: str
    ok: bool
    prompt: str
    call_id: str  # x-litellm-call-id: LiteLLM's request id of a failure, its call id always
    started: datetime


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """The harness's proxy with prompts and responses stored in its spend logs."""
    config = tmp_path_factory.mktemp("logs_proxy") / "config.yaml"
    text = (HARNESS / "config.yaml").read_text()
    assert "general_settings:\n" in text
    config.write_text(text.replace("general_settings:\n", "general_settings:\n  store_prompts_in_spend_logs: true\n"))
    with running_harness(LITELLM_CONFIG=str(config)) as env:
        yield env


def _post(http: httpx.Client, path: str, body: dict, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http.post(path, json=body, headers=headers)


@pytest.fixture(scope="module")
def traffic(proxy) -> dict:
    """Two users with a key each (A in a team), then chat requests through A, B and the master key, some to
    `broken-model`; every request recorded as sent. Waits until LiteLLM has written every spend log."""
    master = proxy["LITELLM_MASTER_KEY"]
    with httpx.Client(
        base_url=proxy["LITELLM_BASE_URL"], timeout=60, headers={"Authorization": f"Bearer {master}"}
    ) as http:
        team = _post(http, "/team/new", {"team_alias": "logs-team"}).json()["team_id"]
        keys = {}
        for name, user, team_id in (("A", "logs-user-a", team), ("B", "logs-user-b", None)):
            assert _post(http, "/user/new", {"user_id": user, "user_role": "internal_user"}).status_code == 200
            body = {"user_id": user, "key_alias": f"logs-key-{name.lower()}"} | (
                {"team_id": team_id} if team_id else {}
            )
            made = _post(http, "/key/generate", body)
            assert made.status_code == 200, made.text
            keys[name] = {"key": made.json()["key"], "user": user, "team": team_id, "alias": body["key_alias"]}
        keys["master"] = {"key": master, "user": "default_user_id", "team": None, "alias": None}
        plan = [
            ("A", "gpt-4o-mini"), ("A", "gpt-4o-mini"), ("A", "fast-chat"), ("A", "broken-model"),
            ("A", "llama3-local"), ("A", "fast-chat"), ("A", "broken-model"), ("A", "gpt-4o-mini"),
            ("B", "gpt-4o"), ("B", "claude-3-5-haiku"), ("B", "broken-model"), ("B", "in-house-model"),
            ("B", "gpt-4o"), ("B", "claude-3-5-haiku"), ("master", "gpt-4o-mini"), ("master", "llama3-local"),
        ]  # fmt: skip
        started = datetime.now(UTC)
        sent: list[Sent] = []
        for i, (key, group) in enumerate(plan):
            prompt = f"logs test request {i}: " + "hello " * (i + 1)
            at = datetime.now(UTC)
            r = http.post(
                "/chat/completions",
                headers={"Authorization": f"Bearer {keys[key]['key']}"},
                json={"model": group, "messages": [{"role": "user", "content": prompt}]},
            )
            assert (r.status_code == 200) == (group != "broken-model"), r.text
            sent.append(Sent(key, group, r.status_code == 200, prompt, r.headers["x-litellm-call-id"], at))
        ended = datetime.now(UTC)
        window = LogWindow(started - timedelta(seconds=1), ended + timedelta(seconds=1))
        deadline = time.monotonic() + 90  # LiteLLM writes spend logs in batches (every 2 s here)
        while _litellm(http, window.as_params())["total"] < len(sent):
            assert time.monotonic() < deadline, "LiteLLM never wrote every spend log"
            time.sleep(0.5)
    return {"sent": sent, "keys": keys, "team": team, "window": window}


def _litellm(http: httpx.Client, params: dict) -> dict:
    """LiteLLM's own answer, read without the console's code."""
    r = http.get("/spend/logs/v2", params={"page_size": 1000} | params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def http(proxy):
    with httpx.Client(
        base_url=proxy["LITELLM_BASE_URL"],
        timeout=60,
        headers={"Authorization": f"Bearer {proxy['LITELLM_MASTER_KEY']}"},
    ) as h:
        yield h


@pytest.fixture(scope="module")
def client(proxy):
    with LiteLLMClient(proxy["LITELLM_BASE_URL"], proxy["LITELLM_MASTER_KEY"], timeout_s=60) as c:
        yield c


@pytest.fixture(scope="module")
def console(proxy, traffic, tmp_path_factory):
    """The console on this proxy: today in its usage store (the key picker's aliases), an admin and a viewer."""
    settings = demo_settings(
        tmp_path_factory.mktemp("logs_console"),
        LITELLM_BASE_URL=proxy["LITELLM_BASE_URL"],
        LITELLM_API_KEY=proxy["LITELLM_MASTER_KEY"],
        BACKFILL_DAYS="1",
        APP_SECRET_KEY="s" * 48,
    )
    rt = app_runtime(settings)
    deadline = time.monotonic() + 90  # the daily table is written in the same batches as the spend logs
    while True:
        run_backfill(rt, "test")
        if {"logs-key-a", "logs-key-b"} <= set(filter_choices(rt.store)["api_keys"]["key_alias"].dropna()):
            break
        assert time.monotonic() < deadline, "LiteLLM's daily table never showed both keys"
        time.sleep(1)
    for username, role in (("root", "admin"), ("ro", "admin-readonly"), ("plain", "user")):
        accounts.create_user(rt.engine, None, username, PASSWORD, role)
    return settings


def hashes(traffic) -> dict[str, str]:
    out = {name: hashlib.sha256(k["key"].encode()).hexdigest() for name, k in traffic["keys"].items()}
    out["master"] = "litellm_proxy_master_key"  # LiteLLM's name for its master key's calls
    return out


def call_ids(http, rows: list[str], window: LogWindow) -> set[str]:
    """LiteLLM's call ids of request ids (a success's request id is the provider's response id)."""
    raw = _litellm(http, window.as_params())["data"]
    by_request = {r["request_id"]: r["litellm_call_id"] for r in raw}
    return {by_request[r] for r in rows}


# -- each filter: exactly the matching requests ---------------------------------------------------------------
def test_the_window_holds_every_request_sent(client, traffic):
    view = load_view(client, LogQuery(traffic["window"]))
    assert (view.total, view.total_is_capped) == (len(traffic["sent"]), False)
    assert view.sample_complete and len(view.sample) == len(traffic["sent"])


def test_each_filter_returns_exactly_the_matching_requests(client, http, traffic, console):
    sent, window, keys = traffic["sent"], traffic["window"], traffic["keys"]
    picker = filter_choices(app_runtime(console).store)["api_keys"]
    key_a = resolve_key(picker, "logs-key-a")  # the alias picker: the usage store's alias -> the key's hash
    assert key_a == hashes(traffic)["A"]
    cases = [
        (dict(api_key=key_a), [s for s in sent if s.key == "A"]),
        (dict(api_key=resolve_key(picker, "logs-key-b")), [s for s in sent if s.key == "B"]),
        (dict(api_key="litellm_proxy_master_key"), [s for s in sent if s.key == "master"]),
        (dict(status="failure"), [s for s in sent if not s.ok]),
        (dict(status="success"), [s for s in sent if s.ok]),
        (dict(model_group="broken-model"), [s for s in sent if s.model_group == "broken-model"]),
        (dict(model_group="fast-chat"), [s for s in sent if s.model_group == "fast-chat"]),
        # the model is the deployment's: broken-model's deployment is openai/gpt-4o too
        (dict(model="openai/gpt-4o"), [s for s in sent if s.model_group in ("gpt-4o", "broken-model")]),
        (dict(model="openai/gpt-4o-mini"), [s for s in sent if s.model_group in ("gpt-4o-mini", "fast-chat")]),
        (dict(user_id=keys["B"]["user"]), [s for s in sent if s.key == "B"]),
        (dict(team_id=traffic["team"]), [s for s in sent if s.key == "A"]),
        (dict(api_key=key_a, status="failure"), [s for s in sent if s.key == "A" and not s.ok]),
        (dict(cache_hit="miss"), sent),  # no cache configured
        (dict(cache_hit="hit"), []),
        (dict(request_id=sent[3].call_id), [sent[3]]),  # a failure: its request id is its call id
    ]
    for filters, expected in cases:
        query = LogQuery(window, **filters)
        theirs = _litellm(http, query.params() | {"page": 1, "page_size": 1000})
        ours = fetch_all(client, query, max_rows=10_000)
        view = load_view(client, query)
        assert view.total == len(ours) == theirs["total"] == len(expected), filters
        assert set(ours["request_id"]) == {r["request_id"] for r in theirs["data"]}, filters
        assert call_ids(http, list(ours["request_id"]), window) == {s.call_id for s in expected}, filters
        if "status" in filters:
            assert set(ours["status"]) <= {filters["status"]}
    failures = fetch_all(client, LogQuery(window, status="failure"), max_rows=100)
    assert set(failures["error_class"]) == {"InternalServerError"} and failures["error_message"].notna().all()
    assert set(failures["model_group"]) == {"broken-model"}


def test_minimum_spend_is_litellms_own_filter(client, http, traffic):
    window = traffic["window"]
    every = fetch_all(client, LogQuery(window), max_rows=100)
    threshold = sorted(every["spend"])[len(every) // 2]
    assert threshold > 0
    query = LogQuery(window, min_spend=threshold)
    ours = fetch_all(client, query, max_rows=100)
    theirs = _litellm(http, query.params() | {"page": 1, "page_size": 1000})
    assert set(ours["request_id"]) == {r["request_id"] for r in theirs["data"]}
    assert set(ours["request_id"]) == set(every.loc[every["spend"] >= threshold, "request_id"])


def test_litellm_compares_whole_seconds_as_the_window_says(client, traffic):
    """A request started at hh:mm:ss.fff (fff > 0) is outside a window ending at hh:mm:ss: LiteLLM takes no
    fraction, so a window's last second ends at its start, as lib/logs/query.py documents."""
    every = fetch_all(client, LogQuery(traffic["window"]), max_rows=100)
    row = next(r for r in every.itertuples() if r.time.microsecond >= 1000)
    second = row.time.to_pydatetime().replace(microsecond=0)
    ids = lambda w: set(fetch_all(client, LogQuery(w), max_rows=100)["request_id"])  # noqa: E731
    assert row.request_id not in ids(LogWindow(second - timedelta(seconds=5), second))
    assert row.request_id in ids(LogWindow(second, second + timedelta(seconds=1)))


# -- paging, export -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["time", "spend", "tokens", "duration"])
def test_paging_covers_every_row_once(client, traffic, sort):
    window = traffic["window"]
    expected = {r for r in fetch_all(client, LogQuery(window), max_rows=100)["request_id"]}
    for sample_rows in (1000, 4) if sort == "time" else (1000,):  # 4: LiteLLM's own pages, by time
        query, ids, page = LogQuery(window, sort=sort, page_size=3), [], 1
        while True:
            view = load_view(client, query.but(page=page), sample_rows=sample_rows)
            ids += list(view.rows["request_id"])
            if page >= view.pages:
                break
            page += 1
        assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected, (sort, sample_rows)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_export_equals_the_filtered_view(client, http, traffic, console, fmt):
    engine = app_runtime(console).engine
    query = LogQuery(traffic["window"], api_key=hashes(traffic)["A"], sort="spend", page_size=3)
    shown, page = [], 1
    while True:
        view = load_view(client, query.but(page=page))
        shown.append(view.rows)
        if page >= view.pages:
            break
        page += 1
    name, text, rows = export_logs(engine, ADMIN, client, query, fmt, max_rows=10_000)
    if fmt == "csv":
        exported = [r["Request id"] for r in csv.DictReader(io.StringIO(text))]
    else:
        exported = [r["request_id"] for r in json.loads(text)["data"]]
    view_ids = [rid for part in shown for rid in part["request_id"]]
    assert exported == view_ids and rows == len(view_ids) == sum(s.key == "A" for s in traffic["sent"])
    assert set(exported) == {
        r["request_id"] for r in _litellm(http, query.params() | {"page": 1, "page_size": 1000})["data"]
    }
    done = list_audit(engine, action="logs.export").iloc[0]
    assert (done["actor"], done["outcome"], done["target"]) == ("root", "success", name)


# -- the page: prompts for admins only --------------------------------------------------------------------------
def _detail(settings, username: str, request_id: str, anchor: datetime):
    at = app_as(settings, username, "pages/logs.py")
    at.session_state["logs_anchor"] = anchor
    at.button_group(key="logs_window").set_value("Last 24 hours").run()
    at.text_input(key="logs_request_id").input(request_id).run()
    assert not at.exception and list(at.dataframe[0].value["request_id"]) == [request_id]
    return at


def test_admins_see_the_stored_prompt_read_only_admins_a_note(client, traffic, console):
    sent = next(s for s in traffic["sent"] if s.ok and s.key == "B")
    found = fetch_all(client, LogQuery(traffic["window"], request_id=sent.call_id), max_rows=10)  # by its call id
    rid = found["request_id"].iloc[0]
    payload = client.request_payload(rid)
    assert payload.messages == {}  # LiteLLM 1.108 keeps the prompt in the request as sent, not in `messages`
    prompt, response = prompt_and_response(payload)
    assert prompt == [{"role": "user", "content": sent.prompt}] and response["choices"]
    anchor = traffic["window"].end + timedelta(minutes=1)
    shown = json.dumps([e.value for e in _detail(console, "root", rid, anchor).get("json")])
    assert json.dumps(sent.prompt)[1:-1] in shown
    viewer = _detail(console, "ro", rid, anchor)
    assert "Prompts and responses are shown to admins only." in [e.value for e in viewer.info]
    assert "logs test request" not in json.dumps([e.value for e in viewer.get("json")])
    assert "403 — admin access required" in [e.value for e in app_as(console, "plain", "pages/logs.py").error]


# -- a proxy without a database ------------------------------------------------------------------------------------
def test_a_proxy_without_a_database_gets_a_clear_message(tmp_path):
    with running_harness(LITELLM_NO_DB="1") as env:
        raw = httpx.get(
            f"{env['LITELLM_BASE_URL']}/spend/logs/v2",
            params={"start_date": "2026-01-01", "end_date": "2026-01-01 23:59:59"},
            headers={"Authorization": f"Bearer {env['LITELLM_MASTER_KEY']}"},
        )
        assert raw.status_code == 401 and "Prisma Client is not initialized" in raw.text  # LiteLLM's own words
        with LiteLLMClient(env["LITELLM_BASE_URL"], env["LITELLM_MASTER_KEY"]) as c:
            with pytest.raises(LiteLLMNoDatabase, match="has no database connected"):
                load_view(c, LogQuery(LogWindow.last(60, datetime.now(UTC))))
        settings = demo_settings(
            tmp_path,
            LITELLM_BASE_URL=env["LITELLM_BASE_URL"],
            LITELLM_API_KEY=env["LITELLM_MASTER_KEY"],
            APP_SECRET_KEY="s" * 48,
        )
        accounts.create_user(app_runtime(settings).engine, None, "root", PASSWORD, "admin")
        at = app_as(settings, "root", "pages/logs.py")
        errors = [e.value for e in at.error]
        assert any("has no database connected" in e and "spend logs" in e for e in errors), errors
        assert not at.dataframe


# -- spend logs turned off ---------------------------------------------------------------------------------------
def test_spend_logs_turned_off_are_named_when_the_window_is_empty(tmp_path):
    config = tmp_path / "config.yaml"
    text = (HARNESS / "config.yaml").read_text()
    config.write_text(text.replace("general_settings:\n", "general_settings:\n  disable_spend_logs: true\n"))
    with running_harness(LITELLM_CONFIG=str(config)) as env:
        master = env["LITELLM_MASTER_KEY"]
        with httpx.Client(
            base_url=env["LITELLM_BASE_URL"], timeout=60, headers={"Authorization": f"Bearer {master}"}
        ) as http:
            for model in ("gpt-4o-mini", "llama3-local", "gpt-4o"):
                chat = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
                assert http.post("/chat/completions", json=chat).status_code == 200
            today = datetime.now(UTC).date()
            daily = {"start_date": str(today), "end_date": str(today)}
            deadline = time.monotonic() + 90  # the daily table is still written, in batches
            while (
                http.get("/user/daily/activity/aggregated", params=daily).json()["metadata"]["total_api_requests"] < 3
            ):
                assert time.monotonic() < deadline, "LiteLLM never counted the requests in its daily table"
                time.sleep(0.5)
            assert _litellm(http, LogWindow.days(today, today).as_params())["total"] == 0  # and logged none
        settings = demo_settings(
            tmp_path / "console",
            LITELLM_BASE_URL=env["LITELLM_BASE_URL"],
            LITELLM_API_KEY=master,
            BACKFILL_DAYS="1",
            APP_SECRET_KEY="s" * 48,
        )
        rt = app_runtime(settings)
        run_backfill(rt, "test")
        accounts.create_user(rt.engine, None, "root", PASSWORD, "admin")
        at = app_as(settings, "root", "pages/logs.py")
        warnings = [w.value.replace("\\", "") for w in at.warning]
        assert any("counted 3 requests" in w and "disable_spend_logs" in w for w in warnings), warnings
