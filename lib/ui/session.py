"""Who is logged in, for this browser session: login form, cookie re-login, server-side session check.

The login cookie is streamlit-authenticator's signed JWT (username + expiry stamp). A cookie only counts
while a matching open row exists in the `sessions` table, so logging out (which closes it) makes a
copied or replayed cookie useless.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import jwt
import streamlit as st

from lib.auth import accounts
from lib.auth.accounts import LoginError, User

COOKIE_NAME = "litellm_console_auth"
COOKIE_DAYS = 7
_USER_KEY = "console_user"
_EXP_KEY = "console_cookie_exp"
_DELETE_KEY = "console_cookie_delete"
_ATTEMPT_KEY = "login_attempt"
_LOGIN_KEY = "console_login"


def current_user() -> User | None:
    return st.session_state.get(_USER_KEY)


def verified_user() -> User | None:
    """This session's user, re-checked against the sessions table (logout elsewhere, disabled, role change)."""
    from lib.ui.runtime import runtime

    username, exp = st.session_state.get("username"), st.session_state.get(_EXP_KEY)
    if not (st.session_state.get("authentication_status") and username and exp):
        return None
    user = accounts.session_user(runtime().engine, username, exp)
    st.session_state[_USER_KEY] = user
    return user


def logged_in_state(user: User, exp: float) -> dict:
    """The session state of a login whose server-side session expires at `exp` (streamlit-authenticator's keys
    and ours); resolve_user checks it against the sessions table on every run."""
    return {
        "authentication_status": True,
        "username": user.username,
        "name": user.display_name,
        "roles": [user.role],
        "logout": False,
        _EXP_KEY: exp,
    }


def resolve_user(engine, authenticator, secret: str, cookie_secure: str) -> User | None:
    """Run once per script run in app.py, right after authenticator.login('unrendered')."""
    if not st.session_state.get("authentication_status"):
        st.session_state.pop(_USER_KEY, None)
        _delete_cookie_if_asked(cookie_secure)
        return None
    username, exp = st.session_state.get("username"), st.session_state.get(_EXP_KEY)
    if exp is None:  # logged in from a cookie in a new browser session: find its expiry stamp
        token = st.context.cookies.get(COOKIE_NAME)
        try:
            exp = jwt.decode(token, secret, algorithms=["HS256"]).get("exp_date") if token else None
        except jwt.PyJWTError:
            exp = None
    user = accounts.session_user(engine, username, exp) if username and exp else None
    if user is None:
        _forget(authenticator)
        _delete_cookie_if_asked(cookie_secure)
        return None
    st.session_state[_EXP_KEY] = exp
    st.session_state[_USER_KEY] = user
    write_login_cookie(username, exp, secret, cookie_secure)
    return user


def login_cookie_options(cookie_secure: str, page_url: str | None) -> dict:
    """The login cookie's attributes: SameSite=Strict always; Secure per COOKIE_SECURE (auto: when the browser's
    page is https, which a TLS-terminating proxy in front of the app also gives)."""
    secure = cookie_secure == "true" or (cookie_secure == "auto" and (page_url or "").startswith("https://"))
    return {"same_site": "strict", "secure": secure}


# The login cookie is written (and deleted) from the page itself, by this component, which reports nothing back:
# a component that reports reruns the page. It is drawn in every run with what the cookie should be (the login's,
# or a deletion after a logout), so a run replaced before the browser ran it leaves the writing to the next one.
_COOKIE_JS = """
export default function ({ data }) {
  if (!data || !data.name) return;
  let cookie = `${data.name}=${data.value}; Path=/; Expires=${new Date(data.expires * 1000).toUTCString()}`;
  cookie += `; SameSite=${data.sameSite}` + (data.secure ? "; Secure" : "");
  document.cookie = cookie;
}
"""
_login_cookie_writer = st.components.v2.component("console_login_cookie", js=_COOKIE_JS)


def login_cookie(username: str, exp: float, secret: str, cookie_secure: str, page_url: str | None) -> dict:
    """The login cookie the browser is asked to keep: the library's token format (a signed username + expiry stamp),
    expiring with the server-side session."""
    options = login_cookie_options(cookie_secure, page_url)
    return {
        "name": COOKIE_NAME,
        "value": jwt.encode({"username": username, "exp_date": exp}, secret, algorithm="HS256"),
        "expires": exp,
        "sameSite": options["same_site"],
        "secure": options["secure"],
    }


def write_login_cookie(username: str, exp: float, secret: str, cookie_secure: str) -> None:
    st.session_state.pop(_DELETE_KEY, None)
    _write_cookie(login_cookie(username, exp, secret, cookie_secure, st.context.url))


def _write_cookie(data: dict) -> None:
    _login_cookie_writer(key="console_login_cookie", data=data)


def _delete_cookie_if_asked(cookie_secure: str) -> None:
    """After a logout (or a refused cookie), in every run of this browser session until the next login."""
    name = st.session_state.get(_DELETE_KEY)
    if name:
        options = login_cookie_options(cookie_secure, st.context.url)
        _write_cookie({"name": name, "value": "", "expires": 0, "sameSite": "strict", "secure": options["secure"]})


class BrowserCookies:
    """What streamlit-authenticator gets in place of extra_streamlit_components' CookieManager (see
    `use_browser_cookies`): the cookies the browser sent with this session's request, and writes through the page's
    cookie writer. That manager draws a browser component in every run which reports the browser's cookies back each
    time they change, and each report reruns the page: once on every page load and once after every login, the first
    run cut short (about a second) and a click in it lost. The library reads the login cookie from the request anyway
    (st.context.cookies)."""

    def __init__(self, key: str = "init") -> None:
        self.cookies = dict(st.context.cookies)

    def get(self, cookie: str):
        return self.cookies.get(cookie)

    def get_all(self, key: str = "get_all") -> dict:
        return self.cookies

    def set(self, cookie: str, val, key: str = "set", **_options) -> None:
        raise NotImplementedError("the console writes its login cookie itself (write_login_cookie)")

    def delete(self, cookie: str, key: str = "delete") -> None:
        st.session_state[_DELETE_KEY] = cookie  # deleted by resolve_user's writer, in this run or the next
        self.cookies.pop(cookie, None)


def use_browser_cookies() -> None:
    """streamlit-authenticator (0.4.2) builds its cookie manager as `stx.CookieManager()` in its cookie model: that
    name now builds a BrowserCookies. Idempotent; app.py calls it before building the authenticator."""
    from streamlit_authenticator.models import cookie_model

    if getattr(cookie_model.stx, "CookieManager", None) is not BrowserCookies:
        cookie_model.stx = types.SimpleNamespace(CookieManager=BrowserCookies)


def _forget(authenticator) -> None:
    for k in ("authentication_status", "name", "username", "roles", _USER_KEY, _EXP_KEY):
        st.session_state[k] = None
    authenticator.cookie_controller.delete_cookie()


def render_login(engine, demo_accounts: bool, policy: Callable[[], accounts.LoginPolicy] | None = None) -> None:
    """Our own login form: lockout, disabled accounts and audit live in lib.auth.accounts (one message for any
    refusal). `policy`: the lockout policy in effect when the form is sent (the runtime's settings, which an admin
    may change without a restart); None: the defaults."""
    st.title("LiteLLM Console")
    if demo_accounts:
        st.info(
            "Demo mode: log in as **admin** / admin, **viewer** / viewer (read-only admin) or "
            "**alice** / alice (a user who sees only her own usage)."
        )
    with st.form("login_form"):
        st.subheader("Log in")
        st.text_input("Username", key="login_username", autocomplete="username")
        st.text_input("Password", type="password", key=_password_key(), autocomplete="current-password")
        st.form_submit_button(
            "Log in", type="primary", on_click=_attempt_login, args=(engine, _login_attempt(), policy)
        )
    if st.session_state.get("login_error"):  # stays until the next attempt (a rerun must not hide it)
        st.error(st.session_state["login_error"])
    _preload_page_modules()


# The browser loads Streamlit's code for charts (plotly, ~4.7 MB) and tables (~1.2 MB) only when a page first draws
# one: the first page after the login waited about 1.5 s more for its charts. The login page asks for both modules
# while the form is filled in; the page's own lazy import then finds them loaded (one module per URL).
_PRELOAD_JS = """
export default function ({ data }) {
  const app = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!app || !data) return;
  for (const name of data.modules || []) import(new URL(name, app.src).href).catch(() => {});
}
"""
_module_preloader = st.components.v2.component("console_module_preload", js=_PRELOAD_JS)


@functools.cache
def chart_and_table_modules() -> tuple[str, ...]:
    """The file names of Streamlit's frontend modules for charts and tables (named with a build hash, so found in
    the installed package; none when its layout differs: nothing is preloaded, nothing breaks)."""
    from streamlit import file_util

    folder = Path(file_util.get_static_dir()) / "static" / "js"
    found = [sorted(folder.glob(f"{name}.*.js")) for name in ("PlotlyChart", "DataFrame")]
    return tuple(files[0].name for files in found if len(files) == 1)


def _preload_page_modules() -> None:
    _module_preloader(key="console_module_preload", data={"modules": list(chart_and_table_modules())})


def _password_key() -> str:
    return f"login_password_{st.session_state.get(_ATTEMPT_KEY, 0)}"


class LoginAttempt:
    """The outcome of this browser session's last login attempt, handed from the form's callback to the next run.

    Why not the session state directly: once another rerun is asked for, Streamlit stops a run at its next
    `st.session_state` access and starts the new run at once, beside it. On a page just loaded the cookie
    component asks for one (it reports the browser's cookies), so a click on "Log in" often met it: the callback
    was stopped after the password check (audited "success") and before it wrote the login, while the new run had
    already drawn the form again, with no message. Here the callback holds `lock` from its first statement, makes
    no Streamlit call after reading the form, and leaves the outcome in `outcome`; the next run waits for the lock
    (`apply_login_outcome`), so it sees the outcome whichever run ends first.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcome: dict | None = None


def _login_attempt() -> LoginAttempt:
    return st.session_state.setdefault(_LOGIN_KEY, LoginAttempt())


def _attempt_login(engine, attempt: LoginAttempt, policy=None) -> None:
    """Form callback (runs before the script): check the password, open the session, forget the password."""
    with attempt.lock:  # `attempt` comes as an argument: taking the lock is the callback's first step
        username = (st.session_state.get("login_username") or "").strip()
        st.session_state["login_error"] = None
        key = _password_key()
        password = st.session_state.pop(key, None) or ""
        # A typed password never stays in the page: the next form draws a new password field (a new widget key),
        # so the browser drops the old input element, value attribute and all, instead of clearing it in place.
        st.session_state[_ATTEMPT_KEY] = st.session_state.get(_ATTEMPT_KEY, 0) + 1
        # No Streamlit call from here on (any could stop the callback half-way)
        try:
            user = accounts.authenticate(engine, username, password, policy=policy() if policy else None)
        except LoginError as exc:
            attempt.outcome = {"login_error": str(exc)}
            return
        exp = (datetime.now() + timedelta(days=COOKIE_DAYS)).timestamp()
        accounts.open_session(engine, user.username, exp)
        attempt.outcome = logged_in_state(user, exp)


def apply_login_outcome() -> None:
    """Run by app.py before the login is read, in every run: the last login attempt's outcome into the session state
    (after waiting for an attempt still being checked). Dropped only once applied, so a run stopped half-way
    leaves it to the next."""
    attempt = st.session_state.get(_LOGIN_KEY)
    if attempt is None:
        return
    with attempt.lock:
        outcome = attempt.outcome
    if outcome:
        st.session_state.update(outcome)
        attempt.outcome = None


def logout(engine, authenticator) -> None:
    user = current_user()
    if user:
        accounts.close_session(engine, user.username, st.session_state.get(_EXP_KEY))
    try:
        authenticator.logout(location="unrendered")
    except Exception:
        pass
    _forget(authenticator)
    st.rerun()
