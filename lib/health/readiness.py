"""The console's readiness (`/readyz`): its app database answers, its usage store can be read, LiteLLM answers.
Amber is still ready (stale data is served); red is not."""

from __future__ import annotations

from dataclasses import dataclass

from lib.health.console_checks import check_app_database, check_usage_store
from lib.health.litellm_checks import check_liveness, probe_client
from lib.health.status import Check


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, Check]  # app_database, usage_store, litellm

    @property
    def ready(self) -> bool:
        return all(c.status != "red" for c in self.checks.values())

    def as_json(self) -> dict:
        return {
            "status": "ready" if self.ready else "not ready",
            "reasons": [f"{c.name}: {c.reason}" for c in self.checks.values() if c.status == "red"],
            "checks": {key: {"status": c.status, "reason": c.reason} for key, c in self.checks.items()},
        }


def readiness(rt) -> Readiness:
    with probe_client(rt) as client:
        litellm = check_liveness(client)
    return Readiness(
        {"app_database": check_app_database(rt), "usage_store": check_usage_store(rt)[0], "litellm": litellm}
    )
