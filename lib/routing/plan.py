"""What LiteLLM must change so that it routes as the console's routing state says: pure functions, no I/O.

How a `RoutingState` maps onto LiteLLM (the desired state; the README's Routing section says the same):

- Router settings (`POST /config/update {"router_settings": …}`): `routing_strategy` (cost → cost-based-routing,
  balanced and quality → simple-shuffle, advanced → the named one) with `routing_strategy_args`, the retry settings
  that are set (num_retries, timeout, allowed_fails, cooldown_time), `fallbacks` / `context_window_fallbacks` /
  `content_policy_fallbacks` (`[{group: [fallback, …]}]`) and `model_group_alias`. A key LiteLLM's config file sets
  (`/router/settings` source "config") cannot be changed at runtime: a difference there is a read-only note with the
  reason, never a step (so it never fails an apply).
- Deployment order within each group of more than one deployment: cost → cheapest first (model_info's input +
  output price per token; unknown prices last); quality → the admin's quality rank of the litellm model (1 best;
  unranked last); both set `order` 1..n. Balanced → every deployment of the group at order 1 (shuffled, so traffic
  spreads and a failing one's requests go to the others) with `weight` = 101 − its provider's priority (a provider
  the admin prefers gets more traffic). "Prefer local" puts local (ollama) deployments first under every strategy.
  Only database deployments can be reordered (config-file ones are noted read-only); routing marks a deployment
  it ordered with `model_info.console_routing_order`, which lib.providers.plan takes as the order it keeps, so
  applying providers, then routing, then providers again is stable (the providers' plan stays empty).
- Use case = a deployment named after it, a copy of the target group's first deployment's `litellm_params` (its
  credential and api_base, never a key) plus the default temperature / max_tokens / top_p.
- Power level (eco / balanced / precision) = a group of that name with one deployment per candidate, copying the
  candidate's first deployment, `order` = its place in the list (the first serves, the next take over).
- Smart routing = one deployment `{model: "auto_router/complexity_router", complexity_router_config: {tiers},
  complexity_router_default_model: fallback}` under its public name (default `smart`).
Routing's own deployments carry `model_info.console_routing` and a deterministic id (`console-routing-…`), so a
second apply finds what the first made; they are the only deployments routing creates or deletes.

Steps run: new deployments, changed deployments, router settings (fallbacks may name the new groups), then
deletions (once nothing refers to them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from lib.providers.plan import ROUTED_ORDER, ROUTING_OWNED, Deployment, LiteLLMState
from lib.routing.state import FALLBACK_TYPES, RoutingInputError, RoutingState, parse_state

StepKind = Literal[
    "create_deployment", "update_deployment", "replace_deployment", "router_settings", "delete_deployment"
]
STEP_ORDER: tuple[StepKind, ...] = (
    "create_deployment",
    "update_deployment",
    "replace_deployment",
    "router_settings",
    "delete_deployment",
)
FALLBACK_KEYS = {
    "general": "fallbacks",
    "context_window": "context_window_fallbacks",
    "content_policy": "content_policy_fallbacks",
}
RETRY_KEYS = ("num_retries", "timeout", "allowed_fails", "cooldown_time")
ROUTING_MARK = ROUTING_OWNED  # model_info: which routing feature made the deployment
ORDER_MARK = ROUTED_ORDER  # model_info: the order routing gave a deployment it does not own (providers keep it)
DEFAULT_PARAMS = ("temperature", "max_tokens", "top_p")
LOCAL_PROVIDERS = ("ollama", "ollama_chat", "lm_studio", "llamafile", "vllm", "hosted_vllm")
# Copied from a target deployment: routing-only keys are not (a copy gets its own order).
NOT_COPIED = ("order", "weight", "complexity_router_config", "complexity_router_default_model")


@dataclass(frozen=True)
class RoutingActual:
    """LiteLLM as routing sees it: router settings (with each key's source) and the deployments."""

    settings: Mapping[str, object] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> "config" | "db" | "default"
    deployments: tuple[Deployment, ...] = ()

    @classmethod
    def from_litellm(cls, router_settings: dict, models: Iterable[dict]) -> RoutingActual:
        """From GET /router/settings and /model/info's `data` entries."""
        sources = {}
        for f in router_settings.get("fields") or []:  # older LiteLLM: each field says its source
            if isinstance(f, dict) and f.get("field_name") and f.get("source"):
                sources[f["field_name"]] = str(f["source"])
        if isinstance(router_settings.get("source"), dict):  # 1.108: {"key": "config" | "db" | "default"}
            sources |= {k: str(v) for k, v in router_settings["source"].items()}
        deployments = LiteLLMState.from_litellm([], models).deployments
        return cls(dict(router_settings.get("current_values") or {}), sources, deployments)

    def group(self, name: str) -> list[Deployment]:
        """A group's deployments that routing did not make, first-serving first."""
        deps = [d for d in self.deployments if d.public_name == name and not d.info.get(ROUTING_MARK)]
        return sorted(deps, key=lambda d: (_num(d.params.get("order"), 0), d.id))


@dataclass(frozen=True)
class Step:
    kind: StepKind
    target: str  # deployment id, or "router_settings"
    description: str
    payload: dict = field(default_factory=dict)
    before: dict = field(default_factory=dict)  # router settings: each changed key's value in LiteLLM now


@dataclass(frozen=True)
class ReadOnly:
    """A difference LiteLLM's config file owns: shown, never applied."""

    what: str
    wanted: object
    actual: object
    reason: str

    def as_dict(self) -> dict:
        return {"what": self.what, "wanted": self.wanted, "actual": self.actual, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...] = ()
    read_only: tuple[ReadOnly, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps

    def descriptions(self) -> list[str]:
        return [s.description for s in self.steps]

    @property
    def change_count(self) -> int:
        """Changes as people count them: each router setting key, each deployment."""
        return sum(len(s.payload["router_settings"]) if s.kind == "router_settings" else 1 for s in self.steps)

    def as_dict(self) -> dict:
        return {
            "steps": [{"kind": s.kind, "target": s.target, "description": s.description} for s in self.steps],
            "read_only": [r.as_dict() for r in self.read_only],
        }


def routing_id(kind: str, *names: str) -> str:
    """The deterministic id of a deployment routing makes (same every time: apply is idempotent)."""
    digest = hashlib.sha256("\x00".join(names).encode()).hexdigest()[:12]
    return f"console-routing-{kind}-{digest}"


def _num(value, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _empty(value) -> bool:
    return value is None or value == {} or value == []


def _same(a, b) -> bool:
    if _empty(a) and _empty(b):
        return True
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def is_local(d: Deployment) -> bool:
    provider = d.params.get("custom_llm_provider") or str(d.params.get("model", "")).split("/", 1)[0]
    return provider in LOCAL_PROVIDERS


def price(d: Deployment) -> float:
    """Input + output price per token as LiteLLM knows it (model_info, else litellm_params); unknown: infinity."""
    costs = []
    for key in ("input_cost_per_token", "output_cost_per_token"):
        value = d.info.get(key, d.params.get(key))
        if value is not None:
            costs.append(_num(value, 0.0))
    return sum(costs) if costs else float("inf")


# -- router settings ------------------------------------------------------------------------------------------
def desired_settings(state: RoutingState) -> dict:
    """router_settings as LiteLLM should have them (only the keys routing manages)."""
    out: dict = {"routing_strategy": state.router_strategy()}
    out["routing_strategy_args"] = dict(state.advanced.routing_strategy_args) if state.strategy == "advanced" else {}
    for key in RETRY_KEYS:
        value = getattr(state.advanced, key)
        if value is not None:
            out[key] = value
    for kind in FALLBACK_TYPES:
        out[FALLBACK_KEYS[kind]] = [{c.group: list(c.fallbacks)} for c in state.fallbacks if c.type == kind]
    out["model_group_alias"] = dict(state.aliases)
    return out


def _settings_plan(state: RoutingState, actual: RoutingActual) -> tuple[list[Step], list[ReadOnly]]:
    changes, before, read_only, said = {}, {}, [], []
    for key, wanted in desired_settings(state).items():
        have = actual.settings.get(key)
        if _same(wanted, have):
            continue
        if actual.sources.get(key) == "config":
            read_only.append(ReadOnly(key, wanted, have, "set in LiteLLM's config file: change it there"))
            continue
        changes[key] = wanted
        before[key] = have
        said.append(f"{key}: {json.dumps(have, default=str)} → {json.dumps(wanted, default=str)}")
    if not changes:
        return [], read_only
    step = Step(
        "router_settings",
        "router_settings",
        "Router settings: " + "; ".join(said),
        {"router_settings": changes},
        before,
    )
    return [step], read_only


# -- deployments ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    """A deployment routing makes, as it should be."""

    id: str
    public_name: str
    params: dict
    info: dict
    label: str  # for people: "use case sql-generation → gpt-4o"


def _copy(actual: RoutingActual, group: str, field_name: str, notes: list[ReadOnly] | None = None) -> dict:
    serving = actual.group(group)
    if not serving:
        raise RoutingInputError(f"{field_name}: {group!r} has no deployment in LiteLLM to copy")
    source = serving[0]
    if notes is not None and not source.credential and not is_local(source) and "mock_response" not in source.params:
        notes.append(
            ReadOnly(
                f"{field_name} ({group})",
                "a copy with the target's key",
                "a copy without a key",
                "LiteLLM never returns a deployment's own key: serve the target through a console provider "
                "(Providers), whose credential the copy uses",
            )
        )
    params = {k: v for k, v in serving[0].params.items() if k not in NOT_COPIED and v is not None}
    params.pop("api_key", None)  # never in /model/info; a copy uses the credential or the key LiteLLM resolves
    return params


def wanted_deployments(state: RoutingState, actual: RoutingActual, notes: list[ReadOnly] | None = None) -> list[Wanted]:
    """Routing's own deployments; `notes` collects copies that cannot carry their target's key."""
    out = []
    for i, u in enumerate(state.use_cases):
        params = _copy(actual, u.model, f"use_cases[{i}].model", notes) | u.params()
        info = {"id": routing_id("use-case", u.name), ROUTING_MARK: "use_case", "console_target": u.model}
        out.append(Wanted(info["id"], u.name, params, info, f"use case {u.name} → {u.model} {u.params()}"))
    for level, candidates in state.power_levels.items():
        for rank, model in enumerate(candidates, start=1):
            params = _copy(actual, model, f"power_levels.{level}", notes) | {"order": rank}
            info = {"id": routing_id("power", level, model), ROUTING_MARK: "power_level", "console_target": model}
            out.append(Wanted(info["id"], level, params, info, f"power level {level} → {model} (order {rank})"))
    if state.smart.enabled:
        s = state.smart
        params = {
            "model": "auto_router/complexity_router",
            "complexity_router_config": {"tiers": s.tiers()},
            "complexity_router_default_model": s.fallback,
        }
        info = {"id": routing_id("smart", s.public_name), ROUTING_MARK: "smart"}
        tiers = ", ".join(f"{k} {v}" for k, v in s.tiers().items())
        out.append(Wanted(info["id"], s.public_name, params, info, f"smart routing {s.public_name} ({tiers})"))
    return out


def _deployment_steps(wanted: list[Wanted], actual: RoutingActual) -> list[Step]:
    steps = []
    have = {d.id: d for d in actual.deployments}
    for w in wanted:
        payload = {"model_name": w.public_name, "litellm_params": w.params, "model_info": w.info}
        d = have.get(w.id)
        if d is None:
            steps.append(Step("create_deployment", w.id, f"Create deployment {w.label}", payload))
            continue
        changed = [k for k, v in w.params.items() if not _same(d.params.get(k), v)]
        changed += [k for k, v in w.info.items() if d.info.get(k) != v]
        dropped = [k for k in DEFAULT_PARAMS if k not in w.params and d.params.get(k) is not None]
        if d.public_name != w.public_name or dropped:
            steps.append(Step("replace_deployment", w.id, f"Replace deployment {w.label}", payload))
        elif changed:
            steps.append(
                Step("update_deployment", w.id, f"Update deployment {w.label} ({', '.join(changed)})", payload)
            )
    wanted_ids = {w.id for w in wanted}
    for d in actual.deployments:
        if d.info.get(ROUTING_MARK) and d.id not in wanted_ids:
            desc = f"Delete deployment {d.public_name} ({d.info.get(ROUTING_MARK)}: no longer in routing)"
            steps.append(Step("delete_deployment", d.id, desc, {"id": d.id}))
    return steps


def desired_orders(
    state: RoutingState, actual: RoutingActual, priorities: Mapping[str, int]
) -> dict[str, tuple[int, int | None]]:
    """Deployment id -> (order, weight or None) for every deployment of a group routing orders (see the docstring)."""
    groups: dict[str, list[Deployment]] = {}
    for d in actual.deployments:
        if not d.info.get(ROUTING_MARK):
            groups.setdefault(d.public_name, []).append(d)
    out = {}
    for deps in groups.values():
        if len(deps) < 2:
            continue
        local_first = state.smart.prefer_local
        if state.strategy == "balanced":
            for d in deps:
                order = 1 if not (local_first and any(is_local(x) for x in deps)) or is_local(d) else 2
                priority = priorities.get(d.info.get("console_provider") or d.params.get("litellm_credential_name"))
                out[d.id] = (order, 101 - priority if priority is not None else None)
            continue
        if state.strategy == "cost":
            key = price
        elif state.strategy == "quality":
            key = lambda d: state.quality_rank.get(str(d.params.get("model")), 10**6)  # noqa: E731
        else:  # advanced: LiteLLM's strategy decides within the group; only "prefer local" orders
            if not local_first:
                continue
            key = lambda d: 0  # noqa: E731
        ranked = sorted(deps, key=lambda d: (not (local_first and is_local(d)), key(d), d.id))
        for rank, d in enumerate(ranked, start=1):
            out[d.id] = (rank, None)
    return out


def _order_steps(
    orders: Mapping[str, tuple[int, int | None]], actual: RoutingActual
) -> tuple[list[Step], list[ReadOnly]]:
    steps, read_only = [], []
    for d in sorted(actual.deployments, key=lambda d: (d.public_name, d.id)):
        if d.id not in orders:
            continue
        order, weight = orders[d.id]
        changes = []
        if d.params.get("order") != order or d.info.get(ORDER_MARK) != order:
            changes.append(f"order {d.params.get('order')} → {order}")
        if weight is not None and d.params.get("weight") != weight:
            changes.append(f"weight {d.params.get('weight')} → {weight}")
        if not changes:
            continue
        if not d.in_database:
            read_only.append(
                ReadOnly(
                    f"order of {d.public_name} ({d.params.get('model')})",
                    order,
                    d.params.get("order"),
                    "a deployment of LiteLLM's config file: set its order there",
                )
            )
            continue
        params = {"model": d.params.get("model"), "order": order} | ({"weight": weight} if weight is not None else {})
        payload = {"model_name": d.public_name, "litellm_params": params, "model_info": {"id": d.id, ORDER_MARK: order}}
        desc = f"Order deployment {d.public_name} → {d.params.get('model')} ({'; '.join(changes)})"
        steps.append(Step("update_deployment", d.id, desc, payload))
    return steps, read_only


def compute_plan(state: RoutingState, actual: RoutingActual, priorities: Mapping[str, int] | None = None) -> Plan:
    """The steps that make `actual` route as `state` says. `priorities`: provider name -> priority (balanced)."""
    key_notes: list[ReadOnly] = []
    wanted = wanted_deployments(state, actual, key_notes)
    steps = _deployment_steps(wanted, actual)
    order_steps, order_notes = _order_steps(desired_orders(state, actual, priorities or {}), actual)
    settings_steps, settings_notes = _settings_plan(state, actual)
    steps += order_steps + settings_steps
    steps.sort(key=lambda s: STEP_ORDER.index(s.kind))
    return Plan(tuple(steps), tuple(settings_notes + order_notes + key_notes))


def adopted_state(actual: RoutingActual) -> RoutingState:
    """LiteLLM's routing as a console state (LiteLLM's strategy by name: the plan of it against LiteLLM is empty)."""
    values, sources = actual.settings, actual.sources
    advanced = {
        "routing_strategy": values.get("routing_strategy") or "simple-shuffle",
        "routing_strategy_args": dict(values.get("routing_strategy_args") or {}),
    }
    for key in RETRY_KEYS:
        if sources.get(key) in ("db", "config") and values.get(key) is not None:
            advanced[key] = values[key]
    fallbacks = []
    for kind, key in FALLBACK_KEYS.items():
        for entry in values.get(key) or []:
            for group, chain in (entry or {}).items():
                fallbacks.append({"group": group, "type": kind, "fallbacks": list(chain)})
    use_cases, levels, smart = [], {}, {}
    for d in sorted(actual.deployments, key=lambda d: (d.params.get("order") or 0, d.id)):
        made = d.info.get(ROUTING_MARK)
        if made == "use_case":
            params = {k: d.params[k] for k in DEFAULT_PARAMS if d.params.get(k) is not None}
            use_cases.append({"name": d.public_name, "model": d.info.get("console_target"), **params})
        elif made == "power_level":
            levels.setdefault(d.public_name, []).append(d.info.get("console_target"))
        elif made == "smart":
            tiers = (d.params.get("complexity_router_config") or {}).get("tiers") or {}
            smart = {
                "enabled": True,
                "public_name": d.public_name,
                **{t.lower(): m for t, m in tiers.items() if t.lower() in ("simple", "medium", "complex", "reasoning")},
                "fallback": d.params.get("complexity_router_default_model"),
            }
    return parse_state(
        {
            "strategy": "advanced",
            "advanced": advanced,
            "fallbacks": fallbacks,
            "aliases": dict(values.get("model_group_alias") or {}),
            "use_cases": use_cases,
            "power_levels": levels,
            "smart": smart,
        }
    )
