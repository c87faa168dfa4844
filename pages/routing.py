"""Routing: the strategy, fallback chains, aliases, smart routing, power levels and use cases the console gives
LiteLLM; the edits are planned (what LiteLLM will change), applied and checked for drift. Read-only admins see
everything with every action disabled."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("routing:read")

from lib.core.errors import ConsoleError  # noqa: E402  (after the guard: nothing is read without a login)
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.litellm.client import LiteLLMError  # noqa: E402
from lib.routing import service  # noqa: E402
from lib.routing.state import RoutingInputError, parse_state  # noqa: E402
from lib.ui import routing as view  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402

rt = runtime()
st.title("Routing")
view.render_flash()
stored = service.load(rt)
view.render_drift(rt, user, stored.applied)
try:
    groups, models = service.litellm_names(rt)
except (ConsoleError, LiteLLMError) as exc:
    st.error(markdown_literal(f"LiteLLM cannot be read, so routing cannot be edited: {exc}"))
    st.stop()
why = view.why_not(user)
if why:
    st.info("Read-only: you see the routing and can review its plan; changing it needs admin access.")
base = view.start(rt)

desired = view.render_strategy(base, why)
desired["quality_rank"] = view.render_quality_rank(base, models, why)
desired["fallbacks"] = view.render_fallbacks(groups, why)
try:
    desired["aliases"] = view.render_aliases(base, groups, why)
    desired["use_cases"] = view.render_use_cases(base, groups, why)
    desired["power_levels"] = view.render_power_levels(rt, base, groups, why)
    desired["smart"] = view.render_smart(base, groups, why)
    state = parse_state(desired)
except RoutingInputError as exc:
    state = None
    st.error(markdown_literal(str(exc)))

st.subheader("Changes")
if state is not None:
    if state != stored.desired:
        st.caption("Edited: not applied yet.")
    view.render_review(rt, user, state)
view.render_downloads(rt)
view.render_import(user)
