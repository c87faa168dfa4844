"""Budgets and their alert events: the two tables, the `Budget` record and the validation of what is typed.

A budget is an amount of spend per period (day, week from Monday, month; UTC calendar periods) for one scope:
everything (global), one team, API key, user or model group. Its alert threshold (0.1 to 1.0) is the share of
the amount at which it warns. `alert_events` holds each state a budget's period entered (ok, warning,
projected, exceeded), once per transition, with who acknowledged it and how each channel delivered it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import JSON, Column, Date, DateTime, Float, ForeignKey, Integer, String, Table, delete, insert, select
from sqlalchemy import update as sql_update

from lib.core.clock import as_aware, utcnow
from lib.core.db import metadata
from lib.core.errors import ConsoleError

SCOPES = ("global", "team", "api_key", "user", "model_group")
SCOPE_LABELS = {
    "global": "Everything",
    "team": "Team",
    "api_key": "API key",
    "user": "User",
    "model_group": "Model group",
}
PERIODS = ("day", "week", "month")
# largest amount per period, USD (the reference designs' daily 10,000 and monthly 100,000; a week is 7 days)
MAX_AMOUNT = {"day": 10_000.0, "week": 70_000.0, "month": 100_000.0}
MIN_THRESHOLD, MAX_THRESHOLD = 0.1, 1.0
DEFAULT_THRESHOLD = 0.8
STATES = ("ok", "warning", "projected", "exceeded")  # in rising order of concern
MAX_TARGET = 256

budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(16), nullable=False),
    Column("target", String(MAX_TARGET), nullable=False, default=""),  # "" for global; else team / key hash / ...
    Column("amount", Float, nullable=False),  # USD per period
    Column("period", String(8), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget_id", Integer, ForeignKey("budgets.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("period_start", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("spent", Float),
    Column("projected", Float),
    Column("amount", Float),
    Column("acknowledged_by", String(128)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("delivery", JSON),  # {"webhook": {"status": "sent"|"failed", "attempts": n, "error": ...}, "email": ...}
)


class BudgetInputError(ConsoleError, ValueError):
    """What was typed for a budget is not usable; the message names the field and its allowed range."""


@dataclass(frozen=True)
class Budget:
    id: int | None
    scope: str
    target: str
    amount: float
    period: str
    threshold: float
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def label(self) -> str:
        what = SCOPE_LABELS[self.scope] + (f" {self.target}" if self.target else "")
        return f"{what}, {self.period}ly" if self.period != "day" else f"{what}, daily"


def validate(scope: str, target: str | None, amount, period: str, threshold) -> Budget:
    """A Budget from typed values, or BudgetInputError naming the field and its range."""
    if scope not in SCOPES:
        raise BudgetInputError(f"Scope must be one of {', '.join(SCOPES)}.")
    target = (target or "").strip()
    if scope == "global":
        target = ""
    elif not target:
        raise BudgetInputError(f"Choose the {SCOPE_LABELS[scope].lower()} this budget is for.")
    elif len(target) > MAX_TARGET:
        raise BudgetInputError(f"The {SCOPE_LABELS[scope].lower()} name is longer than {MAX_TARGET} characters.")
    if period not in PERIODS:
        raise BudgetInputError(f"Period must be one of {', '.join(PERIODS)}.")
    top = MAX_AMOUNT[period]
    try:
        amount = float(amount)
    except (TypeError, ValueError):
        amount = float("nan")
    if not (0 < amount <= top):
        period_name = "daily" if period == "day" else f"{period}ly"
        raise BudgetInputError(f"A {period_name} budget must be more than 0 and at most {top:,.0f} USD.")
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        threshold = float("nan")
    if not (MIN_THRESHOLD <= threshold <= MAX_THRESHOLD):
        raise BudgetInputError("The alert threshold must be between 0.1 and 1.0 (10% to 100%).")
    return Budget(None, scope, target, round(amount, 2), period, threshold)


def _budget(row) -> Budget:
    return Budget(
        row.id,
        row.scope,
        row.target,
        row.amount,
        row.period,
        row.threshold,
        as_aware(row.created_at),
        as_aware(row.updated_at),
    )


def list_budgets(conn) -> list[Budget]:
    return [_budget(r) for r in conn.execute(select(budgets).order_by(budgets.c.id))]


def get_budget(conn, budget_id: int) -> Budget:
    row = conn.execute(select(budgets).where(budgets.c.id == budget_id)).first()
    if row is None:
        raise BudgetInputError(f"There is no budget {budget_id} (it may have been deleted).")
    return _budget(row)


def _check_unique(conn, b: Budget, except_id: int | None = None) -> None:
    q = select(budgets.c.id).where(
        budgets.c.scope == b.scope, budgets.c.target == b.target, budgets.c.period == b.period
    )
    if except_id is not None:
        q = q.where(budgets.c.id != except_id)
    if conn.execute(q).first() is not None:
        raise BudgetInputError(f"There is already a budget for {b.label}; edit that one.")


def insert_budget(conn, b: Budget) -> Budget:
    _check_unique(conn, b)
    now = utcnow()
    new_id = conn.execute(
        insert(budgets).values(
            scope=b.scope,
            target=b.target,
            amount=b.amount,
            period=b.period,
            threshold=b.threshold,
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]
    return get_budget(conn, new_id)


def update_budget(conn, budget_id: int, b: Budget) -> Budget:
    old = get_budget(conn, budget_id)
    _check_unique(conn, b, except_id=budget_id)
    conn.execute(
        sql_update(budgets)
        .where(budgets.c.id == budget_id)
        .values(
            scope=b.scope, target=b.target, amount=b.amount, period=b.period, threshold=b.threshold, updated_at=utcnow()
        )
    )
    if (old.scope, old.target, old.period) != (b.scope, b.target, b.period):
        conn.execute(delete(alert_events).where(alert_events.c.budget_id == budget_id))  # another budget now
    return get_budget(conn, budget_id)


def delete_budget(conn, budget_id: int) -> Budget:
    old = get_budget(conn, budget_id)
    conn.execute(delete(alert_events).where(alert_events.c.budget_id == budget_id))  # SQLite ignores the FK
    conn.execute(delete(budgets).where(budgets.c.id == budget_id))
    return old


# -- alert events -------------------------------------------------------------------------------------
def last_state(conn, budget_id: int, period_start: date) -> str:
    """The state the budget's period is in: its latest event's, "ok" before any."""
    row = conn.execute(
        select(alert_events.c.state)
        .where(alert_events.c.budget_id == budget_id, alert_events.c.period_start == period_start)
        .order_by(alert_events.c.id.desc())
        .limit(1)
    ).first()
    return row.state if row else "ok"


def record_event(conn, budget: Budget, period_start: date, state: str, spent: float, projected: float) -> int:
    return conn.execute(
        insert(alert_events).values(
            budget_id=budget.id,
            period_start=period_start,
            state=state,
            at=utcnow(),
            spent=spent,
            projected=projected,
            amount=budget.amount,
            delivery={},
        )
    ).inserted_primary_key[0]


def set_delivery(conn, event_id: int, channel: str, outcome: dict) -> None:
    row = conn.execute(select(alert_events.c.delivery).where(alert_events.c.id == event_id)).first()
    delivery = dict((row.delivery if row else None) or {})
    delivery[channel] = outcome
    conn.execute(sql_update(alert_events).where(alert_events.c.id == event_id).values(delivery=delivery))


def acknowledge(conn, event_id: int, who: str) -> None:
    row = conn.execute(select(alert_events.c.acknowledged_by).where(alert_events.c.id == event_id)).first()
    if row is None:
        raise BudgetInputError(f"There is no alert {event_id}.")
    if row.acknowledged_by:
        raise BudgetInputError(f"Alert {event_id} was already acknowledged by {row.acknowledged_by}.")
    conn.execute(
        sql_update(alert_events)
        .where(alert_events.c.id == event_id)
        .values(acknowledged_by=who, acknowledged_at=utcnow())
    )


def list_events(conn, limit: int = 200) -> list[dict]:
    """The latest alert events, newest first, with their budget's scope, target and period."""
    q = (
        select(alert_events, budgets.c.scope, budgets.c.target, budgets.c.period)
        .join(budgets, budgets.c.id == alert_events.c.budget_id)
        .order_by(alert_events.c.id.desc())
        .limit(limit)
    )
    out = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        d["at"] = as_aware(d["at"])
        d["acknowledged_at"] = as_aware(d["acknowledged_at"])
        d["delivery"] = dict(d["delivery"] or {})
        out.append(d)
    return out


def exceeded_now(conn, today: date) -> list[Budget]:
    """The budgets whose current period (the one containing `today`) has an 'exceeded' event."""
    from lib.budgets.projection import period_bounds

    out = []
    for b in list_budgets(conn):
        start = period_bounds(b.period, today)[0]
        hit = conn.execute(
            select(alert_events.c.id).where(
                alert_events.c.budget_id == b.id,
                alert_events.c.period_start == start,
                alert_events.c.state == "exceeded",
            )
        ).first()
        if hit is not None:
            out.append(b)
    return out
