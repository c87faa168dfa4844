"""Sidebar freshness line: when today's data was refreshed, and the last failure (error for admins)."""

from __future__ import annotations

import streamlit as st

from lib.core.jobs import freshness
from lib.core.text_safety import markdown_literal
from lib.ui.runtime import runtime


def render_freshness(show_errors: bool = False) -> None:
    rt = runtime()
    info, backfill_progress = freshness(rt.engine), rt.backfill_progress
    if backfill_progress.running:
        st.progress(
            backfill_progress.fraction,
            text=f"Loading history from LiteLLM: {backfill_progress.done_days} of {backfill_progress.total_days} days",
        )
    if info["failed"]:
        what = "did not finish" if info["unfinished"] else "failed"
        error = f"\n\n{markdown_literal(info['error'])}" if show_errors else ""  # LiteLLM's words: plain text
        st.warning(f"Last refresh {what}; showing stored data." + error)
    st.caption(info["text"])
