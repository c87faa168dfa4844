"""The guard every page calls first: no login, no data; no permission, a 403 and nothing else.

Streamlit may run a file of pages/ by itself (without app.py) when its URL is opened, so the guard
checks the server-side session on its own rather than trusting app.py to have done it.
"""

from __future__ import annotations

import streamlit as st

from lib.auth.accounts import LoginPolicy, User
from lib.auth.permissions import has_permission
from lib.ui.runtime import runtime
from lib.ui.session import render_login, verified_user


def require_page(permission: str) -> User:
    _leave_pages_directory_mode()
    user = verified_user()
    if user is None:
        rt = runtime()
        render_login(rt.engine, demo_accounts=rt.settings.demo_mode, policy=lambda: LoginPolicy.of(rt.settings))
        st.stop()
    if not has_permission(user.role, permission):
        st.error("403 — admin access required")
        st.caption(f"Your role ({user.role}) cannot open this page.")
        from lib.ui.navigation import landing_page

        home = landing_page(user.role)
        if home is not None:
            st.page_link(home.path, label=f"Go to {home.title}", icon=home.icon)
        st.stop()
    if permission != "keys:read":  # a new key's plaintext is shown on the keys page only, never after leaving it
        from lib.ui.keys import NEW_KEY

        st.session_state.pop(NEW_KEY, None)
    from lib.ui.budgets import render_exceeded_banner  # lazily: most runs of the guard end with a login

    render_exceeded_banner(runtime(), user)  # admin pages only: the banner checks budgets:read
    return user


def _leave_pages_directory_mode() -> None:
    """On a fresh server, before app.py has ever run, Streamlit serves a pages/ file by itself (its old
    multipage mode, a process-wide flag that app.py's st.navigation turns off). Turn it off here and
    rerun, so app.py (login, menu, sidebar) runs and routes the same URL."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
