"""The app per role (AppTest): navigation, 403s, disabled buttons, audited actions."""
from __future__ import annotations

from lib.appdb import get_engine
from lib.audit import list_audit
from tests.apptest_support import app_as, demo_env  # noqa: F401  (fixture)

ADMIN_PAGES = {"pages/usage.py", "pages/models.py", "pages/users.py", "pages/audit.py"}


def _menu(at) -> set[str]:
    return {link.value for link in at.sidebar.get("page_link")}


def _texts(at) -> str:
    return " ".join(str(e.value) for kind in ("error", "warning", "info", "markdown", "title") for e in at.get(kind))


def test_logged_out_shows_only_the_login(demo_env):
    at = app_as(demo_env, None)
    assert not at.exception
    assert [t.value for t in at.title] == ["LiteLLM Console"]
    assert at.text_input(key="login_username") is not None
    assert not at.metric and not at.dataframe                # no data before a login
    assert "admin" in at.info[0].value                       # demo accounts are announced


def test_admin_sees_every_page_in_the_menu(demo_env):
    at = app_as(demo_env, "admin")
    assert not at.exception
    assert [t.value for t in at.title] == ["Usage analytics"]
    assert len(at.metric) == 8
    assert _menu(at) == {"Usage analytics", "My usage", "Models", "Users", "Audit log"}


def test_user_menu_has_no_admin_pages_and_admin_pages_answer_403(demo_env):
    at = app_as(demo_env, "alice")
    assert [t.value for t in at.title] == ["My usage"]
    assert _menu(at) == {"My usage"}
    for page in sorted(ADMIN_PAGES):
        at = app_as(demo_env, "alice", page)
        assert "403 — admin access required" in [e.value for e in at.error], page
        assert not at.metric and not at.dataframe, page


def test_readonly_sees_disabled_buttons_with_the_reason(demo_env):
    at = app_as(demo_env, "viewer")
    refresh = at.button(key="refresh_today")
    assert refresh.disabled and refresh.help == "Admin access required to refresh usage data"
    at = app_as(demo_env, "viewer", "pages/users.py")
    assert not at.exception
    for key in ("edit_user_set_role", "edit_user_disable", "edit_user_enable", "edit_user_reset"):
        assert at.button(key=key).disabled, key
        assert at.button(key=key).help == "Admin access required to manage users"


def test_admin_actions_write_audit_rows(demo_env):
    engine = get_engine(demo_env.DATABASE_URL)
    at = app_as(demo_env, "admin")
    at.button(key="refresh_today").click().run()
    assert not at.exception
    refresh = list_audit(engine, action="usage.refresh")
    assert refresh["actor"].tolist()[:1] == ["admin"] and refresh["outcome"].tolist()[0] == "success"
    at = app_as(demo_env, "admin", "pages/users.py")
    at.selectbox(key="edit_user_target").select("alice")
    at.button(key="edit_user_disable").click().run()
    assert not at.exception
    rows = list_audit(engine, action="user.disable")
    assert rows["target"].tolist()[0] == "alice" and rows["actor"].tolist()[0] == "admin"
    at.button(key="edit_user_enable").click().run()
    assert list_audit(engine, action="user.enable")["target"].tolist()[0] == "alice"
