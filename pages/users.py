"""Users: list, create, change role, reset password, enable/disable (admins); read-only for viewers."""
import streamlit as st

from lib.ui.guard import require_page

user = require_page("users:read")

from lib import accounts  # noqa: E402
from lib.appdb import get_engine  # noqa: E402
from lib.config import get_settings  # noqa: E402
from lib.permissions import ROLES, PermissionDenied, denied_message, has_permission  # noqa: E402

settings = get_settings()
engine = get_engine(settings.DATABASE_URL)
can_manage = has_permission(user.role, "users:manage")
why = None if can_manage else denied_message("users:manage")

st.title("Users")
df = accounts.list_users(engine)
st.dataframe(df, hide_index=True, width="stretch", column_config={
    "username": "Username", "display_name": "Name", "email": "Email", "role": "Role",
    "litellm_user_id": "LiteLLM user", "enabled": st.column_config.CheckboxColumn("Enabled"),
    "locked_until": st.column_config.DatetimeColumn("Locked until"),
    "created_at": st.column_config.DatetimeColumn("Created"),
    "last_login_at": st.column_config.DatetimeColumn("Last login")})


def run(action, *args, success: str) -> None:
    try:
        action(engine, user, *args)
    except (accounts.AccountError, PermissionDenied) as exc:
        st.error(str(exc))
    else:
        st.success(success)


left, right = st.columns(2)
with left:
    st.subheader("Create a user")
    with st.form("create_user", clear_on_submit=True):
        new_username = st.text_input("Username", key="new_user_username")
        new_name = st.text_input("Display name", key="new_user_display_name")
        new_email = st.text_input("Email", key="new_user_email")
        new_role = st.selectbox("Role", ROLES, index=2, key="new_user_role")
        new_litellm = st.text_input("LiteLLM user id (for My usage)", key="new_user_litellm")
        new_password = st.text_input("Password", type="password", key="new_user_password")
        if st.form_submit_button("Create user", disabled=not can_manage, help=why):
            run(lambda e, a: accounts.create_user(e, a, new_username, new_password, new_role, name=new_name or None,
                                                  email=new_email or None, litellm_user_id=new_litellm or None,
                                                  demo=settings.demo_mode),
                success=f"Created {new_username}")
with right:
    st.subheader("Change a user")
    names = df["username"].tolist()
    target = st.selectbox("User", names, key="edit_user_target")
    role = st.selectbox("Role", ROLES, key="edit_user_role",
                        index=ROLES.index(df.set_index("username").loc[target, "role"]) if target else 0)
    c = st.columns(3)
    if c[0].button("Set role", disabled=not can_manage, help=why, key="edit_user_set_role"):
        run(accounts.change_role, target, role, success=f"{target} is now {role}")
    if c[1].button("Disable", disabled=not can_manage, help=why, key="edit_user_disable"):
        run(accounts.set_enabled, target, False, success=f"Disabled {target}")
    if c[2].button("Enable", disabled=not can_manage, help=why, key="edit_user_enable"):
        run(accounts.set_enabled, target, True, success=f"Enabled {target}")
    new_pw = st.text_input("New password", type="password", key="edit_user_password")
    if st.button("Reset password", disabled=not can_manage, help=why, key="edit_user_reset"):
        run(lambda e, a, t: accounts.set_password(e, a, t, new_pw, demo=settings.demo_mode), target,
            success=f"Password of {target} reset")
