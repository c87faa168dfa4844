"""The Budgets page under AppTest (demo mode, the usage store written by the test): an admin sets a monthly
budget and sees its spend and projection; a read-only admin sees the controls disabled with the reason; every
admin page shows a banner while a budget is exceeded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.auth import accounts
from lib.budgets import alerts, service
from lib.budgets.status import projection_text, status
from lib.core.clock import utcnow
from lib.core.text_safety import markdown_literal
from tests.support.apptest import app_as, app_runtime, demo_settings
from tests.support.usage_days import KeySpend, write_days

PAGE = "pages/budgets.py"
READONLY = "Admin access required to manage budgets and alerts"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    settings = demo_settings(tmp_path_factory.mktemp("budgets_page"), APP_SECRET_KEY="b" * 48)
    rt = app_runtime(settings)
    accounts.bootstrap_accounts(rt.engine, settings)
    today = utcnow().date()
    write_days(rt.store, {today - timedelta(n): [KeySpend("a" * 64, 20.0, team="research")] for n in range(0, 35)})
    return settings


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(e.value for e in at.error)


def test_an_admin_sets_a_monthly_budget_and_sees_its_projection(env):
    rt = app_runtime(env)
    at = app_as(env, "admin", PAGE)
    at.selectbox(key="budgets_new_scope").set_value("team")
    at.text_input(key="budgets_new_target").set_value("research")
    at.number_input(key="budgets_new_amount").set_value(500.0)
    at.button(key="FormSubmitter:budgets_create-Set budget").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [markdown_literal("Budget set.")]
    (b,) = service.list_budgets(rt.engine)
    expected = projection_text(status(rt.store, b, utcnow().date()))  # 20 a day: the month's days x 20
    assert markdown_literal(expected) in _text(at)
    table = at.dataframe[0].value
    assert list(table["Budget"]) == ["Team research, monthly"]
    assert table["Spent"].iloc[0] == pytest.approx(20.0 * utcnow().day)
    assert at.get("plotly_chart")  # the month view


def test_an_out_of_range_budget_is_refused_with_the_range(env):
    at = app_as(env, "admin", PAGE)
    at.selectbox(key="budgets_new_period").set_value("day")
    at.number_input(key="budgets_new_amount").set_value(20_000.0)
    at.button(key="FormSubmitter:budgets_create-Set budget").click().run()
    assert [e.value for e in at.error] == [
        markdown_literal("A daily budget must be more than 0 and at most 10,000 USD.")
    ]


def test_a_readonly_admin_sees_the_budgets_and_every_control_disabled(env):
    at = app_as(env, "viewer", PAGE)
    assert at.dataframe[0].value["Budget"].tolist() == ["Team research, monthly"]
    submit = at.button(key="FormSubmitter:budgets_create-Set budget")
    assert submit.disabled and submit.help == READONLY
    assert at.button(key="budgets_delete").disabled and at.button(key="budgets_delete").help == READONLY


def test_admin_pages_show_a_banner_while_a_budget_is_exceeded(env):
    rt = app_runtime(env)
    service.create_budget(rt.engine, None, "global", None, 10, "day", 0.8)  # 20 spent today
    (event,) = [e for e in alerts.evaluate(rt.engine, rt.store, rt.settings) if e["state"] == "exceeded"]
    assert event["budget"] == "Everything, daily"
    at = app_as(env, "viewer", "pages/audit.py")
    banner = f"Budget exceeded: {markdown_literal('Everything, daily')}. See Budgets."
    assert banner in [e.value for e in at.error]
    at = app_as(env, "alice", "pages/my_usage.py")  # a user's page: no budgets, no banner
    assert not any("Budget exceeded" in e.value for e in at.error)
