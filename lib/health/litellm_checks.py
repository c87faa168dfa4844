"""LiteLLM's health as the Health page shows it: liveness, readiness (its database), details (version, cache),
each deployment's last health check (`/health/latest`), and "check now" (`/health`, real provider calls).

Probes use a short timeout and no retries: a health page must answer quickly, and a LiteLLM that needs retries
to answer is worth an amber or red. When LiteLLM does not answer at all, the checks that need it say so rather
than wait for the same timeout each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from lib.auth.gate import perform
from lib.catalog.tables import model_catalog
from lib.core.clock import as_aware, utcnow
from lib.core.urls import without_credentials
from lib.health.status import Check, Status, short_error, worst
from lib.litellm.client import LiteLLMError
from lib.litellm.health_api import HealthCheck, LatestHealth

PROBE_TIMEOUT_S = 10.0  # at most (LITELLM_TIMEOUT_S if lower)
CHECK_NOW_TIMEOUT_S = 120.0  # at least: real calls to every provider of every deployment
STALE_CHECK = timedelta(hours=24)  # a deployment check older than this is amber: it says little about now
LIVENESS, READINESS, DETAILS, DEPLOYMENTS = "LiteLLM liveness", "LiteLLM readiness", "LiteLLM details", "Deployments"


@dataclass(frozen=True)
class DeploymentHealth:
    """One model's (or deployment's) last health check as LiteLLM stored it."""

    model: str  # the model group (public model name)
    deployment: str | None  # LiteLLM's deployment id when it keyed the check by deployment, else None
    status: Status  # green: healthy; amber: healthy but checked long ago; red: unhealthy
    result: str  # LiteLLM's word: healthy | unhealthy
    checked_at: datetime | None
    response_ms: float | None
    healthy: int
    unhealthy: int
    error: str  # the first line of LiteLLM's error, "" when healthy

    @property
    def label(self) -> str:
        return self.model if self.deployment is None else f"{self.model} (deployment {self.deployment[:12]})"


@dataclass(frozen=True)
class LiteLLMHealth:
    checks: list[Check]
    deployments: list[DeploymentHealth]


def probe_client(rt):
    return rt.litellm_client(timeout_s=min(rt.settings.LITELLM_TIMEOUT_S, PROBE_TIMEOUT_S), retries=0)


def check_liveness(client) -> Check:
    started = time.perf_counter()
    try:
        client.liveliness()
    except LiteLLMError as exc:
        return Check(LIVENESS, "red", str(exc))
    ms = (time.perf_counter() - started) * 1000
    return Check(LIVENESS, "green", f"LiteLLM at {client.base_url} is alive ({ms:,.0f} ms)")


def check_readiness(client) -> Check:
    try:
        ready = client.readiness()
    except LiteLLMError as exc:
        return Check(READINESS, "red", str(exc))
    return Check(READINESS, *_judge_readiness(ready.status, ready.db))


def _judge_readiness(status: str, db: str | None) -> tuple[Status, str]:
    if status != "healthy":
        return "red", f"LiteLLM reports itself {status!r}"
    if db == "connected":
        return "green", "Ready; its database is connected"
    if db == "Not connected":  # LiteLLM runs without a database: fine for LiteLLM, not for this console
        return "red", "LiteLLM runs without a database: usage, keys and request logs cannot be read from it"
    return "red", f"LiteLLM cannot use its database ({db or 'no status'})"


def check_details(client) -> Check:
    try:
        d = client.readiness(details=True)
    except LiteLLMError as exc:
        return Check(DETAILS, "red", str(exc))
    cache = d.cache.get("type") if isinstance(d.cache, dict) else d.cache
    text = f"LiteLLM {d.litellm_version or '(version not reported)'} · database: {d.db or 'unknown'} · cache: "
    return Check(DETAILS, "green", text + (str(cache) if cache else "none"))  # the database is judged above


def check_deployments(client, now: datetime | None = None) -> tuple[Check, list[DeploymentHealth]]:
    now = now or utcnow()
    try:
        latest = client.latest_health()
    except LiteLLMError as exc:
        return Check(DEPLOYMENTS, "red", f"LiteLLM's stored health checks could not be read: {exc}"), []
    rows = deployment_rows(latest, now)
    if not rows:
        return Check(
            DEPLOYMENTS,
            "amber",
            "LiteLLM has no stored health checks yet (it stores one per model when a model is checked): use Check now",
        ), []
    bad = [r.label for r in rows if r.status == "red"]
    old = [r.label for r in rows if r.status == "amber"]
    parts = [f"{len(rows) - len(bad)} of {len(rows)} healthy"]
    if bad:
        parts.append("unhealthy: " + ", ".join(bad))
    if old:
        parts.append(f"not checked for {_hours(STALE_CHECK)}: " + ", ".join(old))
    return Check(DEPLOYMENTS, worst(r.status for r in rows), "; ".join(parts)), rows


def deployment_rows(latest: LatestHealth, now: datetime) -> list[DeploymentHealth]:
    rows = []
    for key, c in sorted(latest.latest_health_checks.items(), key=lambda kv: kv[1].model_name):
        checked = as_aware(c.checked_at)
        healthy = c.status == "healthy"
        status: Status = (
            "red" if not healthy else "amber" if checked is None or now - checked > STALE_CHECK else "green"
        )
        rows.append(
            DeploymentHealth(
                model=c.model_name,
                deployment=None if key == c.model_name else key,
                status=status,
                result=c.status,
                checked_at=checked,
                response_ms=c.response_time_ms,
                healthy=c.healthy_count,
                unhealthy=c.unhealthy_count,
                error="" if healthy else short_error(c.error_message) or "unhealthy (no error given)",
            )
        )
    return rows


def litellm_health(rt, now: datetime | None = None) -> LiteLLMHealth:
    """Every LiteLLM check; when LiteLLM does not answer, the rest are red with that reason, not tried."""
    with probe_client(rt) as client:
        live = check_liveness(client)
        if live.status == "red":
            why = "not checked: LiteLLM does not answer"
            return LiteLLMHealth([live] + [Check(n, "red", why) for n in (READINESS, DETAILS, DEPLOYMENTS)], [])
        deployments, rows = check_deployments(client, now)
        return LiteLLMHealth([live, check_readiness(client), check_details(client), deployments], rows)


# -- check now -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointResult:
    model: str
    api_base: str
    healthy: bool
    error: str


def check_now(rt, user, model: str | None = None) -> list[EndpointResult]:
    """Run LiteLLM's health check now for one model group (or all): **real calls to the providers**, so it is a
    gated action (health.check_now), audited with what it found. LiteLLM stores a model's result for
    `/health/latest`; a check of all models is only shown."""

    def run() -> HealthCheck:
        timeout = max(rt.settings.LITELLM_TIMEOUT_S, CHECK_NOW_TIMEOUT_S)
        with rt.litellm_client(timeout_s=timeout, retries=0) as client:  # never repeat calls that cost money
            return client.health_check(model)

    found = perform(
        rt.engine,
        user,
        "health.check_now",
        model or "all models",
        run,
        transaction=False,
        details=lambda r: {"healthy": len(r.healthy_endpoints), "unhealthy": len(r.unhealthy_endpoints)},
    )
    return endpoint_results(found)


def endpoint_results(found: HealthCheck) -> list[EndpointResult]:
    def row(e, healthy: bool) -> EndpointResult:
        base = ""
        if e.api_base:
            try:
                base = without_credentials(e.api_base)
            except ValueError:
                base = "(unparsable address)"
        return EndpointResult(e.model or e.model_id or "?", base, healthy, "" if healthy else short_error(e.error))

    return [row(e, False) for e in found.unhealthy_endpoints] + [row(e, True) for e in found.healthy_endpoints]


def _hours(d: timedelta) -> str:
    return f"{int(d.total_seconds() // 3600)} h"


def checkable_models(rt, deployments: list[DeploymentHealth]) -> list[str]:
    """Model names "check now" offers: the catalogue's available models (when the app database answers) and those
    LiteLLM has checks of."""
    try:
        with rt.engine.connect() as conn:
            query = select(model_catalog.c.name).where(model_catalog.c.available.is_(True))
            names = set(conn.execute(query).scalars())
    except SQLAlchemyError:  # the Health page says the database is down; offer what LiteLLM knows
        names = set()
    return sorted(names | {d.model for d in deployments})
