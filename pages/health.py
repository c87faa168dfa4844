"""Health: LiteLLM's (liveness, readiness, details, each deployment's last check) and the console's own (app
database, usage store, models catalogue, background jobs), each green, amber or red with the reason."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("health:read")

from lib.health.litellm_checks import checkable_models  # noqa: E402
from lib.health.report import health_report  # noqa: E402
from lib.ui.health import (  # noqa: E402
    badge,
    render_check_now,
    render_checks,
    render_deployments,
    render_jobs,
    render_store,
)
from lib.ui.runtime import runtime  # noqa: E402  (after the guard: nothing is read without a login)

rt = runtime()
st.title("Health")
with st.spinner("Checking LiteLLM and the console…"):
    report = health_report(rt)
head = st.columns([4, 1])
head[0].markdown(f"{badge(report.overall)} Checked {report.checked_at:%Y-%m-%d %H:%M:%S} UTC")
head[1].button("Check again", key="health_recheck", icon=":material/refresh:")  # a rerun: changes nothing

st.subheader("LiteLLM")
render_checks(report.litellm)

st.subheader("Deployments")
render_deployments(report.deployments)
render_check_now(rt, user, checkable_models(rt, report.deployments))

st.subheader("Console")
render_checks(report.console)
render_store(report.store)

st.subheader("Background jobs")
render_jobs(report.jobs)
