"""Everything the Health page shows, gathered in one call: LiteLLM's checks and deployments, then the console's
own (app database, usage store, model sync, background jobs). A check that fails to run is red with the reason;
it never hides the others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lib.core.clock import utcnow
from lib.health.console_checks import (
    MODEL_SYNC_STATUS,
    JobStatus,
    StoreFacts,
    check_app_database,
    check_model_sync,
    check_usage_store,
    job_statuses,
)
from lib.health.litellm_checks import DeploymentHealth, litellm_health
from lib.health.status import Check, Status, worst

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthReport:
    checked_at: datetime
    litellm: list[Check]
    deployments: list[DeploymentHealth]
    console: list[Check]  # app database, usage store, model sync
    store: StoreFacts | None
    jobs: list[JobStatus] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        """Every check, the jobs' too."""
        return self.litellm + self.console + [Check(j.label, j.status, j.reason) for j in self.jobs]

    @property
    def overall(self) -> Status:
        return worst(c.status for c in self.checks)


def _guarded(name: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except Exception as exc:
        log.exception("health check %s failed", name)
        return Check(name, "red", f"The check itself failed ({type(exc).__name__})")


def health_report(rt, now: datetime | None = None) -> HealthReport:
    now = now or utcnow()
    lite = litellm_health(rt, now)
    database = check_app_database(rt)
    store, facts = check_usage_store(rt, now)
    jobs: list[JobStatus] = []
    if database.status == "red":  # the jobs and the sync are recorded there
        sync = Check(MODEL_SYNC_STATUS, "red", "Not checked: the app database is unavailable")
    else:
        sync = _guarded(MODEL_SYNC_STATUS, lambda: check_model_sync(rt, now))
        try:
            jobs = job_statuses(rt, now)
        except Exception:
            log.exception("background jobs' health unavailable")
    return HealthReport(now, lite.checks, lite.deployments, [database, store, sync], facts, jobs)
