"""Drawing of the Routing page: the strategy cards, fallback chains (an editor and a graph), aliases, smart routing,
power levels and use cases; the plan of the edits, Apply, and the drift banner. It reads widgets, calls
lib.routing.service (every change goes through the gate there) and draws.

The editors start from the stored desired state (`BASE`, kept for the session so a data editor's edits stay
relative to the data it was given) and together make the desired state the page plans and applies. After an
apply or an adopt the editors start again from what is stored.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from lib.auth.accounts import User
from lib.auth.gate import refusal
from lib.core.errors import ConsoleError
from lib.core.formatting import MISSING, compact, money, unit_money
from lib.core.text_safety import markdown_literal
from lib.litellm.client import LiteLLMError
from lib.routing import service
from lib.routing.plan import FALLBACK_KEYS, Plan
from lib.routing.state import (
    FALLBACK_TYPES,
    POWER_LEVELS,
    PRESET_DOES,
    PRESET_LABEL,
    PRESET_SUMMARY,
    PRESETS,
    TIERS,
    VALID_STRATEGIES,
    RoutingInputError,
    RoutingState,
    check_groups,
    parse_state,
    state_json,
)

PREFIX = "route_"  # every widget and session key of the page starts so
BASE = "route_base"  # the stored desired state (JSON) the editors started from
CHAINS = "route_chains"  # the fallback chains being edited: [{"group", "type", "fallbacks"}]
CHAIN_ERROR = "route_chain_error"  # why the last "Set chain" was refused
REVIEW = "route_reviewing"  # "Review changes" was pressed: the plan is shown
FLASH = "route_flash"  # [(kind, message or an apply's outcome)]: the last action's outcome, until the next one
READ_ONLY_HINT = "Admin access required to change routing"
TYPE_LABEL = {
    "general": "on any error",
    "context_window": "context window exceeded",
    "content_policy": "content policy",
}
TYPE_STYLE = {"general": "solid", "context_window": "dashed", "content_policy": "dotted"}
RETRY_FIELDS = (  # (key, label, integer?)
    ("num_retries", "Retries (num_retries)", True),
    ("timeout", "Timeout, s (timeout)", False),
    ("allowed_fails", "Allowed fails before cooldown (allowed_fails)", True),
    ("cooldown_time", "Cooldown, s (cooldown_time)", False),
)


def _rt():
    from lib.ui.runtime import runtime

    return runtime()


def why_not(user: User) -> str | None:
    """Why the user may not edit routing (the editors are disabled with this as their tooltip), or None."""
    return refusal(user, "routing.import")


# -- session ---------------------------------------------------------------------------------------------------
def start(rt) -> dict:
    """The desired state the editors start from (loaded once a session, again after an apply or adopt)."""
    if BASE not in st.session_state:
        base = state_json(service.load(rt).desired)
        st.session_state[BASE] = base
        st.session_state[CHAINS] = [dict(c, fallbacks=list(c["fallbacks"])) for c in base["fallbacks"]]
    return st.session_state[BASE]


def restart() -> None:
    """Forget the edits: the editors start again from the stored state (the last outcome stays shown)."""
    for key in [k for k in st.session_state if str(k).startswith(PREFIX) and k != FLASH]:
        del st.session_state[key]


def flash(kind: str, message) -> None:
    st.session_state.setdefault(FLASH, []).append((kind, message))


def render_flash() -> None:
    for kind, message in st.session_state.get(FLASH, []):
        if kind == "outcome":
            render_outcome(message)
        else:
            getattr(st, kind)(markdown_literal(message))


def render_outcome(outcome: dict) -> None:
    """What an apply did: every step done, refused or not attempted (ApplyResult.as_dict(), or an error's)."""
    result = outcome.get("change") or outcome["result"]
    if outcome.get("error"):
        st.error(markdown_literal("LiteLLM refused a change: " + outcome["error"]))
    else:
        st.success(markdown_literal("Applied. " + result["summary"]))
    marks = {"done": "✓ done", "failed": "✗ refused", "not_attempted": "– not attempted"}
    lines = [f"- {marks[s['status']]}: {markdown_literal(s['step'])}" for s in result.get("steps", [])]
    lines += [f"  - LiteLLM said: {markdown_literal(s['message'])}" for s in result.get("steps", []) if s["message"]]
    if lines:
        st.markdown("\n".join(lines))


def _run(change, success: str = "") -> bool:
    st.session_state.pop(FLASH, None)
    try:
        done = change()
    except service.RoutingApplyError as exc:
        flash("outcome", exc.as_dict())
    except (ConsoleError, LiteLLMError) as exc:
        flash("error", str(exc))
    else:
        if isinstance(done, service.Applied):
            flash("outcome", done.as_dict())
        elif success:
            flash("success", success)
        restart()
        return True
    return False


def apply_state(user: User, data: dict) -> None:
    """Button callback: apply this desired state (JSON) to LiteLLM."""
    _run(lambda: service.apply(_rt(), user, parse_state(data)))


def adopt(user: User) -> None:
    _run(lambda: service.adopt(_rt(), user), "The console now holds LiteLLM's routing as its own.")


# -- strategy --------------------------------------------------------------------------------------------------
def render_strategy(base: dict, why: str | None) -> dict:
    st.subheader("Strategy")
    for col, preset in zip(st.columns(len(PRESETS)), PRESETS):
        with col.container(border=True, key=f"route_card_{preset}"):
            st.markdown(f"**{PRESET_LABEL[preset]}**")
            st.caption(PRESET_DOES[preset])
            st.caption("Sets in LiteLLM: " + markdown_literal(PRESET_SUMMARY[preset]))
    options = (*PRESETS, "advanced")
    choice = st.radio(
        "Strategy", options, index=options.index(base["strategy"]), horizontal=True, key="route_strategy",
        format_func=lambda p: PRESET_LABEL.get(p, "Advanced"), disabled=bool(why), help=why,
    )  # fmt: skip
    adv = base["advanced"]
    advanced = {}
    with st.expander("Advanced: LiteLLM's own settings", expanded=choice == "advanced"):
        st.caption(
            "The strategy and its arguments are used when the strategy is Advanced; the retry settings, when set, "
            "with every strategy."
        )
        not_advanced = "Choose Advanced to name LiteLLM's strategy" if choice != "advanced" else None
        advanced["routing_strategy"] = st.selectbox(
            "LiteLLM routing strategy", VALID_STRATEGIES, index=VALID_STRATEGIES.index(adv["routing_strategy"]),
            key="route_adv_strategy", disabled=bool(why or not_advanced), help=why or not_advanced,
        )  # fmt: skip
        args = st.text_input(
            "Strategy arguments (JSON object)", value=json.dumps(adv["routing_strategy_args"] or {}),
            key="route_adv_args", disabled=bool(why or not_advanced), help=why or not_advanced,
        )  # fmt: skip
        try:
            advanced["routing_strategy_args"] = json.loads(args or "{}")
        except ValueError:
            advanced["routing_strategy_args"] = args  # refused by the state's validation, which names the field
        for col, (key, label, whole) in zip(st.columns(len(RETRY_FIELDS)), RETRY_FIELDS):
            value = adv.get(key)
            advanced[key] = col.number_input(
                label, min_value=0 if whole else 0.0, value=(int(value) if whole else float(value)) if value is not None
                else None, step=1 if whole else 1.0, key=f"route_adv_{key}", disabled=bool(why), help=why,
                placeholder="LiteLLM's default",
            )  # fmt: skip
    return {"strategy": choice, "advanced": advanced}


def render_quality_rank(base: dict, models: list[str], why: str | None) -> dict:
    """The admin's quality rank of each LiteLLM model (1 is best): Quality optimized orders deployments by it."""
    ranks = base["quality_rank"]
    names = models + sorted(m for m in ranks if m not in models)
    df = pd.DataFrame({"LiteLLM model": names, "Rank": [ranks.get(m) for m in names]}).astype({"Rank": "Int64"})
    with st.expander("Quality rank (Quality optimized orders each group's deployments by it, 1 best)"):
        edited = st.data_editor(
            df, key="route_quality", hide_index=True, disabled=["LiteLLM model"] if not why else True,
            width="stretch", column_config={"Rank": st.column_config.NumberColumn(min_value=1, step=1)},
        )  # fmt: skip
    return {r["LiteLLM model"]: int(r["Rank"]) for r in _rows(edited) if r.get("Rank") is not None}


# -- fallbacks -------------------------------------------------------------------------------------------------
def fallback_dot(chains: list[dict]) -> str:
    """The chains as a Graphviz graph: group → each fallback, numbered in the order LiteLLM tries them; the line
    style says the chain's type."""
    lines = ["digraph {", "rankdir=LR;", 'node [shape=box, style="rounded"];']
    for c in chains:
        for i, target in enumerate(c["fallbacks"], start=1):
            label = f"{i} ({TYPE_LABEL[c['type']]})" if c["type"] != "general" else str(i)
            lines.append(
                f"{json.dumps(c['group'])} -> {json.dumps(target)} "
                f"[label={json.dumps(label)}, style={TYPE_STYLE[c['type']]}];"
            )
    lines.append("}")
    return "\n".join(lines)


def set_chain(groups: list[str]) -> None:
    """Button callback: set (or replace) the chosen group's chain of the chosen type, if the chains stay valid."""
    group, kind = st.session_state.get("route_fb_group"), st.session_state.get("route_fb_type") or "general"
    chain = list(st.session_state.get("route_fb_chain") or [])
    st.session_state.pop(CHAIN_ERROR, None)
    if not group or not chain:
        st.session_state[CHAIN_ERROR] = "Choose a model group and at least one group to fall back to."
        return
    chains = [c for c in st.session_state[CHAINS] if (c["group"], c["type"]) != (group, kind)]
    chains.append({"group": group, "type": kind, "fallbacks": chain})
    try:
        check_groups(parse_state({"fallbacks": chains}), set(groups))
    except RoutingInputError as exc:
        st.session_state[CHAIN_ERROR] = str(exc)
        return
    st.session_state[CHAINS] = chains
    st.session_state["route_fb_chain"] = []


def remove_chain(index: int) -> None:
    del st.session_state[CHAINS][index]


def render_fallbacks(groups: list[str], why: str | None) -> list[dict]:
    st.subheader("Fallback chains")
    st.caption("When a model group fails, LiteLLM tries its fallbacks in order.")
    chains = st.session_state[CHAINS]
    if chains:
        st.graphviz_chart(fallback_dot(chains))
    else:
        st.caption("No fallback chains.")
    for i, c in enumerate(chains):
        left, right = st.columns([6, 1])
        path = " → ".join(markdown_literal(g) for g in c["fallbacks"])
        left.markdown(f"**{markdown_literal(c['group'])}** ({TYPE_LABEL[c['type']]}) → {path}")
        right.button(
            "Remove", key=f"route_fb_rm_{i}", on_click=remove_chain, args=(i,), disabled=bool(why), help=why
        )  # fmt: skip
    with st.container(border=True):
        cols = st.columns([2, 2, 4])
        group = cols[0].selectbox(
            "Model group", groups, index=None, key="route_fb_group", disabled=bool(why), help=why
        )  # fmt: skip
        cols[1].selectbox(
            "When", FALLBACK_TYPES, format_func=TYPE_LABEL.get, key="route_fb_type", disabled=bool(why), help=why
        )  # fmt: skip
        cols[2].multiselect(
            "Fall back to, in this order", [g for g in groups if g != group], key="route_fb_chain",
            disabled=bool(why), help=why,
        )  # fmt: skip
        st.button("Set chain", key="route_fb_set", on_click=set_chain, args=(groups,), disabled=bool(why), help=why)
        if st.session_state.get(CHAIN_ERROR):
            st.error(markdown_literal(st.session_state[CHAIN_ERROR]))
    return [dict(c) for c in chains]


# -- aliases, use cases, power levels, smart routing ---------------------------------------------------------
def _blank(value) -> bool:
    """An empty cell: None, NaN, pandas' NA or an empty text."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value))) or value == ""


def _rows(df: pd.DataFrame) -> list[dict]:
    """The data editor's rows without the empty ones; a missing cell is None."""
    out = []
    for row in df.to_dict("records"):
        row = {k: (None if _blank(v) else v) for k, v in row.items()}
        if any(v is not None for v in row.values()):
            out.append(row)
    return out


def render_aliases(base: dict, groups: list[str], why: str | None) -> dict:
    st.subheader("Aliases")
    st.caption("A public name that clients can call, served by a model group. Add, change or delete rows.")
    df = pd.DataFrame({"Alias": list(base["aliases"]), "Model group": list(base["aliases"].values())}, dtype=object)
    edited = st.data_editor(
        df, key="route_aliases", num_rows="dynamic", hide_index=True, disabled=bool(why), width="stretch",
        column_config={"Model group": st.column_config.SelectboxColumn(options=groups, required=True)},
    )  # fmt: skip
    aliases: dict = {}
    for row in _rows(edited):
        alias, target = str(row["Alias"] or "").strip(), row["Model group"]
        if alias in aliases:
            raise RoutingInputError(f"aliases: {alias!r} appears twice")
        aliases[alias] = target or ""
    return aliases


def render_use_cases(base: dict, groups: list[str], why: str | None) -> list[dict]:
    st.subheader("Use cases")
    st.caption("A public name (e.g. sql-generation) served by a model with default parameters: a client calling it "
               "gets them without sending them.")  # fmt: skip
    cols = ["name", "model", "temperature", "max_tokens", "top_p"]
    df = pd.DataFrame([{k: u.get(k) for k in cols} for u in base["use_cases"]], columns=cols)
    df = df.astype({"name": object, "model": object, "temperature": float, "max_tokens": "Int64", "top_p": float})
    edited = st.data_editor(
        df, key="route_use_cases", num_rows="dynamic", hide_index=True, disabled=bool(why), width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Use case", required=True),
            "model": st.column_config.SelectboxColumn("Model", options=groups, required=True),
            "temperature": st.column_config.NumberColumn("Temperature", min_value=0.0, max_value=2.0, step=0.1),
            "max_tokens": st.column_config.NumberColumn("Max tokens", min_value=1, step=1),
            "top_p": st.column_config.NumberColumn("top_p", min_value=0.0, max_value=1.0, step=0.05),
        },
    )  # fmt: skip
    out = []
    for row in _rows(edited):
        if row.get("max_tokens") is not None:
            row["max_tokens"] = int(row["max_tokens"])
        out.append({k: v for k, v in row.items() if v is not None or k in ("name", "model")})
    return out


def render_power_levels(rt, base: dict, groups: list[str], why: str | None) -> dict:
    st.subheader("Power levels")
    st.caption("Each level is a public model group of its candidates, in order: the first serves, the next take over.")
    levels = {}
    for col, level in zip(st.columns(len(POWER_LEVELS)), POWER_LEVELS):
        chosen = col.multiselect(
            level, groups + [m for m in base["power_levels"].get(level, []) if m not in groups],
            default=list(base["power_levels"].get(level, [])), key=f"route_pl_{level}", disabled=bool(why), help=why,
        )  # fmt: skip
        if chosen:
            levels[level] = chosen
    render_power_figures(rt, levels)
    return levels


def _per_1m(value: float | None) -> str:
    """A price per 1M tokens (lib.core.formatting.unit_money); "unknown" where LiteLLM has no price."""
    return "unknown" if value is None else unit_money(value)


def render_power_figures(rt, levels: dict) -> None:
    """Each chosen level's price per 1M tokens (LiteLLM's prices, weighted by the recent token mix) and 30-day use."""
    if not levels:
        return
    try:
        figures, mix = service.power_level_figures(rt, parse_state({"power_levels": levels}))
    except RoutingInputError:
        return  # the editors' own error says why
    except (ConsoleError, LiteLLMError) as exc:
        st.caption(markdown_literal(f"Prices and use are not known: {exc}"))
        return
    rows = [
        {
            "Level": f.level,
            "Price per 1M tokens": _per_1m(f.per_1m),
            "Requests (30 d)": compact(f.requests),
            "Spend (30 d)": money(f.spend),
            "Candidates ($ per 1M tokens)": ", ".join(f"{c.group} {_per_1m(c.per_1m)}" for c in f.candidates),
        }
        for f in figures
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder=MISSING)
    st.caption(
        markdown_literal(
            "A level's price is its first candidate's (it serves while healthy); prices are LiteLLM's per token, "
            + mix.describe()
            + "."
        )
    )


def render_smart(base: dict, groups: list[str], why: str | None) -> dict:
    st.subheader("Smart routing")
    st.caption("One public name routed by LiteLLM's complexity router: each prompt tier to a model, else the fallback.")
    smart = dict(base["smart"])
    top = st.columns(3)
    smart["enabled"] = top[0].toggle(
        "Smart routing on", value=smart["enabled"], key="route_smart_on", disabled=bool(why), help=why
    )  # fmt: skip
    smart["public_name"] = top[1].text_input(
        "Public name", value=smart["public_name"], key="route_smart_public", disabled=bool(why), help=why
    )  # fmt: skip
    smart["prefer_local"] = top[2].toggle(
        "Prefer local models", value=smart["prefer_local"], key="route_smart_local", disabled=bool(why),
        help=why or "Local (e.g. Ollama) deployments first wherever a group has one",
    )  # fmt: skip
    for col, tier in zip(st.columns(len(TIERS) + 1), (*TIERS, "fallback")):
        options = [""] + groups
        current = smart.get(tier) or ""
        smart[tier] = col.selectbox(
            tier.capitalize(), options if current in options else [*options, current], index=(options + [current])
            .index(current), key=f"route_smart_{tier}", disabled=bool(why), help=why,
        ) or None  # fmt: skip
    return smart


# -- plan, apply, drift ----------------------------------------------------------------------------------------
SETTING_SECTION = {key: "Fallbacks" for key in FALLBACK_KEYS.values()} | {"model_group_alias": "Aliases"}


def render_plan(plan: Plan) -> None:
    if plan.empty:
        st.info("LiteLLM already routes like this: nothing to change.")
    for step in plan.steps:
        if step.kind != "router_settings":
            continue
        rows = [
            {
                "Section": SETTING_SECTION.get(key, "Router settings"),
                "Setting": key,
                "In LiteLLM now": json.dumps(step.before.get(key), default=str),
                "After apply": json.dumps(value, default=str),
            }
            for key, value in step.payload["router_settings"].items()
        ]
        st.markdown("**Router settings, fallbacks and aliases**")
        st.table(pd.DataFrame(rows).set_index("Setting"))
    deployments = [s.description for s in plan.steps if s.kind != "router_settings"]
    if deployments:
        st.markdown("**Deployments**\n\n" + "\n".join(f"- {markdown_literal(d)}" for d in deployments))
    if plan.read_only:
        lines = [
            f"- {markdown_literal(r.what)}: wanted {markdown_literal(json.dumps(r.wanted, default=str))}, "
            f"LiteLLM has {markdown_literal(json.dumps(r.actual, default=str))} — {markdown_literal(r.reason)}"
            for r in plan.read_only
        ]
        st.markdown("**Read-only (not applied)**\n\n" + "\n".join(lines))


def render_review(rt, user: User, state: RoutingState) -> None:
    st.button("Review changes", key="route_review", type="primary", on_click=st.session_state.__setitem__,
              args=(REVIEW, True))  # fmt: skip
    if not st.session_state.get(REVIEW):
        return
    try:
        plan = service.preview_plan(rt, state)
    except (ConsoleError, LiteLLMError) as exc:
        st.error(markdown_literal(str(exc)))
        return
    with st.container(border=True, key="route_plan"):
        st.markdown(f"#### Plan: {plan.change_count} change(s) to LiteLLM")
        render_plan(plan)
        from lib.ui.actions import action_button

        action_button(
            user, "routing.apply", "Apply to LiteLLM", key="route_apply", type="primary",
            on_click=apply_state, args=(user, state_json(state)),
        )  # fmt: skip


def render_drift(rt, user: User, applied: RoutingState | None) -> None:
    """The drift banner: the scheduled check's last result while fresh, else a check now (service.current_drift)."""
    try:
        drift = service.current_drift(rt)
    except (ConsoleError, LiteLLMError) as exc:
        st.warning(markdown_literal(f"LiteLLM cannot be read, so drift is not known: {exc}"))
        return
    if drift is None or drift.empty or applied is None:
        return
    from lib.ui.actions import action_button

    with st.container(border=True, key="route_drift"):
        n = drift.changes
        st.warning(f"LiteLLM differs from the console: {n} change{'' if n == 1 else 's'}")
        st.markdown("\n".join(f"- {markdown_literal(d)}" for d in drift.descriptions))
        how = "the scheduled check" if drift.scheduled else "a check on loading this page"
        st.caption(f"Found by {how} at {drift.checked_at:%H:%M} UTC.")
        left, right = st.columns(2)
        action_button(
            user, "routing.apply", "Re-apply the console's routing", where=left, key="route_reapply",
            on_click=apply_state, args=(user, state_json(applied)),
        )  # fmt: skip
        action_button(
            user, "routing.adopt", "Adopt LiteLLM's state", where=right, key="route_adopt", on_click=adopt, args=(user,)
        )  # fmt: skip


def render_downloads(rt) -> None:
    st.subheader("As code")
    st.caption("The console's stored routing (applied or saved), not edits still under review.")
    left, right = st.columns(2)
    left.download_button(
        "Download routing.yaml", service.export_yaml(rt), file_name="routing.yaml", mime="application/yaml",
        key="route_dl_yaml",
    )  # fmt: skip
    try:
        config, variables = service.litellm_config_export(rt)
    except (ConsoleError, LiteLLMError) as exc:
        right.caption(markdown_literal(f"LiteLLM's config.yaml needs LiteLLM's deployments: {exc}"))
        return
    right.download_button(
        "Download LiteLLM config.yaml", config, file_name="config.yaml", mime="application/yaml", key="route_dl_config"
    )  # fmt: skip
    if variables:
        right.caption(
            "It reads the keys from: "
            + ", ".join(f"`{v.name}`" + ("" if v.given else " (derived name)") for v in variables)
        )


def import_config(user: User) -> None:
    """Button callback: import the uploaded LiteLLM config.yaml (keys from this app's environment variables)."""
    upload = st.session_state.get("route_import_file")
    if upload is None:
        st.session_state.pop(FLASH, None)
        flash("error", "Choose a LiteLLM config.yaml first.")
        return
    text = upload.getvalue().decode("utf-8", errors="replace")
    holder: dict = {}

    def work():
        holder["out"] = service.import_litellm_config(_rt(), user, text)

    if _run(work):
        out = holder["out"]
        added = ", ".join(out["added"]) or "none"
        flash(
            "success",
            f"Imported: routing stored as desired (not applied: review it below). Providers added: {added}.",
        )
        for note in out["skipped"]:
            flash("info", f"Skipped {note}")


def render_import(user: User) -> None:
    """Upload an operator's LiteLLM config.yaml: its providers are added, its routing becomes the desired one."""
    why = refusal(user, "routing.import")
    with st.expander("Import a LiteLLM config.yaml"):
        st.caption(
            "Its model_list becomes providers (keys only as os.environ/NAME, read from this app's environment; "
            "plaintext keys are refused) and its router settings the desired routing, not applied. A bad file is "
            "refused naming its line and field, and nothing changes."
        )
        st.file_uploader(
            "LiteLLM config.yaml", type=["yaml", "yml"], key="route_import_file", disabled=bool(why), help=why
        )  # fmt: skip
        from lib.ui.actions import action_button

        action_button(user, "routing.import", "Import", key="route_import", on_click=import_config, args=(user,))
