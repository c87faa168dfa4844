"""The Users page (AppTest, as the demo admin over a demo store): the change form shows the selected user's
current values, a role change and disabling wait for a confirmation, a request for what already is says so,
messages and the table name roles by their labels, the create form clears after a create, an unknown LiteLLM
user id is flagged, and an admin unlocks a locked account. Plus the lib functions behind them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.core.text_safety import markdown_literal
from lib.usage.queries import user_has_usage
from tests.support.apptest import app_as, app_runtime

PAGE = "pages/users.py"
CREATE = "FormSubmitter:create_user-Create user"


@pytest.fixture
def engine(demo_env):
    return app_runtime(demo_env).engine


@pytest.fixture
def admin(engine):
    return accounts.get_user(engine, "admin")


def shown(at, kind: str) -> list[str]:
    """The messages of one kind (success, info, warning, error) as the page wrote them."""
    return [str(e.value) for e in at.get(kind)]


def says(at, kind: str, message: str) -> bool:
    return markdown_literal(message) in shown(at, kind)


def table_row(at, username: str) -> dict:
    df = at.dataframe[0].value
    return df[df["username"] == username].iloc[0].to_dict()


def users_page(settings, target: str | None = None):
    at = app_as(settings, "admin", PAGE)
    if target:
        at.selectbox(key="edit_user_target").select(target).run()
    assert not at.exception, at.exception
    return at


def role_shown(at) -> str:
    """The label the change form's Role box shows."""
    box = at.selectbox(key="edit_user_role")
    return box.options[box.index]


def audited(engine, action: str, target: str) -> list[str]:
    rows = list_audit(engine, action=action)
    return rows[rows["target"] == target]["outcome"].tolist()


# -- the change form shows who is selected ----------------------------------------------------------


def test_the_change_form_shows_the_selected_users_role_and_link(demo_env, engine):
    """What the server holds for the form (the browser showing it: tests/test_e2e_users.py)."""
    at = users_page(demo_env, "viewer")
    assert role_shown(at) == "Admin (read-only)" and at.text_input(key="edit_user_litellm").value == ""
    at.selectbox(key="edit_user_target").select("alice").run()
    assert role_shown(at) == "User" and at.text_input(key="edit_user_litellm").value == "alice.martin"
    at.selectbox(key="edit_user_target").select("admin").run()
    assert role_shown(at) == "Admin" and at.text_input(key="edit_user_litellm").value == ""
    at.selectbox(key="edit_user_target").select("viewer").run()  # and back
    assert role_shown(at) == "Admin (read-only)"
    # the table and the role boxes name roles by their labels
    assert table_row(at, "viewer")["role"] == "Admin (read-only)" and table_row(at, "alice")["role"] == "User"
    assert at.selectbox(key="new_user_role").options == ["Admin", "Admin (read-only)", "User"]
    # Save link as it stands changes nothing: the form held viewer's own (empty) link
    at.button(key="edit_user_link").click().run()
    assert says(at, "info", "viewer is not linked to LiteLLM")
    assert accounts.get_user(engine, "viewer").litellm_user_id is None


# -- a role change and disabling are confirmed first ------------------------------------------------


def test_a_role_change_is_done_only_once_confirmed(demo_env, engine, admin):
    accounts.create_user(engine, admin, "rita", "rita-password", "user", demo=True)
    at = users_page(demo_env, "rita")
    at.selectbox(key="edit_user_role").select("admin-readonly")
    at.button(key="edit_user_set_role").click().run()
    assert accounts.get_user(engine, "rita").role == "user" and audited(engine, "user.change_role", "rita") == []
    question = "Change the role of rita from User to Admin (read-only)? Their sessions end."
    assert says(at, "warning", question)
    at.button(key="edit_user_cancel").click().run()
    assert not at.get("warning") and accounts.get_user(engine, "rita").role == "user"

    at.button(key="edit_user_set_role").click().run()
    at.button(key="edit_user_confirm").click().run()
    assert not at.exception
    assert accounts.get_user(engine, "rita").role == "admin-readonly"
    assert says(at, "success", "rita is now Admin (read-only)")
    assert table_row(at, "rita")["role"] == "Admin (read-only)" and role_shown(at) == "Admin (read-only)"
    assert audited(engine, "user.change_role", "rita") == ["success"]

    at.button(key="edit_user_set_role").click().run()  # the role it already has: said so, nothing asked
    assert says(at, "info", "rita already has the role Admin (read-only)") and not at.get("warning")


def test_switching_user_drops_a_pending_confirmation(demo_env, engine, admin):
    accounts.create_user(engine, admin, "sam", "sam-password", "user", demo=True)
    at = users_page(demo_env, "sam")
    at.selectbox(key="edit_user_role").select("admin")
    at.button(key="edit_user_set_role").click().run()
    at.selectbox(key="edit_user_target").select("alice").run()
    assert not at.get("warning") and "edit_user_confirm" not in [b.key for b in at.button]
    assert accounts.get_user(engine, "sam").role == "user" and accounts.get_user(engine, "alice").role == "user"


def test_disabling_is_confirmed_and_disabling_a_disabled_user_says_so(demo_env, engine, admin):
    accounts.create_user(engine, admin, "dan", "dan-password", "user", demo=True)
    at = users_page(demo_env, "dan")
    at.button(key="edit_user_disable").click().run()
    assert accounts.get_user(engine, "dan").enabled
    assert says(at, "warning", "Disable dan? Their sessions end and they cannot log in until enabled again.")
    at.button(key="edit_user_confirm").click().run()
    assert not accounts.get_user(engine, "dan").enabled and table_row(at, "dan")["status"] == "Disabled"
    assert says(at, "success", "Disabled dan; their sessions ended")

    at.button(key="edit_user_disable").click().run()
    assert says(at, "info", "dan is already disabled") and not at.get("warning")
    assert audited(engine, "user.disable", "dan") == ["success"]  # once: the second request did nothing
    at.button(key="edit_user_enable").click().run()
    at.button(key="edit_user_enable").click().run()
    assert says(at, "info", "dan is already enabled")
    assert accounts.get_user(engine, "dan").enabled and audited(engine, "user.enable", "dan") == ["success"]


# -- the create form ----------------------------------------------------------------------------------


def fill_create_form(at, username: str, litellm_user_id: str = "") -> None:
    at.text_input(key="new_user_username").input(username)
    at.text_input(key="new_user_display_name").input("Some One")
    at.text_input(key="new_user_email").input("someone@example.com")
    at.selectbox(key="new_user_role").select("admin-readonly")
    at.text_input(key="new_user_litellm").input(litellm_user_id)
    at.text_input(key="new_user_password").input("some-password")


def create_form(at) -> dict:
    keys = ("new_user_username", "new_user_display_name", "new_user_email", "new_user_litellm", "new_user_password")
    return {k: at.text_input(key=k).value for k in keys} | {"new_user_role": at.selectbox(key="new_user_role").value}


def test_the_create_form_clears_after_a_create_and_keeps_a_refused_one_but_its_password(demo_env, engine):
    at = users_page(demo_env)
    fill_create_form(at, "alice", "alice.martin")  # taken
    at.button(key=CREATE).click().run()
    assert says(at, "error", "User 'alice' already exists")
    assert create_form(at) == {
        "new_user_username": "alice",
        "new_user_display_name": "Some One",
        "new_user_email": "someone@example.com",
        "new_user_litellm": "alice.martin",
        "new_user_password": "",
        "new_user_role": "admin-readonly",
    }
    at.text_input(key="new_user_username").input("nina")
    at.text_input(key="new_user_password").input("some-password")
    at.button(key=CREATE).click().run()
    assert says(at, "success", "Created nina") and not at.get("warning")  # alice.martin has usage
    nina = accounts.get_user(engine, "nina")
    assert (nina.role, nina.display_name, nina.litellm_user_id) == ("admin-readonly", "Some One", "alice.martin")
    assert set(create_form(at).values()) == {"", "user"} and create_form(at)["new_user_role"] == "user"


# -- unknown LiteLLM user ids -------------------------------------------------------------------------


UNKNOWN = "LiteLLM has no usage for user id '{}' yet — check the id"


def test_an_unknown_litellm_user_id_is_flagged_but_saved(demo_env, engine):
    at = users_page(demo_env)
    fill_create_form(at, "olga", "alice.martn")
    at.button(key=CREATE).click().run()
    assert says(at, "success", "Created olga") and says(at, "warning", UNKNOWN.format("alice.martn"))
    assert accounts.get_user(engine, "olga").litellm_user_id == "alice.martn"  # saved: a new user has no traffic

    at.selectbox(key="edit_user_target").select("olga").run()
    assert at.text_input(key="edit_user_litellm").value == "alice.martn"
    at.text_input(key="edit_user_litellm").input("alice.martin")
    at.button(key="edit_user_link").click().run()
    assert says(at, "success", "Linked olga to LiteLLM user alice.martin") and not at.get("warning")
    at.button(key="edit_user_link").click().run()  # saved again as it is: said so
    assert says(at, "info", "olga is already linked to LiteLLM user alice.martin") and not at.get("warning")
    at.text_input(key="edit_user_litellm").input("Alice.Martin")  # LiteLLM's ids are case-sensitive
    at.button(key="edit_user_link").click().run()
    assert says(at, "warning", UNKNOWN.format("Alice.Martin"))
    assert accounts.get_user(engine, "olga").litellm_user_id == "Alice.Martin"
    at.text_input(key="edit_user_litellm").input("")
    at.button(key="edit_user_link").click().run()
    assert says(at, "success", "olga is no longer linked to a LiteLLM user") and not at.get("warning")
    assert accounts.get_user(engine, "olga").litellm_user_id is None


def test_user_has_usage_answers_as_the_demo_proxys_rows_do(demo_env):
    rt = app_runtime(demo_env)
    first, last = rt.store.date_bounds()
    owners = {
        r["user_id"]
        for r in rt.demo_litellm().rows
        if r["user_id"] and first.isoformat() <= r["date"] <= last.isoformat()
    }
    assert "alice.martin" in owners and len(owners) > 30
    candidates = {u["user_id"] for u in rt.demo_litellm().users} | {"default_user_id", "Unassigned", "alice.martn"}
    assert {uid for uid in candidates if user_has_usage(rt.store, uid)} == owners & candidates
    assert not user_has_usage(rt.store, "Unassigned")  # LiteLLM's entity for keys with no owner, nobody's id


# -- lockouts -----------------------------------------------------------------------------------------


def lock(engine, username: str, now: datetime | None = None) -> None:
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(accounts.LoginError):
            accounts.authenticate(engine, username, "wrong-password", now=now)


def test_a_locked_account_shows_as_locked_and_an_admin_unlocks_it(demo_env, engine, admin):
    accounts.create_user(engine, admin, "lou", "lou-password", "user", demo=True)
    lock(engine, "lou")
    with pytest.raises(accounts.LoginError):
        accounts.authenticate(engine, "lou", "lou-password")
    at = users_page(demo_env, "lou")
    status = table_row(at, "lou")["status"]
    assert re.fullmatch(r"Locked until \d\d:\d\d UTC", status), status
    assert table_row(at, "alice")["status"] == "Active"

    at.button(key="edit_user_unlock").click().run()
    assert says(at, "success", "Unlocked lou: they can log in again")
    assert table_row(at, "lou")["status"] == "Active"
    assert accounts.authenticate(engine, "lou", "lou-password").username == "lou"
    row = list_audit(engine, action="user.unlock").iloc[0]
    assert (row["actor"], row["target"], row["outcome"]) == ("admin", "lou", "success")

    at.button(key="edit_user_unlock").click().run()
    assert says(at, "info", "lou is not locked") and audited(engine, "user.unlock", "lou") == ["success"]


def test_a_readonly_admin_sees_the_status_but_cannot_unlock(demo_env, engine, admin):
    accounts.create_user(engine, admin, "liz", "liz-password", "user", demo=True)
    lock(engine, "liz")
    at = app_as(demo_env, "viewer", PAGE)
    at.selectbox(key="edit_user_target").select("liz").run()
    assert table_row(at, "liz")["status"].startswith("Locked until ")
    unlock = at.button(key="edit_user_unlock")
    assert unlock.disabled and unlock.help == "Admin access required to manage users"
    assert role_shown(at) == "User"  # the form still shows who is selected


# -- lib: accounts ------------------------------------------------------------------------------------


def test_list_users_status_and_unlock(engine, admin):
    accounts.create_user(engine, admin, "bea", "bea-password", "user", demo=True)
    now = datetime.now(timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0)
    lock(engine, "bea", now=now)
    statuses = accounts.list_users(engine, now=now + timedelta(minutes=1)).set_index("username")["status"]
    assert statuses["bea"] == "Locked until 10:15 UTC" and statuses["alice"] == "Active"
    later = accounts.list_users(engine, now=now + accounts.LOCKOUT).set_index("username")["status"]
    assert later["bea"] == "Active"  # a lockout over is no lockout
    accounts.set_enabled(engine, admin, "bea", False)
    assert accounts.list_users(engine, now=now).set_index("username")["status"]["bea"] == "Disabled"


def test_a_name_locked_before_its_account_existed_shows_locked_and_unlocks(engine, admin):
    lock(engine, "newcomer")  # failures are counted per name typed, known or not
    accounts.create_user(engine, admin, "newcomer", "newcomer-password", "user", demo=True)
    with pytest.raises(accounts.LoginError):
        accounts.authenticate(engine, "newcomer", "newcomer-password")
    assert accounts.list_users(engine).set_index("username")["status"]["newcomer"].startswith("Locked until ")
    assert accounts.already_done(engine, "newcomer", "user.unlock") is None
    accounts.unlock(engine, admin, "newcomer")
    assert accounts.authenticate(engine, "newcomer", "newcomer-password").username == "newcomer"


def test_a_request_for_what_already_is_changes_and_audits_nothing(engine, admin):
    accounts.create_user(engine, admin, "ivy", "ivy-password", "admin-readonly", demo=True)
    before = len(list_audit(engine))
    for change, message in (
        (lambda: accounts.set_enabled(engine, admin, "ivy", True), "ivy is already enabled"),
        (
            lambda: accounts.change_role(engine, admin, "ivy", "admin-readonly"),
            "ivy already has the role Admin (read-only)",
        ),
        (lambda: accounts.unlock(engine, admin, "ivy"), "ivy is not locked"),
        (lambda: accounts.set_litellm_user(engine, admin, "ivy", None), "ivy is not linked to LiteLLM"),
    ):
        with pytest.raises(accounts.Unchanged, match=re.escape(message)):
            change()
    assert len(list_audit(engine)) == before
    assert accounts.already_done(engine, "ivy", "user.disable") is None
    assert accounts.already_done(engine, "ivy", "user.change_role", "user") is None
    viewer = accounts.get_user(engine, "viewer")
    with pytest.raises(PermissionDenied):  # refused before anything else: audited as refused
        accounts.set_enabled(engine, viewer, "ivy", True)
    assert audited(engine, "user.enable", "ivy") == ["denied"]
