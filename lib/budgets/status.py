"""Where each budget stands: spent, remaining, % used and the projection to the end of its period, from the
usage store (lib.usage.queries, with its filters per scope), and the alert state that follows from them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from lib.budgets.projection import HISTORY_DAYS, Projection, period_bounds, project
from lib.budgets.records import Budget
from lib.usage.queries import Filters, daily_series
from lib.usage.store import UsageStore


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    period_start: date
    period_end: date
    spent: float  # up to and including today
    projection: Projection
    daily: dict  # date -> spend, the period's days so far (the month view's bars)

    @property
    def remaining(self) -> float:
        return self.budget.amount - self.spent

    @property
    def used_pct(self) -> float:
        return self.spent / self.budget.amount * 100

    @property
    def state(self) -> str:
        return state_of(self.budget, self.spent, self.projection.expected)


def state_of(budget: Budget, spent: float, projected: float) -> str:
    """exceeded (spent >= amount) > warning (spent >= threshold x amount) > projected (on course to exceed) > ok."""
    if spent >= budget.amount:
        return "exceeded"
    if spent >= budget.threshold * budget.amount:
        return "warning"
    if projected > budget.amount:
        return "projected"
    return "ok"


def daily_spend(store: UsageStore, budget: Budget, start: date, end: date) -> dict[date, float]:
    """Spend per UTC day of [start, end] in the budget's scope (days without traffic: 0)."""
    if budget.scope == "model_group":
        df = daily_series(store, start, end, split_by="model_group")
        df = df[df["model_group"] == budget.target]
        out = {start + timedelta(n): 0.0 for n in range((end - start).days + 1)}
        out.update({d: float(v) for d, v in zip(df["date"], df["spend"])})
        return out
    f = {
        "global": Filters(),
        "team": Filters(teams=(budget.target,)),
        "api_key": Filters(api_keys=(budget.target,)),
        "user": Filters(users=(budget.target,)),
    }[budget.scope]
    df = daily_series(store, start, end, f)
    return {d: float(v) for d, v in zip(df["date"], df["spend"])}


def status(store: UsageStore, budget: Budget, today: date) -> BudgetStatus:
    start, end = period_bounds(budget.period, today)
    history = daily_spend(store, budget, min(start, today - timedelta(HISTORY_DAYS)), today)
    period_days = {d: v for d, v in history.items() if start <= d <= today}
    spent = sum(period_days.values())
    projection = _at_least(project(history, start, end, today), spent)
    return BudgetStatus(budget, start, end, spent, projection, period_days)


def _at_least(p: Projection, spent: float) -> Projection:
    """Today counts as a forecast day (its spend is still coming in), but the period ends with at least what is
    already spent, today's part included."""
    days = tuple(
        replace(d, expected=max(d.expected, spent), low=max(d.low, spent), high=max(d.high, spent)) for d in p.days
    )
    return replace(p, expected=max(p.expected, spent), low=max(p.low, spent), high=max(p.high, spent), days=days)


def projection_text(s: BudgetStatus) -> str:
    """e.g. "on course for $4,210 of $4,000 by 31 Dec (+5%)"."""
    p, amount = s.projection, s.budget.amount
    pct = (p.expected - amount) / amount * 100
    return f"on course for ${p.expected:,.0f} of ${amount:,.0f} by {s.period_end:%-d %b} ({pct:+.0f}%)"
