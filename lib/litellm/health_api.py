"""The shapes of LiteLLM's health answers (1.108), validated like every reply: LiteLLM is untrusted input.

- `/health/liveliness`: a JSON string ("I'm alive!"), no auth.
- `/health/readiness`: `{status, db}`, no auth; `/health/readiness/details` (auth) adds `cache` and
  `litellm_version`. Both answer 503 with the same body when LiteLLM's database is unreachable.
- `/health/latest`: the last stored check per model (LiteLLM stores one when `/health?model=` runs), keyed by
  deployment id or model name.
- `/health?model=`: checks the deployments now with **real provider calls**; 503 (same body) when one is unhealthy.

Fields LiteLLM may add are ignored; those it may leave out default to None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Readiness(_Reply):
    """`/health/readiness` and `/health/readiness/details`. `db`: "connected", "disconnected", "stalled" or
    "Not connected" (LiteLLM runs without a database)."""

    status: str
    db: str | None = None
    cache: Any = None  # None (no cache), a type name ("redis"), or {"type": ..., "index_info": ...}
    litellm_version: str | None = None


class LatestCheck(_Reply):
    model_name: str
    model_id: str | None = None
    status: str  # "healthy" | "unhealthy"
    healthy_count: int = 0
    unhealthy_count: int = 0
    error_message: str | None = None
    response_time_ms: float | None = None
    checked_by: str | None = None
    checked_at: datetime | None = None


class LatestHealth(_Reply):
    latest_health_checks: dict[str, LatestCheck]
    total_models: int | None = None


class Endpoint(_Reply):
    model: str | None = None  # the underlying model, e.g. openai/gpt-4o
    model_id: str | None = None
    api_base: str | None = None
    error: str | None = None  # unhealthy ones: the provider's error, often with a stack trace
    exception_status: int | None = None


class HealthCheck(_Reply):
    """`/health` or `/health?model=`: what a check run now found."""

    healthy_endpoints: list[Endpoint]
    unhealthy_endpoints: list[Endpoint]
    healthy_count: int | None = None
    unhealthy_count: int | None = None
