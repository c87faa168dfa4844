"""Adopt: what LiteLLM already serves, shown as providers, and taken over by the console without changing LiteLLM.

LiteLLM's deployments that no console provider owns are grouped into providers: by credential
(`litellm_params.litellm_credential_name`), else by (provider, api_base). A group can be adopted when its
credential and all its deployments are in LiteLLM's database and the records made for it need no change in
LiteLLM (the plan after adopting is empty: priorities are read from the deployments' `order`, 10 per step).
Config-file deployments are listed read-only ("defined in LiteLLM's config file"); deployments that carry their own
API key cannot be adopted either (LiteLLM never gives a key back), they can be added as a provider with their key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.providers.plan import Credential, Deployment, LiteLLMState, compute_plan
from lib.providers.records import DEFAULT_PRIORITY, NAME_PATTERN, Provider, ProviderModel
from lib.providers.types import PROVIDER_TYPES

CONFIG_FILE = "defined in LiteLLM's config file"


@dataclass(frozen=True)
class AdoptCandidate:
    """A group of LiteLLM deployments (and its credential) that is not the console's."""

    name: str  # the provider it would become (the credential's name), or a label for a group without one
    litellm_provider: str | None
    api_base: str | None
    credential: str | None
    deployments: tuple[Deployment, ...] = ()
    adoptable: bool = False
    reason: str = ""  # why it cannot be adopted
    record: Provider | None = field(default=None, repr=False)

    @property
    def models(self) -> list[tuple[str, str]]:
        """(public name, LiteLLM model) of each deployment."""
        return [(d.public_name, str(d.params.get("model", ""))) for d in self.deployments]

    @property
    def from_config_file(self) -> bool:
        return any(not d.in_database for d in self.deployments)


def _litellm_provider(cred: Credential | None, deps) -> str | None:
    if cred is not None and cred.info.get("custom_llm_provider"):
        return str(cred.info["custom_llm_provider"])
    for d in deps:
        model = str(d.params.get("model", ""))
        if d.params.get("custom_llm_provider"):
            return str(d.params["custom_llm_provider"])
        if "/" in model:
            return model.split("/", 1)[0]
    return None


def _console_type(litellm_provider: str | None, api_base: str | None, cred: Credential | None) -> str | None:
    if cred is not None and cred.info.get("console_type") in PROVIDER_TYPES:
        return cred.info["console_type"]
    if litellm_provider == "openai" and api_base and api_base.rstrip("/") != PROVIDER_TYPES["openai"].default_api_base:
        return "openai_compatible"
    return litellm_provider if litellm_provider in PROVIDER_TYPES else None


def _record(name: str, type_id: str, cred: Credential, deps) -> Provider:
    ptype = PROVIDER_TYPES[type_id]
    orders = [d.params.get("order") for d in deps if isinstance(d.params.get("order"), int)]
    priority = min(100, 10 * min(orders)) if orders else DEFAULT_PRIORITY
    models = tuple(
        ProviderModel(d.public_name, str(d.params.get("model", "")).split("/", 1)[-1], d.id)
        for d in sorted(deps, key=lambda d: d.public_name)
    )
    extra = {f.name: str(cred.values[f.name]) for f in ptype.extra_fields if cred.values.get(f.name)}
    return Provider(
        name=name,
        type=type_id,
        api_base=cred.values.get("api_base") or None,
        extra=extra,
        priority=priority,
        models=models,
    )


def candidates(state: LiteLLMState, records: list[Provider]) -> list[AdoptCandidate]:
    """Every group of LiteLLM deployments (and every credential) that no console provider owns, by name."""
    owned = {p.name for p in records}
    groups: dict[tuple, list[Deployment]] = {}
    for d in state.deployments:
        if d.console_provider or d.credential in owned:
            continue
        if d.credential:
            key = ("credential", d.credential)
        else:
            key = ("inline", _litellm_provider(None, [d]), d.params.get("api_base"))
        groups.setdefault(key, []).append(d)
    for name, cred in state.credentials.items():
        if name not in owned and not cred.console_managed:
            groups.setdefault(("credential", name), [])

    out = []
    for key, deps in groups.items():
        deps = tuple(sorted(deps, key=lambda d: (d.public_name, d.id)))
        if key[0] == "inline":
            _, provider, api_base = key
            label = f"{provider or 'unknown'} @ {api_base or 'default endpoint'}"
            reason = (
                CONFIG_FILE
                if any(not d.in_database for d in deps)
                else "its deployments carry their own API key, which LiteLLM never gives back: add it as a provider "
                "with its key instead"
            )
            out.append(AdoptCandidate(label, provider, api_base, None, deps, False, reason))
            continue
        name = key[1]
        cred = state.credentials.get(name)
        provider = _litellm_provider(cred, deps)
        api_base = (cred.values.get("api_base") if cred else None) or None
        reason, record = "", None
        type_id = _console_type(provider, api_base, cred)
        publics = [d.public_name for d in deps]
        if any(not d.in_database for d in deps):
            reason = CONFIG_FILE
        elif cred is None:
            reason = f"its deployments use a credential {name!r} LiteLLM does not list"
        elif type_id is None:
            reason = f"the provider type {provider or 'unknown'!r} is not one the console manages"
        elif not NAME_PATTERN.fullmatch(name):
            reason = "its credential's name is not a valid provider name (letters, digits, - _ .)"
        elif len(set(publics)) != len(publics):
            reason = "it has two deployments of one public name (the console keeps one per provider)"
        else:
            record = _record(name, type_id, cred, deps)
            plan = compute_plan([*records, record], state)
            mine = plan.for_provider(name)
            if mine:
                reason = f"adopting it would change LiteLLM: {mine[0].description}"
                record = None
        out.append(AdoptCandidate(name, provider, api_base, name, deps, record is not None, reason, record))
    return sorted(out, key=lambda c: (not c.adoptable, c.name))
