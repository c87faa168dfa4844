"""The guard every page calls first: no login, no data; no permission, a 403 and nothing else.

Streamlit may run a file of pages/ by itself (without app.py) when its URL is opened, so the guard
checks the server-side session on its own rather than trusting app.py to have done it.
"""
from __future__ import annotations

import streamlit as st

from lib.accounts import User
from lib.permissions import has_permission
from lib.ui.session import verified_user


def require_page(permission: str) -> User:
    user = verified_user()
    if user is None:
        st.warning("Please log in to see this page.")
        st.markdown("[Go to the login page](/)")
        st.stop()
    if not has_permission(user.role, permission):
        st.error("403 — admin access required")
        st.caption(f"Your role ({user.role}) cannot open this page.")
        st.stop()
    return user
