"""Models: the catalogue synced from LiteLLM (sync, history, browser with 30-day usage) and Test Configuration."""

import streamlit as st

from lib.ui.guard import require_page

user = require_page("models:read")

from lib.auth.gate import refusal  # noqa: E402
from lib.auth.permissions import PermissionDenied  # noqa: E402
from lib.catalog.browse import (
    browser_table,
    catalogue,
    facets,
    filter_catalogue,
    history_table,
    last_sync,
    sync_history,
    sync_running,
    with_usage,
)
from lib.catalog.parse import CAPABILITY_LABELS
from lib.catalog.probe import DEFAULT_TIMEOUT_S, test_configuration  # noqa: E402
from lib.catalog.sync import ModelSyncError, SyncInProgress, sync_models_as
from lib.core.clock import utcnow
from lib.core.formatting import MISSING, compact
from lib.core.jobs import humanize_ago  # noqa: E402
from lib.core.text_safety import markdown_literal  # noqa: E402
from lib.ui.actions import action_button  # noqa: E402
from lib.ui.runtime import runtime  # noqa: E402

rt = runtime()
settings, engine = rt.settings, rt.engine
can_sync = refusal(user, "models.sync") is None
now = utcnow()

st.title("Models")
manage_tab, test_tab = st.tabs(["Models Management", "Test Configuration"])


def _when(ts) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC ({humanize_ago(ts, now)})" if ts else "—"


def _stats(result, key: str) -> None:
    cols = st.columns(4)
    for col, (label, value) in zip(
        cols,
        [
            ("Total", result.total),
            ("New", result.new),
            ("Updated", result.updated),
            ("Unavailable", result.unavailable),
        ],
    ):
        col.metric(label, compact(value), border=True)
    st.caption(
        f"Synchronized {_when(result.finished_at)} · triggered by {markdown_literal(result.trigger)} · "
        f"run #{result.run_id}"
    )
    details = [
        ("New", result.new_models),
        ("Updated", [f"{n} ({', '.join(f)})" for n, f in result.updated_models.items()]),
        ("Unavailable", result.unavailable_models),
        ("Available again", result.restored_models),
    ]
    lines = [f"**{label}:** {', '.join(markdown_literal(n) for n in names)}" for label, names in details if names]
    if lines:
        with st.expander("What changed", expanded=False, key=f"{key}_changes"):
            st.markdown("\n\n".join(lines))


def _errors(result) -> None:
    if result.errors:
        st.markdown(
            "\n".join(
                f"- **{markdown_literal(e.get('model'))}**: {markdown_literal(e.get('message'))}" for e in result.errors
            )
        )


with manage_tab:
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.caption(
        f"The catalogue follows LiteLLM's `/model/info`: synced at start and every "
        f"{settings.MODEL_SYNC_INTERVAL_MINUTES} min, or now with the button."
    )
    clicked = action_button(
        user,
        "models.sync",
        "Refresh Models from LiteLLM",
        where=right,
        key="models_sync",
        type="primary",
        icon=":material/sync:",
        width="stretch",
    )
    if clicked:
        try:
            with st.spinner("Synchronizing models from LiteLLM…"):
                sync_models_as(rt, user)  # checks models:sync itself; audited
        except PermissionDenied as exc:
            st.error(str(exc))
        except SyncInProgress as exc:
            st.warning(markdown_literal(exc), icon=":material/hourglass_top:")
        except ModelSyncError:
            pass  # recorded as the last run: shown in red below

    running = sync_running(engine)
    if running and not clicked:
        st.info(
            f"A model sync started by {markdown_literal(running)} is running; this page shows the previous results.",
            icon=":material/sync:",
        )

    st.subheader("Last Synchronization")
    latest = last_sync(engine)
    if latest is None:
        st.info(
            "No synchronization yet. It runs when the app starts"
            + ("; or press **Refresh Models from LiteLLM**." if can_sync else ".")
        )
    elif latest.status == "failed":
        st.error(
            f"Synchronization failed {_when(latest.finished_at)} (triggered by "
            f"{markdown_literal(latest.trigger)}): {markdown_literal(latest.error)}",
            icon=":material/error:",
        )
        previous = last_sync(engine, succeeded=True)
        if previous is not None:
            st.caption("Previous successful synchronization (the catalogue below is from it):")
            _stats(previous, "models_previous")
            _errors(previous)
    else:
        if latest.status == "success":
            st.success(
                f"Synchronization succeeded: {latest.total:,} models from LiteLLM.", icon=":material/check_circle:"
            )
        else:
            st.warning(
                f"Partial success: {latest.total:,} models synchronized; {len(latest.errors)} problem(s) "
                "found in LiteLLM's model data.",
                icon=":material/warning:",
            )
        _stats(latest, "models_latest")
        _errors(latest)

    st.subheader("Sync history")
    history = sync_history(engine, limit=20)
    if history.empty:
        st.caption("No runs yet.")
    else:
        st.dataframe(
            history_table(history),
            hide_index=True,
            width="stretch",
            key="models_history",
            column_config={
                "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "trigger": "Triggered by",
                "status": "Outcome",
                "total": "Total",
                "new": "New",
                "updated": "Updated",
                "unavailable": "Unavailable",
                "error_count": "Problems",
                "duration_s": st.column_config.NumberColumn("Duration"),  # written by history_table
                "error": "Failure",
            },
            placeholder=MISSING,
        )

    st.subheader("Model browser")
    models = catalogue(engine)
    if models.empty:
        st.info("The catalogue is empty until the first synchronization.")
    else:
        today = now.date()
        models = with_usage(models, rt.store, today, days=30)
        f = facets(models)
        c = st.columns([3, 2, 2, 2])
        search = c[0].text_input("Search", key="models_search", placeholder="name, model, provider, API base")
        providers = c[1].multiselect("Provider", f["providers"], key="models_provider")
        modes = c[2].multiselect("Mode", f["modes"], key="models_mode")
        caps = c[3].multiselect(
            "Capabilities (all of)",
            f["capabilities"],
            key="models_capability",
            format_func=lambda k: CAPABILITY_LABELS.get(k, k),
        )
        c = st.columns([3, 2])
        availability = (
            c[0].segmented_control(
                "Availability",
                ["all", "available", "unavailable"],
                default="all",
                key="models_availability",
                format_func=str.capitalize,
            )
            or "all"
        )
        idle_only = c[1].toggle("Idle only (no requests in 30 days)", key="models_idle")
        shown = filter_catalogue(models, search, providers, modes, caps, availability)
        usage_known = "usage_error" not in models.attrs
        if idle_only and usage_known:
            shown = shown[shown["requests_30d"] == 0].reset_index(drop=True)
        idle = int((models.loc[models["available"], "requests_30d"] == 0).sum()) if usage_known else None
        st.caption(
            f"{len(shown):,} of {len(models):,} models shown · prices per 1M tokens · usage over the last "
            f"30 UTC days"
            + (
                f" · {idle} available model(s) idle"
                if idle is not None
                else f" · usage unavailable: {markdown_literal(models.attrs['usage_error'])}"
            )
        )
        shown = shown.assign(
            capabilities=shown["capabilities"].map(lambda cs: [CAPABILITY_LABELS.get(x, x) for x in cs])
        )
        st.dataframe(
            browser_table(shown),
            hide_index=True,
            width="stretch",
            key="models_browser",
            column_config={
                "name": st.column_config.TextColumn("Model", pinned=True),
                "available": st.column_config.CheckboxColumn("Available"),
                "provider": "Provider",
                "mode": "Mode",
                "input_cost_per_1m": st.column_config.NumberColumn("Input $/1M"),  # numbers: browser_table writes them
                "output_cost_per_1m": st.column_config.NumberColumn("Output $/1M"),
                "max_input_tokens": st.column_config.NumberColumn("Context (input)"),
                "max_output_tokens": st.column_config.NumberColumn("Max output"),
                "requests_30d": st.column_config.NumberColumn("Requests 30d"),
                "spend_30d": st.column_config.NumberColumn("Spend 30d"),
                "capabilities": st.column_config.ListColumn("Capabilities"),
                "underlying_model": "Underlying model",
                "api_base": "API base",
                "alias_of": "Alias of",
                "tpm": st.column_config.NumberColumn("TPM"),
                "rpm": st.column_config.NumberColumn("RPM"),
                "deployments": "Deployments",
                "first_seen": st.column_config.DatetimeColumn("First seen", format="YYYY-MM-DD HH:mm"),
                "last_seen": st.column_config.DatetimeColumn("Last seen", format="YYYY-MM-DD HH:mm"),
                "unavailable_since": st.column_config.DatetimeColumn("Unavailable since", format="YYYY-MM-DD HH:mm"),
                "issues": st.column_config.ListColumn("Problems"),
                "litellm_model_id": "LiteLLM model id",
            },
            placeholder=MISSING,
        )

with test_tab:
    st.caption(
        f"Checks an OpenAI-compatible endpoint before you add a model to LiteLLM: `GET <API base>/models` "
        f"with the key, {DEFAULT_TIMEOUT_S:g} s timeout. The key is sent once and never stored, logged or "
        "audited."
    )
    with st.form("models_test_form"):
        api_base = st.text_input("API base URL", key="models_test_base", placeholder="https://api.openai.com/v1")
        api_key = st.text_input(
            "API key",
            key="models_test_key",
            type="password",
            autocomplete="off",
            help="Use the eye icon to show or hide the key.",
        )
        model = st.text_input("Backend model name", key="models_test_model", placeholder="gpt-4o")
        submitted = action_button(
            user, "models.test_config", "Test Configuration", form=True, type="primary", key="models_test_submit"
        )
    if submitted:
        try:
            with st.spinner("Contacting the endpoint…"):
                result = test_configuration(engine, user, api_base, api_key, model)
        except PermissionDenied as exc:
            st.error(str(exc))
        else:
            st.session_state["models_test_result"] = result  # the answer only: no key in it
    result = st.session_state.get("models_test_result")
    if result is not None:
        # the message names its outcome and quotes the endpoint's answer, the typed model and the closest names
        message = markdown_literal(result.message)
        if result.result == "model_found":
            st.success(message, icon=":material/check_circle:")
        elif result.result == "model_not_found":
            st.warning(message, icon=":material/search_off:")
        elif result.result == "invalid_input":
            st.warning(message, icon=":material/edit_note:")
        else:
            icons = {
                "auth_error": ":material/key_off:",
                "timeout": ":material/timer_off:",
                "endpoint_error": ":material/error:",
            }
            st.error(message, icon=icons.get(result.result, ":material/cloud_off:"))
        if result.facts():
            st.caption(markdown_literal(" · ".join(result.facts())))
