"""The Routing API the page and the CLI call. Every change goes through the gate (lib.auth.gate.perform, permission
`routing:write`, audited with what changed); reading needs nothing more than the app database and LiteLLM.

- `set_desired` (action routing.import): validate a state (against LiteLLM's groups) and store it as the desired
  one; LiteLLM is not touched.
- `apply` (routing.apply): plan the desired state against LiteLLM as it is now, run the plan (stops at the first
  refusal), read LiteLLM again. When every step was accepted the state is recorded as the last applied one and the
  audit row holds the plan (the diff); when LiteLLM refused a step, `RoutingApplyError` says what was and was not
  applied (audited as a failure) and the last applied state stays as it was, so drift shows what is half-done and
  applying again completes it.
- `adopt` (routing.adopt): take LiteLLM's routing as the console's (desired and applied): the plan after it is empty.
- `drift`: the plan of the last applied state against LiteLLM now; non-empty means someone changed LiteLLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lib.auth.gate import actor_name, perform
from lib.core.clock import as_aware, utcnow
from lib.core.errors import ConsoleError
from lib.core.jobs import last_run, record_job
from lib.providers.apply import ApplyResult
from lib.providers.records import load_providers
from lib.routing import document, power
from lib.routing.apply import apply_plan, read_actual
from lib.routing.plan import (
    ROUTING_MARK,
    Plan,
    RoutingActual,
    adopted_state,
    compute_plan,
)
from lib.routing.state import (
    RoutingState,
    check_groups,
    parse_state,
    state_json,
)
from lib.routing.store import StoredRouting, load_routing, save_applied, save_desired


class RoutingApplyError(ConsoleError):
    """LiteLLM refused a step part-way; `result` says what was done, refused and not attempted."""

    def __init__(self, message: str, result: ApplyResult):
        super().__init__(message)
        self.result = result

    def as_dict(self) -> dict:
        return {"error": str(self), "change": self.result.as_dict()}


@dataclass(frozen=True)
class Applied:
    plan: Plan
    result: ApplyResult | None  # None: a dry run, or nothing to do

    def as_dict(self) -> dict:
        out = {"plan": self.plan.as_dict()}
        out["result"] = self.result.as_dict() if self.result else {"ok": True, "summary": "nothing applied"}
        return out


def _with_client(rt, work):
    client = rt.litellm_client()
    try:
        return work(client)
    finally:
        client.close()


def load(rt) -> StoredRouting:
    with rt.engine.connect() as conn:
        return load_routing(conn)


def priorities(rt) -> dict[str, int]:
    """Provider name -> priority (balanced weights deployments by it)."""
    with rt.engine.connect() as conn:
        return {p.name: p.priority for p in load_providers(conn)}


def known_groups(actual: RoutingActual) -> set[str]:
    return {d.public_name for d in actual.deployments if not d.info.get(ROUTING_MARK)}


def litellm_names(rt) -> tuple[list[str], list[str]]:
    """The model groups LiteLLM serves now (what fallbacks, aliases and use cases can name) and the LiteLLM models
    of their deployments (what a quality rank ranks), each sorted."""
    actual = _with_client(rt, read_actual)
    models = {str(d.params.get("model")) for d in actual.deployments if not d.info.get(ROUTING_MARK)}
    return sorted(known_groups(actual)), sorted(models - {"None"})


def plan_for(state: RoutingState, actual: RoutingActual, prios: dict[str, int]) -> Plan:
    check_groups(state, known_groups(actual))
    return compute_plan(state, actual, prios)


def preview_plan(rt, state: RoutingState | None = None) -> Plan:
    """What applying `state` (default: the desired one) would change in LiteLLM now."""
    state = state if state is not None else load(rt).desired
    return _with_client(rt, lambda c: plan_for(state, read_actual(c), priorities(rt)))


def drift(rt) -> Plan | None:
    """How LiteLLM differs from the last applied routing (None: never applied)."""
    applied = load(rt).applied
    if applied is None:
        return None
    return _with_client(rt, lambda c: compute_plan(applied, read_actual(c), priorities(rt)))


DRIFT_JOB = "routing_drift"  # the scheduled drift check's job runs (lib.core.jobs)


@dataclass(frozen=True)
class DriftView:
    """How LiteLLM differs from the last applied routing, as of `checked_at`; `scheduled`: the scheduled check's
    recorded result (else a check made now)."""

    changes: int
    descriptions: tuple[str, ...]
    checked_at: datetime
    scheduled: bool

    @property
    def empty(self) -> bool:
        return self.changes == 0


def run_drift_check(rt, trigger: str) -> dict:
    """The scheduled drift check: LiteLLM compared with the last applied routing, recorded as a job run
    (DRIFT_JOB) whose details hold the result ({"applied", "changes", "descriptions"}). No Streamlit here: the
    scheduler runs it."""
    with record_job(rt.engine, DRIFT_JOB, trigger) as run:
        plan = drift(rt)
        run.rows = plan.change_count if plan is not None else 0
        run.details = {
            "applied": plan is not None,
            "changes": run.rows,
            "descriptions": plan.descriptions() if plan is not None else [],
        }
    return run.details


def current_drift(rt, max_age: timedelta | None = None) -> DriftView | None:
    """The drift the Routing page shows: the last scheduled check's result while it is fresh (finished within
    `max_age`, default ROUTING_DRIFT_INTERVAL_MINUTES, and after the last apply or adopt), else a check now.
    None: routing was never applied."""
    stored = load(rt)
    if stored.applied is None:
        return None
    max_age = max_age or timedelta(minutes=rt.settings.ROUTING_DRIFT_INTERVAL_MINUTES)
    run = last_run(rt.engine, DRIFT_JOB, "success")
    if run is not None and (run["details"] or {}).get("applied"):
        started, finished = as_aware(run["started_at"]), as_aware(run["finished_at"] or run["started_at"])
        if utcnow() - finished <= max_age and (stored.applied_at is None or started >= stored.applied_at):
            details = run["details"]
            return DriftView(int(details["changes"]), tuple(details["descriptions"]), finished, True)
    plan = drift(rt)
    if plan is None:
        return None
    return DriftView(plan.change_count, tuple(plan.descriptions()), utcnow(), False)


def set_desired(rt, actor, data: dict | RoutingState) -> RoutingState:
    """Validate and store a desired state (nothing is sent to LiteLLM). Bad input: RoutingInputError, nothing stored."""
    state = data if isinstance(data, RoutingState) else parse_state(data)

    def change(conn) -> RoutingState:
        _with_client(rt, lambda c: check_groups(state, known_groups(read_actual(c))))
        save_desired(conn, state, actor_name(actor))
        return state

    return perform(rt.engine, actor, "routing.import", "routing", change, details={"desired": state_json(state)})


def apply(rt, actor, state: RoutingState | None = None, dry_run: bool = False) -> Applied:
    """Apply `state` (default: the desired one) to LiteLLM; see the module docstring. `dry_run`: the plan only."""
    if dry_run:
        return Applied(preview_plan(rt, state), None)

    def change(conn) -> Applied:
        nonlocal state
        state = state if state is not None else load_routing(conn).desired

        def work(client) -> Applied:
            plan = plan_for(state, read_actual(client), priorities(rt))
            result = apply_plan(client, plan) if plan.steps else None
            if result is not None and not result.ok:
                raise RoutingApplyError(result.summary(), result)
            return Applied(plan, result)

        applied = _with_client(rt, work)
        save_applied(conn, state, actor_name(actor))
        return applied

    return perform(
        rt.engine,
        actor,
        "routing.apply",
        "routing",
        change,
        details=lambda a: {
            "litellm": a.plan.descriptions(),
            "read_only": [r.as_dict() for r in a.plan.read_only],
            "state": state_json(state) if state is not None else None,
        },
    )


def adopt(rt, actor) -> RoutingState:
    """Take LiteLLM's routing as the console's desired and applied state (LiteLLM is not changed)."""

    def change(conn) -> RoutingState:
        state = _with_client(rt, lambda c: adopted_state(read_actual(c)))
        save_applied(conn, state, actor_name(actor))
        return state

    return perform(rt.engine, actor, "routing.adopt", "routing", change, details=lambda s: {"state": state_json(s)})


# -- power levels' figures -------------------------------------------------------------------------------------
def usage_of_groups(store, today=None) -> tuple[dict[str, power.GroupUse], power.TokenMix]:
    """Each model group's requests and spend over the last 30 days, and the token mix of all that traffic."""
    from lib.usage.queries import breakdown_sums

    start, end = power.window(today or utcnow().date())
    sums = breakdown_sums(store, start, end, by="model_group")
    use = {
        str(r["model_group"]): power.GroupUse(int(r["api_requests"] or 0), float(r["spend"] or 0.0))
        for r in sums.to_dict("records")
    }
    prompt = int(sums["prompt_tokens"].sum()) if not sums.empty else 0
    completion = int(sums["completion_tokens"].sum()) if not sums.empty else 0
    return use, power.TokenMix.of(prompt, completion)


def power_level_figures(rt, state: RoutingState, today=None) -> tuple[list[power.LevelFigures], power.TokenMix]:
    """The power levels of `state`: price per 1M tokens (LiteLLM's prices now, the store's token mix) and 30-day
    use (lib.routing.power)."""
    actual = _with_client(rt, read_actual)
    use, mix = usage_of_groups(rt.store, today)
    return power.level_figures(state, actual, use, mix), mix


# -- as code ----------------------------------------------------------------------------------------------------
def export_yaml(rt) -> str:
    """The desired routing (and the providers by name, without keys) as the routing.yaml document."""
    with rt.engine.connect() as conn:
        records = load_providers(conn)
        state = load_routing(conn).desired
    return document.dump_yaml(document.export_document(state, records))


def import_yaml(rt, actor, text: str) -> RoutingState:
    """Validate a routing.yaml document and store its routing as the desired state (not applied). Bad input:
    RoutingInputError naming the line and field; nothing stored."""
    return set_desired(rt, actor, document.load_document(text))


def import_litellm_config(rt, actor, text: str, env=None, dry_run: bool = False) -> dict:
    """An operator's LiteLLM config.yaml into the console (lib.routing.litellm_import): its providers are added
    (applied to LiteLLM like `providers add`; one already in the console of that name is kept as it is) and its
    routing becomes the desired state (not applied: review it with `routing plan`). Everything is validated first —
    the file, the key variables, the providers and the routing's model groups (LiteLLM's plus the file's) — and on
    any error nothing changes (RoutingInputError / ProviderInputError naming the field)."""
    import os

    from lib.providers import service as providers
    from lib.providers.records import validate_api_base, validate_models, validate_name, validate_type
    from lib.routing.litellm_import import read_config

    actual = _with_client(rt, read_actual)
    imported = read_config(text, os.environ if env is None else env, actual)
    with rt.engine.connect() as conn:
        existing = {p.name for p in load_providers(conn)}
    new = [p for p in imported.providers if p.input.name not in existing]
    for p in new:
        ptype = validate_type(p.input.type)
        validate_name(p.input.name)
        validate_api_base(p.input.api_base, ptype)
        validate_models(p.models, p.input.name)
    check_groups(imported.routing, known_groups(actual) | {name for p in imported.providers for name, _ in p.models})
    out = {
        **imported.summary(),
        "added": [p.input.name for p in new],
        "kept": sorted(p.input.name for p in imported.providers if p.input.name in existing),
        "desired": state_json(imported.routing),
        "applied": False,
        "dry_run": dry_run,
    }
    if dry_run:
        return out
    for p in new:
        providers.add_provider(rt, actor, p.input, list(p.models))
    set_desired(rt, actor, imported.routing)
    return out


def litellm_config_export(rt) -> tuple[str, list[document.KeyVariable]]:
    """A LiteLLM config.yaml for LiteLLM's deployments now and the desired routing (its header lists the key
    variables), and those variables."""
    with rt.engine.connect() as conn:
        records = load_providers(conn)
        state = load_routing(conn).desired
    actual = _with_client(rt, read_actual)
    config, variables = document.litellm_config(state, actual, records)
    return document.config_header(variables) + document.dump_yaml(config), variables


def litellm_config_yaml(rt) -> tuple[str, list[str]]:
    """litellm_config_export with the variables by name."""
    text, variables = litellm_config_export(rt)
    return text, [v.name for v in variables]
