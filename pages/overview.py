"""Overview (placeholder: the lead's page replaces this file)."""
import streamlit as st

from lib.ui.guard import require_page

user = require_page("usage:read")

st.title("Overview")
st.caption("The overview of usage and spend arrives here; see Usage analytics meanwhile.")
st.page_link("pages/usage.py", label="Usage analytics", icon=":material/monitoring:")
