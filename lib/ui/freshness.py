"""Sidebar freshness line: when today's data was refreshed, and the last failure (error for admins); the history's
loading progress, which follows the loading and runs the page again when it ends."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from lib.core.jobs import freshness
from lib.core.text_safety import markdown_literal
from lib.ui.runtime import runtime

PROGRESS_EVERY = timedelta(seconds=2)


def render_freshness(show_errors: bool = False) -> None:
    rt = runtime()
    info = freshness(rt.engine)
    render_history_progress(rt.backfill_progress)
    if info["failed"]:
        what = "did not finish" if info["unfinished"] else "failed"
        error = f"\n\n{markdown_literal(info['error'])}" if show_errors else ""  # LiteLLM's words: plain text
        st.warning(f"Last refresh {what}; showing stored data." + error)
    if info["notice"] and show_errors:  # e.g. LiteLLM's database unreachable: the API was read instead
        st.info(markdown_literal(info["notice"]), icon=":material/database:")
    st.caption(info["text"])


def render_history_progress(progress) -> bool:
    """While the history loads from LiteLLM (the startup backfill, `Runtime.backfill_progress`): its progress bar,
    redrawn every PROGRESS_EVERY, and once loading ends the whole page runs again, so it shows the loaded history
    without a click. Returns whether the history is loading."""
    if not progress.running:
        return False
    _history_progress(progress)
    return True


@st.fragment(run_every=PROGRESS_EVERY)
def _history_progress(progress) -> None:
    if not progress.running:
        st.rerun(scope="app")
    days = f": {progress.done_days} of {progress.total_days} days" if progress.total_days else "…"
    st.progress(progress.fraction, text=f"Loading history from LiteLLM{days}")
