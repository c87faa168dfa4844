"""Users: list, create, change role, reset password, enable/disable/unlock, LiteLLM link (admins); read-only for
viewers.

Actions run as button callbacks (before the page is drawn), so the table below always shows their
result. lib.auth.accounts checks the permission again and audits every change, refused ones included.
A role change and disabling are asked first and done only once confirmed.
"""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("users:read")

from lib.auth import accounts  # noqa: E402  (after the guard: nothing is read without a login)
from lib.auth.gate import refusal  # noqa: E402
from lib.auth.permissions import ROLE_LABELS, ROLES  # noqa: E402
from lib.core.errors import ConsoleError  # noqa: E402
from lib.core.formatting import MISSING  # noqa: E402
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.ui.actions import action_button  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402
from lib.usage.queries import user_has_usage  # noqa: E402

rt = runtime()
settings, engine = rt.settings, rt.engine
why = refusal(user, "user.create")  # None for admins, else why the form's fields are disabled
FLASH = "users_flash"  # [(kind, message)] shown by the next run: success, info, warning or error
PENDING = "users_pending"  # (action, username, role or None): a role change or disabling awaiting its confirmation
SHOWN = "edit_user_shown"  # the user whose current values the change form's fields were filled with
CREATE_DEFAULTS = {
    "new_user_username": "",
    "new_user_display_name": "",
    "new_user_email": "",
    "new_user_role": "user",
    "new_user_litellm": "",
}


def _flash(kind: str, message: str) -> None:
    st.session_state.setdefault(FLASH, []).append((kind, message))


def _run(action, success: str, clear: tuple[str, ...] = ()) -> bool:
    """Run one change; True when the account is now as asked (done, or already so). Afterwards the change form
    shows the account as it now is."""
    done = True
    try:
        action()
    except accounts.Unchanged as exc:  # already as asked: nothing done, nothing wrong
        _flash("info", str(exc))
    except ConsoleError as exc:
        _flash("error", str(exc))
        done = False
    else:
        _flash("success", success)
    for key in clear:  # typed passwords never stay in the page
        st.session_state[key] = ""
    st.session_state.pop(SHOWN, None)
    st.session_state.pop(PENDING, None)
    return done


def _state(key: str) -> str:
    return (st.session_state.get(key) or "").strip()


def _check_link(litellm_user_id: str | None) -> None:
    """Saved either way (a new LiteLLM user has no traffic yet), but an id LiteLLM never reported may be a typo."""
    if litellm_user_id and not user_has_usage(rt.store, litellm_user_id):
        _flash("warning", f"LiteLLM has no usage for user id '{litellm_user_id}' yet — check the id")


def _create() -> None:
    username = accounts.normalize_username(_state("new_user_username"))
    link = _state("new_user_litellm") or None
    created = _run(
        lambda: accounts.create_user(
            engine,
            user,
            username,
            st.session_state.get("new_user_password") or "",
            st.session_state["new_user_role"],
            name=_state("new_user_display_name") or None,
            email=_state("new_user_email") or None,
            litellm_user_id=link,
            demo=settings.demo_mode,
        ),
        f"Created {username}",
        clear=("new_user_password",),
    )
    if created:  # a refused form keeps what was typed, to correct it (a new account cannot be Unchanged)
        st.session_state.update(CREATE_DEFAULTS)
        _check_link(link)


def _target() -> str:
    return st.session_state.get("edit_user_target") or ""


def _forget_pending() -> None:
    st.session_state.pop(PENDING, None)


def _ask(action: str) -> None:
    """Set role / Disable: say so if there is nothing to change, else ask for the confirmation."""
    target = _target()
    role = st.session_state.get("edit_user_role") if action == "user.change_role" else None
    already = accounts.already_done(engine, target, action, role)
    if already:
        _flash("info", already)
        _forget_pending()
    else:
        st.session_state[PENDING] = (action, target, role)


def _confirm() -> None:
    action, target, role = st.session_state.pop(PENDING)
    if action == "user.change_role":
        _run(lambda: accounts.change_role(engine, user, target, role), f"{target} is now {ROLE_LABELS[role]}")
    else:
        _run(lambda: accounts.set_enabled(engine, user, target, False), f"Disabled {target}; their sessions ended")


def _save_link() -> None:
    target, link = _target(), _state("edit_user_litellm") or None
    if _run(
        lambda: accounts.set_litellm_user(engine, user, target, link),
        f"Linked {target} to LiteLLM user {link}" if link else f"{target} is no longer linked to a LiteLLM user",
    ):
        _check_link(link)


st.title("Users")
if why:
    st.caption(f"Read-only: {why.lower()}.")
for kind, message in st.session_state.pop(FLASH, []):
    getattr(st, kind)(markdown_literal(message))  # quotes names and ids

df = accounts.list_users(engine)
st.dataframe(
    df.assign(role=df["role"].map(ROLE_LABELS)),
    hide_index=True,
    width="stretch",
    column_order=[
        "username",
        "display_name",
        "email",
        "role",
        "litellm_user_id",
        "status",
        "created_at",
        "last_login_at",
    ],
    column_config={
        "username": "Username",
        "display_name": "Name",
        "email": "Email",
        "role": st.column_config.TextColumn("Role"),
        "litellm_user_id": "LiteLLM user",
        "status": "Status",
        "created_at": st.column_config.DatetimeColumn("Created (UTC)"),
        "last_login_at": st.column_config.DatetimeColumn("Last login (UTC)"),
    },
    placeholder=MISSING,
)

min_pw = "any length (demo mode)" if settings.demo_mode else f"at least {accounts.MIN_PASSWORD} characters"
for key, default in CREATE_DEFAULTS.items():  # the fields' values live in the session (cleared after a create)
    st.session_state.setdefault(key, default)
left, right = st.columns(2)
with left:
    st.subheader("Create a user")
    with st.form("create_user"):
        st.text_input("Username", key="new_user_username", disabled=bool(why))
        st.text_input("Display name", key="new_user_display_name", disabled=bool(why))
        st.text_input("Email", key="new_user_email", disabled=bool(why))
        st.selectbox("Role", ROLES, key="new_user_role", format_func=ROLE_LABELS.get, disabled=bool(why))
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
    target = st.selectbox("User", df["username"].tolist(), key="edit_user_target", on_change=_forget_pending)
    row = df.set_index("username").loc[target]
    # The fields below show the selected user's current values: filled in (before they are drawn) whenever
    # another user is selected, after every change, and when the page is opened again (Streamlit then has
    # forgotten the widgets' values).
    if st.session_state.get(SHOWN) != target or not {"edit_user_role", "edit_user_litellm"} <= set(st.session_state):
        st.session_state["edit_user_role"] = row["role"]
        st.session_state["edit_user_litellm"] = (
            row["litellm_user_id"] if isinstance(row["litellm_user_id"], str) else ""
        )
        st.session_state[SHOWN] = target
    st.selectbox(
        "Role",
        ROLES,
        key="edit_user_role",
        format_func=ROLE_LABELS.get,
        disabled=bool(why),
        on_change=_forget_pending,
    )
    c = st.columns(4)
    action_button(
        user,
        "user.change_role",
        "Set role",
        where=c[0],
        key="edit_user_set_role",
        on_click=_ask,
        args=("user.change_role",),
    )
    action_button(
        user, "user.disable", "Disable", where=c[1], key="edit_user_disable", on_click=_ask, args=("user.disable",)
    )
    action_button(
        user,
        "user.enable",
        "Enable",
        where=c[2],
        key="edit_user_enable",
        on_click=lambda: _run(lambda: accounts.set_enabled(engine, user, _target(), True), f"Enabled {_target()}"),
    )
    action_button(
        user,
        "user.unlock",
        "Unlock",
        where=c[3],
        key="edit_user_unlock",
        on_click=lambda: _run(
            lambda: accounts.unlock(engine, user, _target()), f"Unlocked {_target()}: they can log in again"
        ),
    )
    pending = st.session_state.get(PENDING)
    if pending and pending[1] == target:
        action, _, role = pending
        if action == "user.change_role":
            question = (
                f"Change the role of {target} from {ROLE_LABELS[row['role']]} to {ROLE_LABELS[role]}? "
                "Their sessions end."
            )
            label = f"Yes, make {target} {ROLE_LABELS[role]}"
        else:
            question = f"Disable {target}? Their sessions end and they cannot log in until enabled again."
            label = f"Yes, disable {target}"
        st.warning(markdown_literal(question))
        c = st.columns(2)
        action_button(
            user,
            action,
            markdown_literal(label),
            where=c[0],
            key="edit_user_confirm",
            type="primary",
            on_click=_confirm,
        )
        c[1].button("Cancel", key="edit_user_cancel", on_click=_forget_pending)
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
    st.text_input(
        "LiteLLM user id",
        key="edit_user_litellm",
        disabled=bool(why),
        help="Which LiteLLM user's usage 'My usage' shows for this login",
    )
    action_button(user, "user.link_litellm", "Save LiteLLM link", key="edit_user_link", on_click=_save_link)
