"""Budgets: console budgets with spent, remaining, % used and the projection to the period's end, a month view,
the alerts (acknowledge), and LiteLLM's own key, user and team limits; admins set, edit, delete and enforce
budgets in LiteLLM."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("budgets:read")

from lib.ui import budgets as ui  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402  (after the guard: nothing is read without a login)

rt = runtime()
st.title("Budgets")
ui.show_result()
items = ui.statuses(rt)
ui.render_budgets(items)
ui.render_month_view(items)

with st.expander("Set a budget", icon=":material/add:"):
    ui.render_create(rt, user)
ui.render_manage(rt, user, [s.budget for s in items])

st.subheader("Alerts")
ui.render_alerts(rt, user)

st.subheader("LiteLLM's own limits")
ui.render_litellm_limits(rt)
