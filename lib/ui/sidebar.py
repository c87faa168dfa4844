"""Sidebar: the menu, demo banner, data freshness, who is logged in (and as what), log out."""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from lib.auth.accounts import User
from lib.auth.permissions import ROLE_LABELS, has_permission
from lib.core.text_safety import markdown_literal
from lib.ui.navigation import render_menu

log = logging.getLogger(__name__)


def render_sidebar(user: User, demo_mode: bool, on_logout: Callable[[], None], nav: dict | None = None) -> None:
    """`nav`: the pages given to st.navigation (their menu comes first). `on_logout` is the Log out button's
    callback (it runs before the script, so it must not draw)."""
    with st.sidebar:
        if nav:
            render_menu(nav)
        if demo_mode:
            st.info("Demo mode: generated LiteLLM data, demo logins.", icon=":material/science:")
        _freshness(user)
        st.divider()
        # a username is letters, digits and . _ - @ only (lib.auth.accounts), which a code span shows as typed
        st.markdown(
            f"**{markdown_literal(user.display_name)}**  \n`{user.username}` · {ROLE_LABELS.get(user.role, user.role)}"
        )
        # a callback (not the return value): it runs before the next script run, also under AppTest
        st.button("Log out", key="console_logout", icon=":material/logout:", on_click=on_logout)


def _freshness(user: User) -> None:
    try:
        from lib.ui.freshness import render_freshness
    except ImportError:  # not written yet
        return
    try:
        render_freshness(show_errors=has_permission(user.role, "usage:read"))
    except TypeError:
        render_freshness()
    except Exception:  # informative only: never block the navigation on it
        log.exception("data freshness unavailable")
        st.caption("Data freshness unavailable.")
