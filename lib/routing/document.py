"""Routing as code: the one YAML document (`routing export` / `routing import`) and LiteLLM's own config file
(`litellm-config`).

The document: `providers` (by name, never a key: type, api_base, priority, auto_fallback, enabled and their
models as public name: provider model) for reference, and `routing` (the RoutingState: strategy, fallbacks,
aliases, use cases, power levels, smart routing). Import reads `routing` only (providers are changed with
`providers …`); an error names the YAML line and the field, and nothing is stored.

The LiteLLM config: `model_list` (every deployment LiteLLM serves now, each key an `os.environ/NAME` reference:
a console provider's key is the variable given to `providers add --api-key-env`, else the derived
`<PROVIDER>_API_KEY`; a deployment of LiteLLM's own config file `<PUBLIC_NAME>_API_KEY`), `router_settings`
(strategy, retries, fallbacks, aliases) and the proxy's master key (`os.environ/LITELLM_MASTER_KEY`) — enough to
boot a LiteLLM that serves the same routes. Its header comments list the variables to set.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from lib.providers.plan import Deployment
from lib.providers.records import Provider, default_key_variable
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


def line_of(node, loc: tuple) -> int | None:
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


def parse_yaml(text: str):
    """A YAML text's data and its node tree (for `line_of`); RoutingInputError with the line when it is not YAML."""
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise RoutingInputError(f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None


def load_document(text: str) -> RoutingState:
    """The routing of a YAML document (see the module docstring); RoutingInputError names the line and field."""
    data, root = parse_yaml(text)
    if not isinstance(data, dict) or "routing" not in data:
        raise RoutingInputError("line 1: the document needs a `routing:` mapping (see README, Routing as code)")
    try:
        return parse_state(data["routing"])
    except RoutingInputError as exc:
        line = line_of(root, ("routing", *exc.loc))
        raise RoutingInputError(f"line {line}: routing.{exc}" if line else f"routing.{exc}", exc.loc) from None


@dataclass(frozen=True)
class KeyVariable:
    """An environment variable a generated LiteLLM config reads a key from."""

    name: str
    used_by: str  # "provider acme", "deployment gpt-4o (LiteLLM's config file)", "the proxy's master key"
    given: bool  # True: the operator named it (`providers add --api-key-env`); False: derived (default_key_variable)

    def as_dict(self) -> dict:
        how = "given with --api-key-env" if self.given else "derived: <NAME>_API_KEY (no variable was given)"
        return {"name": self.name, "used_by": self.used_by, "how": how}


def _config_params(d: Deployment, records: dict[str, Provider]) -> tuple[dict, KeyVariable | None]:
    params = {k: v for k, v in d.params.items() if k not in _NOT_CONFIG and v is not None and v is not False}
    cred = d.credential
    if cred in records:
        p = records[cred]
        if p.api_base:
            params["api_base"] = p.api_base
        params |= {k: v for k, v in p.extra.items() if v}
        if not p.provider_type.needs_key:
            return params, None
        var = KeyVariable(p.key_variable, f"provider {p.name}", bool(p.api_key_env))
    elif is_local(d) or "mock_response" in params or str(params.get("model", "")).startswith("auto_router/"):
        return params, None
    else:
        where = "LiteLLM's config file" if not d.in_database else "LiteLLM's database"
        var = KeyVariable(default_key_variable(d.public_name), f"deployment {d.public_name} ({where})", False)
    params["api_key"] = f"os.environ/{var.name}"
    return params, var


def litellm_config(
    state: RoutingState, actual: RoutingActual, records: list[Provider]
) -> tuple[dict, list[KeyVariable]]:
    """A LiteLLM config serving what LiteLLM serves now with the console's routing; and the key variables it needs
    (each once, the master key's last)."""
    by_name = {p.name: p for p in records}
    model_list, variables = [], []
    aliases = set(state.aliases) | set(actual.settings.get("model_group_alias") or {})
    seen: set[str] = set()
    for d in sorted(actual.deployments, key=lambda d: (d.public_name, d.params.get("order") or 0, d.id)):
        if d.public_name in aliases or d.id in seen:
            continue  # LiteLLM's /model/info lists an alias as its target's deployment: the alias is in router_settings
        seen.add(d.id)
        params, var = _config_params(d, by_name)
        if var and var.name not in {v.name for v in variables}:
            variables.append(var)
        info = {k: v for k, v in d.info.items() if k == "id" or k.startswith("console_")}
        model_list.append({"model_name": d.public_name, "litellm_params": params, "model_info": info})
    router = {k: v for k, v in desired_settings(state).items() if v not in ({}, [], None)}
    variables.append(KeyVariable(MASTER_KEY_VARIABLE, "the proxy's master key", True))
    general = {"master_key": f"os.environ/{MASTER_KEY_VARIABLE}"}
    return {"model_list": model_list, "router_settings": router, "general_settings": general}, variables


def config_header(variables: list[KeyVariable]) -> str:
    """YAML comments listing the variables a generated config reads (set them before starting LiteLLM on it)."""
    lines = ["# LiteLLM config written by the LiteLLM Console (python -m lib.cli litellm-config).",
             "# Set these environment variables before starting LiteLLM on it:"]  # fmt: skip
    for v in variables:
        how = "" if v.given else " (derived name: no --api-key-env was given)"
        lines.append(f"#   {v.name}: {v.used_by}{how}")
    return "\n".join(lines) + "\n"
