"""The Budgets page under AppTest (demo mode, the usage store written by the test): an admin sets a monthly
budget and sees its spend and projection; a read-only admin sees the controls disabled with the reason; every
admin page shows a banner while a budget is exceeded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.budgets import alerts, service
from lib.budgets.status import projection_text, status
from lib.core.clock import utcnow
from lib.core.formatting import money
from lib.core.text_safety import markdown_literal
from tests.support.apptest import app_as, app_runtime, demo_settings, shown_table
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
    text = shown_table(at.dataframe[0])  # money as everywhere: the usage store's spend, two decimals
    assert text["Spent"].iloc[0] == money(20.0 * utcnow().day) and text["Amount"].iloc[0] == "$500.00"
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


def _errors(at) -> list[str]:
    """The page's error messages but the exceeded banner (an earlier test exceeded a budget)."""
    return [e.value for e in at.error if "Budget exceeded" not in e.value]


def _budget(rt, label: str):
    return next(b for b in service.list_budgets(rt.engine) if b.label == label)


def test_an_admin_edits_a_budget_and_the_change_is_audited_before_and_after(env):
    rt = app_runtime(env)
    b = service.create_budget(rt.engine, None, "user", "edit-me", 300, "month", 0.8)
    at = app_as(env, "admin", PAGE)
    at.selectbox(key="budgets_manage").set_value(b.id).run()
    at.selectbox(key=f"budgets_edit_period_{b.id}").set_value("week")
    at.number_input(key=f"budgets_edit_amount_{b.id}").set_value(120.0)
    at.number_input(key=f"budgets_edit_threshold_{b.id}").set_value(0.5)
    at.button(key="FormSubmitter:budgets_edit-Save changes").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [markdown_literal("Budget changed.")]
    now = _budget(rt, "User edit-me, weekly")
    assert (now.id, now.amount, now.period, now.threshold) == (b.id, 120.0, "week", 0.5)
    assert "User edit-me, weekly" in at.dataframe[0].value["Budget"].tolist()
    row = list_audit(rt.engine, action="budgets.update").iloc[0]
    assert (row["actor"], row["outcome"]) == ("admin", "success")
    before, after = row["details"]["before"], row["details"]["after"]
    assert (before["amount"], before["period"], before["threshold"]) == (300, "month", 0.8)
    assert (after["amount"], after["period"], after["threshold"]) == (120, "week", 0.5)


@pytest.mark.parametrize(
    "period, amount, threshold, message",
    [
        ("day", 12_000.0, 0.8, "A daily budget must be more than 0 and at most 10,000 USD."),
        ("month", 0.0, 0.8, "A monthly budget must be more than 0 and at most 100,000 USD."),
        ("month", 500.0, 0.05, "The alert threshold must be between 0.1 and 1.0 (10% to 100%)."),
    ],
)
def test_a_bad_edit_is_refused_with_the_range_and_changes_nothing(env, period, amount, threshold, message):
    rt = app_runtime(env)
    b = service.create_budget(rt.engine, None, "team", f"bad-edit-{period}-{amount}-{threshold}", 400, "month", 0.8)
    at = app_as(env, "admin", PAGE)
    at.selectbox(key="budgets_manage").set_value(b.id).run()
    at.selectbox(key=f"budgets_edit_period_{b.id}").set_value(period)
    at.number_input(key=f"budgets_edit_amount_{b.id}").set_value(amount)
    at.number_input(key=f"budgets_edit_threshold_{b.id}").set_value(threshold)
    at.button(key="FormSubmitter:budgets_edit-Save changes").click().run()
    assert _errors(at) == [markdown_literal(message)]
    now = next(x for x in service.list_budgets(rt.engine) if x.id == b.id)
    assert (now.amount, now.period, now.threshold, now.updated_at) == (400, "month", 0.8, b.updated_at)


def test_the_readonly_admin_sees_edit_and_push_disabled(env):
    rt = app_runtime(env)
    service.create_budget(rt.engine, None, "team", "team-data", 600, "month", 0.8)
    at = app_as(env, "viewer", PAGE)
    at.selectbox(key="budgets_manage").set_value(_budget(rt, "Team team-data, monthly").id).run()
    for key in ("FormSubmitter:budgets_edit-Save changes", "budgets_push"):
        assert at.button(key=key).disabled and at.button(key=key).help == READONLY


def test_litellm_own_limits_list_keys_users_and_teams_over_and_near(env):
    """Demo mode's LiteLLM: the page's over / near counts and table are what the demo proxy holds for its keys,
    users and teams (read from its state, not through the console's client)."""
    rt = app_runtime(env)
    fake = rt.demo_litellm()
    holders = [(r["spend"], r["max_budget"]) for r in fake.key_api._live.values()]
    holders += [(r["spend"], r["max_budget"]) for r in fake.owners.users.values()]
    holders += [(r["spend"], r["max_budget"]) for r in fake.owners.teams.values()]
    limited = [(s, m) for s, m in holders if m is not None]
    over = sum(1 for s, m in limited if s >= m)
    near = sum(1 for s, m in limited if 0.8 * m <= s < m)
    assert over and near  # the demo has both
    at = app_as(env, "admin", PAGE)
    text = _text(at)
    assert f"**Over their limit**: {over}" in text and f"**Near their limit (80% or more)**: {near}" in text
    table = at.dataframe[-1].value  # the last table: every key, user and team with a max budget
    assert len(table) == len(limited)
    assert set(table["kind"]) == {"API key", "User", "Team"}
    teams = table[table["kind"] == "Team"].set_index("name")
    for t in fake.owners.teams.values():
        if t["max_budget"] is not None:
            assert teams.loc[t["team_alias"], "max_budget"] == t["max_budget"]
    text = shown_table(at.dataframe[-1])
    shown_teams = text[text["kind"] == "Team"].set_index("name")
    for t in fake.owners.teams.values():
        if t["max_budget"] is not None:
            assert shown_teams.loc[t["team_alias"], ["spend", "max_budget"]].tolist() == [
                money(t["spend"]),
                money(t["max_budget"]),
            ]
    cells = {str(v) for v in text.to_numpy().ravel()}
    assert not cells & {"None", "nan", "NaN", "NaT", "<NA>"}


def test_an_admin_enforces_a_team_budget_in_demo_litellm_and_sees_what_it_holds(env):
    rt = app_runtime(env)
    b = service.create_budget(rt.engine, None, "team", "team-research", 900, "week", 0.8)
    at = app_as(env, "admin", PAGE)
    at.selectbox(key="budgets_manage").set_value(b.id).run()
    at.button(key="budgets_push").click().run()
    assert not at.exception
    team = rt.demo_litellm().owners.teams["team-research"]
    assert (team["max_budget"], team["budget_duration"]) == (900, "7d")
    (said,) = [s.value for s in at.success]
    expected = f"has max budget $900.00 per 7d, spend {money(team['spend'])} (read back from LiteLLM)."
    assert said.endswith(markdown_literal(expected))

    ghost = service.create_budget(rt.engine, None, "team", "team-ghost", 50, "day", 0.8)
    at.run()
    at.selectbox(key="budgets_manage").set_value(ghost.id).run()
    at.button(key="budgets_push").click().run()
    (said,) = _errors(at)
    assert "nothing was pushed" in said and "Team not found" in said
    assert "team-ghost" not in rt.demo_litellm().owners.teams


def test_litellm_users_and_teams_are_kept_until_a_reload_or_a_push(env):
    """LiteLLM's users and teams are read once and kept (one request per 100 users, not on every page load): a spend
    LiteLLM changed meanwhile shows after "Reload from LiteLLM", and a budget pushed from the page shows at once."""
    rt = app_runtime(env)
    team = next(t for t in rt.demo_litellm().owners.teams.values() if t["max_budget"] is not None)
    name, spend = team["team_alias"], team["spend"]

    def shown(at) -> list:
        table = shown_table(at.dataframe[-1])
        return table[table["kind"] == "Team"].set_index("name").loc[name, ["spend", "max_budget"]].tolist()

    at = app_as(env, "admin", PAGE)
    before = shown(at)
    try:
        team["spend"] = spend + 123.45  # LiteLLM counts more spend
        at.run()
        assert shown(at) == before  # the kept reading
        at.button(key="budgets_reload_limits").click().run()
        assert shown(at) == [money(spend + 123.45), money(team["max_budget"])]
        b = service.create_budget(rt.engine, None, "team", team["team_id"], 4321, "day", 0.8)
        at.run()
        at.selectbox(key="budgets_manage").set_value(b.id).run()
        at.button(key="budgets_push").click().run()
        assert not at.exception and shown(at) == [money(spend + 123.45), money(4321)]
    finally:
        team["spend"] = spend
        rt.owner_snapshots.forget()
