"""The Budgets page's parts: the budgets with spent / remaining / % and projection, their month view, the form to
set one, edit, delete or enforce one in LiteLLM, the alerts with acknowledge, LiteLLM's own key, user and team
limits, and the exceeded banner of the admin pages."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from lib.auth.accounts import User
from lib.auth.permissions import has_permission
from lib.budgets import service
from lib.budgets.charts import month_view
from lib.budgets.litellm_limits import NEAR, PUSHABLE, all_limits, push_budget
from lib.budgets.records import DEFAULT_THRESHOLD, MAX_AMOUNT, PERIODS, SCOPE_LABELS, SCOPES, Budget
from lib.budgets.status import BudgetStatus, projection_text, status
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.core.formatting import MISSING, money, styled
from lib.core.jobs import humanize_ago
from lib.core.text_safety import markdown_literal
from lib.ui.actions import action_button

log = logging.getLogger(__name__)
DONE = "budgets_done"  # what the last action said, shown until the next one
RANGES = "Daily budgets up to 10,000 USD, weekly up to 70,000, monthly up to 100,000; threshold 0.1–1.0."
MONEY_COLUMNS = {"Amount": money, "Spent": money, "Remaining": money}  # every amount as the usage views write it
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
        styled(budgets_table(items), MONEY_COLUMNS),
        hide_index=True,
        column_config={"% used": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100)},
        placeholder=MISSING,
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
        st.caption(RANGES)
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
    if b.scope in PUSHABLE and action_button(
        user, "budgets.push_to_litellm", "Enforce in LiteLLM", where=c[2], key="budgets_push"
    ):
        _push(rt, user, b)
    render_edit(rt, user, b)


def _push(rt, user: User, b: Budget) -> None:
    """Push the budget to LiteLLM; say what LiteLLM now holds (read back after the write) or why it refused."""
    holder = {}

    def push():
        with rt.litellm_client() as client:
            holder["limit"] = push_budget(rt.engine, client, user, b, rt.key_snapshots, rt.owner_snapshots)

    try:
        push()
    except ConsoleError as exc:
        st.session_state[DONE] = ("error", f"LiteLLM did not take the budget (nothing was pushed): {exc}")
        st.rerun()
    limit = holder["limit"]
    st.session_state[DONE] = (
        "ok",
        f"LiteLLM now enforces {b.label}: its {SCOPE_LABELS[b.scope].lower()} {b.target} has max budget "
        f"{money(limit.max_budget)} per {limit.budget_duration}, spend {money(limit.spend)} (read back from LiteLLM).",
    )
    st.rerun()


def render_edit(rt, user: User, b: Budget) -> None:
    """Change the chosen budget's amount, period and alert threshold (scope and target stay: another scope is
    another budget)."""
    with st.form("budgets_edit"):
        st.markdown(f"**Change {markdown_literal(b.label)}**")
        c = st.columns(3)
        period = c[0].selectbox("New period", PERIODS, index=PERIODS.index(b.period), key=f"budgets_edit_period_{b.id}")
        amount = c[1].number_input(
            "New amount (USD)",
            min_value=0.0,
            max_value=MAX_AMOUNT["month"],
            value=b.amount,
            key=f"budgets_edit_amount_{b.id}",
        )
        threshold = c[2].number_input(
            "New alert threshold",
            min_value=0.0,
            max_value=1.0,
            value=b.threshold,
            step=0.05,
            key=f"budgets_edit_threshold_{b.id}",
        )
        st.caption(RANGES)
        if action_button(user, "budgets.update", "Save changes", form=True):
            _run(
                lambda: service.update_budget(rt.engine, user, b.id, b.scope, b.target, amount, period, threshold),
                "Budget changed.",
            )


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
    st.dataframe(
        styled(rows, MONEY_COLUMNS),
        hide_index=True,
        column_config={"id": None, "At": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm")},
        placeholder=MISSING,
    )
    open_ids = [e["id"] for e in events if not e["acknowledged_by"]]
    if open_ids:
        c = st.columns([3, 1], vertical_alignment="bottom")
        chosen = c[0].selectbox("Alert", open_ids, key="budgets_alert")
        if action_button(user, "alerts.acknowledge", "Acknowledge", where=c[1], key="budgets_ack"):
            _run(lambda: service.acknowledge_alert(rt.engine, user, chosen), f"Alert {chosen} acknowledged.")


def render_litellm_limits(rt) -> None:
    """Keys, users and teams with their own max_budget in LiteLLM: the over and near lists, then all of them."""
    keys = None
    try:
        keys = rt.key_snapshots.get(rt.litellm_client).keys
    except ConsoleError as exc:
        st.warning(f"LiteLLM's keys could not be read: {markdown_literal(str(exc))}")
    users, teams = [], []
    reload = st.button("Reload from LiteLLM", key="budgets_reload_limits", icon=":material/refresh:")
    try:
        with st.spinner("Reading LiteLLM's users and teams…"):
            owners = rt.owner_snapshots.get(rt.litellm_client, reload=reload)
        users, teams = owners.users, owners.teams
        st.caption(
            f"Users and teams read from LiteLLM {humanize_ago(owners.fetched_at, utcnow())}, kept for "
            f"{rt.settings.KEYS_CACHE_MINUTES} min; a push from here shows at once."
        )
    except ConsoleError as exc:
        st.warning(f"LiteLLM's users and teams could not be read: {markdown_literal(str(exc))}")
    limits = all_limits(keys, users, teams)
    if limits.empty:
        st.caption("No LiteLLM key, user or team has a max budget.")
        return
    for state, title in (("over", "Over their limit"), ("near", f"Near their limit ({NEAR:.0%} or more)")):
        part = limits[limits["limit_state"] == state]
        st.markdown(f"**{title}**: {len(part)}")
        if not part.empty:
            st.dataframe(
                styled(part[["kind", "name", "spend", "max_budget", "used_pct", "budget_reset_at"]], LIMIT_FORMATS),
                hide_index=True,
                column_config=LIMIT_CONFIG,
                key=f"budgets_limits_{state}",
                placeholder=MISSING,
            )
    st.markdown("**Every key, user and team with a max budget**")
    st.dataframe(
        styled(limits.drop(columns=["id"]), LIMIT_FORMATS),
        hide_index=True,
        column_config=LIMIT_CONFIG,
        key="budgets_limits",
        placeholder=MISSING,
    )


# Money columns carry no `format`: the Styler writes them (lib.core.formatting.money), sorting stays numeric.
LIMIT_FORMATS = {"spend": money, "max_budget": money}
LIMIT_CONFIG = {
    "spend": st.column_config.NumberColumn("spend"),
    "max_budget": st.column_config.NumberColumn("max budget"),
    "used_pct": st.column_config.ProgressColumn("% used", format="%.0f%%", min_value=0, max_value=100),
    "budget_reset_at": st.column_config.DatetimeColumn("budget resets (UTC)", format="YYYY-MM-DD HH:mm"),
}


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
