"""LiteLLM Console shell: settings, login, role-aware navigation, sidebar, background services.

Every run: settings (a bad one stops here with one line) -> app database and accounts -> the login
(streamlit-authenticator, built here once per run from the users table) -> the server-side session
check -> st.navigation with the role's menu -> sidebar -> the page (whose guard checks again).
"""

import logging

import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.exc import SQLAlchemyError

from lib.core.settings import DATA_DIR, SettingsError
from lib.ui.runtime import current_settings, runtime

log = logging.getLogger("litellm_console.app")
LOGOUT_REQUESTED = "console_logout_requested"

st.set_page_config(page_title="LiteLLM Console", page_icon=":material/monitoring:", layout="wide")

try:
    settings = current_settings()
except SettingsError as exc:
    st.error(f"Configuration error — {exc}")
    st.stop()

from lib.auth import accounts  # noqa: E402
from lib.providers import crypto as provider_keys  # noqa: E402
from lib.ui import session  # noqa: E402
from lib.ui.navigation import build_navigation, run_page  # noqa: E402
from lib.ui.sidebar import render_sidebar  # noqa: E402

try:
    rt = runtime()  # once per process: app database (schema up to date), usage store, scheduler
    engine = rt.engine
    accounts.bootstrap_accounts(engine, settings)
    secret = accounts.cookie_secret(settings, DATA_DIR)
    provider_keys.check_at_start(settings, engine)  # stored provider keys need CONSOLE_ENCRYPTION_KEY
except (SettingsError, accounts.AccountError) as exc:
    st.error(f"Configuration error — {exc}")
    st.stop()
except SQLAlchemyError as exc:
    log.error("app database unavailable: %s", type(exc).__name__)
    st.error(
        f"Configuration error — DATABASE_URL: cannot use the app database ({type(exc).__name__}); see the server log"
    )
    st.stop()

rt.preload_usage()  # once per process, in the background: the first page after a restart does not wait for it
if settings.BACKGROUND_SERVICES:
    rt.start_background_services()  # once per process; cheap on every later run
else:
    rt.start_console_endpoints()  # /healthz, /readyz, /metrics even when cron does the jobs


# The login cookie's writer lives in this first, fixed slot of the page, so that whether a run draws it or not
# never shifts the page's own elements (a shift re-mounts them: duplicates flash).
with st.container():
    session.use_browser_cookies()  # no cookie component that reruns the page (lib.ui.session.BrowserCookies)
    # Built once per run, from a fresh credentials dict of the users table (never the YAML-path mode).
    authenticator = stauth.Authenticate(
        accounts.credentials(engine),
        session.COOKIE_NAME,
        secret,
        cookie_expiry_days=session.COOKIE_DAYS,
        auto_hash=False,
        login_sleep_time=0,
    )
    session.apply_login_outcome()  # before the login is read: a login checked by a stopped run's callback counts
    if st.session_state.pop(LOGOUT_REQUESTED, False):
        session.logout(engine, authenticator)  # revokes the server-side session, clears the login, reruns
    try:
        authenticator.login(location="unrendered")  # re-login from the cookie, if any
    except stauth.LoginError:
        # A correctly signed cookie of a user who is now disabled or gone: stay logged out, drop the cookie.
        st.session_state.update(authentication_status=None, name=None, username=None, roles=None, logout=True)
        authenticator.cookie_controller.delete_cookie()
    from_cookie = bool(st.session_state.get("authentication_status"))
    user = session.resolve_user(
        engine, authenticator, secret, settings.COOKIE_SECURE
    )  # the sessions table decides, not the cookie
    if user is None and from_cookie:
        st.session_state["logout"] = True  # a refused cookie is not read again in this browser session

pages = build_navigation(user.role if user else None)
nav = st.navigation(pages, position="hidden")  # the menu is render_sidebar's (see lib/ui/navigation.render_menu)

if user is None:
    session.render_login(engine, demo_accounts=settings.demo_mode, policy=lambda: accounts.LoginPolicy.of(rt.settings))
    if not settings.demo_mode and not accounts.has_enabled_admin(engine):
        st.warning(
            "No admin account exists yet. Create one with "
            "`python -m lib.cli create-user --username NAME --role admin --password-stdin`, "
            "or set ADMIN_USERNAME and ADMIN_PASSWORD and restart."
        )
    st.stop()

render_sidebar(user, settings.demo_mode, on_logout=lambda: st.session_state.update({LOGOUT_REQUESTED: True}), nav=pages)
run_page(nav, rt.metrics)  # timed for the console's metrics
