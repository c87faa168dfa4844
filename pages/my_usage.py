"""My usage: the same views as Usage analytics, restricted on the server to the caller's own API keys, and the
settings of those keys as LiteLLM has them (no actions)."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("self:usage")

from lib.core.clock import utcnow
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.ui import usage as view  # noqa: E402
from lib.ui.actions import export_auditor  # noqa: E402
from lib.ui.freshness import render_history_progress  # noqa: E402
from lib.ui.keys import render_own_keys  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402
from lib.usage.periods import comparison  # noqa: E402
from lib.usage.view_state import restrict_to_user  # noqa: E402

st.title("My usage")
uid = getattr(user, "litellm_user_id", None)
if not uid:
    st.info(
        "No LiteLLM user is linked to your login, so there is no usage to show. "
        "Ask an admin to link your LiteLLM user id on the Users page."
    )
    st.stop()

rt = runtime()
store = rt.store
loading = render_history_progress(rt.backfill_progress)
bounds = store.date_bounds()
if bounds is None:
    if not loading:
        view.render_empty_store()
    render_own_keys(rt, uid)
    st.stop()
today = utcnow().date()
options = view.load_options(store, owner=uid)
if options["api_keys"].empty:
    if not loading:  # else her days may not have arrived yet (the progress above)
        st.info(f"LiteLLM has no usage recorded for your user id {markdown_literal(uid)} yet.")
    render_own_keys(rt, uid)
    st.stop()
state, (start, end) = view.read_view(
    "mine", options, today, bounds[0], store, show_users=False, owner=uid, loading=loading
)
f = restrict_to_user(state.filters, uid, set(options["api_keys"]["api_key"]))
versus = comparison(start, end, today, bounds[0])
st.caption(f"{start:%d %b %Y} – {end:%d %b %Y} · UTC days · LiteLLM user {markdown_literal(uid)} · {versus.caption()}")

data = view.compute(store, start, end, f, versus)
if loading and data["trends"].set_index("metric").loc["requests", "current"] == 0:
    st.stop()  # this range's days have not arrived yet (the progress above): no zeros
view.render_kpis(data["trends"], total_users=None, comparison=versus)
picked = view.render_charts(data, "mine")
if picked:
    view.apply_picks("mine", picked)
view.render_table("My models", data["model"], "model")
view.render_table("My API keys", data["api_key"], "api_key")
st.subheader("Export")
view.render_exports(store, start, end, f, "mine", "my-usage-export", export_auditor(rt, user, start, end, f))
render_own_keys(rt, uid)
