"""Usage Analytics: who used what, what it cost, how it trends, and whether it works."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("usage:read")

from lib.core.clock import utcnow
from lib.ui import usage as view  # noqa: E402
from lib.ui.actions import export_auditor, refresh_button  # noqa: E402
from lib.ui.freshness import render_history_progress  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402
from lib.usage.periods import comparison  # noqa: E402

rt = runtime()
store = rt.store
st.title("Usage analytics")
refresh_button(rt, user)
loading = render_history_progress(rt.backfill_progress)

bounds = store.date_bounds()
if bounds is None:
    if not loading:
        view.render_empty_store()
    st.stop()

today = utcnow().date()
options = view.load_options(store)
state, (start, end) = view.read_view("usage", options, today, bounds[0], store, loading=loading)
versus = comparison(start, end, today, bounds[0])
st.caption(f"{start:%d %b %Y} – {end:%d %b %Y} · UTC days · {versus.caption()}")

data = view.compute(store, start, end, state.filters, versus)
if data["trends"].set_index("metric").loc["requests", "current"] == 0:
    if loading:
        st.stop()  # this range's days have not arrived yet (the progress above): no zeros, no advice
    st.info("No requests in this range with these filters. Widen the range or clear a filter.")
view.render_kpis(data["trends"], total_users=len(options["users"]), comparison=versus)
picked = view.render_charts(data, "usage")
if picked:
    view.apply_picks("usage", picked)

view.render_table("Top users", data["user"], "user")
view.render_table("Top models", data["model"], "model")
view.render_table("Top API keys", data["api_key"], "api_key")
for key in ("model_group", "provider"):
    note = getattr(data[key], "attrs", {}).get("note")
    if note:
        st.caption(f"ℹ️ {note}")

st.subheader("Export")
view.render_exports(
    store, start, end, state.filters, "usage", "admin-usage-export", export_auditor(rt, user, start, end, state.filters)
)
