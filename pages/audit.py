"""Audit log: who did what, when, to what, with which outcome; filterable and downloadable as CSV."""

from datetime import timedelta

import streamlit as st

from lib.ui.guard import require_page

user = require_page("audit:read")

from lib.auth.audit import audit, audit_actions, audit_actors, audit_csv, list_audit  # noqa: E402
from lib.core.clock import utcnow
from lib.core.formatting import MISSING  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402  (after the guard: nothing is read without a login)

ANY = "(any)"
engine = runtime().engine
st.title("Audit log")
today = utcnow().date()
c = st.columns(3)
who = c[0].selectbox("User", [ANY] + audit_actors(engine), key="audit_actor")
action = c[1].selectbox("Action", [ANY] + audit_actions(engine), key="audit_action")
period = c[2].date_input(
    "Date range (UTC)", value=(today - timedelta(days=30), today), key="audit_range", format="YYYY-MM-DD"
)
if isinstance(period, (tuple, list)):  # (start,) while the second day is being picked
    start, end = (period[0], period[-1]) if period else (today, today)
else:
    start = end = period
filters = {"user": None if who == ANY else who, "action": None if action == ANY else action, "start": start, "end": end}
df = list_audit(engine, **filters)
st.caption(f"{len(df):,} entries · {start:%Y-%m-%d} – {end:%Y-%m-%d} UTC · newest first")
if df.empty:
    st.info("No audit entries match these filters.")
else:
    st.dataframe(
        df.drop(columns=["id"]),
        hide_index=True,
        width="stretch",
        column_config={
            "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "actor": "User",
            "action": "Action",
            "target": "Target",
            "outcome": "Outcome",
            "details": st.column_config.JsonColumn("Details"),
        },
        placeholder=MISSING,
    )


def _exported() -> None:
    audit(
        engine,
        user.username,
        "audit.export",
        f"audit-{start}-to-{end}.csv",
        "success",
        {k: str(v) for k, v in filters.items() if v is not None} | {"rows": len(df)},
    )


st.download_button(
    "Download CSV",
    audit_csv(df),
    file_name=f"audit-{start}-to-{end}.csv",
    mime="text/csv",
    key="audit_download",
    disabled=df.empty,
    on_click=_exported,
    icon=":material/download:",
)
