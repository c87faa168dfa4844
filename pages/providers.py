"""Providers: LiteLLM's upstream providers (credentials and their models) with their status, traffic and cost;
admins add, test, configure, disable and delete them, and adopt what LiteLLM already serves. Read-only admins see
everything with every action disabled."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("providers:read")

from lib.core.clock import utcnow  # noqa: E402  (after the guard: nothing is read without a login)
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.providers import stats  # noqa: E402
from lib.providers.service import FAILOVER_RULE  # noqa: E402
from lib.ui import providers as view  # noqa: E402
from lib.ui.actions import action_button  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402

rt = runtime()
today = utcnow().date()
st.title("Providers")
view.render_flash()

views = view.load_views(rt)
colours = stats.provider_colours(views)
view.render_header(stats.header_cards(rt.store, views, today))
st.caption(
    "Traffic and cost: the last 30 UTC days against the 30 before, from the usage store. "
    + markdown_literal(FAILOVER_RULE)
)
if views and views[0].litellm_error:
    st.warning(markdown_literal(f"LiteLLM cannot be read, so its state is not shown: {views[0].litellm_error}"))
view.render_pending(rt, user)

if not views:
    view.render_empty(user)
else:
    action_button(
        user, "providers.add", "Add provider", key="prov_add", icon=":material/add:", type="primary",
        on_click=view.open_dialog, args=("add", None),
    )  # fmt: skip
    figures = stats.provider_stats(rt.store, views, *stats.window(today), view.catalogue_prices(rt.engine))
    view.render_cards(user, views, figures, colours)
    st.subheader("Traffic by provider")
    view.render_charts(rt.store, views, colours, today)

view.render_adopt(rt, user)
view.render_dialog(user)
