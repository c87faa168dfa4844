"""Budgets and their alerts: validation with the range in the message, spend per scope from the usage store,
alert states recorded once per transition and delivered to a real webhook receiver and SMTP server."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import func, select

from lib.appdb import open_app_database
from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.budgets import alerts, service
from lib.budgets.records import BudgetInputError, alert_events
from lib.budgets.status import projection_text, status
from lib.usage.queries import Filters, overview
from lib.usage.store import UsageStore
from tests.support.apptest import demo_settings
from tests.support.notify_servers import Receiver, SMTPServer
from tests.support.ports import free_port
from tests.support.usage_days import KeySpend, write_days

ADMIN = User("root", "Root", None, "admin", None, True)
READONLY = User("viewer", "Viewer", None, "admin-readonly", None, True)
K1, K2, K3 = "1" * 64, "2" * 64, "3" * 64
TODAY = date(2026, 12, 31)  # the month's last day: the projection is what is spent plus today's run-rate


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _env(tmp_path, **settings):
    s = demo_settings(tmp_path, **settings)
    return s, open_app_database(s.DATABASE_URL), UsageStore(tmp_path / "store")


def _month_so_far(store: UsageStore, per_day: float) -> None:
    """Dec 1-30 at `per_day` a day on key K1 (team t1, user u1)."""
    write_days(store, {date(2026, 12, d): [KeySpend(K1, per_day, team="t1", user="u1")] for d in range(1, 31)})


def _today(store: UsageStore, spend: float) -> None:
    write_days(store, {TODAY: [KeySpend(K1, spend, team="t1", user="u1")]})


# -- validation and the gate -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "period, amount, threshold, message",
    [
        ("day", 10_000.01, 0.8, "A daily budget must be more than 0 and at most 10,000 USD."),
        ("day", 0, 0.8, "A daily budget must be more than 0 and at most 10,000 USD."),
        ("month", 100_001, 0.8, "A monthly budget must be more than 0 and at most 100,000 USD."),
        ("month", "lots", 0.8, "A monthly budget must be more than 0 and at most 100,000 USD."),
        ("month", 1000, 0.05, "The alert threshold must be between 0.1 and 1.0 (10% to 100%)."),
        ("month", 1000, 1.5, "The alert threshold must be between 0.1 and 1.0 (10% to 100%)."),
    ],
)
def test_out_of_range_values_are_refused_with_the_range_and_nothing_is_saved(
    tmp_path, period, amount, threshold, message
):
    _, engine, _ = _env(tmp_path)
    with pytest.raises(BudgetInputError) as err:
        service.create_budget(engine, ADMIN, "global", None, amount, period, threshold)
    assert str(err.value) == message
    assert service.list_budgets(engine) == []


def test_limits_themselves_are_accepted_and_changes_are_audited(tmp_path):
    _, engine, _ = _env(tmp_path)
    daily = service.create_budget(engine, ADMIN, "global", None, 10_000, "day", 0.1)
    monthly = service.create_budget(engine, ADMIN, "team", " t1 ", 100_000, "month", 1.0)
    assert (monthly.target, monthly.amount) == ("t1", 100_000)
    with pytest.raises(BudgetInputError, match="already a budget for Team t1, monthly"):
        service.create_budget(engine, ADMIN, "team", "t1", 5, "month", 0.5)
    service.update_budget(engine, ADMIN, daily.id, "global", None, 50, "day", 0.5)
    row = list_audit(engine, action="budgets.update").iloc[0]
    assert row["details"]["before"]["amount"] == 10_000 and row["details"]["after"]["amount"] == 50
    with pytest.raises(PermissionDenied, match="Admin access required to manage budgets and alerts"):
        service.delete_budget(engine, READONLY, daily.id)
    assert len(service.list_budgets(engine)) == 2


# -- spend per scope -----------------------------------------------------------------------------------
def test_each_scope_spends_what_the_usage_store_says_for_the_period(tmp_path):
    _, engine, store = _env(tmp_path)
    day = date(2026, 12, 10)
    write_days(
        store,
        {
            date(2026, 11, 30): [KeySpend(K1, 100.0, team="t1", user="u1")],  # last month: not counted
            day: [
                KeySpend(K1, 4.0, team="t1", user="u1", model_group="gpt-4o"),
                KeySpend(K2, 6.5, team="t2", user="u1", model_group="claude"),
                KeySpend(K3, 1.25, team="t2", user="u2", model_group="claude"),
            ],
        },
    )
    cases = {
        ("global", None): Filters(),
        ("team", "t2"): Filters(teams=("t2",)),
        ("api_key", K2): Filters(api_keys=(K2,)),
        ("user", "u1"): Filters(users=("u1",)),
    }
    for (scope, target), f in cases.items():
        b = service.create_budget(engine, ADMIN, scope, target, 50, "month", 0.8)
        s = status(store, b, day)
        truth = overview(store, date(2026, 12, 1), day, f)["spend"]
        assert s.spent == pytest.approx(truth), scope
        assert s.remaining == pytest.approx(50 - truth) and s.used_pct == pytest.approx(truth / 50 * 100)
    group = service.create_budget(engine, ADMIN, "model_group", "claude", 50, "month", 0.8)
    assert status(store, group, day).spent == pytest.approx(7.75)


def test_projection_text_names_the_total_the_amount_the_period_end_and_the_overshoot(tmp_path):
    _, engine, store = _env(tmp_path)
    _month_so_far(store, 140.0)
    b = service.create_budget(engine, ADMIN, "global", None, 4000, "month", 0.8)
    s = status(store, b, TODAY)
    assert s.projection.expected == pytest.approx(31 * 140.0)
    assert projection_text(s) == "on course for $4,340 of $4,000 by 31 Dec (+8%)"


# -- alerts -------------------------------------------------------------------------------------------
def _events(engine) -> list[tuple[str, dict]]:
    return [(e["state"], e["delivery"]) for e in reversed(service.list_alerts(engine))]


def test_crossing_the_threshold_then_the_budget_fires_one_warning_and_one_exceeded_each_delivered_once(
    tmp_path, receiver
):
    settings, engine, store = _env(tmp_path, ALERT_WEBHOOK_URL=receiver.url)
    b = service.create_budget(engine, ADMIN, "team", "t1", 100, "month", 0.8)
    _month_so_far(store, 70 / 30)  # 70 by the 30th, on course for 72.3: ok
    waits = []
    assert alerts.evaluate(engine, store, settings, TODAY, sleep=waits.append) == []

    _today(store, 15.0)  # 85 spent: past the 80% threshold
    for _ in range(3):  # every refresh evaluates again: the warning is recorded once
        alerts.evaluate(engine, store, settings, TODAY, sleep=waits.append)
    _today(store, 35.0)  # 105 spent: over the budget
    for _ in range(3):
        alerts.evaluate(engine, store, settings, TODAY, sleep=waits.append)

    assert _events(engine) == [
        ("warning", {"webhook": {"status": "sent", "attempts": 1}}),
        ("exceeded", {"webhook": {"status": "sent", "attempts": 1}}),
    ]
    assert waits == []
    warning, exceeded = receiver.bodies
    assert warning["text"] == (
        "Budget Team t1, monthly passed its alert threshold: $85.00 spent of $100.00 (85%), projected $85.00 for the "
        "month from 2026-12-01."
    )
    assert {k: warning[k] for k in ("budget_id", "scope", "target", "period", "state", "amount", "threshold")} == {
        "budget_id": b.id,
        "scope": "team",
        "target": "t1",
        "period": "month",
        "state": "warning",
        "amount": 100.0,
        "threshold": 0.8,
    }
    assert warning["spent"] == pytest.approx(85.0) and warning["period_start"] == "2026-12-01"
    assert exceeded["state"] == "exceeded" and exceeded["spent"] == pytest.approx(105.0)
    assert exceeded["text"].startswith("Budget Team t1, monthly is exceeded: $105.00 spent of $100.00 (105%)")


def test_on_course_to_exceed_is_its_own_state(tmp_path, receiver):
    settings, engine, store = _env(tmp_path, ALERT_WEBHOOK_URL=receiver.url)
    service.create_budget(engine, ADMIN, "global", None, 100, "month", 0.8)
    write_days(store, {date(2026, 12, d): [KeySpend(K1, 4.0)] for d in range(1, 10)})  # 36 spent, 4 a day
    (event,) = alerts.evaluate(engine, store, settings, date(2026, 12, 10), sleep=lambda s: None)
    assert event["state"] == "projected" and event["projected"] == pytest.approx(36 + 22 * 4.0)  # 124 of 100
    assert receiver.bodies[0]["state"] == "projected"
    assert "is projected to exceed its amount" in receiver.bodies[0]["text"]


def test_a_receiver_that_fails_is_retried_with_backoff_then_recorded_failed_and_the_alert_is_still_listed(tmp_path):
    failing = Receiver(status=503)
    try:
        settings, engine, store = _env(tmp_path, ALERT_WEBHOOK_URL=failing.url)
        service.create_budget(engine, ADMIN, "global", None, 50, "month", 0.8)
        _month_so_far(store, 2.0)  # 60 spent: exceeded
        waits = []
        alerts.evaluate(engine, store, settings, TODAY, sleep=waits.append)
        assert len(failing.bodies) == 3
        assert waits == [1.0, 4.0]
        assert _events(engine) == [("exceeded", {"webhook": {"status": "failed", "attempts": 3, "error": "HTTP 503"}})]
    finally:
        failing.close()


def test_a_receiver_that_is_down_is_recorded_failed_without_its_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/hooks/secret-path"
    settings, engine, store = _env(tmp_path, ALERT_WEBHOOK_URL=url)
    service.create_budget(engine, ADMIN, "global", None, 50, "month", 0.8)
    _month_so_far(store, 2.0)
    waits = []
    alerts.evaluate(engine, store, settings, TODAY, sleep=waits.append)
    ((state, delivery),) = _events(engine)
    assert (state, delivery["webhook"]["status"], delivery["webhook"]["attempts"]) == ("exceeded", "failed", 3)
    assert "secret-path" not in json.dumps(delivery) and waits == [1.0, 4.0]


def test_alerts_are_e_mailed_over_smtp(tmp_path):
    smtp = SMTPServer()
    try:
        settings, engine, store = _env(
            tmp_path,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port),
            SMTP_FROM="console@example.com",
            ALERT_EMAIL_TO="ops@example.com, finance@example.com",
        )
        service.create_budget(engine, ADMIN, "user", "u1", 50, "month", 0.8)
        _month_so_far(store, 2.0)
        alerts.evaluate(engine, store, settings, TODAY, sleep=lambda s: None)
        ((rcpts, data),) = smtp.messages
        assert rcpts == ["ops@example.com", "finance@example.com"]
        assert "Subject: [LiteLLM Console] Budget User u1, monthly: exceeded" in data
        assert "Budget User u1, monthly is exceeded: $60.00 spent of $50.00 (120%)" in data
        assert _events(engine) == [("exceeded", {"email": {"status": "sent", "attempts": 1}})]
    finally:
        smtp.close()


def test_acknowledging_an_alert_records_who_and_refuses_a_second_time(tmp_path):
    settings, engine, store = _env(tmp_path)
    service.create_budget(engine, ADMIN, "global", None, 50, "month", 0.8)
    _month_so_far(store, 2.0)
    (event,) = alerts.evaluate(engine, store, settings, TODAY)
    assert event["delivery"] == {}  # no channel configured: listed in the console only
    service.acknowledge_alert(engine, ADMIN, event["id"])
    (listed,) = service.list_alerts(engine)
    assert listed["acknowledged_by"] == "root" and listed["acknowledged_at"] is not None
    with pytest.raises(BudgetInputError, match="already acknowledged by root"):
        service.acknowledge_alert(engine, ADMIN, event["id"])


def test_every_refresh_evaluates_the_alerts(tmp_path):
    """The scheduler's refresh of today (demo mode) ends with an evaluation: a tiny daily budget is exceeded."""
    from lib import services
    from lib.core.jobs import recent_runs
    from lib.runtime import Runtime

    rt = Runtime(demo_settings(tmp_path, BACKFILL_DAYS="2"))
    try:
        services.run_refresh_today(rt, "scheduler")
        assert "budget_alerts" not in set(recent_runs(rt.engine)["job"])  # no budget: no evaluation run
        service.create_budget(rt.engine, ADMIN, "global", None, 0.01, "day", 0.8)
        services.run_refresh_today(rt, "scheduler")
        with rt.engine.connect() as c:
            assert c.execute(select(func.count()).select_from(alert_events)).scalar() == 1
        assert list(recent_runs(rt.engine)["job"])[:2] == ["budget_alerts", "refresh_today"]
    finally:
        rt.close()


def test_litellm_key_limits_list_the_keys_near_and_over_their_max_budget():
    from lib.budgets.litellm_limits import key_limits
    from lib.keys.records import COLUMNS, typed

    def key(token, spend, max_budget, status="active"):
        row = dict.fromkeys(COLUMNS)
        row.update(token=token, alias=token, spend=spend, max_budget=max_budget, status=status, blocked=False)
        row.update(models=[], budget_duration="30d")
        return row

    keys = typed(
        pd.DataFrame(
            [
                key("under", 10.0, 100.0),
                key("near", 85.0, 100.0),
                key("over", 120.0, 100.0),
                key("unlimited", 500.0, None),
                key("gone", 500.0, 10.0, status="deleted"),
            ],
            columns=COLUMNS,
        )
    )
    limits = key_limits(keys, near=0.8)
    assert list(limits["token"]) == ["over", "near", "under"]
    assert list(limits["limit_state"]) == ["over", "near", "ok"]
    assert list(limits["used_pct"]) == pytest.approx([120.0, 85.0, 10.0])


def test_a_webhook_url_that_is_not_one_is_recorded_failed(tmp_path):
    settings, engine, store = _env(tmp_path, ALERT_WEBHOOK_URL="http://[::1/hooks")  # httpx.InvalidURL
    service.create_budget(engine, ADMIN, "global", None, 50, "month", 0.8)
    _month_so_far(store, 2.0)
    (event,) = alerts.evaluate(engine, store, settings, TODAY, sleep=lambda s: None)
    assert event["delivery"]["webhook"]["status"] == "failed"
    assert _events(engine)[0][1]["webhook"]["status"] == "failed"
