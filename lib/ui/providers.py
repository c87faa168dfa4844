"""Drawing of the Providers page: header cards, a card per provider, the Add / Configure / Delete dialogs, the
charts, the differences from LiteLLM and the Adopt section. It reads widgets, calls lib.providers.service (every
change goes through the gate there) and draws; the figures come from lib.providers.stats.

Changes started from a card (Test, Enable / Disable) run as button callbacks, before the page is drawn, so the
cards show their result; what they said is shown at the top of the next run ("flash"). A typed API key lives
only in its password field's session state, is cleared when a dialog saves or closes, and is never drawn.
"""

from __future__ import annotations

import html
import logging
from datetime import date

import streamlit as st

from lib.auth.accounts import User
from lib.auth.gate import refusal
from lib.core.errors import ConsoleError
from lib.core.formatting import kpi_delta, kpi_value, latency, unit_money
from lib.core.text_safety import markdown_literal
from lib.litellm.client import LiteLLMError
from lib.providers import demo, service, stats
from lib.providers.adopt import CONFIG_FILE
from lib.providers.records import DEFAULT_PRIORITY, ProviderInput, ProviderInputError
from lib.providers.tester import RESULT_LABELS
from lib.providers.types import PROVIDER_TYPES
from lib.ui.actions import action_button
from lib.usage import charts

log = logging.getLogger(__name__)
FLASH = "prov_flash"  # [(kind, message or an apply error's as_dict())]: the last action's outcome, shown at the top
# of every run until the next action (not only the next run: a chart or the login cookie can rerun the page at once)
DIALOG = "prov_dialog"  # {"kind": "add" | "configure" | "delete", "name": provider or None}
TESTED = "prov_f_tested"  # the dialog's last connection test (a ConnectionTest: no key in it)
FIELDS = "prov_f_"  # the dialog's widget keys start so
KEY_FIELD = "prov_f_key"
STATUS_BADGE = {"active": ("Active", "green"), "disabled": ("Disabled", "gray"), "error": ("Error", "red")}
READ_ONLY_HINT = "Admin access required to change providers"


# -- flash messages --------------------------------------------------------------------------------------------
def flash(kind: str, message) -> None:
    st.session_state.setdefault(FLASH, []).append((kind, message))


def new_action() -> None:
    """A new action starts: the previous one's outcome is no longer shown."""
    st.session_state.pop(FLASH, None)


def render_flash() -> None:
    for kind, message in st.session_state.get(FLASH, []):
        if kind == "apply_error":
            render_apply_error(message)
        else:
            getattr(st, kind)(markdown_literal(message))


def render_apply_error(error: dict) -> None:
    """What a refused change did, and what LiteLLM holds now (ProviderApplyError.as_dict())."""
    st.error(markdown_literal(error["error"]))
    marks = {"done": "✓ done", "failed": "✗ refused", "not_attempted": "– not attempted"}
    lines = [f"- {marks[s['status']]}: {markdown_literal(s['step'])}" for s in error["change"]["steps"]]
    lines += [
        f"  - LiteLLM said: {markdown_literal(s['message'])}"
        for s in error["change"]["steps"]
        if s["status"] == "failed" and s["message"]
    ]
    text = "**What was tried**\n\n" + "\n".join(lines)
    if error.get("rollback"):
        undo = [f"- {marks[s['status']]}: {markdown_literal(s['step'])}" for s in error["rollback"]["steps"]]
        text += "\n\n**Undoing it**\n\n" + "\n".join(undo)
    pending = error.get("pending")
    if pending is None:
        now = "LiteLLM could not be read afterwards: use **Apply to LiteLLM** once it answers."
    elif not pending:
        now = "LiteLLM is as it was before: it matches the console's providers."
    else:
        now = "LiteLLM differs from the console's providers by:\n\n" + "\n".join(
            f"- {markdown_literal(d)}" for d in pending
        )
    st.markdown(text + "\n\n**Now in LiteLLM**\n\n" + now)


def _run(change, success: str) -> bool:
    """Run one change, flashing what happened; True when it was done."""
    new_action()
    try:
        change()
    except service.ProviderApplyError as exc:
        flash("apply_error", exc.as_dict())
    except (ConsoleError, LiteLLMError) as exc:
        flash("error", str(exc))
    else:
        if success:
            flash("success", success)
        return True
    return False


# -- loading ---------------------------------------------------------------------------------------------------
def load_views(rt) -> list[service.ProviderView]:
    """The providers (demo mode seeds its own at the console's first start: lib.providers.demo)."""
    try:
        demo.seed(rt)
    except Exception:  # a demo nicety: the page works without it
        log.exception("could not seed the demo's providers")
    return service.list_providers(rt)


def catalogue_prices(engine) -> dict[str, stats.Price]:
    """Public name -> (input, output) $ per token from the models catalogue (prices LiteLLM gives per model)."""
    from lib.catalog.browse import catalogue

    df = catalogue(engine)
    return {
        r.name: (_num(r.input_cost_per_token), _num(r.output_cost_per_token))
        for r in df[["name", "input_cost_per_token", "output_cost_per_token"]].itertuples()
    }


def _num(v) -> float | None:
    return None if v is None or v != v else float(v)  # NaN


# -- header ----------------------------------------------------------------------------------------------------
def render_header(cards: list[stats.Card]) -> None:
    cols = st.columns(len(cards))
    for col, c in zip(cols, cards):
        flat = c.direction in ("stable", "new", "none")
        col.metric(
            c.label,
            kpi_value(c.metric, c.current),
            kpi_delta(c.change_pct, c.direction),
            border=True,
            delta_color="off" if flat or c.metric == "spend" else "normal",
            delta_arrow="off" if flat else "auto",
            help=(
                f"Trend: {kpi_value(c.metric, c.compared)} in the 29 whole days before today against "
                f"{kpi_value(c.metric, c.previous)} in the 29 days before them (today is partial and not in the trend)"
                if c.metric != "providers"
                else f"{c.previous} configured before these 30 days"
            ),
        )


# -- provider cards --------------------------------------------------------------------------------------------
def _title(v: service.ProviderView, colour: str) -> None:
    """The card's title in the provider's colour (st.html: every name escaped)."""
    st.html(
        f'<div style="border-left: 6px solid {colour}; padding-left: 10px; line-height: 1.3">'
        f'<div style="font-weight: 600; font-size: 1.1rem">{html.escape(v.display_name)}</div>'
        f'<div style="opacity: .7; font-size: .85rem">{html.escape(v.type_label)} · {html.escape(v.name)}</div></div>'
    )


def _last_test(v: service.ProviderView) -> str:
    if v.last_test_at is None:
        return "Never tested"
    took = f" · {latency(v.last_test_latency_ms)}" if v.last_test_latency_ms is not None else ""
    label = RESULT_LABELS.get(v.last_test_result or "", v.last_test_result or "")
    return f"Last test {v.last_test_at:%Y-%m-%d %H:%M} UTC{took} · {label}"


def render_card(user: User, v: service.ProviderView, s: stats.ProviderStats, colour: str) -> None:
    with st.container(border=True, key=f"prov_card_{v.name}"):
        top = st.columns([4, 1])
        with top[0]:
            _title(v, colour)
        label, badge_colour = STATUS_BADGE[v.status]
        with top[1]:
            st.badge(label, color=badge_colour)
        if v.status != "active":
            st.caption(markdown_literal(v.status_reason))
        figures = (
            ("Requests 30 d", kpi_value("requests", s.requests)),
            ("Spend 30 d", kpi_value("spend", s.spend)),
            ("Success", kpi_value("success_rate", s.success_rate)),
            ("Avg latency", kpi_value("avg_latency_ms", s.avg_latency_ms)),
        )
        for col, (label, value) in zip(st.columns(4), figures):
            col.caption(label)
            col.markdown(f"**{markdown_literal(value)}**")
        cost = unit_money(s.avg_cost_per_1m)  # a price per 1M tokens: its small figure stays
        key = {"console": v.masked_key, "litellm": "kept by LiteLLM", "none": "no key"}[v.key_held_by]
        facts = [
            f"{v.model_count} model(s)",
            f"avg {cost} per 1M tokens",
            f"priority {v.priority}",
            "auto-fallback on" if v.auto_fallback else "auto-fallback off",
            f"key {key}",
        ]
        if v.key_variable:  # where an exported LiteLLM config.yaml reads the key from (litellm-config)
            facts.append(f"config.yaml reads it from {v.key_variable}")
        st.caption(markdown_literal(" · ".join(facts)))
        st.caption(markdown_literal(f"{v.api_base} · {_last_test(v)}"))
        with st.expander("Models"):
            if not v.models:
                st.caption("No models.")
            for mv in v.models:
                order = f", order {mv.order}" if mv.order is not None else ""
                st.markdown(
                    f"- {markdown_literal(mv.public_name)} → `{mv.litellm_model.replace('`', '')}` "
                    f"({markdown_literal(mv.state)}{order})"
                )
        b = st.columns(4)
        action_button(
            user, "providers.configure", "Configure", where=b[0], key=f"prov_cfg_{v.name}",
            on_click=open_dialog, args=("configure", v.name), width="stretch",
        )  # fmt: skip
        action_button(
            user, "providers.test", "Test", where=b[1], key=f"prov_test_{v.name}",
            on_click=_test_stored, args=(user, v.name), width="stretch",
        )  # fmt: skip
        toggle = ("providers.disable", "Disable") if v.enabled else ("providers.enable", "Enable")
        action_button(
            user, toggle[0], toggle[1], where=b[2], key=f"prov_toggle_{v.name}",
            on_click=_set_enabled, args=(user, v.name, not v.enabled), width="stretch",
        )  # fmt: skip
        action_button(
            user, "providers.delete", "Delete", where=b[3], key=f"prov_del_{v.name}",
            on_click=open_dialog, args=("delete", v.name), width="stretch",
        )  # fmt: skip


def _rt():
    from lib.ui.runtime import runtime

    return runtime()


def _test_stored(user: User, name: str) -> None:
    def test():
        result = service.test_provider(_rt(), user, name)
        flash("success" if result.success else "error", f"{name}: {result.message}")

    _run(test, "")


def _set_enabled(user: User, name: str, enabled: bool) -> None:
    done = "enabled: its models are back in LiteLLM" if enabled else "disabled: its models left LiteLLM"
    _run(lambda: service.set_enabled(_rt(), user, name, enabled), f"{name} {done}")


def render_cards(user: User, views, figures: dict, colours: dict) -> None:
    for i, v in enumerate(views):
        if i % 2 == 0:
            cols = st.columns(2)
        with cols[i % 2]:
            render_card(user, v, figures[v.name], colours[v.name])


def render_empty(user: User) -> None:
    with st.container(border=True):
        st.markdown("### No providers configured yet")
        st.caption(
            "Add an upstream provider (OpenAI, Anthropic, Ollama, …) with its key: the console creates its "
            "credential and models in LiteLLM. Or adopt what LiteLLM already serves (below)."
        )
        action_button(
            user, "providers.add", "Add provider", key="prov_add_empty", icon=":material/add:", type="primary",
            on_click=open_dialog, args=("add", None),
        )  # fmt: skip


# -- dialogs ---------------------------------------------------------------------------------------------------
def open_dialog(kind: str, name: str | None) -> None:
    new_action()
    clear_fields()
    st.session_state[DIALOG] = {"kind": kind, "name": name}
    if kind == "configure":
        _fill_from(next(v for v in service.list_providers(_rt()) if v.name == name))
    elif kind == "add":
        _fill_type_defaults("openai")


def close_dialog() -> None:
    st.session_state.pop(DIALOG, None)
    clear_fields()


def clear_fields() -> None:
    """Forget what the dialog held, the typed key with it (deleted, not set: allowed after its widget was drawn)."""
    for k in [k for k in st.session_state if str(k).startswith(FIELDS)]:
        del st.session_state[k]


def _fill_type_defaults(type_id: str) -> None:
    ptype = PROVIDER_TYPES[type_id]
    st.session_state.update(
        {
            "prov_f_type": type_id,
            "prov_f_base": ptype.default_api_base,
            "prov_f_priority": DEFAULT_PRIORITY,
            "prov_f_fallback": True,
            "prov_f_enabled": True,
        }
    )
    for f in ptype.extra_fields:
        st.session_state[f"prov_f_extra_{f.name}"] = f.default


def _on_type_change() -> None:
    """A new type: its API base and extra fields' defaults (what was typed for the old type does not fit)."""
    type_id = st.session_state["prov_f_type"]
    st.session_state["prov_f_base"] = PROVIDER_TYPES[type_id].default_api_base
    for f in PROVIDER_TYPES[type_id].extra_fields:
        st.session_state[f"prov_f_extra_{f.name}"] = f.default
    st.session_state.pop(TESTED, None)


def _fill_from(v: service.ProviderView) -> None:
    by_model: dict[str, list[str]] = {}
    for m in v.models:
        by_model.setdefault(m.provider_model, []).append(m.public_name)
    st.session_state.update(
        {
            "prov_f_type": v.type,
            "prov_f_name": v.name,
            "prov_f_display": v.display_name if v.display_name != v.name else "",
            "prov_f_base": v.api_base,
            "prov_f_priority": v.priority,
            "prov_f_fallback": v.auto_fallback,
            "prov_f_enabled": v.enabled,
            "prov_f_models": list(by_model),
            "prov_f_options": list(by_model),
            "prov_f_shown": v,  # what the fields were filled with: Save sends only what differs from it
        }
    )
    for model, publics in by_model.items():
        st.session_state[_public_key(model)] = ", ".join(publics)
    for f in PROVIDER_TYPES[v.type].extra_fields:
        st.session_state[f"prov_f_extra_{f.name}"] = v.extra.get(f.name, f.default)


def _public_key(model: str) -> str:
    return f"prov_f_public::{model}"


def _typed_models() -> list[tuple[str, str]]:
    """(public name, provider model) pairs of the checklist: each ticked model under each of its public names."""
    out = []
    for model in st.session_state.get("prov_f_models") or []:
        publics = [p.strip() for p in (st.session_state.get(_public_key(model)) or model).split(",") if p.strip()]
        out += [(p, model) for p in publics or [model]]
    return out


def _typed_input() -> ProviderInput:
    ptype = PROVIDER_TYPES[st.session_state["prov_f_type"]]
    return ProviderInput(
        name=(st.session_state.get("prov_f_name") or "").strip(),
        type=ptype.id,
        api_key=st.session_state.get(KEY_FIELD) or None,
        api_base=(st.session_state.get("prov_f_base") or "").strip() or None,
        display_name=(st.session_state.get("prov_f_display") or "").strip() or None,
        extra={f.name: st.session_state.get(f"prov_f_extra_{f.name}") or "" for f in ptype.extra_fields},
        priority=int(st.session_state.get("prov_f_priority") or DEFAULT_PRIORITY),
        auto_fallback=bool(st.session_state.get("prov_f_fallback")),
        enabled=bool(st.session_state.get("prov_f_enabled")),
    )


def _changes(shown: service.ProviderView, inp: ProviderInput) -> dict:
    """What Configure changes: the fields that differ from what the dialog was filled with (a key only if typed)."""
    changes: dict = {}
    if (inp.display_name or shown.name) != shown.display_name:
        changes["display_name"] = inp.display_name
    if inp.api_key:
        changes["api_key"] = inp.api_key
    if (inp.api_base or "") != shown.api_base:
        changes["api_base"] = inp.api_base
    if inp.extra != {k: shown.extra.get(k, v) for k, v in inp.extra.items()}:
        changes["extra"] = inp.extra
    for name in ("priority", "auto_fallback", "enabled"):
        if getattr(inp, name) != getattr(shown, name):
            changes[name] = getattr(inp, name)
    models = _typed_models()
    if sorted(models) != sorted((m.public_name, m.provider_model) for m in shown.models):
        changes["models"] = models
    return changes


def _fields(rt, user: User, kind: str) -> None:
    configure = kind == "configure"
    shown: service.ProviderView | None = st.session_state.get("prov_f_shown")
    c = st.columns(2)
    c[0].selectbox(
        "Type", list(PROVIDER_TYPES), key="prov_f_type", format_func=lambda t: PROVIDER_TYPES[t].label,
        on_change=_on_type_change, disabled=configure,
    )  # fmt: skip
    c[1].text_input(
        "Name", key="prov_f_name", disabled=configure, placeholder="e.g. openai-prod",
        help="Letters, digits, '-', '_' and '.': it names the provider's credential in LiteLLM.",
    )  # fmt: skip
    ptype = PROVIDER_TYPES[st.session_state["prov_f_type"]]
    st.text_input("Display name (optional)", key="prov_f_display")
    if ptype.needs_key:
        stored = ""
        if shown is not None:
            stored = {"console": f"stored: {shown.masked_key}", "litellm": "kept by LiteLLM"}.get(shown.key_held_by, "")
        st.text_input(
            "API key", key=KEY_FIELD, type="password", autocomplete="off",
            placeholder=f"{stored} — leave empty to keep it" if stored else ptype.key_hint,
            help="Sent to LiteLLM as the credential's key; the console keeps it encrypted and shows it masked only.",
        )  # fmt: skip
    else:
        st.caption(f"{markdown_literal(ptype.label)} needs no API key.")
    st.text_input("API base", key="prov_f_base", placeholder=ptype.default_api_base or "https://host/v1")
    for f in ptype.extra_fields:
        st.text_input(f.label, key=f"prov_f_extra_{f.name}")
    c = st.columns(3)
    c[0].number_input(
        "Priority", min_value=1, max_value=100, step=1, key="prov_f_priority",
        help="1 is tried first; within one public model name the lowest number serves.",
    )  # fmt: skip
    c[1].toggle("Auto-fallback", key="prov_f_fallback", help=service.FAILOVER_RULE)
    c[2].toggle("Enabled", key="prov_f_enabled", help="Disabled: its models leave LiteLLM; its credential stays.")

    # Test connection: what was typed (or, configuring without a new key, the saved settings)
    if action_button(user, "providers.test", "Test connection", key="prov_f_test_btn", icon=":material/network_check:"):
        inp = _typed_input()
        with st.spinner("Contacting the provider…"):
            try:
                if configure and not inp.api_key and ptype.needs_key:
                    st.session_state[TESTED] = service.test_provider(rt, user, inp.name)
                else:
                    st.session_state[TESTED] = service.test_provider(rt, user, inp)
            except ConsoleError as exc:
                st.error(markdown_literal(exc))
        tested = st.session_state.get(TESTED)
        if tested is not None and tested.success:
            found = [m for m in tested.models_available if m not in st.session_state.get("prov_f_options", [])]
            st.session_state["prov_f_options"] = list(st.session_state.get("prov_f_options", [])) + found
    tested = st.session_state.get(TESTED)
    if tested is not None:
        title = RESULT_LABELS.get(tested.result, tested.result)
        if tested.success:
            st.success(
                markdown_literal(f"{title}: {latency(tested.latency_ms)}, {len(tested.models_available)} model(s)"),
                icon=":material/check_circle:",
            )
        else:
            st.error(markdown_literal(f"{title}: {tested.message}"), icon=":material/cloud_off:")
        if configure and not st.session_state.get(KEY_FIELD) and ptype.needs_key:
            st.caption("Tested with the saved key and settings; enter the key to test changed ones.")

    st.multiselect(
        "Models to serve", st.session_state.get("prov_f_options", []), key="prov_f_models",
        accept_new_options=True, placeholder="Test the connection to list the provider's models, or type one",
        help="The provider's own model names; each becomes a LiteLLM deployment under its public name(s).",
    )  # fmt: skip
    for model in st.session_state.get("prov_f_models") or []:
        k = _public_key(model)
        if k not in st.session_state:
            st.session_state[k] = model
        st.text_input(
            f"Public name for {model}",
            key=k,
            help="What clients ask LiteLLM for (the model group); several: separate them with commas.",
        )


def _preview(rt, kind: str, inp: ProviderInput) -> tuple[list[str] | None, str | None]:
    """The steps Save would apply, or why it cannot (the message to show)."""
    try:
        if kind == "add":
            plan = service.preview_add(rt, inp, _typed_models())
        else:
            changes = _changes(st.session_state["prov_f_shown"], inp)
            if not changes:
                return [], None
            plan = service.preview_configure(rt, inp.name, changes)
    except ProviderInputError as exc:
        return None, str(exc)
    except (ConsoleError, LiteLLMError) as exc:
        return None, f"LiteLLM cannot be read to plan the change: {exc}"
    return plan.descriptions(), None


def _save(rt, user: User, kind: str, inp: ProviderInput) -> None:
    try:
        if kind == "add":
            result = service.add_provider(rt, user, inp, _typed_models())
            done = f"Added {inp.name}: {result.as_dict()['summary']}"
        else:
            changes = _changes(st.session_state["prov_f_shown"], inp)
            result = service.configure_provider(rt, user, inp.name, changes)
            done = f"Saved {inp.name}: {result.as_dict()['summary']}"
    except service.ProviderApplyError as exc:
        render_apply_error(exc.as_dict())
        return
    except (ConsoleError, LiteLLMError) as exc:
        st.error(markdown_literal(exc))
        return
    close_dialog()
    new_action()
    flash("success", done)
    st.rerun()


def _edit_dialog(user: User, kind: str) -> None:
    rt = _rt()
    _fields(rt, user, kind)
    inp = _typed_input()
    st.markdown("**Changes in LiteLLM**")
    steps, problem = _preview(rt, kind, inp)
    if problem:
        st.warning(markdown_literal(problem))
    elif not steps:
        st.caption("Nothing to change." if kind == "configure" else "Nothing to apply.")
    else:
        st.markdown("\n".join(f"{i}. {markdown_literal(s)}" for i, s in enumerate(steps, start=1)))
    st.caption(markdown_literal(service.FAILOVER_RULE))
    action = "providers.add" if kind == "add" else "providers.configure"
    c = st.columns(2)
    if action_button(user, action, "Save and apply", where=c[0], key="prov_f_save", type="primary"):
        if problem:
            st.error(markdown_literal(problem))
        else:
            _save(rt, user, kind, inp)
    if c[1].button("Cancel", key="prov_f_cancel"):
        close_dialog()
        st.rerun()


@st.dialog("Add provider", width="large", on_dismiss=close_dialog)
def add_dialog(user: User) -> None:
    _edit_dialog(user, "add")


@st.dialog("Configure provider", width="large", on_dismiss=close_dialog)
def configure_dialog(user: User) -> None:
    _edit_dialog(user, "configure")


@st.dialog("Delete provider", on_dismiss=close_dialog)
def delete_dialog(user: User) -> None:
    rt = _rt()
    name = st.session_state[DIALOG]["name"]
    st.markdown(f"Delete **{markdown_literal(name)}**? This removes from LiteLLM:")
    try:
        steps = service.deletion_preview(rt, name)
    except (ConsoleError, LiteLLMError) as exc:
        st.error(markdown_literal(exc))
        steps = None
    if steps is not None:
        st.markdown("\n".join(f"- {markdown_literal(s)}" for s in steps) or "Nothing (it is not in LiteLLM).")
    c = st.columns(2)
    if action_button(user, "providers.delete", "Delete provider", where=c[0], key="prov_del_confirm", type="primary"):
        if _run(lambda: service.delete_provider(rt, user, name), f"Deleted {name} and its deployments"):
            close_dialog()
            st.rerun()
        else:
            for kind, message in st.session_state.pop(FLASH, []):  # said here, in the dialog
                render_apply_error(message) if kind == "apply_error" else st.error(markdown_literal(message))
    if c[1].button("Cancel", key="prov_del_cancel"):
        close_dialog()
        st.rerun()


def render_dialog(user: User) -> None:
    """The open dialog, if any (a dialog stays open across the page's runs until saved, cancelled or closed)."""
    opened = st.session_state.get(DIALOG)
    if not opened or refusal_of(user, opened["kind"]):
        return
    {"add": add_dialog, "configure": configure_dialog, "delete": delete_dialog}[opened["kind"]](user)


DIALOG_ACTIONS = {"add": "providers.add", "configure": "providers.configure", "delete": "providers.delete"}


def refusal_of(user: User, kind: str) -> str | None:
    return refusal(user, DIALOG_ACTIONS[kind])


# -- charts ----------------------------------------------------------------------------------------------------
def render_charts(store, views, colours: dict, today: date) -> None:
    choice = st.segmented_control("Range", list(stats.RANGES), default="30 d", key="prov_range", required=True)
    bounds = store.date_bounds()
    start, end = stats.chart_range(choice, today, bounds[0] if bounds else None)
    calls = stats.calls_over_time(store, views, start, end)
    c = st.columns([3, 2])
    with c[0]:
        st.markdown("**API calls over time by provider**")
        if calls.empty:
            st.caption("No traffic of these providers in this range.")
        else:
            st.plotly_chart(charts.daily_lines(calls, "provider", "requests", colours), key="prov_calls_chart")
    with c[1]:
        st.markdown("**Cost by provider**")
        cost = stats.cost_by_provider(calls)
        if cost.empty or cost["spend"].sum() == 0:
            st.caption("No spend of these providers in this range.")
        else:
            st.plotly_chart(charts.cost_share(cost, "provider", colours=colours), key="prov_cost_chart")


# -- LiteLLM differs / adopt -----------------------------------------------------------------------------------
def render_pending(rt, user: User) -> None:
    """The differences between the console's providers and LiteLLM, with Apply to LiteLLM."""
    try:
        plan = service.preview_plan(rt)
    except (ConsoleError, LiteLLMError) as exc:
        st.warning(markdown_literal(f"LiteLLM cannot be read: {exc}"))
        return
    if plan.empty:
        return
    with st.container(border=True):
        st.warning("LiteLLM differs from the console's providers. Applying makes these changes:")
        st.markdown("\n".join(f"{i}. {markdown_literal(s)}" for i, s in enumerate(plan.descriptions(), start=1)))
        action_button(
            user, "providers.configure", "Apply to LiteLLM", key="prov_reapply", type="primary",
            on_click=lambda: _run(lambda: service.reapply(_rt(), user), "LiteLLM now serves the console's providers"),
        )  # fmt: skip


def render_adopt(rt, user: User) -> None:
    st.subheader("LiteLLM's existing models")
    try:
        found = service.adoption_candidates(rt)
    except (ConsoleError, LiteLLMError) as exc:
        st.warning(markdown_literal(f"LiteLLM cannot be read: {exc}"))
        return
    if not found:
        st.caption("Every deployment LiteLLM has belongs to a console provider.")
        return
    st.caption(
        "Deployments LiteLLM has that no console provider manages, grouped by credential or by provider and API "
        "base. Those in LiteLLM's database can be adopted (LiteLLM is not changed); those of its config file are "
        "shown as they are."
    )
    adoptable = [c for c in found if c.adoptable]
    for cand in found:
        with st.container(border=True):
            c = st.columns([3, 2])
            c[0].markdown(
                f"**{markdown_literal(cand.name)}** · {markdown_literal(cand.litellm_provider or 'unknown provider')}"
            )
            if cand.adoptable:
                c[1].badge("Adoptable", color="blue")
            elif cand.reason == CONFIG_FILE:
                c[1].badge("Defined in LiteLLM's config file", color="gray")
            else:
                c[1].caption(markdown_literal(cand.reason))
            models = ", ".join(f"{p} → {m}" for p, m in cand.models) or "no deployments"
            st.caption(markdown_literal(f"{cand.api_base or 'default API base'} · {models}"))
    if adoptable:
        names = ", ".join(c.name for c in adoptable)
        if action_button(user, "providers.adopt", f"Adopt {len(adoptable)} provider(s)", key="prov_adopt"):
            if _run(lambda: service.adopt(rt, user), f"Adopted {names}: LiteLLM is unchanged"):
                st.rerun()
            render_flash()
