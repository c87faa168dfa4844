"""The Providers API the page and the CLI call. Every change goes through the gate (lib.auth.gate.perform: the
permission `providers:write`, the change and its audit row in one transaction) and is applied to LiteLLM.

How a change is made: the console's records with the change are planned against LiteLLM as it is now
(lib.providers.plan), the plan is applied (lib.providers.apply), and only when LiteLLM accepted every step is the
record written (the gate's transaction commits with the audit row): the console never stores what LiteLLM refused.

When LiteLLM refuses a step part-way, the change is rolled back: the plan of the unchanged records is applied, so
LiteLLM is as it was, and `ProviderApplyError` says what was refused and that nothing changed. If undoing fails too
(LiteLLM went down), the error says so and how many changes LiteLLM still differs by; every plan covers all of the
console's providers, so the next change, or `reapply`, brings LiteLLM back to the records. Nothing is left
half-known: `list_providers` and `preview_plan` show any difference between the records and LiteLLM.

Keys: `ProviderInput.api_key` is encrypted before it is stored (lib.providers.crypto) and pushed to LiteLLM as the
credential's api_key; views show `mask(key)` only; audit rows say "credential_changed", never the key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from lib.auth.gate import perform
from lib.core.errors import ConsoleError
from lib.core.urls import without_credentials
from lib.litellm.client import LiteLLMError
from lib.providers import adopt as adoption
from lib.providers import crypto
from lib.providers.apply import ApplyResult, apply_plan, read_state
from lib.providers.plan import LiteLLMState, Plan, compute_plan, parked, serving
from lib.providers.records import (
    Provider,
    ProviderInput,
    ProviderInputError,
    ProviderModel,
    delete_provider_record,
    load_providers,
    record_test,
    save_provider,
    validate_api_base,
    validate_env_name,
    validate_extra,
    validate_key,
    validate_models,
    validate_name,
    validate_priority,
    validate_type,
)
from lib.providers.tester import DEFAULT_TIMEOUT_S, ConnectionTest, test_connection

log = logging.getLogger(__name__)
CONFIGURABLE = ("display_name", "api_key", "api_base", "extra", "priority", "auto_fallback", "enabled", "models")
FAILOVER_RULE = (
    "Within one public model name, LiteLLM sends requests to the provider with the lowest priority number; when it "
    "fails the next one takes over. A provider with auto-fallback off takes no part in that: at the top it serves "
    "the name alone, below the top it does not serve it."
)


class ProviderApplyError(ConsoleError):
    """LiteLLM refused a change part-way. `result`: how far it got; `rollback`: undoing it (None if nothing was
    done); `pending`: what LiteLLM still differs by from the records (None when LiteLLM could not be read)."""

    def __init__(self, message: str, result: ApplyResult, rollback: ApplyResult | None, pending: Plan | None):
        super().__init__(message)
        self.result = result
        self.rollback = rollback
        self.pending = pending

    def as_dict(self) -> dict:
        return {
            "error": str(self),
            "change": self.result.as_dict(),
            "rollback": self.rollback.as_dict() if self.rollback else None,
            "pending": self.pending.descriptions() if self.pending is not None else None,
        }


@dataclass(frozen=True)
class ChangeResult:
    """What a change did in LiteLLM: the plan and how it went (every step done)."""

    plan: Plan
    applied: ApplyResult

    def as_dict(self) -> dict:
        return {
            "steps": self.plan.descriptions(),
            "summary": self.applied.summary() if self.plan.steps else "no change",
        }


@dataclass(frozen=True)
class ModelView:
    public_name: str
    provider_model: str
    litellm_model: str  # "<prefix>/<provider model>"
    deployment_id: str
    state: str  # "serving" | "parked" (auto-fallback) | "disabled" | "missing" (not in LiteLLM though it should be)
    order: int | None = None  # litellm_params.order as LiteLLM has it
    # $ per token as LiteLLM's model_info gives them for its deployment (None: LiteLLM gives no price)
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None


@dataclass(frozen=True)
class ProviderView:
    """One provider as the page shows it: the record (never the key: `masked_key`), its status and LiteLLM's view."""

    name: str
    type: str
    type_label: str
    colour: str
    display_name: str
    api_base: str  # without credentials or query string
    extra: dict
    masked_key: str  # "sk-…9f3a"; "" without a key
    key_held_by: str  # "console" | "litellm" (adopted: LiteLLM keeps it) | "none" (a type without keys)
    api_key_env: str | None  # the variable the operator gave the key in (`--api-key-env`); None: not given
    key_variable: str | None  # what litellm-config reads the key from: api_key_env, else the derived default
    priority: int
    auto_fallback: bool
    enabled: bool
    status: str  # "active" | "disabled" | "error"
    status_reason: str
    models: list[ModelView]
    in_litellm: bool | None  # its credential is in LiteLLM (None: LiteLLM could not be read)
    pending: list[str]  # what LiteLLM differs by (plan steps of this provider)
    last_test_at: datetime | None = None
    last_test_result: str | None = None
    last_test_message: str | None = None
    last_test_latency_ms: float | None = None
    litellm_error: str | None = None
    created_at: datetime | None = None

    @property
    def model_count(self) -> int:
        return len(self.models)


# -- helpers ------------------------------------------------------------------------------------------------------
def _keys(rt, records: Iterable[Provider]) -> tuple[dict, dict]:
    """Plaintext keys and their fingerprints of the records holding one (decrypted only to be planned and sent)."""
    keys, fingerprints = {}, {}
    stored = [p for p in records if p.api_key_encrypted]
    if stored:
        cipher = crypto.cipher_for(rt.settings)
        for p in stored:
            keys[p.name] = cipher.decrypt(p.api_key_encrypted, p.name)
            fingerprints[p.name] = crypto.key_fingerprint(keys[p.name])
    return keys, fingerprints


def _plan(rt, records: Sequence[Provider], state: LiteLLMState, removing: Iterable[str] = ()) -> Plan:
    keys, fingerprints = _keys(rt, records)
    return compute_plan(records, state, keys, fingerprints, removing)


def _apply(rt, client, new: Sequence[Provider], old: Sequence[Provider], removing=(), restoring=()) -> ChangeResult:
    """Make LiteLLM serve `new`; if it refuses part-way, undo (serve `old` again) and raise ProviderApplyError."""
    state = read_state(client)
    plan = _plan(rt, new, state, removing)
    result = apply_plan(client, plan)
    if result.ok:
        return ChangeResult(plan, result)
    rollback, pending = None, None
    try:
        after = result.state_after or read_state(client)
        back = _plan(rt, old, after, restoring)
        if back.steps:
            rollback = apply_plan(client, back)
            after = rollback.state_after or read_state(client)
        pending = _plan(rt, old, after, restoring)
    except LiteLLMError as exc:
        log.warning("could not undo a refused provider change: %s", exc)
    if pending is not None and pending.empty:
        tail = "Nothing was changed: LiteLLM is as it was and the console kept its previous settings."
    elif pending is not None:
        tail = (
            f"Undoing it failed: LiteLLM differs from the console by {len(pending.steps)} change(s) "
            f"({'; '.join(pending.descriptions()[:3])}); the next change, or Apply to LiteLLM, completes them."
        )
    else:
        tail = "LiteLLM could not be read afterwards: the next change, or Apply to LiteLLM, brings it in line."
    raise ProviderApplyError(f"{result.summary()} {tail}", result, rollback, pending)


def _with_client(rt, work):
    client = rt.litellm_client()
    try:
        return work(client)
    finally:
        client.close()


def _public(p: Provider | None) -> dict | None:
    """A record as audited: every setting but the key."""
    if p is None:
        return None
    return {
        "type": p.type,
        "display_name": p.display_name,
        "api_base": _shown_base(p.api_base),
        "extra": dict(p.extra),
        "api_key_env": p.api_key_env,
        "priority": p.priority,
        "auto_fallback": p.auto_fallback,
        "enabled": p.enabled,
        "models": [f"{m.public_name} = {m.provider_model}" for m in p.models],
    }


def _shown_base(url: str | None) -> str:
    try:
        return without_credentials(url) if url else ""
    except ValueError:
        return "(invalid URL)"


def _find(records: Sequence[Provider], name: str) -> Provider:
    for p in records:
        if p.name == name:
            return p
    raise ProviderInputError(f"No provider named {name!r}")


def _build(inp: ProviderInput, models, existing: Provider | None, rt) -> Provider:
    """A validated record from what was typed (the key encrypted; None keeps the stored one)."""
    name = validate_name(inp.name)
    ptype = validate_type(inp.type)
    key = validate_key(inp.api_key, ptype, have_stored=existing is not None and existing.api_key_encrypted is not None)
    encrypted = existing.api_key_encrypted if existing is not None else None
    if key is not None:
        encrypted = crypto.cipher_for(rt.settings).encrypt(key)
    return Provider(
        name=name,
        type=ptype.id,
        api_base=validate_api_base(inp.api_base, ptype),
        display_name=(inp.display_name or "").strip() or None,
        extra=validate_extra(inp.extra, ptype),
        api_key_encrypted=encrypted,
        api_key_env=validate_env_name(inp.api_key_env) or (existing.api_key_env if existing else None),
        priority=validate_priority(inp.priority),
        auto_fallback=bool(inp.auto_fallback),
        enabled=bool(inp.enabled),
        models=validate_models(models, name),
        created_at=existing.created_at if existing else None,
    )


def _configured(existing: Provider, changes: dict, rt) -> Provider:
    unknown = sorted(set(changes) - set(CONFIGURABLE))
    if unknown:
        raise ProviderInputError(
            f"Cannot change {', '.join(unknown)} (a provider's name and type are fixed: add another instead)"
        )
    inp = ProviderInput(
        name=existing.name,
        type=existing.type,
        api_key=changes.get("api_key"),
        api_base=changes.get("api_base", existing.api_base),
        display_name=changes.get("display_name", existing.display_name),
        extra=changes.get("extra", existing.extra),
        priority=changes.get("priority", existing.priority),
        auto_fallback=changes.get("auto_fallback", existing.auto_fallback),
        enabled=changes.get("enabled", existing.enabled),
    )
    models = changes.get("models", existing.models)
    if existing.api_key_encrypted is None and existing.provider_type.needs_key and not inp.api_key:
        endpoint_changed = (inp.api_base or None) != existing.api_base or validate_extra(
            inp.extra, existing.provider_type
        ) != validate_extra(existing.extra, existing.provider_type)
        if endpoint_changed:
            raise ProviderInputError(
                "API key: LiteLLM keeps this provider's key and never gives it back; enter the key to change its "
                "endpoint"
            )
    built = _build(inp, models, existing, rt)
    if existing.api_base is None and not changes.get("api_base"):
        built = replace(built, api_base=None)  # adopted with LiteLLM's default endpoint: keep it so
    keep_ids = {m.public_name: m.deployment_id for m in existing.models}
    return replace(
        built,
        models=tuple(
            ProviderModel(m.public_name, m.provider_model, keep_ids.get(m.public_name, m.deployment_id))
            for m in built.models
        ),
    )


def _refuse_foreign_credential(state: LiteLLMState, name: str) -> None:
    cred = state.credentials.get(name)
    if cred is not None and not cred.console_managed:
        raise ProviderInputError(f"LiteLLM already has a credential named {name!r}: adopt it, or choose another name")


# -- reading --------------------------------------------------------------------------------------------------------
def list_providers(rt) -> list[ProviderView]:
    """Every provider with its masked key, status, models and LiteLLM's view of them (by name). LiteLLM down: the
    records alone, each view's `litellm_error` saying why."""
    with rt.engine.connect() as conn:
        records = load_providers(conn)
    state, error, health = None, None, {}
    if records:
        try:
            state, health = _with_client(rt, lambda c: (read_state(c), _health(c)))
        except LiteLLMError as exc:
            error = str(exc)
    plan = _plan(rt, records, state) if state is not None else None
    keys, _ = _keys(rt, records)
    return [_view(p, state, plan, health, keys.get(p.name), error, records) for p in records]


def _health(client) -> dict:
    try:
        latest = client.latest_health().latest_health_checks
    except LiteLLMError:
        return {}
    return {key: check.model_dump() for key, check in latest.items()}


def _unhealthy(health: dict, ids: set[str], names: set[str]) -> str | None:
    for key, entry in health.items():
        if not isinstance(entry, dict):
            continue
        if key in ids or entry.get("model_id") in ids or entry.get("model_name") in names:
            if str(entry.get("status", "")).lower() in ("unhealthy", "error") or entry.get("healthy") is False:
                return str(entry.get("error") or entry.get("error_message") or "LiteLLM's health check failed")[:200]
    return None


def _view(p: Provider, state, plan, health, key, error, records) -> ProviderView:
    live = {d.model.deployment_id for ds in serving(records).values() for d in ds}
    parked_names = set(parked(records).get(p.name, []))
    models = []
    for m in p.models:
        have = state.deployment(m.deployment_id) if state is not None else None
        if not p.enabled:
            st = "disabled"
        elif m.public_name in parked_names:
            st = "parked"
        elif m.deployment_id in live and (state is None or have is not None):
            st = "serving"
        else:
            st = "missing"
        models.append(
            ModelView(
                m.public_name,
                m.provider_model,
                f"{p.provider_type.litellm_prefix}/{m.provider_model}",
                m.deployment_id,
                st,
                have.params.get("order") if have is not None else None,
                _price(have, "input_cost_per_token"),
                _price(have, "output_cost_per_token"),
            )
        )
    pending = [s.description for s in plan.for_provider(p.name)] if plan is not None else []
    sick = _unhealthy(health, {m.deployment_id for m in p.models}, {m.public_name for m in p.models})
    if not p.enabled:
        status, reason = "disabled", "Disabled: its models are not in LiteLLM"
    elif pending:
        status, reason = "error", f"LiteLLM differs from the console: {pending[0]}"
    elif p.last_test_result not in (None, "ok"):
        status, reason = "error", f"Last test: {p.last_test_message or p.last_test_result}"
    elif sick:
        status, reason = "error", f"LiteLLM's health check: {sick}"
    else:
        status, reason = "active", "Active"
    return ProviderView(
        name=p.name,
        type=p.type,
        type_label=p.provider_type.label,
        colour=p.provider_type.colour,
        display_name=p.label,
        api_base=_shown_base(p.api_base) or p.provider_type.default_api_base,
        extra=dict(p.extra),
        masked_key=crypto.mask(key),
        key_held_by="console" if p.api_key_encrypted else ("litellm" if p.provider_type.needs_key else "none"),
        api_key_env=p.api_key_env,
        key_variable=p.key_variable,
        priority=p.priority,
        auto_fallback=p.auto_fallback,
        enabled=p.enabled,
        status=status,
        status_reason=reason,
        models=models,
        in_litellm=(p.name in state.credentials) if state is not None else None,
        pending=pending,
        last_test_at=p.last_test_at,
        last_test_result=p.last_test_result,
        last_test_message=p.last_test_message,
        last_test_latency_ms=p.last_test_latency_ms,
        litellm_error=error,
        created_at=p.created_at,
    )


def _price(deployment, field: str) -> float | None:
    """A deployment's price per token from LiteLLM (model_info, else litellm_params); None when it gives none."""
    if deployment is None:
        return None
    for source in (deployment.info, deployment.params):
        value = source.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


def preview_plan(rt, proposed: Provider | None = None, removing: str | None = None) -> Plan:
    """What applying would change in LiteLLM: with no argument, what LiteLLM differs by from the records (what
    `reapply` would do); with `proposed`, the plan of saving that record; with `removing`, of deleting that one."""
    with rt.engine.connect() as conn:
        records = load_providers(conn)
    if proposed is not None:
        records = [p for p in records if p.name != proposed.name] + [proposed]
    if removing is not None:
        records = [p for p in records if p.name != removing]
    state = _with_client(rt, read_state)
    return _plan(rt, records, state, [removing] if removing else ())


def preview_add(rt, inp: ProviderInput, models) -> Plan:
    """The plan Save would apply for a new provider (validates what was typed: ProviderInputError)."""
    return preview_plan(rt, proposed=_build(inp, models, None, rt))


def preview_configure(rt, name: str, changes: dict) -> Plan:
    """The plan Save would apply for these changes to a provider."""
    with rt.engine.connect() as conn:
        existing = _find(load_providers(conn), name)
    return preview_plan(rt, proposed=_configured(existing, changes, rt))


def deletion_preview(rt, name: str) -> list[str]:
    """What deleting the provider removes from LiteLLM (its deployments and its credential), for the confirmation."""
    with rt.engine.connect() as conn:
        _find(load_providers(conn), name)
    return preview_plan(rt, removing=name).descriptions()


def adoption_candidates(rt) -> list[adoption.AdoptCandidate]:
    """LiteLLM's deployments no console provider owns, grouped into providers (adoptable ones first)."""
    with rt.engine.connect() as conn:
        records = load_providers(conn)
    return adoption.candidates(_with_client(rt, read_state), records)


# -- changes --------------------------------------------------------------------------------------------------------
def add_provider(rt, actor, inp: ProviderInput, models) -> ChangeResult:
    """Add a provider with its models (pairs of public name and the provider's model name, or ProviderModel):
    validated, applied to LiteLLM (one credential, one deployment per model), then stored. Raises
    ProviderInputError (bad input, name taken), ProviderApplyError (LiteLLM refused: nothing changed), LiteLLMError
    (LiteLLM down before anything was sent)."""
    name = (inp.name or "").strip()
    audit: dict = {}

    def change(conn) -> ChangeResult:
        records = load_providers(conn)
        if any(p.name == name for p in records):
            raise ProviderInputError(f"A provider named {name!r} exists already")
        new = _build(inp, models, None, rt)

        def work(client):
            _refuse_foreign_credential(read_state(client), new.name)
            return _apply(rt, client, [*records, new], records, restoring=[new.name])

        result = _with_client(rt, work)
        save_provider(conn, new)
        audit.update(before=None, after=_public(new), credential_changed=new.api_key_encrypted is not None)
        audit["litellm"] = result.plan.descriptions()
        return result

    return perform(rt.engine, actor, "providers.add", name, change, details=lambda r: audit)


def _change_record(rt, actor, action: str, name: str, make) -> ChangeResult:
    """One change of an existing provider: `make(existing) -> new record` (validated), applied, then stored."""
    audit: dict = {}

    def change(conn) -> ChangeResult:
        records = load_providers(conn)
        existing = _find(records, name)
        new = make(existing)
        others = [p for p in records if p.name != name]
        result = _with_client(rt, lambda c: _apply(rt, c, [*others, new], records))
        save_provider(conn, new)
        audit.update(
            before=_public(existing),
            after=_public(new),
            credential_changed=new.api_key_encrypted != existing.api_key_encrypted,
            litellm=result.plan.descriptions(),
        )
        return result

    return perform(rt.engine, actor, action, name, change, details=lambda r: audit)


def configure_provider(rt, actor, name: str, changes: dict) -> ChangeResult:
    """Change a provider's settings: `changes` holds any of display_name, api_key (a new key; absent or None keeps
    the stored one), api_base, extra, priority, auto_fallback, enabled, models (the full new list). Applied to
    LiteLLM first, stored if it accepted (see the module docstring for a refusal)."""
    return _change_record(rt, actor, "providers.configure", name, lambda existing: _configured(existing, changes, rt))


def set_enabled(rt, actor, name: str, enabled: bool) -> ChangeResult:
    """Disable (its deployments leave LiteLLM, its credential stays) or enable (they come back)."""
    action = "providers.enable" if enabled else "providers.disable"
    return _change_record(rt, actor, action, name, lambda existing: replace(existing, enabled=enabled))


def delete_provider(rt, actor, name: str) -> ChangeResult:
    """Delete a provider: its deployments and its credential leave LiteLLM, then its record goes. The result's plan
    names the deployments removed (the page confirms first with `deletion_preview`)."""
    audit: dict = {}

    def change(conn) -> ChangeResult:
        records = load_providers(conn)
        existing = _find(records, name)
        others = [p for p in records if p.name != name]
        result = _with_client(rt, lambda c: _apply(rt, c, others, records, removing=[name]))
        delete_provider_record(conn, name)
        audit.update(before=_public(existing), after=None, litellm=result.plan.descriptions())
        return result

    return perform(rt.engine, actor, "providers.delete", name, change, details=lambda r: audit)


def reapply(rt, actor) -> ChangeResult:
    """Apply the console's providers to LiteLLM again (after a change that could not be completed or undone, or a
    change made in LiteLLM behind the console's back). Audited as providers.configure of "*"."""

    def change(conn) -> ChangeResult:
        records = load_providers(conn)
        return _with_client(rt, lambda c: _apply(rt, c, records, records))

    return perform(
        rt.engine, actor, "providers.configure", "*", change, details=lambda r: {"litellm": r.plan.descriptions()}
    )


def restore_litellm(rt) -> ChangeResult | None:
    """Apply the console's providers to a LiteLLM that lost them (demo mode's proxy lives in memory: a new one, after
    a restart or at midnight, has none of them). Not audited: the records do not change, LiteLLM is brought back
    to them. None when the console has no provider."""
    with rt.engine.connect() as conn:
        records = load_providers(conn)
    if not records:
        return None
    return _with_client(rt, lambda c: _apply(rt, c, records, records))


def test_provider(
    rt, actor, provider: str | ProviderInput, timeout: float = DEFAULT_TIMEOUT_S, transport=None
) -> ConnectionTest:
    """Test a stored provider (by name: its stored key; the outcome is kept as its last test) or what was typed in
    the dialog (a ProviderInput: nothing is stored). Never raises for network problems: see ConnectionTest."""
    if isinstance(provider, ProviderInput):
        inp = provider
        target = inp.name or inp.type

        def probe() -> ConnectionTest:
            return test_connection(inp.type, inp.api_base, inp.api_key, inp.extra, timeout, transport)

        return perform(
            rt.engine,
            actor,
            "providers.test",
            target,
            probe,
            transaction=False,
            context={"type": inp.type, "url": _shown_base(inp.api_base)},
            outcome=lambda r: r.result,
            details=lambda r: {"latency_ms": r.latency_ms, "models_available": len(r.models_available)},
        )

    name = provider

    def change(conn) -> ConnectionTest:
        p = _find(load_providers(conn), name)
        key, _ = _keys(rt, [p])
        result = test_connection(p.type, p.api_base, key.get(p.name), p.extra, timeout, transport)
        if p.api_key_encrypted is None and p.provider_type.needs_key and result.result == "auth_failed":
            result.message += " (LiteLLM keeps this adopted provider's key: configure it with its key to test it)"
        record_test(conn, name, result.result, result.message, result.latency_ms)
        return result

    return perform(
        rt.engine,
        actor,
        "providers.test",
        name,
        change,
        outcome=lambda r: r.result,
        details=lambda r: {"latency_ms": r.latency_ms, "models_available": len(r.models_available)},
    )


test_provider.__test__ = False  # not a pytest test, despite the name


def adopt(rt, actor, names: Sequence[str] | None = None) -> list[str]:
    """Adopt LiteLLM's existing providers (all adoptable candidates, or those named): records are made to match,
    LiteLLM is not changed. Returns the names adopted; a named one that cannot be adopted raises
    ProviderInputError with the reason."""

    def change(conn) -> list[str]:
        records = load_providers(conn)
        found = adoption.candidates(_with_client(rt, read_state), records)
        if names is None:
            chosen = [c for c in found if c.adoptable]
        else:
            by_name = {c.name: c for c in found}
            chosen = []
            for n in names:
                c = by_name.get(n)
                if c is None:
                    raise ProviderInputError(f"LiteLLM has no provider {n!r} to adopt")
                if not c.adoptable:
                    raise ProviderInputError(f"{n} cannot be adopted: {c.reason}")
                chosen.append(c)
        for c in chosen:
            save_provider(conn, c.record)
        return [c.name for c in chosen]

    return perform(
        rt.engine,
        actor,
        "providers.adopt",
        ",".join(names) if names else "*",
        change,
        details=lambda adopted: {"adopted": adopted},
    )


def rotate_encryption_key(rt, actor, new_key: str) -> int:
    """Re-encrypt every stored provider key under `new_key` (one transaction: all or none). Returns how many. The
    operator then sets CONSOLE_ENCRYPTION_KEY to the new key (demo mode: the generated key file is replaced)."""
    new = crypto.KeyCipher((new_key or "").strip())
    old = crypto.cipher_for(rt.settings)

    count = perform(
        rt.engine,
        actor,
        "providers.rotate_key",
        "*",
        lambda conn: crypto.rotate(conn, old, new),
        details=lambda n: {"re_encrypted": n},
    )
    crypto.replace_generated_key(rt.settings, new_key.strip())  # after the commit: the file follows the database
    return count
