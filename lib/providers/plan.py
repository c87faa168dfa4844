"""What LiteLLM must change so that it serves the console's providers: pure functions, no I/O.

How the console's records map onto LiteLLM (the desired state):

- A provider is a LiteLLM credential named as the provider: `credential_values` {api_key, api_base, and the type's
  extra fields such as api_version}, `credential_info` {custom_llm_provider, console_managed: true, console_type,
  console_key_fingerprint (16 hex of the key's SHA-256, so a plan sees whether LiteLLM holds the console's key)}.
- Each model (public name -> the provider's model) of an enabled provider is a deployment: `model_name` = the public
  name, `litellm_params` {model: "<type prefix>/<provider model>", litellm_credential_name: the provider,
  order: its rank}, `model_info` {id: a deterministic id (`console-<provider>-<sha of the public name>`, or the
  existing id of an adopted deployment), console_provider: the provider}.
- Within one public name the providers serving it are ranked by priority (lower first; ties by name) and `order`
  is the 1-based rank: LiteLLM sends requests to the lowest order among healthy deployments, the next takes over
  when it fails. **Auto-fallback off takes a provider out of failover: at the top of a public name it serves that
  name alone (the others' deployments of it are parked, i.e. not in LiteLLM), below the top its own deployment of
  that name is parked.**
- A disabled provider keeps its credential; its deployments are removed (enabling it restores them).
- Only what the console owns is ever changed: credentials with `console_managed` or named as a console provider,
  deployments with `model_info.console_provider` or a console provider's credential (database ones only:
  deployments of LiteLLM's config file are never touched). Owned things no record wants are deleted (what a
  failed change left behind), as are the credential and deployments of a provider being removed.

Routing (lib.routing) shares the groups: its own deployments (`model_info.console_routing`, e.g. a use case copying
a provider's credential) are never touched here, and the order routing gave a provider's deployment under its
strategy (`model_info.console_routing_order`) is the order kept, so the two plans never undo each other.

A deployment alone in its public name keeps whatever `order` it has (LiteLLM has nothing to fail over to), so an
adopted one without an order needs no change. Steps run credentials first, then new and changed deployments, then
deletions (deployments before the credential they use), so a public name is never without a deployment mid-change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from lib.core.urls import without_credentials
from lib.providers.records import Provider, ProviderModel

StepKind = Literal[
    "create_credential",
    "patch_credential",
    "create_deployment",
    "update_deployment",
    "delete_deployment",
    "delete_credential",
]
STEP_ORDER: tuple[StepKind, ...] = (
    "create_credential",
    "patch_credential",
    "create_deployment",
    "update_deployment",
    "delete_deployment",
    "delete_credential",
)
KEY_FINGERPRINT = "console_key_fingerprint"
ROUTING_OWNED = "console_routing"  # model_info of a deployment lib.routing made: not the providers'
ROUTED_ORDER = "console_routing_order"  # model_info: the order lib.routing's strategy gave the deployment


# -- LiteLLM's actual state ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credential:
    name: str
    values: dict  # credential_values without api_key (GET /credentials masks it anyway)
    info: dict

    @property
    def console_managed(self) -> bool:
        return bool(self.info.get("console_managed"))


@dataclass(frozen=True)
class Deployment:
    id: str
    public_name: str
    params: dict  # litellm_params as /model/info gives them (never an api_key)
    info: dict  # model_info

    @property
    def credential(self) -> str | None:
        return self.params.get("litellm_credential_name")

    @property
    def console_provider(self) -> str | None:
        return self.info.get("console_provider")

    @property
    def in_database(self) -> bool:
        """False for a deployment of LiteLLM's config file (it cannot be changed through the API)."""
        return bool(self.info.get("db_model"))


@dataclass(frozen=True)
class LiteLLMState:
    credentials: Mapping[str, Credential] = field(default_factory=dict)
    deployments: tuple[Deployment, ...] = ()

    @classmethod
    def from_litellm(cls, credentials: Iterable[dict], models: Iterable[dict]) -> LiteLLMState:
        """From GET /credentials' `credentials` and /model/info's `data` entries."""
        creds = {}
        for c in credentials:
            values = {k: v for k, v in (c.get("credential_values") or {}).items() if k != "api_key"}
            creds[c["credential_name"]] = Credential(c["credential_name"], values, dict(c.get("credential_info") or {}))
        deps = tuple(
            Deployment(
                str((m.get("model_info") or {}).get("id")),
                m.get("model_name") or "",
                dict(m.get("litellm_params") or {}),
                dict(m.get("model_info") or {}),
            )
            for m in models
        )
        return cls(creds, deps)

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)


# -- the plan --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    kind: StepKind
    target: str  # credential name or deployment id
    provider: str
    description: str  # for people: never a key
    payload: dict = field(default_factory=dict, repr=False)  # the request body (a credential's holds its key)


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps

    def descriptions(self) -> list[str]:
        return [s.description for s in self.steps]

    def for_provider(self, name: str) -> list[Step]:
        return [s for s in self.steps if s.provider == name]


@dataclass(frozen=True)
class DesiredDeployment:
    provider: Provider
    model: ProviderModel
    order: int
    group_size: int  # how many deployments the public name has in LiteLLM when the plan is done

    @property
    def litellm_model(self) -> str:
        return f"{self.provider.provider_type.litellm_prefix}/{self.model.provider_model}"

    def describe(self, verb: str, extra: str = "") -> str:
        return (
            f"{verb} deployment {self.model.public_name} → {self.litellm_model} on {self.provider.name} "
            f"(order {self.order}{extra})"
        )


def serving(desired: Iterable[Provider]) -> dict[str, list[DesiredDeployment]]:
    """Public name -> the deployments LiteLLM should have for it, by order (see the module's rule)."""
    by_name: dict[str, list[tuple[Provider, ProviderModel]]] = {}
    for p in desired:
        if p.enabled:
            for m in p.models:
                by_name.setdefault(m.public_name, []).append((p, m))
    out = {}
    for public, pairs in by_name.items():
        ranked = sorted(pairs, key=lambda pm: (pm[0].priority, pm[0].name))
        top = ranked[0][0]
        kept = [
            (rank, p, m)
            for rank, (p, m) in enumerate(ranked, start=1)
            if p is top or (top.auto_fallback and p.auto_fallback)
        ]
        out[public] = [DesiredDeployment(p, m.with_id(p.name), rank, len(kept)) for rank, p, m in kept]
    return out


def parked(desired: Iterable[Provider]) -> dict[str, list[str]]:
    """Provider -> its public names that are parked (not in LiteLLM) because of an auto-fallback setting."""
    desired = list(desired)
    live = {(d.provider.name, d.model.public_name) for ds in serving(desired).values() for d in ds}
    out: dict[str, list[str]] = {}
    for p in desired:
        if p.enabled:
            names = [m.public_name for m in p.models if (p.name, m.public_name) not in live]
            if names:
                out[p.name] = names
    return out


def credential_payload(p: Provider, api_key: str | None, fingerprint: str | None, current_info: dict) -> dict:
    values = {"api_base": p.api_base} if p.api_base else {}
    values |= {k: v for k, v in p.extra.items() if v}
    if api_key:
        values["api_key"] = api_key
    info = dict(current_info) | {
        "custom_llm_provider": p.provider_type.litellm_provider,
        "console_managed": True,
        "console_type": p.type,
    }
    if fingerprint:
        info[KEY_FINGERPRINT] = fingerprint
    return {"credential_name": p.name, "credential_values": values, "credential_info": info}


def _credential_changes(p: Provider, actual, fingerprint: str | None) -> list[str]:
    changes = []
    if (actual.values.get("api_base") or "").rstrip("/") != (p.api_base or "").rstrip("/"):
        changes.append("api_base")
    changes += [k for k, v in p.extra.items() if v and actual.values.get(k) != v]
    have = actual.info.get("custom_llm_provider")
    if have is not None and have != p.provider_type.litellm_provider:
        changes.append("provider type")
    if fingerprint and actual.info.get(KEY_FINGERPRINT) != fingerprint:
        changes.append("key")
    return changes


def _routed_order(actual: Deployment | None, d: DesiredDeployment) -> int:
    """The order to keep: routing's, when its strategy ordered this deployment, else the priority rank."""
    routed = actual.info.get(ROUTED_ORDER) if actual is not None else None
    return routed if isinstance(routed, int) else d.order


def _deployment_payload(d: DesiredDeployment, order: int | None = None) -> dict:
    return {
        "model_name": d.model.public_name,
        "litellm_params": {
            "model": d.litellm_model,
            "litellm_credential_name": d.provider.name,
            "order": d.order if order is None else order,
        },
        "model_info": {"id": d.model.deployment_id, "console_provider": d.provider.name},
    }


def _deployment_changes(d: DesiredDeployment, actual: Deployment, want_order: int) -> list[str]:
    changes = []
    if actual.public_name != d.model.public_name:
        changes.append(f"public name {actual.public_name} → {d.model.public_name}")
    if actual.params.get("model") != d.litellm_model:
        changes.append(f"model {actual.params.get('model')} → {d.litellm_model}")
    if actual.credential != d.provider.name:
        changes.append(f"credential {actual.credential} → {d.provider.name}")
    order = actual.params.get("order")
    if order != want_order and d.group_size > 1:
        changes.append(f"order {order} → {want_order}")
    return changes


def _shown_base(url: str | None) -> str:
    try:
        return without_credentials(url) if url else "no API base"
    except ValueError:
        return "(invalid URL)"


def compute_plan(
    desired: Iterable[Provider],
    actual: LiteLLMState,
    keys: Mapping[str, str | None] | None = None,
    fingerprints: Mapping[str, str | None] | None = None,
    removing: Iterable[str] = (),
) -> Plan:
    """The steps that make `actual` serve `desired` (every provider the console keeps, enabled or not).

    `keys`: the plaintext key of each provider the console holds one for (sent when a credential is created or
    changed); `fingerprints` their fingerprints (lib.providers.crypto.key_fingerprint), compared with the
    credential's so a key LiteLLM lacks is pushed again; `removing`: providers leaving the console, whose
    credentials and deployments are deleted even if the console did not make them (adopted ones).
    """
    desired = list(desired)
    keys, fingerprints, removing = dict(keys or {}), dict(fingerprints or {}), set(removing)
    names = {p.name for p in desired}
    steps: list[Step] = []

    for p in desired:
        have = actual.credentials.get(p.name)
        fp = fingerprints.get(p.name)
        if have is None:
            steps.append(
                Step(
                    "create_credential",
                    p.name,
                    p.name,
                    f"Create credential {p.name} ({p.type}, {_shown_base(p.api_base)})",
                    credential_payload(p, keys.get(p.name), fp, {}),
                )
            )
        elif changes := _credential_changes(p, have, fp):
            steps.append(
                Step(
                    "patch_credential",
                    p.name,
                    p.name,
                    f"Update credential {p.name} ({', '.join(changes)})",
                    credential_payload(p, keys.get(p.name), fp, have.info),
                )
            )

    wanted: dict[str, DesiredDeployment] = {}
    for group in serving(desired).values():
        for d in group:
            wanted[d.model.deployment_id] = d
    for dep_id, d in sorted(wanted.items(), key=lambda kv: (kv[1].model.public_name, kv[1].order)):
        have = actual.deployment(dep_id)
        if have is None:
            steps.append(
                Step("create_deployment", dep_id, d.provider.name, d.describe("Create"), _deployment_payload(d))
            )
        elif changes := _deployment_changes(d, have, _routed_order(have, d)):
            description = (
                f"Update deployment {d.model.public_name} → {d.litellm_model} on {d.provider.name} "
                f"({'; '.join(changes)})"
            )
            payload = _deployment_payload(d, _routed_order(have, d))
            steps.append(Step("update_deployment", dep_id, d.provider.name, description, payload))

    parked_names = parked(desired)
    by_name = {p.name: p for p in desired}
    for have in actual.deployments:
        owner = have.console_provider or (have.credential if have.in_database else None)
        if have.id in wanted or owner is None or have.info.get(ROUTING_OWNED):
            continue
        if owner not in names and not (have.console_provider or owner in removing):
            continue  # a database deployment using someone else's credential
        p = by_name.get(owner)
        if p is None:
            why = "provider removed" if owner in removing else "no console provider"
        elif not p.enabled:
            why = "provider disabled"
        elif have.public_name in parked_names.get(owner, []):
            why = "parked: auto-fallback off"
        else:
            why = "model removed"
        model = have.params.get("model", "?")
        steps.append(
            Step(
                "delete_deployment",
                have.id,
                owner,
                f"Delete deployment {have.public_name} → {model} on {owner} ({why})",
                {"id": have.id},
            )
        )

    for name, cred in sorted(actual.credentials.items()):
        if name not in names and (cred.console_managed or name in removing):
            steps.append(Step("delete_credential", name, name, f"Delete credential {name}", {}))

    steps.sort(key=lambda s: STEP_ORDER.index(s.kind))  # stable: each kind keeps the order above
    return Plan(tuple(steps))
