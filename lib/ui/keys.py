"""Drawing of the virtual keys: the kept snapshot's header, the keys table, the forms of a key's settings, the
one-time display of a new key's plaintext, and the users' own keys on My usage.

Thin UI helper: it reads widgets, asks lib.keys for frames and plans, and renders them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pandas as pd
import streamlit as st

from lib.catalog.browse import catalogue
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.core.formatting import MISSING, compact, exact, money, percent, styled
from lib.core.jobs import humanize_ago
from lib.core.text_safety import markdown_literal
from lib.keys.plans import BUDGET_PERIODS, KEEP, NEVER, POWER_LEVELS, KeyOutcome, KeyPlan, KeySettings, apply_plan
from lib.keys.records import keys_frame
from lib.keys.snapshot import KeySnapshot, fetch_keys
from lib.litellm.client import LiteLLMError, LiteLLMRefused

NEW_KEY = "keys_new_secret"  # the plaintext of a key just made: in session state until the next action on the page
COPIED = "keys_copied"  # its "I have copied the key" button
# The page's buttons that end the display of a new key (any action of the page; see show_results)
ENDS_DISPLAY = (COPIED, "keys_reload")
DONE = "keys_done"  # the message of the action the previous run did
TABLE_COLUMNS = [  # what an operator scans first on the left: who, state, budget, recent use
    "alias",
    "key_name",
    "status",
    "user_id",
    "team_id",
    "budget_used_pct",
    "spend",
    "max_budget",
    "requests",
    "range_spend",
    "success_rate",
    "trend",
    "last_active",
    "expires",
    "models",
    "budget_duration",
    "budget_reset_at",
    "rpm_limit",
    "tpm_limit",
    "blocked",
    "created_at",
    "user_email",
    "usage",
]
TABLE_CONFIG = {
    "alias": st.column_config.TextColumn("Alias", pinned=True),
    "key_name": st.column_config.TextColumn("Key"),
    "status": st.column_config.TextColumn("Status"),
    "user_id": st.column_config.TextColumn("Owner"),
    "user_email": st.column_config.TextColumn("Owner e-mail"),
    "team_id": st.column_config.TextColumn("Team"),
    "models": st.column_config.ListColumn("Models"),
    # numbers without a `format`: the Styler of table_frame writes them (lib.core.formatting), sorting stays numeric
    "spend": st.column_config.NumberColumn("Spend", help="LiteLLM's spend of the key"),
    "max_budget": st.column_config.NumberColumn("Max budget"),
    "budget_used_pct": st.column_config.ProgressColumn("Budget used", min_value=0, max_value=100, format="%.0f%%"),
    "budget_duration": st.column_config.TextColumn("Budget period"),
    "budget_reset_at": st.column_config.DatetimeColumn("Budget resets (UTC)", format="YYYY-MM-DD HH:mm"),
    "rpm_limit": st.column_config.NumberColumn("RPM limit"),
    "tpm_limit": st.column_config.NumberColumn("TPM limit"),
    "expires": st.column_config.DatetimeColumn("Expires (UTC)", format="YYYY-MM-DD HH:mm"),
    "blocked": st.column_config.CheckboxColumn("Blocked"),
    "created_at": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD"),
    "last_active": st.column_config.DateColumn("Last active", format="YYYY-MM-DD", help="Last day with requests"),
    "requests": st.column_config.NumberColumn("Requests", help="In the usage range"),
    "range_spend": st.column_config.NumberColumn("Spend in range"),
    "success_rate": st.column_config.NumberColumn("Success", help="In the usage range"),
    "trend": st.column_config.LineChartColumn("Requests per day", y_min=0),
    "usage": st.column_config.LinkColumn("Usage", display_text="Open", help="The Usage page filtered on this key"),
}
OWN_COLUMNS = [
    "alias",
    "key_name",
    "status",
    "models",
    "spend",
    "max_budget",
    "budget_used_pct",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "expires",
    "created_at",
]


# -- the snapshot ------------------------------------------------------------------------------------------------
def snapshot(rt, reload: bool = False) -> KeySnapshot:
    """The process's snapshot of LiteLLM's keys (read now if there is none, it is old, or `reload`). A failed
    read keeps the previous snapshot on screen, saying so; with none, the page stops with the reason."""
    try:
        with st.spinner("Reading the keys from LiteLLM…"):
            return rt.key_snapshots.get(rt.litellm_client, reload=reload)
    except LiteLLMError as exc:
        kept = rt.key_snapshots.peek()
        if kept is None:
            st.error(f"Cannot read the keys from LiteLLM: {markdown_literal(exc)}", icon=":material/cloud_off:")
            st.stop()
        st.warning(
            f"Reading the keys from LiteLLM failed; showing the keys read {humanize_ago(kept.fetched_at, utcnow())}. "
            f"{markdown_literal(exc)}",
            icon=":material/cloud_off:",
        )
        return kept


def snapshot_caption(snap: KeySnapshot, max_age_minutes: int) -> str:
    return (
        f"{len(snap.keys):,} keys read from LiteLLM at {snap.fetched_at:%H:%M:%S} UTC "
        f"({humanize_ago(snap.fetched_at, utcnow())}; {snap.requests} page(s) in {snap.seconds:.1f} s) · "
        f"kept for {max_age_minutes} min; changes made here show at once"
    )


# -- the table ---------------------------------------------------------------------------------------------------
# How the table writes its numbers: money as the usage views, requests as a summary count, limits exactly.
TABLE_FORMATS = {
    "spend": money,
    "max_budget": money,
    "range_spend": money,
    "requests": compact,
    "success_rate": percent,
    "rpm_limit": exact,
    "tpm_limit": exact,
}


def table_frame(shown: pd.DataFrame, usage_range: str) -> pd.DataFrame:
    """The shown keys as the table draws them: "all models" for a key limited to none, a link to its usage."""
    out = shown.assign(
        models=[list(m) if len(m) else ["all models"] for m in shown["models"]],
        usage=[f"usage?key={t}&range={usage_range}" for t in shown["token"]],
    )
    return out[TABLE_COLUMNS]


def table_styled(table: pd.DataFrame):
    """table_frame's rows for st.dataframe: numbers written by TABLE_FORMATS, still sorted as numbers; "—" for
    anything missing."""
    return styled(table, TABLE_FORMATS)


def table_key(shown: pd.DataFrame) -> str:
    """The table's widget key changes with the rows shown, so a selected row never points at another key after
    the filters or the keys change."""
    return "keys_table_" + hashlib.sha1("\n".join(shown["token"]).encode()).hexdigest()[:16]


# -- the forms ---------------------------------------------------------------------------------------------------
def limits_inputs(prefix: str, current: KeySettings | None = None) -> dict:
    """Budget and rate-limit inputs (empty = no limit); inside a form."""
    c = st.columns(3)
    max_budget = c[0].number_input(
        "Max budget ($)",
        min_value=0.0,
        value=current.max_budget if current else None,
        step=10.0,
        key=f"{prefix}_max_budget",
        help="LiteLLM refuses the key's requests above it. Empty: no budget.",
    )
    soft_budget = c[1].number_input(
        "Soft budget ($)",
        min_value=0.0,
        value=current.soft_budget if current else None,
        step=10.0,
        key=f"{prefix}_soft_budget",
        help="LiteLLM alerts above it. Empty: none.",
    )
    periods = [""] + list(BUDGET_PERIODS)  # "": no reset (a None option would read as nothing chosen)
    now = (current.budget_period if current else None) or ""
    if now not in periods:
        periods.append(now)  # set elsewhere: offered as it is
    period = c[2].selectbox(
        "Budget period",
        periods,
        index=periods.index(now),
        format_func=lambda p: f"{BUDGET_PERIODS.get(p, p)} ({p})" if p else "No reset",
        key=f"{prefix}_period",
        help="How often LiteLLM resets the key's spend.",
    )
    c = st.columns(2)
    rpm = c[0].number_input(
        "RPM limit",
        min_value=0,
        value=current.rpm_limit if current else None,
        step=10,
        key=f"{prefix}_rpm",
        help="Requests per minute. Empty: no limit.",
    )
    tpm = c[1].number_input(
        "TPM limit",
        min_value=0,
        value=current.tpm_limit if current else None,
        step=1000,
        key=f"{prefix}_tpm",
        help="Tokens per minute. Empty: no limit.",
    )
    return {
        "max_budget": max_budget,
        "soft_budget": soft_budget,
        "budget_period": period or None,
        "rpm_limit": rpm,
        "tpm_limit": tpm,
    }


def power_level_label(level: str) -> str:
    return POWER_LEVELS[level][0]


def expiry_input(prefix: str, current_expiry) -> str | int:
    """KEEP, NEVER, or a number of days from now; inside a form."""
    shown = f"{current_expiry:%Y-%m-%d %H:%M} UTC" if pd.notna(current_expiry) else "never"
    c = st.columns([2, 1])
    choice = c[0].radio(
        "Expiry",
        [KEEP, NEVER, "days"],
        format_func={KEEP: f"Keep ({shown})", NEVER: "Never expires", "days": "Expires in … days"}.get,
        horizontal=True,
        key=f"{prefix}_expiry",
    )
    days = c[1].number_input("Days from now", min_value=1, max_value=3650, value=30, key=f"{prefix}_expiry_days")
    return days if choice == "days" else choice


def model_prices(engine) -> dict[str, float | None]:
    """Available models of the catalogue and their input price per 1M tokens (for power levels and choices)."""
    models = catalogue(engine)
    if models.empty:
        return {}
    models = models[models["available"]]
    return dict(zip(models["name"], models["input_cost_per_1m"]))


# -- actions and results ---------------------------------------------------------------------------------------
def apply(rt, user, make_plan: Callable[[], KeyPlan]) -> None:
    """Plan and apply one change (the gate checks and audits it); the next run shows its result and, for a new
    key, its plaintext once. Bad input, a refusal or LiteLLM's "no" is shown here, and nothing (more) changed."""
    try:
        plan = make_plan()
        with st.spinner(f"{plan.summary}…"):
            with rt.litellm_client() as client:
                outcome = apply_plan(rt.engine, client, user, plan, rt.key_snapshots)
    except ConsoleError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return
    remember(outcome)
    st.rerun()


def error_text(exc: ConsoleError) -> str:
    """An error as markdown: LiteLLM's own reason when it refused a change (not its raw JSON)."""
    if isinstance(exc, LiteLLMRefused) and exc.status < 500:
        return f"LiteLLM refused it (HTTP {exc.status}): {markdown_literal(exc.detail)}"
    return markdown_literal(exc)


def remember(outcome: KeyOutcome) -> None:
    """What the next run shows: the action's message and, for a new key, its plaintext (that one run only)."""
    st.session_state[DONE] = (outcome.message, outcome.warning)
    st.session_state.pop(NEW_KEY, None)  # another action: the previous new key is not shown again
    if outcome.plaintext is not None:
        st.session_state[NEW_KEY] = (outcome.message, outcome.plaintext.get_secret_value())


def show_results() -> None:
    """The previous run's action: its message, and a new key's plaintext until the next action on the page ("I
    have copied the key", Reload, any change) or another page: never again after that. Not "one run only": a
    rerun nobody asked for (a chart's selection, a background refresh ending) would hide it before it was copied."""
    done = st.session_state.pop(DONE, None)
    if any(st.session_state.get(button) for button in ENDS_DISPLAY):
        st.session_state.pop(NEW_KEY, None)
    secret = st.session_state.get(NEW_KEY)
    if secret is not None:
        message, plaintext = secret
        with st.container(border=True):
            st.success(markdown_literal(message), icon=":material/key:")
            st.warning(
                "Copy the key now: this is the only time it is shown. The console does not keep it, and LiteLLM "
                "only stores its hash. If it is lost, replace the key.",
                icon=":material/warning:",
            )
            st.code(plaintext, language=None)
            st.button("I have copied the key", key=COPIED, icon=":material/done:")
    elif done is not None:
        st.success(markdown_literal(done[0]), icon=":material/check_circle:")
    if done is not None and done[1]:
        st.warning(markdown_literal(done[1]), icon=":material/warning:")


# -- My usage ----------------------------------------------------------------------------------------------------
def render_own_keys(rt, litellm_user_id: str) -> None:
    """The linked LiteLLM user's keys (read from LiteLLM: a few, so not from the admins' snapshot); no actions."""
    st.subheader("Your keys")
    try:
        with rt.litellm_client() as client:
            keys, _ = fetch_keys(client, concurrency=1, listings=(None,), user_id=litellm_user_id)
    except LiteLLMError as exc:
        st.warning(f"Your keys could not be read from LiteLLM: {markdown_literal(exc)}", icon=":material/cloud_off:")
        return
    own = keys_frame([k for k in keys if k.user_id == litellm_user_id], utcnow())  # LiteLLM's filter, checked
    if own.empty:
        st.caption(f"LiteLLM has no key of user {markdown_literal(litellm_user_id)}.")
        return
    own = own.sort_values(["status", "alias"]).assign(
        models=[list(m) if len(m) else ["all models"] for m in own["models"]]
    )
    # numbers as the usage views above it write them (lib.core.formatting), "—" where LiteLLM has none
    st.dataframe(
        table_styled(own[OWN_COLUMNS]),
        hide_index=True,
        column_config=TABLE_CONFIG,
        width="stretch",
        key="own_keys",
        placeholder=MISSING,
    )
    st.caption("Ask an admin to create, change or block a key.")
