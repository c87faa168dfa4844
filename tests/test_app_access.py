"""The app per role (AppTest): navigation, 403s, disabled buttons with their reason, audited admin actions,
the login form, logout and server-side session checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.core.settings import SettingsError, load_settings
from lib.ui.navigation import PAGES, available_pages
from lib.ui.session import COOKIE_NAME
from tests.support.apptest import app_as, app_runtime, demo_settings, new_app

ROOT = Path(__file__).resolve().parent.parent
LOGIN_BUTTON = "FormSubmitter:login_form-Log in"
ADMIN_ONLY = [p for p in PAGES if p.permission != "self:usage"]
MANAGE_BUTTONS = (
    "edit_user_set_role",
    "edit_user_disable",
    "edit_user_enable",
    "edit_user_unlock",
    "edit_user_reset",
    "edit_user_link",
    "FormSubmitter:create_user-Create user",
)


@pytest.fixture
def engine(app_env):
    return app_runtime(app_env).engine


@pytest.fixture
def nav_calls(monkeypatch):
    """What app.py passes to st.navigation, per run."""
    calls, real = [], streamlit.navigation

    def spy(pages, **kwargs):
        calls.append(pages)
        return real(pages, **kwargs)

    monkeypatch.setattr(streamlit, "navigation", spy)
    return calls


def visible_menu(call) -> dict[str, list[str]]:
    return {
        section: [p.title for p in pages if p.visibility == "visible"]
        for section, pages in call.items()
        if any(p.visibility == "visible" for p in pages)
    }


def texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in at.get(kind)]


def no_data(at) -> bool:
    return not at.dataframe and not at.metric and not at.get("plotly_chart") and not at.get("arrow_data_frame")


# -- navigation per role ---------------------------------------------------------------------------


def test_logged_out_every_url_shows_the_login_and_no_data(app_env, engine, nav_calls):
    at = app_as(app_env, None)
    assert texts(at, "title") == ["LiteLLM Console"] and at.text_input(key="login_username")
    assert "admin" in texts(at, "info")[0] and "alice" in texts(at, "info")[0]  # demo logins announced
    assert visible_menu(nav_calls[-1]) == {}
    for spec in available_pages():
        at.switch_page(spec.path).run()
        assert not at.exception
        assert texts(at, "title") == ["LiteLLM Console"], spec.path
        assert no_data(at), spec.path
        assert "console_logout" not in [b.key for b in at.button], spec.path


@pytest.mark.parametrize(
    "who,landing", [("admin", "Usage analytics"), ("viewer", "Usage analytics"), ("alice", "My usage")]
)
def test_each_role_lands_on_its_first_page(app_env, engine, who, landing):
    at = app_as(app_env, who)
    assert texts(at, "title") == [landing]
    assert at.sidebar.button(key="console_logout")


def test_menus_per_role(app_env, engine, nav_calls):
    app_as(app_env, "admin")
    admin = visible_menu(nav_calls[-1])
    assert admin == {
        "Usage": ["Usage analytics", "My usage"],
        "Admin": ["Models", "Providers", "Routing", "Users", "Budgets", "Audit log", "Settings"],
        "Operations": ["Virtual keys", "Request logs", "Health"],
    }
    app_as(app_env, "viewer")
    assert visible_menu(nav_calls[-1]) == admin  # read-only admins see every admin page
    app_as(app_env, "alice")
    assert visible_menu(nav_calls[-1]) == {"Usage": ["My usage"]}  # never an admin page
    hidden = {p.title for pages in nav_calls[-1].values() for p in pages if p.visibility == "hidden"}
    # routable, for the 403
    assert {
        "Users",
        "Audit log",
        "Models",
        "Providers",
        "Routing",
        "Usage analytics",
        "Virtual keys",
        "Health",
        "Budgets",
    } <= hidden


@pytest.mark.parametrize("spec", ADMIN_ONLY, ids=lambda s: s.url_path)
def test_a_user_gets_403_on_every_admin_page(app_env, engine, spec):
    at = app_as(app_env, "alice", spec.path)
    assert "403 — admin access required" in texts(at, "error")
    assert no_data(at) and not at.get("download_button")


# -- read-only admin -------------------------------------------------------------------------------


def test_readonly_sees_users_with_every_action_disabled_and_why(app_env, engine):
    at = app_as(app_env, "viewer", "pages/users.py")
    assert texts(at, "title") == ["Users"] and len(at.dataframe) == 1
    for key in MANAGE_BUTTONS:
        button = at.button(key=key)
        assert button.disabled and button.help == "Admin access required to manage users", key
    assert all(t.disabled for t in at.text_input if t.key.startswith("new_user_"))
    at = app_as(app_env, "viewer", "pages/audit.py")
    assert texts(at, "title") == ["Audit log"] and not at.get("download_button")[0].proto.disabled


# -- admin actions are audited ---------------------------------------------------------------------


def test_admin_user_management_is_audited(app_env, engine):
    at = app_as(app_env, "admin", "pages/users.py")
    assert not any(at.button(key=k).disabled for k in MANAGE_BUTTONS)
    at.text_input(key="new_user_username").input("Carol")
    at.text_input(key="new_user_display_name").input("Carol C")
    at.selectbox(key="new_user_role").select("admin-readonly")
    at.text_input(key="new_user_password").input("carol-initial-pw")
    at.button(key="FormSubmitter:create_user-Create user").click().run()
    assert "Created carol" in texts(at, "success")
    assert at.text_input(key="new_user_password").value == ""  # the typed password is gone
    assert accounts.get_user(engine, "carol").role == "admin-readonly"

    at.selectbox(key="edit_user_target").select("carol").run()
    at.selectbox(key="edit_user_role").select("user")
    at.button(key="edit_user_set_role").click().run()
    at.button(key="edit_user_confirm").click().run()
    at.button(key="edit_user_disable").click().run()
    at.button(key="edit_user_confirm").click().run()
    assert not accounts.get_user(engine, "carol").enabled
    at.button(key="edit_user_enable").click().run()
    at.text_input(key="edit_user_password").input("carol-second-pw")
    at.button(key="edit_user_reset").click().run()
    at.text_input(key="edit_user_litellm").input("carol.l")
    at.button(key="edit_user_link").click().run()
    assert not at.exception
    carol = accounts.get_user(engine, "carol")
    assert (carol.role, carol.enabled, carol.litellm_user_id) == ("user", True, "carol.l")
    assert accounts.authenticate(engine, "carol", "carol-second-pw")

    rows = list_audit(engine, user="admin")
    done = rows[rows["target"] == "carol"]
    assert set(done["action"]) == {
        "user.create",
        "user.change_role",
        "user.disable",
        "user.enable",
        "user.set_password",
        "user.link_litellm",
    }
    assert set(done["outcome"]) == {"success"}
    dump = list_audit(engine).to_json()
    assert "carol-initial-pw" not in dump and "carol-second-pw" not in dump


def test_the_last_admin_cannot_be_disabled_from_the_page(app_env, engine):
    at = app_as(app_env, "admin", "pages/users.py")
    at.selectbox(key="edit_user_target").select("admin").run()
    at.button(key="edit_user_disable").click().run()
    at.button(key="edit_user_confirm").click().run()
    assert any("last enabled admin" in e for e in texts(at, "error"))
    assert accounts.get_user(engine, "admin").enabled
    assert list_audit(engine, user="admin", action="user.disable")["outcome"].iloc[0] == "failure"


# -- login, logout, server-side sessions -----------------------------------------------------------


def _login(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    next(w for w in at.text_input if w.label == "Password").input(password)
    return at.button(key=LOGIN_BUTTON).click().run()


def test_login_form_then_logout(app_env, engine):
    at = app_as(app_env, None, "pages/audit.py")  # a deep link, logged out
    _login(at, "viewer", "not-the-password")
    assert texts(at, "error") == [accounts.LOGIN_FAILED] and no_data(at)
    _login(at, "viewer", "viewer")
    assert not at.exception
    assert texts(at, "title") == ["Audit log"]  # the deep link survived the login
    kept = [k for k in (f"login_password_{i}" for i in range(3)) if k in at.session_state and at.session_state[k]]
    assert kept == []  # no password kept in the session
    outcomes = list_audit(engine, user="viewer", action="login")["outcome"].tolist()
    assert outcomes[:2] == ["success", "failure"]
    exp = at.session_state["console_cookie_exp"]
    assert accounts.session_user(engine, "viewer", exp).username == "viewer"

    at.sidebar.button(key="console_logout").click().run()
    assert not at.exception
    assert texts(at, "title") == ["LiteLLM Console"] and no_data(at)
    assert accounts.session_user(engine, "viewer", exp) is None  # the cookie's session is revoked
    assert list_audit(engine, user="viewer", action="logout")["outcome"].iloc[0] == "success"


def test_a_revoked_session_is_logged_out_on_its_next_run(app_env, engine):
    admin = accounts.get_user(engine, "admin")
    accounts.create_user(engine, admin, "dave", "dave-password", "user", demo=True)
    at = app_as(app_env, "dave")
    assert texts(at, "title") == ["My usage"]
    accounts.set_enabled(engine, admin, "dave", False)  # an admin disables dave meanwhile
    at.run()
    assert not at.exception and texts(at, "title") == ["LiteLLM Console"] and no_data(at)
    accounts.set_enabled(engine, admin, "dave", True)
    _login(at, "dave", "dave-password")
    assert texts(at, "title") == ["My usage"]
    accounts.change_role(engine, admin, "dave", "admin-readonly")  # a role change ends the session too
    at.run()
    assert texts(at, "title") == ["LiteLLM Console"]


def test_lockout_from_the_login_form(app_env, engine):
    admin = accounts.get_user(engine, "admin")
    accounts.create_user(engine, admin, "mallory", "right-password-1", "user")
    at = app_as(app_env, None)
    for _ in range(accounts.MAX_FAILED_LOGINS):
        _login(at, "mallory", "wrong-password")
    _login(at, "mallory", "right-password-1")
    assert texts(at, "error") == [accounts.LOGIN_FAILED] and no_data(at)  # the reason is only audited
    assert texts(at, "title") == ["LiteLLM Console"]
    assert list_audit(engine, user="mallory", action="login")["outcome"].iloc[0] == "locked"


def test_an_unknown_username_locks_out_on_the_login_form_too(app_env, engine):
    at = app_as(app_env, None)
    for _ in range(accounts.MAX_FAILED_LOGINS + 1):
        _login(at, "nosuchuser", "wrong-password")
        assert texts(at, "error") == [accounts.LOGIN_FAILED]
    assert list_audit(engine, user="anonymous", action="login")["outcome"].tolist()[:2] == ["locked", "locked"]


def test_a_lockout_policy_saved_on_the_settings_service_locks_from_the_login_form_without_a_restart(app_env, engine):
    """LOGIN_MAX_FAILURES=2 and LOGIN_LOCKOUT_MINUTES=45 saved in the console: the running app (the same runtime,
    not restarted) locks the name at its 2nd wrong password, for 45 minutes; the form still says one thing."""
    from datetime import timedelta

    from lib.console_settings.service import change_setting
    from lib.core.clock import utcnow

    rt = app_runtime(app_env)
    admin = accounts.get_user(engine, "admin")
    accounts.create_user(engine, admin, "trudy", "right-password-1", "user")
    at = app_as(app_env, None)  # the app is running before the change
    change_setting(rt, admin, "LOGIN_MAX_FAILURES", "2")
    change_setting(rt, admin, "LOGIN_LOCKOUT_MINUTES", "45")
    try:
        before = utcnow()
        _login(at, "trudy", "wrong-password")
        assert list_audit(engine, user="trudy", action="login")["outcome"].tolist() == ["failure"]
        _login(at, "trudy", "wrong-password")
        assert texts(at, "error") == [accounts.LOGIN_FAILED]
        assert list_audit(engine, user="trudy", action="login")["outcome"].tolist() == ["locked", "failure"]
        _login(at, "trudy", "right-password-1")  # the right password while locked: refused, the same words
        assert texts(at, "error") == [accounts.LOGIN_FAILED] and texts(at, "title") == ["LiteLLM Console"]
        locked_until = accounts.list_users(engine).set_index("username").loc["trudy", "locked_until"]
        assert before + timedelta(minutes=45) <= locked_until <= utcnow() + timedelta(minutes=45)
    finally:  # the module's other tests count on the default policy
        change_setting(rt, admin, "LOGIN_MAX_FAILURES", "")
        change_setting(rt, admin, "LOGIN_LOCKOUT_MINUTES", "")
    assert rt.settings.LOGIN_MAX_FAILURES == accounts.MAX_FAILED_LOGINS


# -- files and cookies ------------------------------------------------------------------------------


def test_a_first_start_keeps_the_database_and_the_generated_secret_private(tmp_path, monkeypatch, umask_022):
    data = tmp_path / "data"
    monkeypatch.setattr("lib.core.settings.DATA_DIR", data)
    at = new_app(demo_settings(data)).run()
    assert not at.exception and texts(at, "title") == ["LiteLLM Console"]
    modes = {p.name: p.stat().st_mode & 0o777 for p in data.iterdir()}
    assert modes.pop("usage", 0o700) == 0o700  # the usage store's folder, once its background load has begun
    assert modes == {
        "app.db": 0o600,
        "app.db-wal": 0o600,
        "app.db-shm": 0o600,
        "app_secret_key": 0o600,
    }
    assert data.stat().st_mode & 0o777 == 0o700


@pytest.fixture
def cookies_set(monkeypatch) -> list[dict]:
    """The cookies the page asks the browser to write (lib.ui.session's cookie writer's data)."""
    import lib.ui.session

    calls = []

    def record(key=None, data=None, **_):
        calls.append(data)

    monkeypatch.setattr(lib.ui.session, "_login_cookie_writer", record)
    return calls


def test_the_login_cookie_is_same_site_strict_and_secure_when_configured(app_env, engine, cookies_set):
    _login(app_as(app_env.model_copy(update={"COOKIE_SECURE": "true"}), None), "viewer", "viewer")
    login_cookie = [c for c in cookies_set if c["name"] == COOKIE_NAME][-1]
    assert login_cookie["sameSite"] == "strict" and login_cookie["secure"] is True


@pytest.mark.parametrize(
    "setting, page_url, secure",
    [
        ("auto", "https://console.example.com/usage", True),
        ("auto", "http://localhost:8501/", False),
        ("auto", None, False),
        ("true", "http://localhost:8501/", True),
        ("false", "https://console.example.com/", False),
    ],
)
def test_cookie_secure_follows_the_setting_and_the_page_scheme(setting, page_url, secure):
    from lib.ui.session import login_cookie_options

    assert login_cookie_options(setting, page_url) == {"same_site": "strict", "secure": secure}


def test_cookie_secure_setting_is_checked_at_start():
    assert load_settings({"COOKIE_SECURE": " TRUE "}, secrets_path=None).COOKIE_SECURE == "true"
    assert load_settings({}, secrets_path=None).COOKIE_SECURE == "auto"
    with pytest.raises(SettingsError, match="^COOKIE_SECURE: .*'sometimes'"):
        load_settings({"COOKIE_SECURE": "sometimes"}, secrets_path=None)
