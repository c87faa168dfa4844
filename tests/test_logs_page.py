"""The Request logs page under AppTest, in demo mode: what each role sees, the filters' effect on the table (the
demo fake's own rows as oracle), a request's detail with and without its prompt, bad input, and the export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pandas as pd
import pytest

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.core.formatting import exact, latency, unit_money
from lib.litellm.demo_logs import PROMPTS
from lib.logs.query import LogWindow
from lib.logs.rows import prompt_and_response
from lib.services import run_backfill
from tests.support.apptest import app_as, app_runtime, demo_settings, shown_table

PAGE = "pages/logs.py"


@pytest.fixture(scope="module")
def logs_env(tmp_path_factory):
    """A demo app with three days in its usage store (the filters' choices), no background jobs."""
    settings = demo_settings(tmp_path_factory.mktemp("logs_page"), BACKFILL_DAYS="3")
    rt = app_runtime(settings)
    run_backfill(rt, "test")
    accounts.bootstrap_accounts(rt.engine, settings)
    return settings


def texts(at, kind: str) -> list[str]:
    return [e.value for e in at.get(kind)]


def shown(at) -> pd.DataFrame:
    assert len(at.dataframe) == 1
    return at.dataframe[0].value


def fake_rows(settings, at, **match) -> pd.DataFrame:
    """The demo fake's requests in the page's window (its anchor is in the session), as an oracle."""
    window = LogWindow.last(60, at.session_state["logs_anchor"])
    fake = app_runtime(settings).demo_litellm().spend_logs
    df = fake.frame(window.start, window.end)
    for column, value in match.items():
        df = df[df[column] == value]
    return df


def test_an_admin_sees_the_last_hour_newest_first(logs_env):
    at = app_as(logs_env, "admin", PAGE)
    assert texts(at, "title") == ["Request logs"] and not at.exception and not texts(at, "error")
    expected = fake_rows(logs_env, at)
    assert len(expected) > 0
    assert any(f"· {len(expected):,} requests" in c.replace("\\", "") for c in texts(at, "caption"))
    table = shown(at)
    newest = expected.sort_values("t", ascending=False).head(50)
    assert list(table["request_id"]) == list(newest["request_id"])
    assert len(at.get("plotly_chart")) == 2


def test_the_status_filter_shows_only_failures(logs_env):
    at = app_as(logs_env, "admin", PAGE)
    at.button_group(key="logs_status").set_value("failure").run()
    failures = fake_rows(logs_env, at, failed=True)
    assert len(failures) > 0
    table = shown(at)
    assert set(table["status"]) == {"failure"} and table["error_class"].notna().all()
    assert sorted(table["request_id"]) == sorted(failures.sort_values("t", ascending=False)["request_id"].head(50))
    assert any(f"· {len(failures):,} request" in c.replace("\\", "") for c in texts(at, "caption"))


def test_numbers_are_written_one_way_and_keep_a_requests_small_cost(logs_env):
    at = app_as(logs_env, "admin", PAGE)
    text = shown_table(at.dataframe[0]).set_index("request_id")
    fake = fake_rows(logs_env, at).set_index("request_id").loc[text.index]
    assert list(text["spend"]) == [unit_money(v) for v in fake["spend"]]  # the fake's own cost, not "$%.6f"
    assert list(text["duration_ms"]) == [latency(v) for v in fake["duration_ms"]]
    assert list(text["prompt_tokens"]) == [exact(v) for v in fake["prompt_tokens"]]
    assert list(text["ttft_ms"]) == [latency(v) for v in fake["ttft_ms"]]
    cells = {str(v) for v in text.reset_index().to_numpy().ravel()}
    assert not cells & {"None", "nan", "NaN", "NaT", "<NA>"}
    assert shown(at)["spend"].dtype.kind == "f"  # sorted by the numbers underneath
    small = fake[(fake["spend"] > 0) & (fake["spend"] < 0.0001)]
    if len(small):  # a crumb shows its figure, never "<$0.0001"
        assert all(not v.startswith("<") for v in text.loc[small.index, "spend"])
    rid = _recent_request(logs_env, at)
    at.text_input(key="logs_request_id").input(rid).run()
    row = fake_rows(logs_env, at).set_index("request_id").loc[rid]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Spend"] == unit_money(row["spend"]) and metrics["Duration"] == latency(row["duration_ms"])
    assert metrics["Tokens in / out"] == f"{exact(row['prompt_tokens'])} / {exact(row['completion_tokens'])}"


def _recent_request(settings, at) -> str:
    return fake_rows(settings, at, failed=False).sort_values("t")["request_id"].iloc[-1]


def test_a_read_only_admin_sees_the_detail_but_not_the_prompt(logs_env):
    at = app_as(logs_env, "viewer", PAGE)
    assert not texts(at, "error") and len(shown(at)) > 0
    rid = _recent_request(logs_env, at)
    at.text_input(key="logs_request_id").input(rid).run()
    assert list(shown(at)["request_id"]) == [rid]
    assert "Request detail" in texts(at, "subheader")
    assert "Prompts and responses are shown to admins only." in texts(at, "info")
    page_text = json.dumps([e.value for e in at.get("json")]) + " ".join(texts(at, "markdown"))
    assert not any(p in page_text for p in PROMPTS)


def test_an_admin_sees_the_prompt_and_the_response(logs_env):
    at = app_as(logs_env, "admin", PAGE)
    rid = _recent_request(logs_env, at)
    at.text_input(key="logs_request_id").input(rid).run()
    prompt, _ = prompt_and_response(app_runtime(logs_env).litellm_client().request_payload(rid))
    bodies = [e.value for e in at.get("json")]
    assert prompt in [json.loads(b) if isinstance(b, str) else b for b in bodies]
    assert prompt[0]["content"] in PROMPTS
    assert "Prompts and responses are shown to admins only." not in texts(at, "info")


def test_a_user_gets_403(logs_env):
    at = app_as(logs_env, "alice", PAGE)
    assert "403 — admin access required" in texts(at, "error")
    assert not at.dataframe and not at.get("plotly_chart")


def test_a_window_ending_before_it_starts_is_explained_and_nothing_is_asked(logs_env):
    at = app_as(logs_env, "admin", PAGE)
    at.button_group(key="logs_window").set_value("Custom").run()
    today = at.session_state["logs_anchor"].date()
    at.date_input(key="logs_to_day").set_value(today - timedelta(days=1)).run()
    assert any("the window starts after it ends" in e for e in texts(at, "error"))
    assert not at.dataframe


def test_the_export_holds_every_matching_request_and_is_audited(logs_env):
    at = app_as(logs_env, "viewer", PAGE)  # read-only admins may export what they may read
    at.button_group(key="logs_status").set_value("failure").run()
    at.button(key="logs_export").click().run()
    assert not texts(at, "error")
    ready = at.session_state["logs_export_file"]
    rows = list(csv.DictReader(io.StringIO(ready["text"])))
    failures = fake_rows(logs_env, at, failed=True)
    assert sorted(r["Request id"] for r in rows) == sorted(failures["request_id"])
    assert {r["Status"] for r in rows} == {"failure"}
    assert at.get("download_button")
    audited = list_audit(app_runtime(logs_env).engine, action="logs.export").iloc[0]
    assert (audited["actor"], audited["outcome"]) == ("viewer", "success")
