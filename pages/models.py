"""Models: catalogue synced from LiteLLM, and configuration testing."""
import streamlit as st

from lib.ui.guard import require_page

user = require_page("models:read")
st.title("Models")
st.info("The models catalogue is being built; sync and configuration testing arrive with the models tools.")
