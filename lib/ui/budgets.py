"""The Budgets page's parts: the budgets with spent / remaining / % and projection, their month view, the form to
set one, the alerts with acknowledge, LiteLLM's own key limits, and the exceeded banner of the admin pages."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from lib.auth.accounts import User
from lib.auth.permissions import has_permission
from lib.budgets import service
from lib.budgets.charts import month_view
from lib.budgets.litellm_limits import key_limits, push_key_budget
from lib.budgets.records import DEFAULT_THRESHOLD, MAX_AMOUNT, PERIODS, SCOPE_LABELS, SCOPES, Budget
from lib.budgets.status import BudgetStatus, projection_text, status
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.core.text_safety import markdown_literal
from lib.ui.actions import action_button

log = logging.getLogger(__name__)
DONE = "budgets_done"  # what the last action said, shown until the next one
STATE_LABELS = {"ok": "OK", "projected": "Projected to exceed", "warning": "Warning", "exceeded": "Exceeded"}


def show_result() -> None:
    done = st.session_state.get(DONE)
    if done:
        kind, text = done
        (st.success if kind == "ok" else st.error)(markdown_literal(text))


def _run(work, ok_text: str) -> None:
    try:
        work()
        st.session_state[DONE] = ("ok", ok_text)
    except ConsoleError as exc:
        st.session_state[DONE] = ("error", str(exc))
    st.rerun()


def statuses(rt) -> list[BudgetStatus]:
    today = utcnow().date()
    return [status(rt.store, b, today) for b in service.list_budgets(rt.engine)]


def budgets_table(items: list[BudgetStatus]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Budget": s.budget.label,
                "Amount": s.budget.amount,
                "Spent": s.spent,
                "Remaining": s.remaining,
                "% used": s.used_pct,
                "Projection": projection_text(s),
                "State": STATE_LABELS[s.state],
            }
            for s in items
        ]
    )


def render_budgets(items: list[BudgetStatus]) -> None:
    if not items:
        st.info("No budgets yet.")
        return
    st.dataframe(
        budgets_table(items),
        hide_index=True,
        column_config={
            "Amount": st.column_config.NumberColumn(format="$%.2f"),
            "Spent": st.column_config.NumberColumn(format="$%.2f"),
            "Remaining": st.column_config.NumberColumn(format="$%.2f"),
            "% used": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100),
        },
    )


def render_month_view(items: list[BudgetStatus]) -> None:
    if not items:
        return
    labels = {s.budget.id: s.budget.label for s in items}
    chosen = st.selectbox("Month view of", list(labels), format_func=lambda i: labels[i], key="budgets_view")
    s = next(s for s in items if s.budget.id == chosen)
    st.markdown(f"**{markdown_literal(s.budget.label)}**: {markdown_literal(projection_text(s))}")
    st.plotly_chart(month_view(s), theme="streamlit", key="budgets_chart")


def render_create(rt, user: User) -> None:
    with st.form("budgets_create"):
        c = st.columns(5)
        scope = c[0].selectbox("Scope", SCOPES, format_func=SCOPE_LABELS.get, key="budgets_new_scope")
        target = c[1].text_input("Team, key hash, user or model group", key="budgets_new_target")
        period = c[2].selectbox("Period", PERIODS, index=2, key="budgets_new_period")
        amount = c[3].number_input(
            "Amount (USD)", min_value=0.0, max_value=MAX_AMOUNT["month"], value=1000.0, key="budgets_new_amount"
        )
        threshold = c[4].number_input(
            "Alert threshold",
            min_value=0.0,
            max_value=1.0,
            value=DEFAULT_THRESHOLD,
            step=0.05,
            key="budgets_new_threshold",
        )
        st.caption("Daily budgets up to 10,000 USD, weekly up to 70,000, monthly up to 100,000; threshold 0.1–1.0.")
        if action_button(user, "budgets.create", "Set budget", form=True):
            _run(
                lambda: service.create_budget(rt.engine, user, scope, target, amount, period, threshold),
                "Budget set.",
            )


def render_manage(rt, user: User, budgets: list[Budget]) -> None:
    if not budgets:
        return
    labels = {b.id: b.label for b in budgets}
    c = st.columns([3, 1, 1], vertical_alignment="bottom")
    chosen = c[0].selectbox("Budget", list(labels), format_func=lambda i: labels[i], key="budgets_manage")
    b = next(b for b in budgets if b.id == chosen)
    if action_button(user, "budgets.delete", "Delete", where=c[1], key="budgets_delete"):
        _run(lambda: service.delete_budget(rt.engine, user, b.id), f"Deleted the budget {b.label}.")
    if b.scope == "api_key" and action_button(
        user, "budgets.push_to_litellm", "Enforce in LiteLLM", where=c[2], key="budgets_push"
    ):

        def push():
            with rt.litellm_client() as client:
                push_key_budget(rt.engine, client, user, b, rt.key_snapshots)

        _run(push, f"LiteLLM now enforces {b.label} as the key's max budget.")


def render_alerts(rt, user: User) -> None:
    events = service.list_alerts(rt.engine)
    if not events:
        st.caption("No alerts yet.")
        return
    rows = pd.DataFrame(
        [
            {
                "id": e["id"],
                "At": e["at"],
                "Budget": f"{SCOPE_LABELS[e['scope']]} {e['target']}".strip() + f", {e['period']}",
                "State": STATE_LABELS[e["state"]],
                "Spent": e["spent"],
                "Amount": e["amount"],
                "Delivery": ", ".join(f"{k}: {v.get('status')}" for k, v in e["delivery"].items()) or "console only",
                "Acknowledged by": e["acknowledged_by"] or "",
            }
            for e in events
        ]
    )
    st.dataframe(rows, hide_index=True, column_config={"id": None})
    open_ids = [e["id"] for e in events if not e["acknowledged_by"]]
    if open_ids:
        c = st.columns([3, 1], vertical_alignment="bottom")
        chosen = c[0].selectbox("Alert", open_ids, key="budgets_alert")
        if action_button(user, "alerts.acknowledge", "Acknowledge", where=c[1], key="budgets_ack"):
            _run(lambda: service.acknowledge_alert(rt.engine, user, chosen), f"Alert {chosen} acknowledged.")


def render_litellm_limits(rt) -> None:
    try:
        keys = rt.key_snapshots.get(rt.litellm_client).keys
    except ConsoleError as exc:
        st.warning(f"LiteLLM's keys could not be read: {markdown_literal(str(exc))}")
        return
    limits = key_limits(keys)
    if limits.empty:
        st.caption("No LiteLLM key has a max budget.")
        return
    for state, title in (("over", "Over their limit"), ("near", "Near their limit (80% or more)")):
        part = limits[limits["limit_state"] == state]
        st.markdown(f"**{title}**: {len(part)}")
    st.dataframe(
        limits.drop(columns=["token"]),
        hide_index=True,
        column_config={"used_pct": st.column_config.ProgressColumn("% used", format="%.0f%%", max_value=100)},
    )


def render_exceeded_banner(rt, user: User) -> None:
    """On every admin page while a budget's current period is exceeded."""
    if not has_permission(user.role, "budgets:read"):
        return
    try:
        hit = service.exceeded_now(rt.engine, utcnow().date())
    except Exception:  # informative only: never block a page on it
        log.exception("budget banner unavailable")
        return
    if hit:
        names = ", ".join(b.label for b in hit[:3]) + (f" and {len(hit) - 3} more" if len(hit) > 3 else "")
        st.error(f"Budget exceeded: {markdown_literal(names)}. See Budgets.", icon=":material/money_off:")
