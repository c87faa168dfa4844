"""Sidebar freshness line: when today's data was refreshed, and the last failure (error for admins)."""
from __future__ import annotations

import streamlit as st

from lib.appdb import get_engine
from lib.core.settings import get_settings
from lib.core.jobs import freshness
from lib.services import backfill_progress
from lib.core.text_safety import markdown_literal


def render_freshness(show_errors: bool = False) -> None:
    info = freshness(get_engine(get_settings().DATABASE_URL))
    if backfill_progress.running:
        st.progress(backfill_progress.fraction,
                    text=f"Loading history from LiteLLM: {backfill_progress.done_days} of "
                         f"{backfill_progress.total_days} days")
    if info["failed"]:
        what = "did not finish" if info["unfinished"] else "failed"
        error = f"\n\n{markdown_literal(info['error'])}" if show_errors else ""      # LiteLLM's words: plain text
        st.warning(f"Last refresh {what}; showing stored data." + error)
    st.caption(info["text"])
