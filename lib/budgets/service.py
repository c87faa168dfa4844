"""Budget changes through the gate (lib.auth.gate.perform): create, update, delete, acknowledge an alert. Each is
one transaction with its audit row; bad input raises BudgetInputError (a ConsoleError naming the range) and
changes nothing."""

from __future__ import annotations

from dataclasses import asdict

from lib.auth.gate import actor_name, perform
from lib.budgets import records
from lib.budgets.records import Budget


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


def list_budgets(engine) -> list[Budget]:
    with engine.connect() as conn:
        return records.list_budgets(conn)


def list_alerts(engine, limit: int = 200) -> list[dict]:
    with engine.connect() as conn:
        return records.list_events(conn, limit)


def exceeded_now(engine, today) -> list[Budget]:
    with engine.connect() as conn:
        return records.exceeded_now(conn, today)
