"""Routing as code: the one YAML document (`routing export` / `routing import`) and LiteLLM's own config file
(`litellm-config`).

The document: `providers` (by name, never a key: type, api_base, priority, auto_fallback, enabled and their
models as public name: provider model) for reference, and `routing` (the RoutingState: strategy, fallbacks,
aliases, use cases, power levels, smart routing). Import reads `routing` only (providers are changed with
`providers …`); an error names the YAML line and the field, and nothing is stored.

The LiteLLM config: `model_list` (every deployment LiteLLM serves now, each key an `os.environ/NAME` reference:
a console provider's key is `<PROVIDER>_API_KEY`, a deployment of LiteLLM's own config file
`<PUBLIC_NAME>_API_KEY`), `router_settings` (strategy, retries, fallbacks, aliases) and the proxy's master key
(`os.environ/LITELLM_MASTER_KEY`) — enough to boot a LiteLLM that serves the same routes.
"""

from __future__ import annotations

import re

import yaml

from lib.providers.plan import Deployment
from lib.providers.records import Provider
from lib.routing.plan import RoutingActual, desired_settings, is_local
from lib.routing.state import RoutingInputError, RoutingState, parse_state, state_json

MASTER_KEY_VARIABLE = "LITELLM_MASTER_KEY"
# /model/info's litellm_params that are LiteLLM's defaults or its own bookkeeping, not configuration
_NOT_CONFIG = {
    "litellm_credential_name",
    "api_key",
    "use_in_pass_through",
    "use_litellm_proxy",
    "use_xai_oauth",
    "merge_reasoning_content_in_choices",
    "allow_client_keepalive_override",
}


def export_document(state: RoutingState, records: list[Provider]) -> dict:
    return {
        "providers": [
            {
                "name": p.name,
                "type": p.type,
                "api_base": p.api_base,
                "priority": p.priority,
                "auto_fallback": p.auto_fallback,
                "enabled": p.enabled,
                "models": {m.public_name: m.provider_model for m in p.models},
            }
            for p in records
        ],
        "routing": state_json(state),
    }


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _line_of(node, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at `loc` (keys and list indexes), or of the deepest one found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node, line = nxt, nxt.start_mark.line + 1
    return line


def load_document(text: str) -> RoutingState:
    """The routing of a YAML document (see the module docstring); RoutingInputError names the line and field."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise RoutingInputError(f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict) or "routing" not in data:
        raise RoutingInputError("line 1: the document needs a `routing:` mapping (see README, Routing as code)")
    try:
        return parse_state(data["routing"])
    except RoutingInputError as exc:
        line = _line_of(root, ("routing", *exc.loc))
        raise RoutingInputError(f"line {line}: routing.{exc}" if line else f"routing.{exc}", exc.loc) from None


def env_name(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_API_KEY"


def _config_params(d: Deployment, records: dict[str, Provider]) -> tuple[dict, str | None]:
    params = {k: v for k, v in d.params.items() if k not in _NOT_CONFIG and v is not None and v is not False}
    cred = d.credential
    if cred in records:
        p = records[cred]
        if p.api_base:
            params["api_base"] = p.api_base
        params |= {k: v for k, v in p.extra.items() if v}
        if not p.provider_type.needs_key:
            return params, None
        name = env_name(p.name)
    elif is_local(d) or "mock_response" in params or str(params.get("model", "")).startswith("auto_router/"):
        return params, None
    else:
        name = env_name(d.public_name)
    params["api_key"] = f"os.environ/{name}"
    return params, name


def litellm_config(state: RoutingState, actual: RoutingActual, records: list[Provider]) -> tuple[dict, list[str]]:
    """A LiteLLM config serving what LiteLLM serves now with the console's routing; and the key variables it needs."""
    by_name = {p.name: p for p in records}
    model_list, names = [], []
    for d in sorted(actual.deployments, key=lambda d: (d.public_name, d.params.get("order") or 0, d.id)):
        params, env = _config_params(d, by_name)
        if env and env not in names:
            names.append(env)
        info = {k: v for k, v in d.info.items() if k == "id" or k.startswith("console_")}
        model_list.append({"model_name": d.public_name, "litellm_params": params, "model_info": info})
    router = {k: v for k, v in desired_settings(state).items() if v not in ({}, [], None)}
    names.append(MASTER_KEY_VARIABLE)
    general = {"master_key": f"os.environ/{MASTER_KEY_VARIABLE}"}
    return {"model_list": model_list, "router_settings": router, "general_settings": general}, names
