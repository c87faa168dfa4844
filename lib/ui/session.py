"""Who is logged in, for this browser session: login form, cookie re-login, server-side session check.

The login cookie is streamlit-authenticator's signed JWT (username + expiry stamp). A cookie only counts
while a matching open row exists in the `sessions` table, so logging out (which closes it) makes a
copied or replayed cookie useless.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import jwt
import streamlit as st

from lib.auth import accounts
from lib.auth.accounts import LoginError, User

COOKIE_NAME = "litellm_console_auth"
COOKIE_DAYS = 7
_USER_KEY = "console_user"
_EXP_KEY = "console_cookie_exp"
_PENDING_KEY = "console_pending_cookie"
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
        return None
    st.session_state[_EXP_KEY] = exp
    st.session_state[_USER_KEY] = user
    if st.session_state.get(_PENDING_KEY):
        # Just logged in with a password: the cookie is set in a normal run that renders the cookie
        # component (a rerun right after setting it would drop it).
        set_login_cookie(authenticator, username, exp, secret, cookie_secure)
        st.session_state[_PENDING_KEY] = False
    return user


def login_cookie_options(cookie_secure: str, page_url: str | None) -> dict:
    """The login cookie's attributes: SameSite=Strict always; Secure per COOKIE_SECURE (auto: when the browser's
    page is https, which a TLS-terminating proxy in front of the app also gives)."""
    secure = cookie_secure == "true" or (cookie_secure == "auto" and (page_url or "").startswith("https://"))
    return {"same_site": "strict", "secure": secure}


def set_login_cookie(
    authenticator, username: str, exp: float, secret: str, cookie_secure: str, key: str = "set"
) -> None:
    """Write the login cookie (the library's token format) through its cookie component: JavaScript sets it."""
    token = jwt.encode({"username": username, "exp_date": exp}, secret, algorithm="HS256")
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        COOKIE_NAME,
        token,
        key=key,
        expires_at=datetime.fromtimestamp(exp),
        **login_cookie_options(cookie_secure, st.context.url),
    )


def _forget(authenticator) -> None:
    for k in ("authentication_status", "name", "username", "roles", _USER_KEY, _EXP_KEY, _PENDING_KEY):
        st.session_state[k] = None
    try:
        authenticator.cookie_controller.delete_cookie()
    except Exception:  # the cookie component may be absent (tests); the session row is what counts
        pass


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
        attempt.outcome = logged_in_state(user, exp) | {_PENDING_KEY: True}


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
