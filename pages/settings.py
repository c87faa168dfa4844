"""Settings: every console setting by group, its value in effect (secrets masked), where it comes from, its allowed
range, help and whether it needs a restart; admins save the ones that need none (read-only admins see them)."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("settings:read")

from lib.console_settings.view import setting_rows  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402  (after the guard: nothing is read without a login)
from lib.ui.settings import render_group, render_outcome  # noqa: E402

rt = runtime()
st.title("Settings")
st.caption(
    "A value comes from the environment, then `secrets.toml`, then what was saved here, then the default: "
    "a value set in the environment or `secrets.toml` cannot be changed here. Settings marked "
    "*restart required* are read at start only."
)
render_outcome()
for group, rows in setting_rows(rt.settings, rt.setting_sources).items():
    render_group(rt, user, group, rows)
