"""Alert evaluation, run after every refresh of today's usage: each budget's state for its current period, a
new alert event when it rises (ok → projected → warning → exceeded; a state is recorded at most once per period,
so a budget that stays exceeded is not reported again every refresh), delivered to the configured channels.

The event is committed before delivery, so it is listed in the console even when no channel takes it; each
channel's outcome (sent / failed, attempts, error) is then recorded on it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

from lib.budgets import notify
from lib.budgets.projection import HISTORY_DAYS
from lib.budgets.records import STATES, last_state, list_budgets, record_event, set_delivery
from lib.budgets.status import status
from lib.core.clock import utcnow
from lib.core.jobs import record_job
from lib.usage.store import UsageStore

log = logging.getLogger(__name__)
JOB = "budget_alerts"
# how a state ranks for "rises": projected is below warning, since a warning is already spent money
RANK = {"ok": 0, "projected": 1, "warning": 2, "exceeded": 3}
assert set(RANK) == set(STATES)


def evaluate(engine, store, settings, today: date | None = None, sleep: Callable[[float], None] = time.sleep) -> list:
    """Record and deliver the new alerts of every budget; returns the new events as dicts (with 'delivery')."""
    today = today or utcnow().date()
    with engine.connect() as conn:
        budget_list = list_budgets(conn)
    new = []
    for budget in budget_list:
        s = status(store, budget, today)
        state = s.state
        with engine.begin() as conn:
            before = last_state(conn, budget.id, s.period_start)
            if RANK[state] <= RANK[before]:
                continue
            event_id = record_event(conn, budget, s.period_start, state, s.spent, s.projection.expected)
        alert = {
            "id": event_id,
            "budget_id": budget.id,
            "budget": budget.label,
            "scope": budget.scope,
            "target": budget.target,
            "period": budget.period,
            "period_start": s.period_start.isoformat(),
            "state": state,
            "spent": round(s.spent, 4),
            "amount": budget.amount,
            "projected": round(s.projection.expected, 4),
            "threshold": budget.threshold,
        }
        delivery = notify.deliver(settings, alert, sleep=sleep)
        with engine.begin() as conn:
            for channel, outcome in delivery.items():
                set_delivery(conn, event_id, channel, outcome)
        new.append(alert | {"delivery": delivery})
    return new


def run_after_refresh(rt, trigger: str) -> None:
    """The scheduled evaluation after a refresh, recorded as a job run when there is any budget; its failure is
    logged and recorded, never the refresh's.

    The CLI's runtime only writes the store (it loads no day into memory: the app's process serves it), so there
    the evaluation reads the days it needs from a store of its own: the longest period and the projection's
    history before it."""
    own_store = None
    try:
        with rt.engine.connect() as conn:
            if not list_budgets(conn):
                return
        store = rt.store
        if rt.store_mode != "serve":
            today = utcnow().date()
            window = (today - timedelta(days=HISTORY_DAYS + 31), today)
            store = own_store = UsageStore(rt.settings.store_dir, window=window)
        with record_job(rt.engine, JOB, trigger) as run:
            events = evaluate(rt.engine, store, rt.settings)
            run.rows = len(events)
            run.details = {"alerts": [{k: e[k] for k in ("id", "budget", "state")} for e in events]}
    except Exception:
        log.exception("budget alert evaluation failed")
    finally:
        if own_store is not None:
            own_store.close()
