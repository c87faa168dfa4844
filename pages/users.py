"""Users: list, create, change role, reset password, enable/disable, LiteLLM link (admins); read-only for viewers.

Actions run as button callbacks (before the page is drawn), so the table below always shows their
result. lib.auth.accounts checks the permission again and audits every change, refused ones included.
"""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("users:read")

from lib.auth import accounts  # noqa: E402  (after the guard: nothing is read without a login)
from lib.auth.gate import refusal  # noqa: E402
from lib.auth.permissions import ROLE_LABELS, ROLES  # noqa: E402
from lib.core.errors import ConsoleError  # noqa: E402
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.ui.actions import action_button  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402

rt = runtime()
settings, engine = rt.settings, rt.engine
why = refusal(user, "user.create")  # None for admins, else why the form's fields are disabled
FLASH = "users_flash"


def _run(action, success: str, clear: tuple[str, ...] = ()) -> None:
    try:
        action()
    except ConsoleError as exc:
        st.session_state[FLASH] = ("error", str(exc))
    else:
        st.session_state[FLASH] = ("success", success)
    for key in clear:  # typed passwords never stay in the page
        st.session_state[key] = ""


def _state(key: str) -> str:
    return (st.session_state.get(key) or "").strip()


def _create() -> None:
    username = accounts.normalize_username(_state("new_user_username"))
    _run(
        lambda: accounts.create_user(
            engine,
            user,
            username,
            st.session_state.get("new_user_password") or "",
            st.session_state["new_user_role"],
            name=_state("new_user_display_name") or None,
            email=_state("new_user_email") or None,
            litellm_user_id=_state("new_user_litellm") or None,
            demo=settings.demo_mode,
        ),
        f"Created {username}",
        clear=("new_user_password",),
    )


def _target() -> str:
    return st.session_state.get("edit_user_target") or ""


def _target_changed() -> None:
    for key in ("edit_user_role", "edit_user_litellm"):
        st.session_state.pop(key, None)


st.title("Users")
if why:
    st.caption(f"Read-only: {why.lower()}.")
flash = st.session_state.pop(FLASH, None)
if flash:
    (st.success if flash[0] == "success" else st.error)(markdown_literal(flash[1]))  # quotes names and ids

df = accounts.list_users(engine)
st.dataframe(
    df,
    hide_index=True,
    width="stretch",
    column_config={
        "username": "Username",
        "display_name": "Name",
        "email": "Email",
        "role": st.column_config.TextColumn("Role"),
        "litellm_user_id": "LiteLLM user",
        "enabled": st.column_config.CheckboxColumn("Enabled"),
        "locked_until": st.column_config.DatetimeColumn("Locked until (UTC)"),
        "created_at": st.column_config.DatetimeColumn("Created (UTC)"),
        "last_login_at": st.column_config.DatetimeColumn("Last login (UTC)"),
    },
)

min_pw = "any length (demo mode)" if settings.demo_mode else f"at least {accounts.MIN_PASSWORD} characters"
left, right = st.columns(2)
with left:
    st.subheader("Create a user")
    with st.form("create_user"):
        st.text_input("Username", key="new_user_username", disabled=bool(why))
        st.text_input("Display name", key="new_user_display_name", disabled=bool(why))
        st.text_input("Email", key="new_user_email", disabled=bool(why))
        st.selectbox(
            "Role",
            ROLES,
            index=ROLES.index("user"),
            key="new_user_role",
            format_func=ROLE_LABELS.get,
            disabled=bool(why),
        )
        st.text_input("LiteLLM user id (for My usage)", key="new_user_litellm", disabled=bool(why))
        st.text_input(
            "Password",
            type="password",
            key="new_user_password",
            help=min_pw,
            disabled=bool(why),
            autocomplete="new-password",
        )
        action_button(user, "user.create", "Create user", form=True, on_click=_create)

with right:
    st.subheader("Change a user")
    names = df["username"].tolist()
    target = st.selectbox("User", names, key="edit_user_target", on_change=_target_changed)
    row = df.set_index("username").loc[target] if target else None
    current_role = row["role"] if row is not None else ROLES[0]
    st.selectbox(
        "Role",
        ROLES,
        index=ROLES.index(current_role),
        key="edit_user_role",
        format_func=ROLE_LABELS.get,
        disabled=bool(why),
    )
    c = st.columns(3)
    action_button(
        user,
        "user.change_role",
        "Set role",
        where=c[0],
        key="edit_user_set_role",
        on_click=lambda: _run(
            lambda: accounts.change_role(engine, user, _target(), st.session_state["edit_user_role"]),
            f"{_target()} is now {st.session_state.get('edit_user_role')}",
        ),
    )
    action_button(
        user,
        "user.disable",
        "Disable",
        where=c[1],
        key="edit_user_disable",
        on_click=lambda: _run(lambda: accounts.set_enabled(engine, user, _target(), False), f"Disabled {_target()}"),
    )
    action_button(
        user,
        "user.enable",
        "Enable",
        where=c[2],
        key="edit_user_enable",
        on_click=lambda: _run(lambda: accounts.set_enabled(engine, user, _target(), True), f"Enabled {_target()}"),
    )
    st.text_input(
        "New password",
        type="password",
        key="edit_user_password",
        help=min_pw,
        disabled=bool(why),
        autocomplete="new-password",
    )
    action_button(
        user,
        "user.set_password",
        "Reset password",
        key="edit_user_reset",
        on_click=lambda: _run(
            lambda: accounts.set_password(
                engine, user, _target(), st.session_state.get("edit_user_password") or "", demo=settings.demo_mode
            ),
            f"Password of {_target()} reset; their sessions are logged out",
            clear=("edit_user_password",),
        ),
    )
    linked = row["litellm_user_id"] if row is not None else None
    st.text_input(
        "LiteLLM user id",
        value=linked if isinstance(linked, str) else "",
        key="edit_user_litellm",
        disabled=bool(why),
        help="Which LiteLLM user's usage 'My usage' shows for this login",
    )
    action_button(
        user,
        "user.link_litellm",
        "Save LiteLLM link",
        key="edit_user_link",
        on_click=lambda: _run(
            lambda: accounts.set_litellm_user(engine, user, _target(), _state("edit_user_litellm") or None),
            f"Linked {_target()} to LiteLLM user {_state('edit_user_litellm') or '(none)'}",
        ),
    )
