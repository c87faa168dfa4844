"""Shared drawing of the usage views (admin Usage page and My usage): filters, KPIs, charts, tables, exports.

Thin UI helper: it reads widgets, asks lib/ for frames and figures, and renders them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.core.formatting import MISSING, kpi_delta, kpi_value, text
from lib.core.text_safety import markdown_literal, plotly_label
from lib.usage import charts
from lib.usage.exports import FORMATS, export_filename, render_export
from lib.usage.periods import PRESETS, Comparison
from lib.usage.queries import (
    BREAKDOWNS,
    CASCADE,
    Filters,
    QueryError,
    cascade_choices,
    check_breakdown,
    filter_combinations,
    filter_options,
    prune_picks,
    usage_page_queries,
)
from lib.usage.view_state import ViewState, api_key_labels, parse_query

RANGE_CHOICES = list(PRESETS) + ["Custom"]
KPI_CARDS = [
    ("Requests", "requests"),
    ("Success rate", "success_rate"),
    ("Total tokens", "total_tokens"),
    ("Prompt tokens", "prompt_tokens"),
    ("Completion tokens", "completion_tokens"),
    ("Spend", "spend"),
    ("Avg latency", "avg_latency_ms"),
    ("Active users", "active_users"),
]
SERIES_METRICS = ["requests", "total_tokens", "spend", "avg_latency_ms", "failed_requests"]
BREAKDOWN_LABELS = {
    "daily": "Daily",
    "model": "Model",
    "model_group": "Model group",
    "provider": "Provider",
    "user": "User",
    "api_key": "API key",
    "team": "Team",
}


def read_view(
    prefix: str,
    options: dict,
    today,
    first_day,
    store,
    show_users: bool = True,
    owner: str | None = None,
    loading: bool = False,
) -> tuple[ViewState, tuple]:
    """Range and filter widgets, seeded from the URL on first load; the URL follows the widgets. Each filter offers
    what occurs with the other filters' picks in the range (`owner`: of that LiteLLM user's keys)."""
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    url_state = parse_query(params, options, bounds=(first_day, today))
    k = lambda name: f"{prefix}_{name}"  # noqa: E731
    # Widget values do not follow a page switch unless set again in this run (Streamlit's widget cleanup).
    for name in ("range", "custom", "models", "providers", "users", "api_keys", "teams"):
        if k(name) in st.session_state:
            st.session_state[k(name)] = st.session_state[k(name)]
    # The URL wins on the page's first run in the session, and whenever it differs from what the widgets
    # last wrote to it (a link opened, history navigation); an empty query (coming back from another
    # page, which clears it) keeps the view.
    url_changed = bool(params) and params != st.session_state.get(k("written_query"))
    if st.session_state.get(k("range")) not in RANGE_CHOICES or url_changed:
        st.session_state[k("range")] = url_state.preset
        if url_state.preset == "Custom":
            st.session_state[k("custom")] = (url_state.start, url_state.end)
        f = url_state.filters
        for name, values in (
            ("models", f.models),
            ("providers", f.providers),
            ("users", f.users),
            ("api_keys", f.api_keys),
            ("teams", f.teams),
        ):
            st.session_state[k(name)] = list(values)
        for problem in url_state.problems:  # they quote the link: anyone's text
            # on the page, not a toast: a phone's toasts stack over the page title
            st.warning(markdown_literal(problem), icon=":material/link_off:")

    for name, value in st.session_state.pop(k("pending"), []):
        if value not in st.session_state.get(k(name), []):
            st.session_state[k(name)] = list(st.session_state.get(k(name), [])) + [value]

    # full width, not in a column: there it cannot wrap and a phone cuts its last options
    preset = st.segmented_control("Range", RANGE_CHOICES, key=k("range"), required=True)
    state = ViewState(preset=preset)
    if preset == "Custom":
        # the widget's value is always one within the stored days (a link's range, or one kept from before the
        # stored days moved, could be outside them, which date_input refuses with an error page)
        st.session_state[k("custom")] = _within(st.session_state.get(k("custom")), first_day, today) or url_state.range(
            today, first_day
        )
        picked = st.date_input(
            "Custom range (UTC)",
            key=k("custom"),
            min_value=first_day,
            max_value=today,
            format="YYYY-MM-DD",
            width=320,  # the parent's width when narrower
        )
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            state.start, state.end = picked
        else:
            st.info("Pick an end date to apply the custom range.")
            state.start = state.end = picked[0] if picked else today
    start, end = state.range(today, first_day)

    choices = _cascade(prefix, store, start, end, owner, loading, show_users, api_key_labels(options["api_keys"]))
    # open while a filter is set, and after "Clear all filters" (a changed `expanded` would fold it under the click)
    opened = any(st.session_state.get(k(n)) for n in CASCADE) or st.session_state.get(k("filters_cleared"), False)
    with st.expander("Filters", expanded=opened):
        c = st.columns(3)
        models = c[0].multiselect("Models", choices["models"], key=k("models"), placeholder="All models")
        providers = c[1].multiselect("Providers", choices["providers"], key=k("providers"), placeholder="All providers")
        teams = c[2].multiselect("Teams", choices["teams"], key=k("teams"), placeholder="All teams")
        c = st.columns(2)
        users: list[str] = []
        if show_users:
            users = c[0].multiselect(
                "Users",
                choices["users"],
                key=k("users"),
                placeholder="All users",
                on_change=_clear_keys,
                args=(k("api_keys"),),
            )
        keys = options["api_keys"]
        labels = api_key_labels(keys[keys["api_key"].isin(choices["api_keys"])])
        api_keys = c[1].multiselect(
            "API keys", list(labels), key=k("api_keys"), format_func=labels.get, placeholder="All API keys"
        )
        st.button(
            "Clear all filters",
            key=k("clear_filters"),
            on_click=_clear_filters,
            args=(prefix,),
            disabled=not any(st.session_state.get(k(n)) for n in CASCADE),
            icon=":material/filter_alt_off:",
        )
    state.filters = Filters.of(models=models, providers=providers, users=users, api_keys=api_keys, teams=teams)
    query = state.to_query()
    st.query_params.from_dict(query)
    st.session_state[k("written_query")] = {name: v if isinstance(v, list) else [v] for name, v in query.items()}
    return state, (start, end)


def _within(picked, first, last) -> tuple | None:
    """A picked (start, end), or (start,) while the end is being picked, clipped to [first, last]; None when
    nothing of it is left."""
    if not isinstance(picked, (tuple, list)) or not picked:
        return None
    if picked[0] > last or picked[-1] < first:
        return None
    return tuple(min(max(d, first), last) for d in picked)


def _clear_keys(key: str) -> None:
    st.session_state[key] = []


def _clear_filters(prefix: str) -> None:
    for name in CASCADE:
        st.session_state[f"{prefix}_{name}"] = []
    st.session_state[f"{prefix}_filters_cleared"] = True


FILTER_LABELS = {
    "models": "Models",
    "providers": "Providers",
    "teams": "Teams",
    "users": "Users",
    "api_keys": "API keys",
}


def _cascade(
    prefix: str, store, start, end, owner, loading: bool, show_users: bool, key_labels: dict[str, str]
) -> dict[str, list[str]]:
    """Each filter's choices: the values that occur with the other filters' picks in [start, end]. A pick that no
    longer does (the range or another pick changed, a link combined them) is dropped with a notice, except while
    the history loads (its days may not have arrived yet). Returns the choices per filter, picks included."""
    k = lambda name: f"{prefix}_{name}"  # noqa: E731
    if not show_users:
        st.session_state[k("users")] = []
    picks = {name: list(st.session_state.get(k(name)) or []) for name in CASCADE}
    combos = filter_combinations(store, start, end, owner)
    if not loading:
        picks, dropped = prune_picks(combos, picks)
        for name, gone in dropped.items():
            st.session_state[k(name)] = picks[name]
            shown = gone if name != "api_keys" else [key_labels.get(g, f"key …{g[-6:]}") for g in gone]
            st.info(
                markdown_literal(
                    f"{FILTER_LABELS[name]} filter dropped: {', '.join(shown[:5])}"
                    + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
                    + " (no usage together with the other filters in this range)."
                ),
                icon=":material/filter_alt_off:",
            )
    choices = cascade_choices(combos, picks)
    return {name: sorted(set(choices[name]) | set(picks[name])) for name in CASCADE}


# Up is good (green) except: slower is worse, and more spend is neither good nor bad (grey).
TREND_COLOUR = {"avg_latency_ms": "inverse", "spend": "off"}


def render_kpis(trends: pd.DataFrame, total_users: int | None, comparison: Comparison) -> None:
    """The KPI cards: each value over the whole range (today included); the trend badge only where `comparison`
    (lib.usage.periods.comparison) has whole days to compare, and its help says which days against which."""
    t = trends.set_index("metric")
    for i, (label, metric) in enumerate(KPI_CARDS):
        if i % 4 == 0:  # one row of columns per 4 cards: on a narrow screen they stack in reading order
            cols = st.columns(4)
        row = t.loc[metric]
        value = kpi_value(metric, row["current"])
        if metric == "active_users" and total_users:
            value = f"{value} of {total_users}"
        flat = row["direction"] in ("stable", "new", "none")
        if comparison.compared:
            (a, b), (pa, pb) = comparison.whole, comparison.previous
            help_text = (
                f"Trend: {a:%d %b} – {b:%d %b}: {kpi_value(metric, row['compared'])}, "
                f"against {pa:%d %b} – {pb:%d %b}: {kpi_value(metric, row['previous'])}"
                + (" (today is partial and not in the trend)" if comparison.partial_today else "")
            )
        else:
            help_text = f"No trend: {comparison.reason}."
        cols[i % 4].metric(
            label,
            value,
            kpi_delta(row["change_pct"], row["direction"]) if comparison.compared else None,
            border=True,
            delta_color="off" if flat else TREND_COLOUR.get(metric, "normal"),
            delta_arrow="off" if flat else "auto",
            help=help_text,
        )


def _names(data: dict, dim: str) -> set:
    names = set(data[f"daily_by_{dim}"][dim]) if len(data[f"daily_by_{dim}"]) else set()
    if not isinstance(data[dim], QueryError):
        names |= set(data[dim][dim])
    return names


def render_charts(data: dict, prefix: str) -> list[tuple[str, str]]:
    """Charts of the view: the metric over time, then tabs; returns the (filter name, value) of a clicked cost bar."""
    picked: list[tuple[str, str]] = []
    daily = data["daily"]
    if not daily["requests"].sum():
        st.caption("No data to chart in this view.")  # empty axes and a heatmap of zeros would look like data
        return picked
    metric = st.segmented_control(
        "Metric over time",
        SERIES_METRICS,
        default="requests",
        key=f"{prefix}_metric",
        format_func=lambda m: charts.METRIC_LABELS[m],
        required=True,
    )
    st.plotly_chart(charts.daily_metric(daily, metric), key=f"{prefix}_series")
    colours = {dim: charts.colour_map(_names(data, dim)) for dim in ("model", "provider")}
    # Only the open tab's charts are drawn: each plotly chart costs the browser ~80 ms a view change, and seven of
    # them kept a filter change over a second, click to quiet page (tests/bench/page_timing).
    tabs = st.tabs(list(CHART_TABS), key=f"{prefix}_chart_tab", on_change="rerun")
    for tab, draw in zip(tabs, CHART_TABS.values()):
        if tab.open:
            with tab:
                picked += draw(data, prefix, metric, colours)
    return picked


def _cost_bars(data: dict, prefix: str, metric: str, colours: dict) -> list[tuple[str, str]]:
    """Cost by provider and by model; returns the (filter name, value) of a clicked bar."""
    picked = []
    c = st.columns(2)
    generation = st.session_state.get(f"{prefix}_picks_done", 0)  # a new chart after a pick: its selection is spent
    for col, name, dim in ((c[0], "providers", "provider"), (c[1], "models", "model")):
        frame = data[dim]
        with col:
            st.markdown(f"**Cost by {dim}** · click a bar to filter")
            if isinstance(frame, QueryError) or frame["spend"].sum() == 0:
                st.caption("No spend in this view.")
                continue
            event = st.plotly_chart(
                charts.cost_bars(frame, dim, colours=colours[dim]),
                key=f"{prefix}_cost_{dim}_{generation}",
                on_select="rerun",
                selection_mode="points",
            )
            names = {plotly_label(n): n for n in frame[dim]}  # a bar's label is the escaped name
            for point in event.selection.points if event and event.selection else []:
                value = names.get(point.get("y", point.get("label")))
                if value is not None and value != "other":
                    picked.append((name, value))
    return picked


def _stacked(data: dict, prefix: str, metric: str, colours: dict) -> list:
    """The metric over time split by model and by provider."""
    stacked_metric = metric if metric != "avg_latency_ms" else "requests"  # latencies do not stack
    c = st.columns(2)
    for col, dim, title in ((c[0], "model", "By model"), (c[1], "provider", "By provider")):
        with col:
            st.markdown(f"**{title}**")
            st.plotly_chart(
                charts.stacked_daily(data[f"daily_by_{dim}"], dim, stacked_metric, colours=colours[dim]),
                key=f"{prefix}_by_{dim}",
            )
    return []


def _patterns(data: dict, prefix: str, metric: str, colours: dict) -> list:
    """Requests by weekday and week, and the requests that succeeded and failed each day."""
    c = st.columns(2)
    with c[0]:
        st.markdown("**Requests by weekday and week**")
        if data["heatmap"].empty:
            st.caption("No data.")
        else:
            st.plotly_chart(charts.weekday_heatmap(data["heatmap"]), key=f"{prefix}_heatmap")
    with c[1]:
        st.markdown("**Success vs failure**")
        st.plotly_chart(charts.success_failure(data["daily"]), key=f"{prefix}_success")
    return []


# The charts under the metric over time, one tab each; the first is open on a page's first view.
CHART_TABS = {"Cost": _cost_bars, "By model and provider": _stacked, "Weekday and outcomes": _patterns}


# Table columns: (heading, how a cell is written: lib.core.formatting's rule for that metric, or text).
TABLE_COLUMNS = {"user": ["user_id", "user_email"], "model": ["model"], "api_key": ["key_alias", "owner"]}
TABLE_METRICS = ["spend", "requests", "total_tokens", "success_rate", "avg_latency_ms"]
TABLE_HEADINGS = {
    "requests": "Requests",
    "total_tokens": "Tokens",
    "spend": "Spend",
    "success_rate": "Success",
    "avg_latency_ms": "Avg latency",
    "key_alias": "Alias",
    "owner": "Owner",
    "last_active": "Last active",
    "user_id": "User",
    "model": "Model",
    "user_email": "Email",
}


def table_text(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """A breakdown as the table shows it: every number written as the KPI cards and chart hovers write it
    (lib.core.formatting), nothing missing shown as "None" or "nan" ("—")."""
    extra = ["last_active"] if by == "api_key" else []
    out = {}
    for col in TABLE_COLUMNS[by] + TABLE_METRICS + extra:
        write = (lambda v, m=col: kpi_value(m, v)) if col in TABLE_METRICS else text
        out[TABLE_HEADINGS[col]] = [write(v) for v in frame[col]]
    return pd.DataFrame(out)


def render_table(title: str, frame, by: str) -> None:
    """Full width: a half-width table cut off its last columns."""
    st.markdown(f"**{title}**")
    if isinstance(frame, QueryError):
        st.info(markdown_literal(frame))
        return
    if frame.empty:
        st.caption("No rows in this view.")
        return
    shown = table_text(frame, by)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={h: st.column_config.TextColumn(h) for h in shown.columns},
        placeholder=MISSING,
    )


def render_exports(store, start, end, f: Filters, prefix: str, filename_prefix: str, on_export) -> None:
    """CSV/JSON downloads of the current view, built by the same code as the CLI export.

    The file is generated (and `on_export(by, fmt, filename)` audits it) only when a button is clicked.
    """
    c = st.columns([2, 1, 1])
    by = c[0].selectbox("Export breakdown", BREAKDOWNS, format_func=BREAKDOWN_LABELS.get, key=f"{prefix}_export_by")
    try:
        check_breakdown(by, f)
    except QueryError as exc:
        c[1].caption(markdown_literal(exc))
        return
    for col, fmt in zip(c[1:], FORMATS):
        name = export_filename(start, end, fmt, filename_prefix)

        def build(fmt=fmt, name=name) -> str:
            text = render_export(store, start, end, by, f, fmt)
            on_export(by, fmt, name)
            return text

        col.download_button(
            f"Download {fmt.upper()}",
            build,
            file_name=name,
            on_click="ignore",
            mime="text/csv" if fmt == "csv" else "application/json",
            key=f"{prefix}_dl_{fmt}",
            width="stretch",
        )


def load_options(store, owner: str | None = None) -> dict:
    """Filter choices; the first call after a restart also loads the stored history into memory."""
    with st.spinner("Loading stored usage…"):
        return filter_options(store, owner=owner)


def compute(store, start, end, f: Filters, comparison: Comparison) -> dict:
    with st.spinner("Crunching usage…"):
        return usage_page_queries(store, start, end, f, whole=comparison.whole)


def render_empty_store() -> None:
    st.info(
        "No usage is stored yet. The history is loaded when the app starts; the sidebar shows the "
        "last refresh and its error, if any."
    )


def apply_picks(prefix: str, picked: list[tuple[str, str]]) -> None:
    """A clicked chart slice becomes a filter: applied before the widgets are drawn on the rerun."""
    st.session_state[f"{prefix}_pending"] = picked
    st.session_state[f"{prefix}_picks_done"] = st.session_state.get(f"{prefix}_picks_done", 0) + 1
    st.rerun()
