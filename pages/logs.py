"""Request logs: LiteLLM's spend logs for a window, filtered and paged by LiteLLM, with charts, a row's detail and
an export of every matching request."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("logs:read")

from lib.auth.permissions import has_permission  # noqa: E402
from lib.core.errors import ConsoleError  # noqa: E402
from lib.core.formatting import MISSING  # noqa: E402
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.litellm.client import LiteLLMError  # noqa: E402
from lib.logs import charts  # noqa: E402
from lib.logs.export import FORMATS, export_logs  # noqa: E402
from lib.logs.query import LogQueryError  # noqa: E402
from lib.logs.rows import COLUMNS, prompt_and_response  # noqa: E402
from lib.ui.actions import action_button  # noqa: E402
from lib.ui.logs import (  # noqa: E402
    PAGE,
    cached_empty_reason,
    cached_payload,
    cached_view,
    detail_facts,
    page_picker,
    read_query,
    source_id,
    table_styled,
    when,
)
from lib.ui.runtime import runtime  # noqa: E402

rt = runtime()
source = source_id()
st.title("Request logs")
st.caption(
    "LiteLLM's spend logs, one row per request, read page by page from its `/spend/logs/v2` (nothing is stored "
    "here). Times are UTC; a window includes both ends, to the second."
)

try:
    query = read_query(rt.store)
except LogQueryError as exc:
    st.error(markdown_literal(exc), icon=":material/filter_alt_off:")
    st.stop()

try:
    with st.spinner("Reading LiteLLM's spend logs…"):
        view = cached_view(source, query)
except LiteLLMError as exc:
    st.error(markdown_literal(exc), icon=":material/cloud_off:")
    st.stop()

st.caption(f"{markdown_literal(query.window.label())} · {markdown_literal(view.total_text())}")
if view.total == 0:
    reason = None
    try:
        reason = cached_empty_reason(source, query)
    except LiteLLMError:
        pass
    if reason:
        st.warning(markdown_literal(reason), icon=":material/visibility_off:")
    else:
        st.info("No request matches this window and these filters.", icon=":material/search_off:")
    st.stop()

# -- charts -----------------------------------------------------------------------------------------------
left, right = st.columns(2)
start, end = view.chart_span()
per_minute, minutes = charts.requests_per_minute(view.sample, start, end)
left.plotly_chart(charts.requests_figure(per_minute, minutes, start, end), key="logs_chart_requests", width="stretch")
latency, minutes = charts.latency_percentiles(view.sample, start, end)
right.plotly_chart(charts.latency_figure(latency, minutes, start, end), key="logs_chart_latency", width="stretch")
st.caption(f"Charts: {markdown_literal(view.sample_text())}.")

# -- the table --------------------------------------------------------------------------------------------
for note in view.notes:
    st.warning(markdown_literal(note), icon=":material/swap_vert:")
if view.rows.empty:
    st.info("No requests on this page: the last page with requests is picked below.")
table = st.dataframe(
    table_styled(view.rows),
    hide_index=True,
    width="stretch",
    key="logs_table",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "time": st.column_config.DatetimeColumn(COLUMNS["time"], format="YYYY-MM-DD HH:mm:ss.SSS"),
        "status": COLUMNS["status"],
        "route": COLUMNS["route"],
        "key": COLUMNS["key"],
        "user": COLUMNS["user"],
        "prompt_tokens": st.column_config.NumberColumn("Tokens in"),  # numbers: written by table_styled
        "completion_tokens": st.column_config.NumberColumn("Tokens out"),
        "spend": st.column_config.NumberColumn("Spend"),  # its cells carry the $ (table_styled); the CSV says USD
        "duration_ms": st.column_config.NumberColumn("Duration"),
        "ttft_ms": st.column_config.NumberColumn("TTFT"),
        "cache_hit": st.column_config.CheckboxColumn(COLUMNS["cache_hit"]),
        "error_class": COLUMNS["error_class"],
        "error_message": st.column_config.TextColumn(COLUMNS["error_message"], width="large"),
        "request_id": COLUMNS["request_id"],
    },
    placeholder=MISSING,
)
if view.pages > 1 or st.session_state.get(PAGE, 1) > 1:
    page_picker(view)
st.caption("Pick a row to see its detail.")

# -- a row's detail ---------------------------------------------------------------------------------------
picked = [i for i in (table.selection.rows if table is not None else []) if i < len(view.rows)]
if not picked and len(view.rows) == 1:  # one request found (by its id, say): its detail at once
    picked = [0]
if picked:
    row = view.rows.iloc[picked[0]]
    detail = view.details[row["request_id"]]
    st.subheader("Request detail")
    st.code(row["request_id"], language=None)
    for col, (label, value) in zip(st.columns(4), detail_facts(row)):
        col.metric(label, value)
    st.markdown(
        "  \n".join(
            f"**{label}:** {markdown_literal(value)}"
            for label, value in (
                ("Started", when(row["time"])),
                ("Ended", when(detail["ended"])),
                ("Model group → model (provider)", row["route"]),
                ("Key", row["key"] or "—"),
                ("User", row["user"] if isinstance(row["user"], str) else "—"),
                ("Team", row["team"] if isinstance(row["team"], str) else "—"),
                ("Call type", detail["call_type"] or "—"),
                ("Session", detail["session_id"] or "—"),
            )
        )
    )
    if row["status"] == "failure":
        error = detail["metadata"].get("error_information") or {}
        st.error(
            markdown_literal(f"{row['error_class'] or 'Error'} ({row['error_code'] or '?'}): {row['error_message']}"),
            icon=":material/error:",
        )
        if error.get("traceback"):
            with st.expander("Traceback (as LiteLLM stored it)"):
                st.code(str(error["traceback"]), language=None)
    with st.expander("Metadata (as LiteLLM stored it; empty fields and its price-map copy left out)"):
        st.json(detail["metadata"], expanded=2)
    st.markdown("**Prompt and response**")
    if not has_permission(user.role, "logs:prompts"):
        st.info("Prompts and responses are shown to admins only.", icon=":material/lock:")
    else:
        try:
            payload = cached_payload(source, row["request_id"])
        except LiteLLMError as exc:
            st.error(markdown_literal(exc))
            payload = None
        else:
            found = prompt_and_response(payload)
            if payload is None:
                st.info("LiteLLM no longer has this request.")
            elif found is not None:
                prompt, response = found
                c = st.columns(2)
                with c[0]:
                    st.caption("Prompt")
                    st.json(prompt if prompt is not None else "(none stored)", expanded=True)
                with c[1]:
                    st.caption("Response")
                    st.json(response if response is not None else "(none stored)", expanded=True)
            else:
                st.info(
                    "LiteLLM did not store this request's prompt and response: it keeps them only while "
                    "`general_settings.store_prompts_in_spend_logs` is true.",
                    icon=":material/visibility_off:",
                )

# -- export -------------------------------------------------------------------------------------------------
st.subheader("Export")
st.caption(
    f"Every request matching the window and filters ({markdown_literal(view.total_text())}), all pages, in "
    "the table's order."
)
c = st.columns([1, 2, 3], vertical_alignment="bottom")
fmt = c[0].segmented_control(
    "Format", FORMATS, default="csv", required=True, key="logs_export_format", format_func=str.upper
)
clicked = action_button(
    user, "logs.export", "Prepare export", key="logs_export", where=c[1], icon=":material/download:"
)
EXPORTED = "logs_export_file"
if clicked:
    bar = st.progress(0.0, text="Reading every page from LiteLLM…")

    def progress(done: int, total: int | None) -> None:
        share = min(1.0, done / total) if total else 0.0
        bar.progress(share, text=f"{done:,} of {f'{total:,}' if total else 'more than 10,000'} requests read")

    try:
        with rt.litellm_client() as client:
            filename, text, rows = export_logs(
                rt.engine, user, client, query.but(page=1), fmt, rt.settings.LOGS_EXPORT_MAX_ROWS, progress
            )
    except ConsoleError as exc:  # refused, too many rows, LiteLLM down: audited by the gate, said here
        bar.empty()
        st.error(markdown_literal(exc))
    else:
        bar.empty()
        st.session_state[EXPORTED] = {"query": query.but(page=1), "filename": filename, "text": text, "rows": rows}
ready = st.session_state.get(EXPORTED)
if ready and ready["query"] == query.but(page=1):
    c[2].download_button(
        f"Download {ready['filename']} ({ready['rows']:,} requests)",
        ready["text"],
        file_name=ready["filename"],
        mime="text/csv" if ready["filename"].endswith(".csv") else "application/json",
        key="logs_download",
        on_click="ignore",
        icon=":material/file_download:",
    )
