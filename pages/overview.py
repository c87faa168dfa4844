"""Overview: the headline numbers of the selected period against the previous one, and the daily trend."""
from datetime import datetime, timezone

import streamlit as st

from lib.ui.guard import require_page

user = require_page("usage:read")

from lib import charts  # noqa: E402  (after the guard: nothing is computed without a login)
from lib.config import get_settings  # noqa: E402
from lib.periods import DEFAULT_PRESET, PRESETS, preset_range  # noqa: E402
from lib.queries import daily_series, trends  # noqa: E402
from lib.services import backfill_progress, get_store  # noqa: E402
from lib.formatting import kpi_delta, kpi_value  # noqa: E402

st.title("Overview")
store = get_store(get_settings())
bounds = store.date_bounds()
today = datetime.now(timezone.utc).date()
preset = st.segmented_control("Period", PRESETS, default=DEFAULT_PRESET, key="overview_period") or DEFAULT_PRESET
start, end = preset_range(preset, today, bounds[0] if bounds else None)
st.caption(f"{start:%d %b %Y} – {end:%d %b %Y} (UTC days), compared with the previous {(end - start).days + 1} days")

if bounds is None:
    if backfill_progress.running:
        st.info("Loading usage history from LiteLLM… this page fills in as days arrive.")
        st.progress(backfill_progress.fraction)
    else:
        st.info("No usage stored yet. The first backfill runs when the app starts; check the sidebar for errors.")
    st.stop()

with st.spinner("Computing…"):
    t = trends(store, start, end).set_index("metric")
    daily = daily_series(store, start, end)

cards = [("Requests", "requests"), ("Success rate", "success_rate"), ("Total tokens", "total_tokens"),
         ("Spend", "spend"), ("Avg latency", "avg_latency_ms"), ("Active users", "active_users")]
cols = st.columns(3)
for i, (label, metric) in enumerate(cards):
    row = t.loc[metric]
    flat = row["direction"] in ("stable", "new")
    cols[i % 3].metric(label, kpi_value(metric, row["current"]), kpi_delta(row["change_pct"], row["direction"]),
                       delta_color="off" if flat else ("inverse" if metric == "avg_latency_ms" else "normal"),
                       delta_arrow="off" if flat else "auto", border=True)

metric = st.selectbox("Daily trend", ["requests", "total_tokens", "spend", "avg_latency_ms", "failed_requests"],
                      format_func=lambda m: charts.METRIC_LABELS[m], key="overview_metric")
if daily["requests"].sum() == 0:
    st.plotly_chart(charts.empty_figure("No requests in this period"), width="stretch")
else:
    st.plotly_chart(charts.daily_metric(daily, metric), width="stretch")
