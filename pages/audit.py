"""Audit log: every change, login and export, filterable, downloadable."""
from datetime import datetime, timedelta, timezone

import streamlit as st

from lib.ui.guard import require_page

user = require_page("audit:read")

from lib.appdb import get_engine  # noqa: E402
from lib.audit import audit_actions, audit_csv, list_audit  # noqa: E402
from lib.config import get_settings  # noqa: E402

engine = get_engine(get_settings().DATABASE_URL)
st.title("Audit log")
today = datetime.now(timezone.utc).date()
c = st.columns(3)
actor = c[0].text_input("User", key="audit_actor", placeholder="any user")
action = c[1].selectbox("Action", ["(any)"] + audit_actions(engine), key="audit_action")
period = c[2].date_input("Date range (UTC)", value=(today - timedelta(days=30), today), key="audit_range",
                         format="YYYY-MM-DD")
start, end = (period if isinstance(period, (tuple, list)) and len(period) == 2 else (today, today))
df = list_audit(engine, actor=actor or None, action=None if action == "(any)" else action, start=start, end=end)
if df.empty:
    st.info("No audit entries match these filters.")
else:
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "at": st.column_config.DatetimeColumn("When (UTC)"), "details": st.column_config.JsonColumn("Details")})
st.download_button("Download CSV", audit_csv(df), file_name=f"audit-{start}-to-{end}.csv", mime="text/csv",
                   key="audit_download", disabled=df.empty)
