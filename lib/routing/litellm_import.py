"""Reading an operator's LiteLLM config.yaml into the console: its providers and its routing. Pure: the file's text
and the environment in, what to import (or RoutingInputError naming the line and field) out.

- `model_list` → providers. Deployments are grouped into console providers: by `model_info.console_provider` when
  the file was written by the console (`litellm-config`), else by their key's variable (`os.environ/ACME_API_KEY` →
  provider `acme`: the name lower-cased without `_API_KEY` / `_KEY`, `_` → `-`), else (no key) by LiteLLM provider
  and API base (`ollama-localhost`). The type is the model's prefix (`openai/…` with another API base than OpenAI's
  is an OpenAI-compatible endpoint); each deployment is a model (public name = `model_name`, provider model = the
  rest of `model`). Keys: `api_key: os.environ/NAME` is kept as the provider's key variable, the key itself read
  from NAME in the importing process's environment (not set: refused, naming it); a plaintext key is refused (put it
  in a variable). A provider's priority is 10 × the lowest `order` of its deployments (1 when none), capped at 100,
  so the order of a group's providers stays as the file had it. Deployments the console's routing made
  (`model_info.console_routing`), the complexity router and ones without an endpoint to manage (`mock_response`)
  are not providers' (routing reads the first two; the last are listed as skipped). Nor is one the LiteLLM it goes
  into serves already, from its config file (the same id, or the same public name and model) or its database (the
  same id; `providers adopt` takes those over as they are): no deployment is made twice, none is changed.
- `router_settings` (and `litellm_settings`' fallbacks, which LiteLLM also reads) → the routing: LiteLLM's strategy
  by name with its args, num_retries / timeout / allowed_fails / cooldown_time, `fallbacks`,
  `context_window_fallbacks`, `content_policy_fallbacks`, `model_group_alias`, and the use cases, power levels and
  smart routing of a console-written file — as `routing adopt` reads them from a running LiteLLM.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lib.providers.plan import Deployment
from lib.providers.records import ProviderInput, ProviderInputError, validate_env_name
from lib.providers.types import PROVIDER_TYPES
from lib.routing.document import line_of, parse_yaml
from lib.routing.plan import FALLBACK_KEYS, RETRY_KEYS, ROUTING_MARK, RoutingActual, adopted_state
from lib.routing.state import RoutingInputError, RoutingState

ENV_REF = "os.environ/"
ROUTER_KEYS = ("routing_strategy", "routing_strategy_args", *RETRY_KEYS, *FALLBACK_KEYS.values(), "model_group_alias")


@dataclass(frozen=True)
class ImportedProvider:
    input: ProviderInput  # with its key (read from the environment) and key variable
    models: tuple[tuple[str, str], ...]  # (public name, provider model)


@dataclass(frozen=True)
class ImportedConfig:
    providers: tuple[ImportedProvider, ...]
    routing: RoutingState
    skipped: tuple[str, ...] = ()  # deployments that are no provider's, and why
    public_names: frozenset[str] = field(default_factory=frozenset)  # every model_name the file serves

    def summary(self) -> dict:
        return {
            "providers": [
                {
                    "name": p.input.name,
                    "type": p.input.type,
                    "api_base": p.input.api_base,
                    "api_key_env": p.input.api_key_env,
                    "priority": p.input.priority,
                    "models": dict(p.models),
                }
                for p in self.providers
            ],
            "skipped": list(self.skipped),
        }


class _Fail(Exception):
    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc, self.message = loc, message


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _resolve(value, loc: tuple, env: Mapping[str, str], what: str) -> str | None:
    """A value that may be an `os.environ/NAME` reference (resolved from `env`; unset: refused)."""
    if value is None:
        return None
    text = str(value)
    if text.startswith(ENV_REF):
        name = text.removeprefix(ENV_REF)
        if not env.get(name, "").strip():
            raise _Fail(loc, f"{what} is read from the environment variable {name}, which is not set here")
        return env[name].strip()
    return text


def _provider_name_from_variable(variable: str) -> str:
    stem = re.sub(r"(_API)?_KEY$", "", variable.upper()) or variable.upper()
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:64] or "provider"


def _type_of(prefix: str, api_base: str | None, loc: tuple) -> str:
    same = [t for t in PROVIDER_TYPES.values() if t.litellm_prefix == prefix and t.id != "openai_compatible"]
    if prefix == "openai" and api_base and api_base.rstrip("/") != PROVIDER_TYPES["openai"].default_api_base:
        return "openai_compatible"
    if not same:
        known = ", ".join(sorted({t.litellm_prefix for t in PROVIDER_TYPES.values()}))
        raise _Fail(loc, f"{prefix!r} is not a provider the console manages ({known})")
    return same[0].id


def _mapping(value, loc: tuple, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Fail(loc, f"expected a mapping ({what})")
    return value


def _fallback_entries(value, loc: tuple) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Fail(loc, "expected a list of {group: [fallback, …]}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or not entry:
            raise _Fail((*loc, i), "expected {group: [fallback, …]}")
        for group, chain in entry.items():
            if not isinstance(chain, list) or not all(isinstance(x, str) for x in chain):
                raise _Fail((*loc, i, group), "expected a list of model group names")
    return value


def _served_already(litellm: RoutingActual | None, dep_id: str, name: str, model: str, info: dict) -> str | None:
    """Why a deployment of the file is not made a provider's because LiteLLM already serves it, or None."""
    if litellm is None:
        return None
    for d in litellm.deployments:
        same = d.id == dep_id or (d.public_name == name and d.params.get("model") == model and not d.in_database)
        if not same:
            continue
        if not d.in_database:
            return "served by LiteLLM's config file already (keep it there, or remove it from that file first)"
        return "in LiteLLM's database already: `providers adopt` takes it over as it is"
    return None


def _deployments(
    model_list, env: Mapping[str, str], litellm: RoutingActual | None = None, aliases: frozenset[str] = frozenset()
) -> tuple[list[Deployment], dict, list[str]]:
    """The file's deployments (as /model/info would list them, without keys), the providers' parts, skipped notes."""
    if not isinstance(model_list, list):
        raise _Fail(("model_list",), "expected a list of deployments")
    deployments, providers, skipped, seen = [], {}, [], set()
    for i, entry in enumerate(model_list):
        loc = ("model_list", i)
        entry = _mapping(entry, loc, "a deployment: model_name, litellm_params")
        name = entry.get("model_name")
        if not isinstance(name, str) or not name.strip():
            raise _Fail((*loc, "model_name"), "every deployment needs a model_name (its public name)")
        params = dict(_mapping(entry.get("litellm_params"), (*loc, "litellm_params"), "litellm_params"))
        info = dict(_mapping(entry.get("model_info"), (*loc, "model_info"), "model_info"))
        model = params.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _Fail((*loc, "litellm_params", "model"), "every deployment needs litellm_params.model")
        key = params.pop("api_key", None)
        digest = hashlib.sha256(f"{i}\x00{name}\x00{model}".encode()).hexdigest()[:16]
        dep_id = str(info.get("id") or f"import-{digest}")
        info["id"] = dep_id
        api_base = _resolve(params.get("api_base"), (*loc, "litellm_params", "api_base"), env, "api_base")
        if api_base is not None:
            params["api_base"] = api_base
        if dep_id in seen or name in aliases:  # LiteLLM lists an alias as its target's deployment
            skipped.append(f"{name} ({model}): an alias (model_group_alias) or a second entry of id {dep_id}")
            continue
        seen.add(dep_id)
        deployments.append(Deployment(dep_id, name, params, info))
        if info.get(ROUTING_MARK) or model.startswith("auto_router/"):
            continue  # routing's
        if "mock_response" in params:
            skipped.append(f"{name} ({model}): a mock_response deployment, no endpoint to manage")
            continue
        if key is not None and not str(key).startswith(ENV_REF):
            raise _Fail(
                (*loc, "litellm_params", "api_key"),
                "a plaintext key is refused: put it in an environment variable and write os.environ/NAME",
            )
        why = _served_already(litellm, dep_id, name, model, info)
        if why:
            skipped.append(f"{name} ({model}): {why}")
            continue
        prefix, sep, backend = model.partition("/")
        if not sep or not backend:
            raise _Fail((*loc, "litellm_params", "model"), f"{model!r}: expected <provider>/<model>")
        ptype = _type_of(prefix, api_base, (*loc, "litellm_params", "model"))
        variable = None
        if key is not None:
            variable = str(key).removeprefix(ENV_REF)
            try:
                validate_env_name(variable)
            except ProviderInputError as exc:
                raise _Fail((*loc, "litellm_params", "api_key"), str(exc)) from None
        pname = (
            info.get("console_provider")
            or (
                _provider_name_from_variable(variable)
                if variable
                else re.sub(r"[^a-z0-9]+", "-", f"{prefix}-{(api_base or 'default').split('//')[-1]}".lower()).strip(
                    "-"
                )
            )[:64]
        )
        part = providers.setdefault(
            pname, {"type": ptype, "api_base": api_base, "variable": variable, "models": {}, "orders": [], "loc": loc}
        )
        if (part["type"], part["api_base"], part["variable"]) != (ptype, api_base, variable):
            raise _Fail(
                loc,
                f"provider {pname!r}: its deployments differ in type, api_base or key variable "
                f"(see model_list[{part['loc'][1]}])",
            )
        if name in part["models"]:
            raise _Fail((*loc, "model_name"), f"provider {pname!r} serves {name!r} twice")
        part["models"][name] = backend
        if isinstance(params.get("order"), int):
            part["orders"].append(params["order"])
        if ptype == "azure" and params.get("api_version"):
            part["extra"] = {"api_version": str(params["api_version"])}
    return deployments, providers, skipped


def _providers(parts: dict, env: Mapping[str, str]) -> list[ImportedProvider]:
    out = []
    for name, part in sorted(parts.items()):
        variable, loc = part["variable"], part["loc"]
        key = None
        if variable:
            key = _resolve(f"{ENV_REF}{variable}", (*loc, "litellm_params", "api_key"), env, "the key")
        elif PROVIDER_TYPES[part["type"]].needs_key:
            raise _Fail((*loc, "litellm_params", "api_key"), f"provider {name!r} needs a key: os.environ/NAME")
        priority = min(100, 10 * min(part["orders"] or [1]))
        inp = ProviderInput(
            name=name,
            type=part["type"],
            api_key=key,
            api_base=part["api_base"],
            api_key_env=variable,
            priority=max(1, priority),
            extra=part.get("extra", {}),
        )
        out.append(ImportedProvider(inp, tuple(sorted(part["models"].items()))))
    return out


def _router_settings(data: dict) -> dict:
    router = dict(_mapping(data.get("router_settings"), ("router_settings",), "router_settings"))
    litellm = _mapping(data.get("litellm_settings"), ("litellm_settings",), "litellm_settings")
    for key in FALLBACK_KEYS.values():  # LiteLLM reads fallbacks from either; router_settings wins
        if key not in router and key in litellm:
            router[key] = litellm[key]
    out = {}
    for key in ROUTER_KEYS:
        if key in router:
            section = "router_settings" if key in (data.get("router_settings") or {}) else "litellm_settings"
            if key in FALLBACK_KEYS.values():
                _fallback_entries(router[key], (section, key))
            elif key in ("routing_strategy_args", "model_group_alias"):
                _mapping(router[key], (section, key), key)
            out[key] = router[key]
    return out


def read_config(text: str, env: Mapping[str, str], litellm: RoutingActual | None = None) -> ImportedConfig:
    """What a LiteLLM config.yaml holds for the console (see the module docstring); RoutingInputError names the
    line and field of the first problem. `litellm`: the LiteLLM it goes into, whose deployments are not made again
    (one its config file serves, or a database one no console provider owns, is listed as skipped)."""
    data, root = parse_yaml(text)
    if not isinstance(data, dict) or "model_list" not in data:
        raise RoutingInputError("line 1: not a LiteLLM config: it needs a `model_list`")
    try:
        settings = _router_settings(data)
        aliases = frozenset(settings.get("model_group_alias") or {})
        deployments, parts, skipped = _deployments(data["model_list"], env, litellm, aliases)
        providers = _providers(parts, env)
        actual = RoutingActual(settings, {k: "config" for k in settings}, tuple(deployments))
        try:
            routing = adopted_state(actual)
        except RoutingInputError as exc:
            raise _Fail(("router_settings", *exc.loc), str(exc)) from None
    except _Fail as exc:
        line = line_of(root, exc.loc)
        where = _where(exc.loc)
        prefix = f"line {line}: " if line else ""
        raise RoutingInputError(f"{prefix}{where}: {exc.message}", exc.loc) from None
    return ImportedConfig(tuple(providers), routing, tuple(skipped), frozenset(d.public_name for d in deployments))
