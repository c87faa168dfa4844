"""Health of LiteLLM and of the console itself: checks that each answer green, amber or red with the reason
(the Health page), the readiness the console's `/readyz` reports, and the console's own Prometheus metrics and
the small HTTP server that serves them (`/healthz`, `/readyz`, `/metrics`).

Checks take the process's runtime (`rt`: settings, app database, usage store, LiteLLM client factory, the
scheduler's next runs) like the services do; nothing here touches Streamlit.
"""
