"""The Health page's pieces: checks as coloured badges with their reason, the deployments' and jobs' tables,
the usage store's figures and "Check now" (a gated action: real provider calls)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.auth.accounts import User
from lib.auth.gate import refusal
from lib.auth.permissions import PermissionDenied
from lib.core.clock import utcnow
from lib.core.formatting import MISSING, duration, latency, styled
from lib.core.jobs import humanize_ago
from lib.core.text_safety import markdown_literal
from lib.health.console_checks import JobStatus, StoreFacts
from lib.health.litellm_checks import DeploymentHealth, check_now
from lib.health.status import Check
from lib.litellm.client import LiteLLMError
from lib.ui.actions import action_button

# status -> (badge colour, word, icon, table text colour); the word says it without the colour
LOOK = {
    "green": ("green", "OK", ":material/check_circle:", "#1e7b34"),
    "amber": ("orange", "Warning", ":material/warning:", "#a15c00"),
    "red": ("red", "Failing", ":material/error:", "#c62828"),
}
COLOUR_OF_WORD = {word: colour for _, word, _, colour in LOOK.values()}
ALL_MODELS = "All models"
CHECKED = "health_check_now_result"  # the last "check now" result, shown by the run after it


def badge(status: str) -> str:
    colour, word, icon, _ = LOOK[status]
    return f":{colour}-badge[{icon} {word}]"


def status_text(status: str) -> str:
    """A status in a table's Status column (coloured by `_table`)."""
    return LOOK[status][1]


def _table(frame: pd.DataFrame, formats: dict | None = None, **kwargs) -> None:
    """A table whose Status column is coloured like the badges, its numbers written by `formats`
    (lib.core.formatting) and "—" for anything missing (never "None")."""
    table = styled(frame, formats or {}).map(
        lambda word: f"color: {COLOUR_OF_WORD.get(word, 'inherit')}; font-weight: 600", subset=["Status"]
    )
    st.dataframe(table, hide_index=True, width="stretch", **kwargs, placeholder=MISSING)


def render_checks(checks: list[Check]) -> None:
    for c in checks:  # names are ours; reasons may quote LiteLLM or an error: plain text
        st.markdown(f"{badge(c.status)} **{c.name}** — {markdown_literal(c.reason)}")


def render_deployments(rows: list[DeploymentHealth]) -> None:
    if not rows:
        return
    frame = pd.DataFrame(
        {
            "Status": [status_text(r.status) for r in rows],
            "Model": [r.label for r in rows],
            "LiteLLM says": [r.result for r in rows],
            "Last checked (UTC)": [r.checked_at for r in rows],
            "Response": [r.response_ms for r in rows],
            "Healthy / unhealthy": [f"{r.healthy} / {r.unhealthy}" for r in rows],
            "Error": [r.error for r in rows],
        }
    )
    _table(
        frame,
        {"Response": latency},
        column_config={
            "Last checked (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Response": st.column_config.NumberColumn(),  # written by latency, sorted by the number
        },
    )


def render_check_now(rt, user: User, models: list[str]) -> None:
    """Admins run LiteLLM's health check now; read-only admins see it disabled with the reason."""
    why = refusal(user, "health.check_now")
    with st.container(border=True):
        st.markdown("**Check now**")
        st.caption(
            "Makes real requests to the providers behind each deployment (slow, and billed by them). "
            "LiteLLM keeps the result of a single model for the table above; a check of all models is shown here only."
        )
        model = st.selectbox("Model", [ALL_MODELS] + models, key="health_check_model", disabled=bool(why))
        icon = ":material/network_check:"
        if action_button(user, "health.check_now", "Check now", key="health_check_now", icon=icon):
            chosen = None if model == ALL_MODELS else model
            try:
                with st.spinner("LiteLLM is calling the providers…"):
                    results = check_now(rt, user, chosen)
            except PermissionDenied as exc:
                st.error(str(exc))
            except LiteLLMError as exc:
                st.error(f"The check could not run. {markdown_literal(exc)}")
            else:
                st.session_state[CHECKED] = (model, utcnow(), results)
                st.rerun()  # the table above shows LiteLLM's stored result of a single model
        done = st.session_state.get(CHECKED)
        if done:
            _render_checked(*done)


def _render_checked(model: str, at, results) -> None:
    bad = sum(1 for r in results if not r.healthy)
    summary = f"{model}: {len(results) - bad} healthy, {bad} unhealthy deployment(s), "
    summary += f"checked {humanize_ago(at, utcnow())}"
    (st.error if bad else st.success)(markdown_literal(summary))
    if not results:
        st.caption("LiteLLM found no deployment by that name.")
        return
    _table(
        pd.DataFrame(
            {
                "Status": [status_text("green" if r.healthy else "red") for r in results],
                "Deployment": [r.model for r in results],
                "API base": [r.api_base for r in results],
                "Error": [r.error for r in results],
            }
        )
    )


def render_store(facts: StoreFacts | None) -> None:
    if facts is None:
        return
    c = st.columns(4)
    c[0].metric("Days stored", f"{facts.days:,}", help=f"{facts.complete_days:,} complete")
    c[1].metric("Last complete day", facts.last_complete_day.isoformat() if facts.last_complete_day else "—")
    c[2].metric(
        "Today's last refresh", humanize_ago(facts.today_fetched_at, utcnow()) if facts.today_fetched_at else "not yet"
    )
    c[3].metric("Size on disk", f"{facts.size_bytes / 1e6:,.1f} MB")


def render_jobs(jobs: list[JobStatus]) -> None:
    if not jobs:
        st.warning("The background jobs' runs cannot be read (the app database is unavailable).")
        return
    _table(
        pd.DataFrame(
            {
                "Status": [status_text(j.status) for j in jobs],
                "Job": [j.label for j in jobs],
                "Last run (UTC)": [j.last_started for j in jobs],
                "Triggered by": [j.trigger or "" for j in jobs],
                "Duration": [duration(j.duration_s) for j in jobs],
                "Outcome": [j.outcome or "never run" for j in jobs],
                "Next run": [j.next_run_text for j in jobs],
            }
        ),
        column_config={"Last run (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
    )
    for j in jobs:
        if j.status != "green":
            st.markdown(f"{badge(j.status)} **{j.label}** — {markdown_literal(j.reason)}")
