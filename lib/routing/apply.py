"""Running a routing plan against LiteLLM: the providers' machinery (lib.providers.apply: steps in order, stop at the
first refusal, read LiteLLM again, report done / failed / not attempted) with routing's step kinds."""

from __future__ import annotations

from lib.litellm.client import LiteLLMClient
from lib.providers.apply import ApplyResult, apply_steps
from lib.routing.plan import Plan, RoutingActual, Step


def read_actual(client: LiteLLMClient) -> RoutingActual:
    """LiteLLM's router settings (with sources) and deployments as they are now."""
    models = [entry.model_dump() for entry in client.model_info().data]
    return RoutingActual.from_litellm(client.router_settings(), models)


def run_step(client: LiteLLMClient, step: Step) -> None:
    if step.kind == "create_deployment":
        client.create_deployment(step.payload)
    elif step.kind == "update_deployment":
        client.update_deployment(step.target, step.payload)
    elif step.kind == "replace_deployment":  # a merge cannot drop a default param: delete, then create again
        client.delete_deployment(step.target)
        client.create_deployment(step.payload)
    elif step.kind == "router_settings":
        client.update_router_settings(step.payload["router_settings"])
    elif step.kind == "delete_deployment":
        client.delete_deployment(step.target)
    else:  # pragma: no cover - STEP_ORDER lists every kind
        raise ValueError(step.kind)


def apply_plan(client: LiteLLMClient, plan: Plan) -> ApplyResult:
    """Run the steps in order until one is refused; then read LiteLLM again (`state_after`: a RoutingActual)."""
    return apply_steps(client, plan.steps, run_step, read_actual)
