"""The Request logs page's widgets and cached LiteLLM reads (lib.logs decides; this draws and remembers).

A relative window ("Last hour") is anchored when first shown and moves only with **Refresh**: the page's reruns
(a row picked, a page turned) then ask for the same window, which the cache answers without calling LiteLLM.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from lib.core.clock import utcnow
from lib.core.formatting import exact, latency, styled, unit_money
from lib.litellm.logs_api import RequestPayload
from lib.logs.options import filter_choices, key_labels, resolve_key
from lib.logs.query import (
    CACHE_STATES,
    DEFAULT_PRESET,
    ORDERS,
    PAGE_SIZES,
    PRESETS,
    SORT_LABELS,
    SORTS,
    STATUSES,
    LogQuery,
    LogWindow,
)
from lib.logs.rows import TABLE_COLUMNS
from lib.logs.view import LogsView, empty_reason, load_view
from lib.ui.runtime import runtime
from lib.usage.queries import overview

CUSTOM = "Custom"
CACHE_TTL_S = 300
ANCHOR = "logs_anchor"
PAGE = "logs_page"
SIGNATURE = "logs_signature"
# How the table writes its numbers (lib.core.formatting): a request's cost keeps its small figure (unit_money),
# tokens exactly, durations as latency.
TABLE_FORMATS = {
    "prompt_tokens": exact,
    "completion_tokens": exact,
    "spend": unit_money,
    "duration_ms": latency,
    "ttft_ms": latency,
}


def table_styled(rows: pd.DataFrame):
    """A page of rows for st.dataframe: numbers written by TABLE_FORMATS while the browser sorts by the numbers
    underneath; "—" for anything missing."""
    return styled(rows[TABLE_COLUMNS], TABLE_FORMATS)


def detail_facts(row) -> list[tuple[str, str]]:
    """The picked request's headline facts, written as the table writes them."""
    return [
        ("Status", str(row["status"]).capitalize()),
        ("Duration", latency(row["duration_ms"])),
        ("Tokens in / out", f"{exact(row['prompt_tokens'])} / {exact(row['completion_tokens'])}"),
        ("Spend", unit_money(row["spend"])),
    ]


def source_id() -> str:
    """Which LiteLLM the cached answers are from (two settings, two caches)."""
    s = runtime().settings
    return s.LITELLM_BASE_URL or f"demo:{s.DEMO_SEED}"


@st.cache_data(ttl=CACHE_TTL_S, max_entries=24, show_spinner=False)
def cached_view(source: str, query: LogQuery) -> LogsView:
    with runtime().litellm_client() as client:
        return load_view(client, query)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=24, show_spinner=False)
def cached_empty_reason(source: str, query: LogQuery) -> str | None:
    rt = runtime()

    def daily_requests(first: date, last: date) -> int:
        try:
            return int(overview(rt.store, first, last)["requests"] or 0)
        except Exception:  # no usage store yet: nothing to compare with
            return 0

    with rt.litellm_client() as client:
        return empty_reason(client, daily_requests, query)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def cached_payload(source: str, request_id: str) -> RequestPayload | None:
    with runtime().litellm_client() as client:
        return client.request_payload(request_id)


def refresh() -> None:
    """Re-anchor the window at now and forget cached answers (Refresh)."""
    st.session_state[ANCHOR] = utcnow()
    cached_view.clear()
    cached_empty_reason.clear()


def read_window() -> LogWindow:
    anchor = st.session_state.setdefault(ANCHOR, utcnow())
    c = st.columns([3, 1], vertical_alignment="bottom")
    preset = c[0].segmented_control(
        "Window (UTC)", [*PRESETS, CUSTOM], default=DEFAULT_PRESET, key="logs_window", required=True
    )
    c[1].button("Refresh", key="logs_refresh", icon=":material/refresh:", on_click=refresh, width="stretch")
    if preset != CUSTOM:
        return LogWindow.last(PRESETS[preset], anchor)
    today = anchor.date()
    c = st.columns(4)
    first = c[0].date_input("From day", value=today, key="logs_from_day", max_value=today, format="YYYY-MM-DD")
    start = c[1].time_input("From time (UTC)", value=time(0, 0), key="logs_from_time", step=timedelta(minutes=1))
    last = c[2].date_input("To day", value=today, key="logs_to_day", max_value=today, format="YYYY-MM-DD")
    end = c[3].time_input("To time (UTC)", value=time(23, 59), key="logs_to_time", step=timedelta(minutes=1))
    return LogWindow.between(first, start, last, end)


def _pick(where, label: str, options: list[str], key: str, **kw) -> str | None:
    """A selectbox over the stored values that also takes a typed one (LiteLLM may know newer names)."""
    return where.selectbox(label, options, index=None, key=key, placeholder="Any", accept_new_options=True, **kw)


def read_query(store) -> LogQuery:
    """Every filter widget, as one validated query (raises LogQueryError with the reason)."""
    window = read_window()
    choices = filter_choices(store)
    keys: pd.DataFrame = choices["api_keys"]
    labels = key_labels(keys)
    with st.expander("Filters", expanded=True):
        c = st.columns(5)
        group = _pick(c[0], "Model group", choices["model_groups"], "logs_model_group")
        model = _pick(c[1], "Model", choices["models"], "logs_model", help="The deployment's model, e.g. openai/gpt-4o")
        key = _pick(
            c[2],
            "Key",
            list(labels),
            "logs_key",
            format_func=lambda k: labels.get(k, k),
            help="Pick by alias, or type an alias or the key's SHA-256 hash",
        )
        user = _pick(c[3], "User", choices["users"], "logs_user")
        team = _pick(c[4], "Team", choices["teams"], "logs_team")
        c = st.columns([2, 2, 2, 3])
        status = c[0].segmented_control(
            "Status", STATUSES, key="logs_status", format_func=str.capitalize, help="None picked: every status"
        )
        cache = c[1].segmented_control(
            "Cache", CACHE_STATES, key="logs_cache", format_func=str.capitalize, help="None picked: either"
        )
        min_spend = c[2].number_input(
            "Min spend (USD)", min_value=0.0, value=0.0, step=0.001, format="%.4f", key="logs_min_spend"
        )
        request_id = c[3].text_input("Request id", key="logs_request_id", placeholder="chatcmpl-… or call id")
        c = st.columns([2, 2, 2])
        sort = c[0].selectbox("Sort by", list(SORTS), format_func=SORT_LABELS.get, key="logs_sort")
        order = c[1].segmented_control(
            "Order",
            ORDERS,
            default="desc",
            required=True,
            key="logs_order",
            format_func=lambda o: "Newest / largest first" if o == "desc" else "Oldest / smallest first",
        )
        page_size = c[2].segmented_control(
            "Rows per page", PAGE_SIZES, default=PAGE_SIZES[0], required=True, key="logs_page_size"
        )
    query = LogQuery(
        window=window,
        model=model,
        model_group=group,
        api_key=resolve_key(keys, key),
        user_id=user,
        team_id=team,
        status=status,
        cache_hit=cache,
        min_spend=min_spend,
        request_id=request_id,
        sort=sort,
        order=order,
        page_size=page_size,
    )
    # another filter, window or order starts at page 1
    signature = query.but(page=1)
    if st.session_state.get(SIGNATURE) != signature:
        st.session_state[SIGNATURE] = signature
        st.session_state[PAGE] = 1
    return query.but(page=int(st.session_state.get(PAGE, 1)))


def page_picker(view: LogsView) -> None:
    if not view.total_is_capped and st.session_state.get(PAGE, 1) > view.pages:
        st.session_state[PAGE] = view.pages  # fewer requests than before (the total moved): the last page
    c = st.columns([1, 3])
    c[0].number_input(
        f"Page (of {view.pages:,}{'+' if view.total_is_capped else ''})",
        min_value=1,
        max_value=None if view.total_is_capped else view.pages,
        step=1,
        key=PAGE,
    )


def when(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC" if ts is not None else "—"
