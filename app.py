"""LiteLLM Console shell: settings, login, role-aware navigation, sidebar, background services."""
import streamlit as st
import streamlit_authenticator as stauth

from lib import accounts
from lib.appdb import get_engine
from lib.config import DATA_DIR, SettingsError, get_settings
from lib.permissions import has_permission
from lib.services import start_background_services
from lib.ui import session
from lib.ui.navigation import PAGES

st.set_page_config(page_title="LiteLLM Console", page_icon=":material/monitoring:", layout="wide")

try:
    settings = get_settings()
    engine = get_engine(settings.DATABASE_URL)
    accounts.bootstrap_accounts(engine, settings)
    secret = accounts.cookie_secret(settings, DATA_DIR)
except (SettingsError, accounts.AccountError) as exc:
    st.error(f"Configuration error — {exc}")
    st.stop()

if settings.BACKGROUND_SERVICES:
    start_background_services(settings)   # once per process (idempotent)

# Built once per run from the users table (a fresh dict; never the YAML-path mode).
authenticator = stauth.Authenticate(accounts.credentials(engine), session.COOKIE_NAME, secret,
                                    cookie_expiry_days=session.COOKIE_DAYS, auto_hash=False, login_sleep_time=0)
authenticator.login(location="unrendered")          # re-login from the cookie, if any
user = session.resolve_user(engine, authenticator, secret)

# Every page is routable (a deep link survives the login; the guard answers 403); the menu below
# lists only the pages the role may open.
allowed = [p for p in PAGES if user and has_permission(user.role, p.permission)]


def home() -> None:
    """The root URL: each role lands on its first page."""
    st.switch_page(allowed[0].path)


pages = [st.Page(home, title="Home", url_path="home", default=True)]
pages += [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES]
nav = st.navigation(pages, position="hidden")

if user is None:
    session.render_login(engine, demo_accounts=settings.demo_mode)
    st.stop()

with st.sidebar:
    st.markdown("### LiteLLM Console")
    if settings.demo_mode:
        st.caption(":material/science: Demo mode — generated LiteLLM data")
    sections: dict[str, list] = {}
    for p in allowed:
        sections.setdefault(p.section, []).append(p)
    for section, specs in sections.items():
        st.caption(section.upper())
        for p in specs:
            st.page_link(p.path, label=p.title, icon=p.icon)
    st.divider()
    try:
        from lib.ui.freshness import render_freshness
        render_freshness(show_errors=has_permission(user.role, "usage:refresh"))
    except Exception as exc:  # freshness is informative; never block navigation on it
        st.caption(f"Freshness unavailable: {exc}")
    st.markdown(f"**{user.display_name}** · `{user.role}`")
    if st.button("Log out", key="console_logout", icon=":material/logout:"):
        session.logout(engine, authenticator)

nav.run()
