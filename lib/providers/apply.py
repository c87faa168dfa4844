"""Running a plan against LiteLLM: steps in order, stop at the first refusal, then read LiteLLM again and report
what is there now. Applying the plan computed from that state completes a half-done change (plans are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lib.litellm.client import LiteLLMClient, LiteLLMError
from lib.providers.plan import LiteLLMState, Plan, Step

Status = Literal["done", "failed", "not_attempted"]


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    status: Status
    message: str = ""  # LiteLLM's words for a failed step (no secret)

    def as_dict(self) -> dict:
        return {"step": self.step.description, "status": self.status, "message": self.message}


@dataclass
class ApplyResult:
    outcomes: list[StepOutcome] = field(default_factory=list)
    # LiteLLM as read after the steps (a providers' LiteLLMState, a routing RoutingActual; None: it could not be read)
    state_after: LiteLLMState | Any | None = None
    reread_error: str | None = None

    @property
    def ok(self) -> bool:
        return all(o.status == "done" for o in self.outcomes)

    @property
    def failed(self) -> StepOutcome | None:
        return next((o for o in self.outcomes if o.status == "failed"), None)

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        """One line for a person: how far it got and why it stopped."""
        total = len(self.outcomes)
        if self.ok:
            return f"LiteLLM accepted all {total} change(s)."
        f = self.failed
        return (
            f'LiteLLM accepted {self.count("done")} of {total} change(s); it refused "{f.step.description}": '
            f"{f.message}; {self.count('not_attempted')} not attempted."
        )

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "steps": [o.as_dict() for o in self.outcomes],
            "litellm_read_again": self.state_after is not None,
            "read_error": self.reread_error,
        }


def read_state(client: LiteLLMClient) -> LiteLLMState:
    """LiteLLM's credentials and deployments as they are now."""
    models = [entry.model_dump() for entry in client.model_info().data]
    return LiteLLMState.from_litellm(client.credentials(), models)


def run_step(client: LiteLLMClient, step: Step) -> None:
    if step.kind == "create_credential":
        client.create_credential(step.payload)
    elif step.kind == "patch_credential":
        client.patch_credential(step.target, step.payload)
    elif step.kind == "delete_credential":
        client.delete_credential(step.target)
    elif step.kind == "create_deployment":
        client.create_deployment(step.payload)
    elif step.kind == "update_deployment":
        client.update_deployment(step.target, step.payload)
    elif step.kind == "delete_deployment":
        client.delete_deployment(step.target)
    else:  # pragma: no cover - STEP_ORDER lists every kind
        raise ValueError(step.kind)


def apply_steps(client: LiteLLMClient, steps, run_step, read_after) -> ApplyResult:
    """Run `steps` in order with `run_step(client, step)` until LiteLLM refuses one; then, if there were steps,
    read LiteLLM again with `read_after(client)` (state_after). The one step runner of every plan (providers,
    routing)."""
    result = ApplyResult()
    steps = list(steps)
    for i, step in enumerate(steps):
        try:
            run_step(client, step)
        except LiteLLMError as exc:
            result.outcomes.append(StepOutcome(step, "failed", str(exc)))
            result.outcomes += [StepOutcome(s, "not_attempted") for s in steps[i + 1 :]]
            break
        result.outcomes.append(StepOutcome(step, "done"))
    if steps:
        try:
            result.state_after = read_after(client)
        except LiteLLMError as exc:
            result.reread_error = str(exc)
    return result


def apply_plan(client: LiteLLMClient, plan: Plan) -> ApplyResult:
    """Run the plan's steps in order until one fails; then read LiteLLM again (state_after)."""
    return apply_steps(client, plan.steps, run_step, read_state)
