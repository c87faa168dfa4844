"""Buttons that change state: permission-aware (disabled with the reason) and audited."""
from __future__ import annotations

import streamlit as st

from lib.auth.accounts import User
from lib.appdb import get_engine
from lib.auth.audit import audit
from lib.auth.permissions import PermissionDenied, denied_message, has_permission, require
from lib.usage.queries import Filters
from lib.core.text_safety import markdown_literal


def refresh_button(settings, user: User) -> None:
    """'Refresh today' for admins; readonly admins see it disabled with the reason."""
    from lib.services import RefreshInProgress, run_refresh_today
    allowed = has_permission(user.role, "usage:refresh")
    if not st.button("Refresh today", icon=":material/refresh:", disabled=not allowed, key="refresh_today",
                     help=None if allowed else denied_message("usage:refresh")):
        return
    engine = get_engine(settings.DATABASE_URL)
    # Audited whatever ends the run: a rerun or stop (a click elsewhere on the page) raises a BaseException in
    # this thread mid-refresh, and the run's audit row must not be lost with it.
    outcome, details, summary = "interrupted", {}, None
    try:
        require(user.role, "usage:refresh")          # enforced here too, not only by the disabled button
        with st.spinner("Fetching today's usage from LiteLLM…"):
            summary = run_refresh_today(settings, trigger=user.username)
            outcome, details = "success", summary.as_dict()
    except PermissionDenied as exc:
        outcome = "denied"
        st.error(str(exc))
    except RefreshInProgress as exc:
        outcome = None                               # nothing was done: not audited
        st.warning(str(exc))
    except Exception as exc:  # LiteLLM down: stored data stays; say what happened
        outcome, details = "failure", {"error": str(exc)[:500]}
        st.error(f"Refresh failed; the stored data is unchanged. {markdown_literal(exc)}")
    except BaseException as exc:
        if outcome == "interrupted":                 # not when the refresh had finished (the spinner's end)
            details = {"reason": type(exc).__name__}
        raise
    finally:
        if outcome:
            audit(engine, user.username, "usage.refresh", "today", outcome, details)
    if summary is not None:
        st.toast(f"Refreshed {summary.days_fetched} day(s): {summary.rows_written:,} rows")


def export_auditor(settings, user: User, start, end, f: Filters):
    """Callback run when an export is downloaded: checks usage:export (or self:usage) and audits it."""
    engine = get_engine(settings.DATABASE_URL)

    def on_export(by: str, fmt: str, filename: str) -> None:
        if not (has_permission(user.role, "usage:export") or has_permission(user.role, "self:usage")):
            raise PermissionDenied(denied_message("usage:export"))
        audit(engine, user.username, "usage.export", filename, "success",
              {"start": start.isoformat(), "end": end.isoformat(), "breakdown": by, "format": fmt,
               "filters": f.as_dict()})
    return on_export
