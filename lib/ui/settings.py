"""The Settings page's parts: each group's table and the forms that save an editable setting (lib.console_settings)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.auth.accounts import User
from lib.auth.gate import refusal
from lib.auth.permissions import PermissionDenied
from lib.budgets.service import send_test_notification
from lib.console_settings.effective import SettingValueError
from lib.console_settings.service import change_setting
from lib.console_settings.view import SettingRow, rows_table
from lib.core.formatting import MISSING
from lib.core.text_safety import markdown_literal
from lib.ui.actions import action_button

NOTIFICATIONS = "Notifications"  # the group whose channels "Send a test notification" tries
CHANNEL_NAMES = {"webhook": "Webhook", "email": "E-mail"}
SAVED = "settings_saved"  # what the save that just ended says, shown by the run after it


def render_outcome() -> None:
    if done := st.session_state.pop(SAVED, None):
        st.success(done, icon=":material/check_circle:")


def render_group(rt, user: User, group: str, rows: list[SettingRow]) -> None:
    st.subheader(group)
    st.dataframe(pd.DataFrame(rows_table(rows)), hide_index=True, width="stretch", placeholder=MISSING)
    if group == NOTIFICATIONS:
        render_test_notification(rt, user)
    editable = [r for r in rows if r.spec.editable]
    if not editable:
        return
    with st.expander(f"Change {group.lower()} settings", expanded=False):
        for row in editable:
            _setting_form(rt, user, row)


def _setting_form(rt, user: User, row: SettingRow) -> None:
    spec = row.spec
    if row.locked:
        st.markdown(f"**`{spec.name}`** = {markdown_literal(row.value or '(unset)')}")
        st.caption(row.locked)
        return
    why = refusal(user, "settings.change")
    with st.form(f"setting_form_{spec.name}", border=False):
        typed = st.text_input(
            f"`{spec.name}` — {spec.help}",
            value="" if spec.secret or row.value is None else row.value,
            type="password" if spec.secret else "default",
            placeholder="(set: type a new value to replace it)" if spec.secret and row.value else "",
            key=f"setting_{spec.name}",
            disabled=bool(why),
            help=why,
        )
        allowed = f"Allowed: {spec.allowed}. " if spec.allowed else ""
        default = spec.default_doc or "unset"
        st.caption(f"{allowed}Now: {row.source}. Empty: back to the default ({default}). No restart needed.")
        clicked = action_button(user, "settings.change", "Save", form=True, key=f"settings_save_{spec.name}")
    if not clicked:
        return
    try:
        change_setting(rt, user, spec.name, typed)
    except (SettingValueError, PermissionDenied) as exc:
        st.error(markdown_literal(exc))  # nothing was saved
        return
    st.session_state.pop(f"setting_{spec.name}", None)  # the field shows what is saved now; a secret is not kept
    st.session_state[SAVED] = f"Saved {spec.name}; in effect now."
    st.rerun()  # the table above still shows the value before the change


def render_test_notification(rt, user: User) -> None:
    """Send a test webhook and e-mail with the settings in effect; each channel's outcome (sent, failed with the
    reason, not configured), never its address or secret."""
    clicked = action_button(
        user,
        "settings.test_notification",
        "Send a test notification",
        icon=":material/send:",
        key="settings_test_notification",
    )
    if not clicked:
        return
    try:
        with st.spinner("Sending a test webhook and e-mail…"):
            outcome = send_test_notification(rt.engine, user, rt.settings)
    except PermissionDenied as exc:
        st.error(markdown_literal(exc))
        return
    for channel, result in outcome.items():
        name = CHANNEL_NAMES[channel]
        if result["status"] == "sent":
            st.success(f"{name}: sent.", icon=":material/check_circle:")
        elif result["status"] == "failed":
            st.error(f"{name}: failed ({markdown_literal(result.get('error') or 'no reason given')}).")
        else:
            hint = "ALERT_WEBHOOK_URL" if channel == "webhook" else "SMTP_HOST and ALERT_EMAIL_TO"
            st.info(f"{name}: not configured (set {hint}).")
