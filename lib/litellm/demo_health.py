"""Demo mode's LiteLLM health endpoints, answering like LiteLLM 1.108 (see lib/litellm/health_api.py).

The deployments are the demo's (`DemoLiteLLM.model_info()`); one of them, the self-hosted llama3 (the demo's
least reliable model), is down, so the Health page has something to show. `/health?model=` checks a model
group "now" and stores the result for `/health/latest`, as LiteLLM does; `/health` (every model) answers
without storing, as LiteLLM 1.108 does. Deterministic from the demo's seed, with times relative to now.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import timedelta

import httpx

from lib.core.clock import utcnow

VERSION = "1.108.7"
DOWN = {"llama3-local": "litellm.APIConnectionError: OllamaException - [Errno 111] Connection refused"}
NEVER_CHECKED = ("text-embedding-3-small",)  # LiteLLM keeps results only of models someone checked
CALLBACKS = ["_PROXY_VirtualKeyModelMaxBudgetLimiter", "_ProxyDBLogger", "_PROXY_MaxParallelRequestsHandler_v3"]


class DemoHealth:
    def __init__(self, seed: int, deployments: list[dict], latency_ms: dict[str, float]):
        """`deployments`: the demo's `/model/info` entries; `latency_ms`: each model group's typical latency."""
        self._lock = threading.Lock()
        rng = random.Random(seed * 31 + 7)
        self.deployments = [
            {
                "model_name": d["model_name"],
                "model": d["litellm_params"]["model"],
                "model_id": d["model_info"]["id"],
                "api_base": d["litellm_params"].get("api_base"),
                "latency_ms": round(rng.uniform(0.15, 0.5) * latency_ms[d["model_name"]], 3),
            }
            for d in deployments
        ]
        now = utcnow()
        self.latest = {
            d["model_name"]: self._result(d, now - timedelta(minutes=rng.randint(5, 600)))
            for d in self.deployments
            if d["model_name"] not in NEVER_CHECKED
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if path in ("/health/liveliness", "/health/liveness"):
            return _json(200, "I'm alive!")
        if path == "/health/readiness":
            return _json(200, {"status": "healthy", "db": "connected"})
        if path == "/health/readiness/details":
            return _json(
                200,
                {
                    "status": "healthy",
                    "db": "connected",
                    "cache": None,
                    "litellm_version": VERSION,
                    "success_callbacks": CALLBACKS,
                    "log_level": "WARNING",
                },
            )
        if path == "/health/latest":
            with self._lock:
                checks = dict(self.latest)
            return _json(200, {"latest_health_checks": checks, "total_models": len(checks)})
        if path == "/health":
            return self._check_now(request.url.params.get("model"))
        return _json(404, {"detail": "Not Found"})

    def _check_now(self, model: str | None) -> httpx.Response:
        chosen = [d for d in self.deployments if model is None or d["model_name"] == model]
        healthy = [_endpoint(d) for d in chosen if d["model_name"] not in DOWN]
        unhealthy = [
            _endpoint(d) | {"error": DOWN[d["model_name"]], "exception_status": 500}
            for d in chosen
            if d["model_name"] in DOWN
        ]
        body = {
            "healthy_endpoints": healthy,
            "unhealthy_endpoints": unhealthy,
            "healthy_count": len(healthy),
            "unhealthy_count": len(unhealthy),
        }
        if model is None:  # every model: LiteLLM answers 200 and stores nothing
            return _json(200, body)
        now = utcnow()
        with self._lock:
            for d in chosen:
                self.latest[d["model_name"]] = self._result(d, now)
        return _json(503 if unhealthy or not chosen else 200, body)

    @staticmethod
    def _result(d: dict, at) -> dict:
        down = DOWN.get(d["model_name"])
        return {
            "health_check_id": f"demo-{d['model_id'][:12]}-{int(at.timestamp())}",
            "model_name": d["model_name"],
            "model_id": None,
            "status": "unhealthy" if down else "healthy",
            "healthy_count": 0 if down else 1,
            "unhealthy_count": 1 if down else 0,
            "error_message": down,
            "response_time_ms": 3000.0 if down else d["latency_ms"],
            "details": None,
            "checked_by": "default_user_id",
            "checked_at": at.isoformat(),
            "created_at": at.isoformat(),
        }


def _endpoint(d: dict) -> dict:
    return {"model": d["model"], "model_id": d["model_id"]} | ({"api_base": d["api_base"]} if d["api_base"] else {})


def _json(status: int, body) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
