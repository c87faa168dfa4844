"""Budget changes through the gate (lib.auth.gate.perform): create, update, delete, acknowledge an alert. Each is
one transaction with its audit row; bad input raises BudgetInputError (a ConsoleError naming the range) and
changes nothing."""

from __future__ import annotations

from dataclasses import asdict

from lib.auth.gate import actor_name, perform
from lib.budgets import notify, records
from lib.budgets.records import Budget
from lib.core.clock import utcnow


def _public(b: Budget) -> dict:
    return {k: v for k, v in asdict(b).items() if k not in ("created_at", "updated_at")}


def create_budget(engine, actor, scope: str, target: str | None, amount, period: str, threshold) -> Budget:
    b = records.validate(scope, target, amount, period, threshold)
    return perform(
        engine,
        actor,
        "budgets.create",
        b.label,
        lambda conn: records.insert_budget(conn, b),
        details=lambda new: {"after": _public(new)},
    )


def update_budget(engine, actor, budget_id: int, scope: str, target: str | None, amount, period: str, threshold):
    b = records.validate(scope, target, amount, period, threshold)
    before = {}

    def change(conn):
        before.update(_public(records.get_budget(conn, budget_id)))
        return records.update_budget(conn, budget_id, b)

    return perform(
        engine,
        actor,
        "budgets.update",
        b.label,
        change,
        details=lambda new: {"before": before, "after": _public(new)},
    )


def delete_budget(engine, actor, budget_id: int) -> Budget:
    return perform(
        engine,
        actor,
        "budgets.delete",
        str(budget_id),
        lambda conn: records.delete_budget(conn, budget_id),
        details=lambda old: {"before": _public(old)},
    )


def acknowledge_alert(engine, actor, event_id: int) -> None:
    perform(
        engine,
        actor,
        "alerts.acknowledge",
        str(event_id),
        lambda conn: records.acknowledge(conn, event_id, actor_name(actor)),
    )


def send_test_notification(engine, actor, settings) -> dict[str, dict]:
    """A test message to each alert channel the settings in effect configure (settings.test_notification, admins
    only, audited with each channel's outcome: never an address, URL or password). {channel: outcome}."""
    at = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return perform(
        engine,
        actor,
        "settings.test_notification",
        "notifications",
        lambda: notify.send_test(settings, actor_name(actor), at),
        transaction=False,
        details=lambda out: {"channels": out},
        outcome=lambda out: "failure" if any(o["status"] == "failed" for o in out.values()) else "success",
    )


def list_budgets(engine) -> list[Budget]:
    with engine.connect() as conn:
        return records.list_budgets(conn)


def list_alerts(engine, limit: int = 200) -> list[dict]:
    with engine.connect() as conn:
        return records.list_events(conn, limit)


def exceeded_now(engine, today) -> list[Budget]:
    with engine.connect() as conn:
        return records.exceeded_now(conn, today)
