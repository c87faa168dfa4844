"""The Models page per role: AppTest (sync panel states, history, browser, Test Configuration) and the browser."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from lib.auth.audit import list_audit
from lib.catalog.sync import ModelSyncError, acquire_sync_lease, sync_models
from lib.core.formatting import compact, money, unit_money
from lib.core.leases import release
from lib.litellm.client import LiteLLMUnreachable
from lib.litellm.demo import MODELS
from tests.support.apptest import app_as, app_runtime, shown_table
from tests.support.models_endpoint import KEY
from tests.test_model_catalog import BASE, FakeClient, dep
from tests.test_text_safety import displayed, live_markup, rewrites

PAGE = "pages/models.py"


def _texts(at, kind: str) -> list[str]:
    """What a reader sees of each element's markdown."""
    return [displayed(str(e.value)) for e in at.get(kind)]


def _said_in_test_tab(at) -> str:
    """Everything the Test Configuration tab says below its form."""
    tab = at.tabs[1]
    return " | ".join(
        displayed(str(e.value))
        for kind in ("success", "warning", "error", "markdown", "caption")
        for e in tab.get(kind)
    )


def _page(demo_env, who: str):
    return app_as(demo_env, who, PAGE)


# -- AppTest ---------------------------------------------------------------------------------------
def test_user_gets_403_and_no_data(demo_env):
    at = app_as(demo_env, "alice", PAGE)
    assert "403 — admin access required" in _texts(at, "error")
    assert not at.dataframe and not at.metric
    assert "models_sync" not in {b.key for b in at.button}


def test_readonly_sees_the_catalogue_with_disabled_actions(demo_env):
    sync_models(app_runtime(demo_env).engine, FakeClient(BASE), "scheduler")
    at = _page(demo_env, "viewer")
    assert [t.value for t in at.title] == ["Models"]
    sync = at.button(key="models_sync")
    assert sync.disabled and sync.help == "Admin access required to sync models"
    test = at.button(key="models_test_submit")
    assert test.disabled and test.help == "Admin access required to test model configurations"
    assert len(at.dataframe) == 2, "history and browser are readable"
    assert at.text_input(key="models_test_key").proto.type == at.text_input(key="models_test_key").proto.PASSWORD


def test_admin_refresh_shows_the_last_synchronization(demo_env):
    at = _page(demo_env, "admin")
    sync = at.button(key="models_sync")
    assert not sync.disabled and sync.label == "Refresh Models from LiteLLM"
    at = sync.click().run()
    assert not at.exception
    assert any(t.startswith("Synchronization succeeded") for t in _texts(at, "success")), _texts(at, "success")
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Total", "New", "Updated", "Unavailable"} and int(metrics["Total"]) >= 5
    history = at.dataframe[0].value
    assert history["trigger"].iloc[0] == "admin" and history["status"].iloc[0] == "success"
    browser = at.dataframe[1].value
    assert {"input_cost_per_1m", "output_cost_per_1m", "max_input_tokens", "requests_30d", "spend_30d"} <= set(
        browser.columns
    )
    assert browser["requests_30d"].sum() > 0  # usage of the last 30 days, from the store
    row = browser.set_index("name").loc["gpt-4o"]
    assert row["input_cost_per_1m"] == pytest.approx(2.5)
    # prices per 1M as the demo LiteLLM's own table has them, written by unit_money; usage by the one rule
    text = shown_table(at.dataframe[1]).set_index("name")
    for name, (_, _, per_1m_in, per_1m_out, *_rest) in MODELS.items():
        if name in text.index:
            assert text.loc[name, ["input_cost_per_1m", "output_cost_per_1m"]].tolist() == [
                unit_money(per_1m_in),
                unit_money(per_1m_out),
            ]
    assert text.loc["gpt-4o-mini", "input_cost_per_1m"] == "$0.15"
    assert text.loc["text-embedding-3-small", "input_cost_per_1m"] == "$0.02"
    assert list(text["requests_30d"]) == [compact(n) for n in browser["requests_30d"]]
    assert list(text["spend_30d"]) == [money(v) for v in browser["spend_30d"]]
    cells = {str(v) for v in text.drop(columns=["capabilities", "issues", "available"]).to_numpy().ravel()}
    assert not cells & {"None", "nan", "NaN", "NaT", "<NA>"}
    assert shown_table(at.dataframe[0])["duration_s"].iloc[0].endswith(" s")
    audit = list_audit(app_runtime(demo_env).engine, actor="admin", action="models.sync")
    assert audit["outcome"].tolist()[0] == "success"


def test_browser_filters(demo_env):
    at = _page(demo_env, "admin")
    if len(at.dataframe) < 2:
        at = at.button(key="models_sync").click().run()
    at.text_input(key="models_search").input("claude").run()
    names = set(at.dataframe[1].value["name"])
    assert names and all("claude" in n for n in names)
    at.text_input(key="models_search").input("").run()
    at.multiselect(key="models_mode").select("embedding").run()
    assert set(at.dataframe[1].value["mode"]) == {"embedding"}


def test_partial_success_is_a_warning_with_the_problems(demo_env):
    engine = app_runtime(demo_env).engine
    sync_models(engine, FakeClient(BASE + [dep("no-price", "anthropic/x", "np", None, None)]), "scheduler")
    at = _page(demo_env, "admin")
    assert any(t.startswith("Partial success") for t in _texts(at, "warning")), _texts(at, "warning")
    assert any("no-price" in t and "no pricing" in t for t in _texts(at, "markdown"))


def test_failure_is_red_and_the_previous_results_stay(demo_env):
    engine = app_runtime(demo_env).engine
    sync_models(engine, FakeClient(BASE), "scheduler")
    with pytest.raises(ModelSyncError):
        sync_models(engine, FakeClient(BASE, error=LiteLLMUnreachable("Cannot reach LiteLLM at http://x")), "cron")
    at = _page(demo_env, "admin")
    errors = _texts(at, "error")
    assert any(e.startswith("Synchronization failed") and "Cannot reach LiteLLM" in e for e in errors), errors
    assert {m.label for m in at.metric} == {"Total", "New", "Updated", "Unavailable"}  # the previous run
    assert len(at.dataframe) == 2 and not at.dataframe[1].value.empty


def test_sync_refused_while_another_runs(demo_env):
    engine = app_runtime(demo_env).engine
    lease = acquire_sync_lease(engine, "scheduler")
    try:
        at = _page(demo_env, "admin")
        at = at.button(key="models_sync").click().run()
        assert any("already running (started by scheduler" in w for w in _texts(at, "warning"))
    finally:
        release(engine, lease)


def test_test_configuration_form(demo_env, local_backend):
    at = _page(demo_env, "admin")
    assert at.text_input(key="models_test_key").proto.type == at.text_input(key="models_test_key").proto.PASSWORD
    at.text_input(key="models_test_base").input(local_backend + "/")
    at.text_input(key="models_test_key").input(KEY)
    at.text_input(key="models_test_model").input("gpt-4o")
    at = at.button(key="models_test_submit").click().run()
    assert not at.exception
    (success,) = _texts(at.tabs[1], "success")
    assert success.startswith("Connection successful: the endpoint accepts the key and lists 'gpt-4o'.")
    assert "add it to LiteLLM (its config file or its admin UI)" in success and "create" not in success.lower()
    at.text_input(key="models_test_model").input("gpt-4")
    at = at.button(key="models_test_submit").click().run()
    (warning,) = _texts(at.tabs[1], "warning")
    assert warning.startswith("Model not available") and "Closest names: gpt-4o" in warning
    said = _said_in_test_tab(at)
    assert said.count("Closest names") == 1, said  # once, not again under the message
    assert said.count("model(s)") == 1 and said.count("/v1/models") == 1, said  # count and URL said once
    at.text_input(key="models_test_model").input("")
    at = at.button(key="models_test_submit").click().run()
    (invalid,) = _texts(at.tabs[1], "warning")
    assert invalid == "Invalid input: enter the backend model name, e.g. gpt-4o." and not _texts(at.tabs[1], "error")
    at.text_input(key="models_test_model").input("gpt-4o")
    at.text_input(key="models_test_key").input("sk-wrong-key-000")
    at = at.button(key="models_test_submit").click().run()
    assert any(e.startswith("Authentication failed") for e in _texts(at, "error"))
    audit = list_audit(app_runtime(demo_env).engine, action="models.test_config")
    assert audit["outcome"].tolist()[:4] == ["auth_error", "invalid_input", "model_not_found", "model_found"]
    dump = json.dumps(audit.to_dict("records"), default=str)
    assert KEY not in dump and "sk-wrong-key-000" not in dump
    kept = repr(at.session_state["models_test_result"])  # what the page keeps: no key in it
    assert KEY not in kept and "sk-wrong-key-000" not in kept


MARKDOWN_NAME = "[click](https://evil.example)![x](https://evil.example/i.png)"
HTML_NAME = "<b>bold</b><a href=x>"


def test_model_names_with_markup_are_shown_as_typed(demo_env):
    """LiteLLM's model names are data: a name with markdown or HTML is no link, image or bold text."""
    engine = app_runtime(demo_env).engine
    sync_models(
        engine,
        FakeClient(
            BASE
            + [dep(MARKDOWN_NAME, "openai/evil", "id-evil", None, None), dep(HTML_NAME, "openai/evil-2", "id-evil-2")]
        ),
        "scheduler",
    )
    at = _page(demo_env, "admin")
    changed = [str(m.value) for m in at.expander(key="models_latest_changes").markdown]
    problems = [str(m.value) for m in at.markdown if m.value not in changed and "no pricing" in displayed(m.value)]
    for md in changed + problems:
        assert live_markup(md) <= {"*", ":", "-", ",", "(", ")"}, md  # only the page's own bold and list
        assert not {"[", "]", "!", "<", ">"} & live_markup(md) and rewrites(md) == [], md
    assert MARKDOWN_NAME in displayed(changed[0]) and HTML_NAME in displayed(changed[0])
    assert MARKDOWN_NAME in displayed(problems[0])


# -- browser ---------------------------------------------------------------------------------------
browser = pytest.mark.browser
TIMEOUT = 30_000


def _login(page, base: str, username: str, path: str = "models") -> None:
    page.goto(f"{base}/{path}")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(username)
    page.get_by_role("button", name="Log in").click()


@browser
def test_browser_admin_syncs_and_tests_a_configuration(page, streamlit_server, local_backend):
    from playwright.sync_api import expect

    _login(page, streamlit_server.url, "admin")
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Refresh Models from LiteLLM").click()
    expect(page.get_by_text(re.compile(r"Synchronization succeeded|Partial success"))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("stMetric")).to_have_count(4, timeout=TIMEOUT)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(2, timeout=TIMEOUT)

    page.get_by_role("tab", name="Test Configuration").click()
    page.get_by_role("textbox", name="API base URL").fill(local_backend)
    key = page.get_by_role("textbox", name="API key")
    key.fill(KEY)
    expect(key).to_have_attribute("type", "password")
    page.get_by_role("button", name=re.compile("show password", re.I)).click()  # show/hide
    expect(key).to_have_attribute("type", "text")
    page.get_by_role("textbox", name="Backend model name").fill("gpt-4o")
    page.get_by_role("button", name="Test Configuration").click()
    expect(
        page.get_by_text(re.compile("^Connection successful: the endpoint accepts the key and lists"))
    ).to_be_visible(timeout=TIMEOUT)
    assert KEY not in streamlit_server.log_text()


@browser
def test_browser_readonly_button_disabled_with_tooltip(page, streamlit_server):
    from playwright.sync_api import expect

    _login(page, streamlit_server.url, "viewer")
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=TIMEOUT)
    button = page.get_by_role("button", name="Refresh Models from LiteLLM")
    expect(button).to_be_disabled(timeout=TIMEOUT)
    tooltip = page.get_by_text("Admin access required to sync models")
    for _ in range(10):  # the page may still be re-rendering after the login: hover until it shows
        page.mouse.move(0, 0)
        page.get_by_test_id("stTooltipHoverTarget").filter(has=button).hover()
        if tooltip.is_visible() or (page.wait_for_timeout(1000) or tooltip.is_visible()):
            break
    expect(tooltip).to_be_visible(timeout=TIMEOUT)


@browser
def test_browser_user_gets_403(page, streamlit_server):
    from playwright.sync_api import expect

    _login(page, streamlit_server.url, "alice")
    expect(page.get_by_text("403 — admin access required")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Refresh Models from LiteLLM")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)


def test_cli_models_commands_are_registered():
    """`python -m lib.cli --help` lists both commands (lib/cli.py calls cli_models.add_commands)."""
    out = subprocess.run(
        [sys.executable, "-m", "lib.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=__import__("pathlib").Path(__file__).resolve().parent.parent,
    )
    assert "test-config" in out.stdout and "sync-models" in out.stdout
