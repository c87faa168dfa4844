"""Buttons that change state: permission-aware (disabled with the reason) and audited through the gate."""

from __future__ import annotations

import streamlit as st

from lib.auth.accounts import User
from lib.auth.gate import perform, refusal
from lib.auth.permissions import PermissionDenied
from lib.core.text_safety import markdown_literal
from lib.usage.queries import Filters


def action_button(user: User, action: str, label: str, *, form: bool = False, where=None, **button_kwargs) -> bool:
    """The button of a gated action (lib.auth.gate.ACTIONS): drawn disabled, with "Admin access required to …"
    as its tooltip, for a user who may not do it. `form=True`: a form's submit button; `where`: the column or
    container to draw in (default: the page). Other arguments go to st.button / st.form_submit_button as they are.
    Hiding is never the only protection: the action itself goes through the gate."""
    why = refusal(user, action)
    place = where if where is not None else st
    draw = place.form_submit_button if form else place.button
    return draw(label, disabled=bool(why), help=why, **button_kwargs)


REFRESHED = "console_refreshed"  # what a refresh that just ended says, shown by the run after it


def refresh_button(rt, user: User) -> None:
    """'Refresh today' for admins; readonly admins see it disabled with the reason."""
    from lib.services import RefreshInProgress, refresh_today_as

    done = st.session_state.pop(REFRESHED, None)
    clicked = action_button(user, "usage.refresh", "Refresh today", icon=":material/refresh:", key="refresh_today")
    if done and not clicked:
        # under the button, not a toast: a phone's toasts cover the page title
        st.success(done, icon=":material/check_circle:")
    if not clicked:
        return
    summary = None
    try:
        with st.spinner("Fetching today's usage from LiteLLM…"):
            summary = refresh_today_as(rt, user)  # audited by the gate, whatever ends it
    except PermissionDenied as exc:
        st.error(str(exc))
    except RefreshInProgress as exc:
        st.warning(str(exc))
    except Exception as exc:  # LiteLLM down: stored data stays; say what happened
        st.error(f"Refresh failed; the stored data is unchanged. {markdown_literal(exc)}")
    if summary is not None:
        # Run the page again: the sidebar, drawn before this button, still says when the previous refresh was.
        st.session_state[REFRESHED] = f"Refreshed {summary.days_fetched} day(s): {summary.rows_written:,} rows"
        st.rerun()


def export_auditor(rt, user: User, start, end, f: Filters):
    """Callback run when an export is downloaded: the gate checks usage.export and audits it."""
    engine = rt.engine

    def on_export(by: str, fmt: str, filename: str) -> None:
        perform(
            engine,
            user,
            "usage.export",
            filename,
            details={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "breakdown": by,
                "format": fmt,
                "filters": f.as_dict(),
            },
        )

    return on_export
