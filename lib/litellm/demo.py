"""Demo mode: a deterministic fake LiteLLM proxy served through httpx.MockTransport.

It holds a generated copy of LiteLLM's daily table (one row per date x user x key x model x group)
and answers `/user/daily/activity` exactly like LiteLLM 1.108: pages count table rows, so a date can be
split across pages, and each page's metadata covers only that page. Demo data therefore flows through
the very same client and ingest code as production.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import threading
import uuid
from collections import defaultdict
from datetime import date, timedelta
from urllib.parse import unquote

import httpx

from lib.core.clock import utcnow
from lib.core.settings import DEMO_HISTORY_DAYS
from lib.litellm.demo_budgets import DemoOwners
from lib.litellm.demo_health import DemoHealth
from lib.litellm.demo_keys import DemoKeys
from lib.litellm.demo_logs import DemoSpendLogs
from lib.litellm.logs_api import SPEND_LOGS_PATH
from lib.litellm.schemas import METRIC_NAMES

# Fields newer LiteLLM adds; always zero here, so the parser is exercised on unknown fields.
EXTRA_METRICS = {"flat_cost": 0.0, "ptu_hours": 0.0, "compression_saved_tokens": 0}

# public name -> (underlying model, provider, $ per 1M input, $ per 1M output, latency ms, failure rate, mode)
MODELS = {
    "gpt-4o": ("openai/gpt-4o", "openai", 2.5, 10.0, 1400, 0.02, "chat"),
    "gpt-4o-mini": ("openai/gpt-4o-mini", "openai", 0.15, 0.6, 650, 0.01, "chat"),
    "fast-chat": ("openai/gpt-4o-mini", "openai", 0.15, 0.6, 600, 0.01, "chat"),  # alias group
    "claude-3-5-sonnet": ("anthropic/claude-3-5-sonnet-20241022", "anthropic", 3.0, 15.0, 2100, 0.03, "chat"),
    "claude-3-5-haiku": ("anthropic/claude-3-5-haiku-20241022", "anthropic", 0.8, 4.0, 900, 0.02, "chat"),
    "gemini-1.5-pro": ("vertex_ai/gemini-1.5-pro", "vertex_ai", 1.25, 5.0, 1800, 0.05, "chat"),
    "mistral-large": ("mistral/mistral-large-latest", "mistral", 2.0, 6.0, 1600, 0.04, "chat"),
    "llama3-local": ("ollama/llama3", "ollama", 0.0, 0.0, 3200, 0.08, "chat"),
    "text-embedding-3-small": ("openai/text-embedding-3-small", "openai", 0.02, 0.0, 300, 0.005, "embedding"),
}
FIRST = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yasmin",
    "zoe",
    "liam",
    "mia",
    "noah",
]
LAST = ["martin", "nguyen", "smith", "garcia", "kowalski", "okafor", "tanaka", "larsen", "rossi", "dubois"]
TEAMS = ["team-search", "team-support", "team-data", "team-platform", "team-research", "team-marketing"]
KEY_NAMES = ["laptop", "ci-pipeline", "notebook", "prod-service", "staging", "batch-jobs"]
OUTAGE_MODEL, OUTAGE_DAYS_AGO = "gemini-1.5-pro", 17
# What a real proxy also records: calls made with the master key (LiteLLM stores them under this key name with
# user "default_user_id", no alias, no team, and `key_exists: false`) and keys created with no alias, owner or
# team (LiteLLM lists their owner as the entity "Unassigned").
MASTER_KEY_HASH, MASTER_KEY_USER, UNASSIGNED_ENTITY = "litellm_proxy_master_key", "default_user_id", "Unassigned"
# Providers whose deployments the demo proxy keeps in its database under a credential of this name (made in
# LiteLLM's own UI: the console can adopt them); the other providers' deployments are its config file's.
DB_CREDENTIALS = {"openai": "openai-prod", "anthropic": "anthropic-prod", "mistral": "mistral-eu"}


class DemoLiteLLM:
    def __init__(self, seed: int = 42, today: date | None = None, days: int = DEMO_HISTORY_DAYS):
        self.seed = seed
        self.today = today or utcnow().date()
        self.days = days
        rng = random.Random(seed)
        self.users, self.keys = self._people(rng)
        self.rows = self._generate(rng)
        self._add_unlabelled_traffic(random.Random(seed * 7919 + 1))  # own generator: the rows above stay as they were
        self._by_date: dict[str, list[dict]] = defaultdict(list)
        for r in self.rows:
            self._by_date[r["date"]].append(r)
        self.admin = DemoAdmin()  # credentials and database deployments, changed through the admin API
        self.health = DemoHealth(seed, self.model_info(), {group: m[4] for group, m in MODELS.items()})
        self.key_api = DemoKeys(self)  # /key/*: these keys' settings, stateful
        self.owners = DemoOwners(self)  # /user/*, /team/*: these users' and teams' own budgets, stateful
        elapsed = _fraction_of_day_elapsed() if self.today == utcnow().date() else 0.55  # as _generate's today
        self.spend_logs = DemoSpendLogs(self, MODELS, elapsed)  # request logs of these rows (lib/litellm/demo_logs.py)
        self._seed_admin()

    # -- generation -------------------------------------------------------------------------------
    def _people(self, rng: random.Random):
        users, keys, seen = [], [], set()
        while len(users) < 40:
            uid = f"{rng.choice(FIRST)}.{rng.choice(LAST)}"
            if uid in seen:
                continue
            seen.add(uid)
            # a few heavy users, many light ones (Pareto-like activity)
            users.append(
                {
                    "user_id": uid,
                    "user_email": f"{uid}@example.com",
                    "weight": rng.paretovariate(1.6),
                    "team": rng.choice(TEAMS + [None]),
                }
            )
        users[0]["user_id"], users[0]["user_email"] = "alice.martin", "alice.martin@example.com"
        for u in users:
            for name in rng.sample(KEY_NAMES, rng.randint(1, 3)):
                plaintext = f"sk-demo-{self.seed}-{u['user_id']}-{name}"
                keys.append(
                    {
                        "hash": hashlib.sha256(plaintext.encode()).hexdigest(),
                        "alias": f"{u['user_id'].split('.')[0]}-{name}",
                        "user_id": u["user_id"],
                        "user_email": u["user_email"],
                        "team_id": u["team"] if rng.random() < 0.85 else None,
                        "models": rng.sample(list(MODELS), rng.randint(2, 5)),
                        "weight": rng.random() + 0.2,
                    }
                )
        return users, keys

    def _generate(self, rng: random.Random) -> list[dict]:
        rows = []
        weights = {u["user_id"]: u["weight"] for u in self.users}
        elapsed = _fraction_of_day_elapsed() if self.today == utcnow().date() else 0.55
        for offset in range(self.days - 1, -1, -1):
            day = self.today - timedelta(days=offset)
            weekend = day.weekday() >= 5
            scale = (0.3 if weekend else 1.0) * (1 + 0.6 * (self.days - offset) / self.days)
            if offset == 0:
                scale *= elapsed
            for key in self.keys:
                activity = weights[key["user_id"]] * key["weight"] * scale
                for group in key["models"]:
                    if rng.random() > min(0.9, 0.35 * activity):
                        continue
                    requests = max(1, int(rng.expovariate(1 / (12 * activity))))
                    rows.append(self._row(rng, day, key, group, requests, offset))
        return rows

    def _add_unlabelled_traffic(self, rng: random.Random) -> None:
        unlabelled = [
            {
                "hash": MASTER_KEY_HASH,
                "alias": None,
                "user_id": MASTER_KEY_USER,
                "user_email": None,
                "team_id": None,
                "models": ["gpt-4o", "gpt-4o-mini", "claude-3-5-haiku"],
                "exists": False,
            }
        ]
        for i in range(2):
            plaintext = f"sk-demo-{self.seed}-unowned-{i}"
            unlabelled.append(
                {
                    "hash": hashlib.sha256(plaintext.encode()).hexdigest(),
                    "alias": None,
                    "user_id": None,
                    "user_email": None,
                    "team_id": None,
                    "models": ["gpt-4o-mini", "llama3-local"],
                }
            )
        self.keys += unlabelled
        for offset in range(self.days - 1, -1, -1):
            day = self.today - timedelta(days=offset)
            for key in unlabelled:
                for group in key["models"]:
                    if rng.random() < 0.5:
                        self.rows.append(self._row(rng, day, key, group, rng.randint(1, 25), offset))

    def _row(self, rng: random.Random, day: date, key: dict, group: str, requests: int, offset: int) -> dict:
        model, provider, pin, pout, latency, fail_rate, mode = MODELS[group]
        if group == OUTAGE_MODEL and offset == OUTAGE_DAYS_AGO:
            fail_rate = 0.6
        failed = (
            sum(1 for _ in range(requests) if rng.random() < fail_rate)
            if requests < 50
            else int(requests * fail_rate * rng.uniform(0.5, 1.5))
        )
        failed = min(failed, requests)
        ok = requests - failed
        prompt = sum(rng.randint(80, 2400) for _ in range(min(ok, 30))) * max(1, ok // 30) if ok else 0
        completion = 0 if mode == "embedding" else (int(prompt * rng.uniform(0.1, 0.5)) if ok else 0)
        cache_read = int(prompt * rng.uniform(0.05, 0.4)) if provider in ("anthropic", "openai") and ok else 0
        cache_create = int(prompt * rng.uniform(0.0, 0.08)) if provider == "anthropic" and ok else 0
        spend = round((prompt * pin + completion * pout) / 1e6, 10)
        return {
            "date": day.isoformat(),
            "user_id": key["user_id"],
            "api_key": key["hash"],
            "model": model,
            "model_group": group,
            "custom_llm_provider": provider,
            "endpoint": "/embeddings" if mode == "embedding" else "/chat/completions",
            "spend": spend,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_create,
            "api_requests": requests,
            "successful_requests": ok,
            "failed_requests": failed,
            "total_response_time_ms": float(round(ok * latency * rng.uniform(0.75, 1.3))),
            "timed_requests": ok,
        }

    # -- serving ----------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if not request.headers.get("authorization", "").removeprefix("Bearer ").strip():
            return _json(401, {"error": {"message": "Authentication Error, No api key passed in.", "code": "401"}})
        path = request.url.path.rstrip("/")
        if path.startswith("/health"):
            return self.health.handle(request)
        if path == "/user/daily/activity":
            return self._activity(request, paged=True)
        if path == "/user/daily/activity/aggregated":
            return self._activity(request, paged=False)
        if path == SPEND_LOGS_PATH or path.startswith("/spend/logs/ui/"):
            return self.spend_logs.handle(request)
        if path == "/model/info":
            return _json(200, {"data": self.model_info() + [self.priced(d) for d in self.admin.deployments()]})
        answer = self.admin.handle(request, path)
        if answer is not None:
            return answer
        if path in ("/models", "/v1/models"):
            return _json(
                200,
                {
                    "object": "list",
                    "data": [{"id": g, "object": "model", "created": 0, "owned_by": MODELS[g][1]} for g in MODELS],
                },
            )
        if path.startswith("/key/"):
            return self.key_api.handle(request)
        answer = self.owners.handle(request, path)
        if answer is not None:
            return answer
        return _json(404, {"detail": "Not Found"})

    def _activity(self, request: httpx.Request, paged: bool) -> httpx.Response:
        q = request.url.params
        try:
            start, end = date.fromisoformat(q["start_date"]), date.fromisoformat(q["end_date"])
            page, page_size = int(q.get("page", 1)), int(q.get("page_size", 50))
        except (KeyError, ValueError) as exc:
            return _json(422, {"detail": f"invalid query: {exc}"})
        if paged and not (1 <= page_size <= 1000 and page >= 1):
            return _json(422, {"detail": "page_size must be between 1 and 1000, page >= 1"})
        rows = [r for d in _days(start, end) for r in self._by_date.get(d.isoformat(), [])]
        total_pages = 1
        if paged:
            total_pages = max(1, math.ceil(len(rows) / page_size))
            rows = rows[(page - 1) * page_size : page * page_size]
        else:
            page = 1
        body = aggregate(rows, {k["hash"]: k for k in self.keys})
        body["metadata"].update({"page": page, "total_pages": total_pages, "has_more": page < total_pages})
        return _json(200, body)

    def model_info(self) -> list[dict]:
        """The deployments of the demo proxy's config file (the others are in its database: `self.admin`)."""
        return [d for d in self._deployments() if "litellm_credential_name" not in d["litellm_params"]]

    def _deployments(self) -> list[dict]:
        out = []
        for group, (model, provider, pin, pout, _lat, _f, mode) in MODELS.items():
            if group == "fast-chat":  # aliases come from router settings, not deployments
                continue
            params = {"model": model} | ({"api_base": "http://ollama.internal:11434"} if provider == "ollama" else {})
            if provider in DB_CREDENTIALS:
                params["litellm_credential_name"] = DB_CREDENTIALS[provider]
            out.append(
                {
                    "model_name": group,
                    "litellm_params": params,
                    "model_info": {
                        "id": hashlib.sha256(group.encode()).hexdigest()[:32],
                        "mode": mode,
                        "litellm_provider": provider,
                        "input_cost_per_token": pin / 1e6,
                        "output_cost_per_token": pout / 1e6,
                        "max_input_tokens": 8192 if provider == "ollama" else 128000,
                        "max_output_tokens": 0 if mode == "embedding" else 8192,
                        "supports_vision": provider in ("openai", "anthropic", "vertex_ai") and mode == "chat",
                        "supports_function_calling": mode == "chat" and provider != "ollama",
                        "supports_tool_choice": mode == "chat" and provider != "ollama",
                        "supports_parallel_function_calling": provider == "openai" and mode == "chat",
                        "tpm": 200000,
                        "rpm": 1000,
                    }
                    | ({"db_model": True} if provider in DB_CREDENTIALS else {}),
                }
            )
        return out

    def _seed_admin(self) -> None:
        """The proxy's database as an operator left it in LiteLLM's own UI: a credential per provider in
        DB_CREDENTIALS (demo keys) and its deployments, which the console can adopt."""
        for provider, name in DB_CREDENTIALS.items():
            self.admin.seed_credential(
                name, {"api_key": f"sk-demo-{provider}-0000000000000000"}, {"custom_llm_provider": provider}
            )
        for d in self._deployments():
            if "litellm_credential_name" in d["litellm_params"]:
                self.admin.seed_deployment(d)

    @staticmethod
    def priced(deployment: dict) -> dict:
        """A database deployment as /model/info lists it: LiteLLM adds its model's prices from its cost map."""
        info = deployment["model_info"]
        if "input_cost_per_token" in info:
            return deployment
        name = str(deployment["litellm_params"].get("model", "")).split("/", 1)[-1]
        for model, _provider, pin, pout, *_ in MODELS.values():
            if model.split("/", 1)[-1] == name:
                prices = {"input_cost_per_token": pin / 1e6, "output_cost_per_token": pout / 1e6}
                return {**deployment, "model_info": {**info, **prices}}
        return deployment


# /router/settings of a LiteLLM 1.108 without router_settings in its config (the keys routing reads)
DEMO_ROUTER_DEFAULTS = {
    "routing_strategy": "simple-shuffle",
    "routing_strategy_args": {},
    "num_retries": 2,
    "timeout": 6000.0,
    "allowed_fails": 3,
    "cooldown_time": 5,
    "fallbacks": None,
    "context_window_fallbacks": None,
    "content_policy_fallbacks": None,
    "model_group_alias": {},
}


class DemoAdmin:
    """LiteLLM's admin API for providers and routing, in memory (router settings: GET /router/settings and
    POST /config/update merging), answering as LiteLLM 1.108 does: credentials (GET masks the
    key), database deployments (`/model/new`, `PATCH /model/{id}/update` merging, `/model/delete`) listed by
    /model/info after the generated ones (which, like config-file models, cannot be changed). Keys sent here are
    demo data, kept only in this process's memory."""

    def __init__(self):
        self._lock = threading.Lock()
        self._credentials: dict[str, dict] = {}
        self._deployments: dict[str, dict] = {}
        self._router = dict(DEMO_ROUTER_DEFAULTS)
        self._router_sources = {k: "default" for k in DEMO_ROUTER_DEFAULTS}

    def seed_credential(self, name: str, values: dict, info: dict) -> None:
        with self._lock:
            self._credentials[name] = {"credential_name": name, "credential_values": values, "credential_info": info}

    def seed_deployment(self, deployment: dict) -> None:
        with self._lock:
            self._deployments[deployment["model_info"]["id"]] = copy.deepcopy(deployment)

    def deployments(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(d) for d in self._deployments.values()]

    def handle(self, request: httpx.Request, path: str) -> httpx.Response | None:
        method = request.method
        body = json.loads(request.content or b"{}") if method in ("POST", "PATCH") else {}
        with self._lock:
            if path == "/router/settings" and method == "GET":
                body = {"current_values": copy.deepcopy(self._router), "source": dict(self._router_sources)}
                return _json(200, body | {"fields": []})
            if path == "/config/update" and method == "POST":
                changes = body.get("router_settings") or {}
                self._router.update(copy.deepcopy(changes))
                self._router_sources.update({k: "db" for k in changes})
                return _json(200, {"message": "Config updated successfully"})
            if path == "/credentials" and method == "GET":
                return _json(200, {"success": True, "credentials": [_masked(c) for c in self._credentials.values()]})
            if path == "/credentials" and method == "POST":
                name = body.get("credential_name")
                if not name or body.get("credential_info") is None:
                    return _error(422, "credential_name and credential_info are required")
                if name in self._credentials:
                    return _error(409, f"Credential '{name}' already exists. Update it with PATCH /credentials/{name}")
                self._credentials[name] = {
                    "credential_name": name,
                    "credential_values": dict(body.get("credential_values") or {}),
                    "credential_info": dict(body["credential_info"]),
                }
                return _json(200, {"success": True, "message": "Credential created successfully"})
            if path.startswith("/credentials/") and method in ("PATCH", "DELETE"):
                name = unquote(path.removeprefix("/credentials/"))
                if name not in self._credentials:
                    return _error(404, f"Credential not found. Got credential name: {name}")
                if method == "DELETE":
                    del self._credentials[name]
                    return _json(200, {"success": True, "message": "Credential deleted successfully"})
                stored = self._credentials[name]
                stored["credential_values"].update(body.get("credential_values") or {})
                stored["credential_info"].update(body.get("credential_info") or {})
                return _json(200, {"success": True, "message": "Credential updated successfully"})
            if path == "/model/new" and method == "POST":
                info = dict(body.get("model_info") or {})
                model_id = str(info.get("id") or uuid.uuid4())
                if model_id in self._deployments:
                    return _error(
                        500, "{'error': 'Failed to add model to db. Check your server logs for more details.'}"
                    )
                params = {k: v for k, v in (body.get("litellm_params") or {}).items() if k != "api_key"}
                self._deployments[model_id] = {
                    "model_name": body.get("model_name"),
                    "litellm_params": params,
                    "model_info": info | {"id": model_id, "db_model": True},
                }
                return _json(200, {"model_id": model_id, "model_name": body.get("model_name")})
            if path.startswith("/model/") and path.endswith("/update") and method == "PATCH":
                model_id = unquote(path.removeprefix("/model/").removesuffix("/update"))
                stored = self._deployments.get(model_id)
                if stored is None:
                    return _error(400, f"{{'error': 'Model with id={model_id} not found in db'}}")
                if body.get("model_name"):
                    stored["model_name"] = body["model_name"]
                stored["litellm_params"].update(
                    {k: v for k, v in (body.get("litellm_params") or {}).items() if k != "api_key"}
                )
                stored["model_info"].update(body.get("model_info") or {})
                stored["model_info"]["db_model"] = True
                return _json(200, {"model_id": model_id, "model_name": stored["model_name"]})
            if path == "/model/delete" and method == "POST":
                model_id = str(body.get("id"))
                if self._deployments.pop(model_id, None) is None:
                    return _error(400, f"{{'error': 'Model with id={model_id} not found in db'}}")
                return _json(200, {"message": f"Model: {model_id} deleted successfully"})
        return None


def _masked(credential: dict) -> dict:
    values = dict(credential["credential_values"])
    if values.get("api_key"):
        key = str(values["api_key"])
        values["api_key"] = f"{key[:2]}****{key[-2:]}" if len(key) > 8 else "*****"
    return {**copy.deepcopy(credential), "credential_values": values, "source": "db"}


def _error(status: int, message: str) -> httpx.Response:
    return _json(status, {"error": {"message": message, "type": "internal_server_error", "code": str(status)}})


def aggregate(rows: list[dict], keys: dict[str, dict]) -> dict:
    """LiteLLM's aggregation of daily-table rows into the activity response."""
    by_date: dict[str, dict] = {}
    meta_totals = _zero()
    for r in rows:
        day = by_date.setdefault(
            r["date"],
            {
                "date": r["date"],
                "metrics": _zero(),
                "breakdown": {
                    "mcp_servers": {},
                    "models": {},
                    "model_groups": {},
                    "providers": {},
                    "endpoints": {},
                    "api_keys": {},
                    "entities": {},
                },
            },
        )
        _acc(day["metrics"], r)
        _acc(meta_totals, r)
        k = keys.get(r["api_key"], {})
        key_meta = {
            "key_alias": k.get("alias"),
            "team_id": k.get("team_id"),
            "user_id": k.get("user_id"),
            "user_email": k.get("user_email"),
            "key_exists": k.get("exists", True),
        }
        bd = day["breakdown"]
        for name, value, meta in (
            ("models", r["model"], {}),
            ("model_groups", r["model_group"], {}),
            ("providers", r["custom_llm_provider"], {}),
            ("endpoints", r["endpoint"], {}),
            ("entities", r["user_id"] or UNASSIGNED_ENTITY, {"user_email": k.get("user_email"), "user_alias": None}),
        ):
            entry = bd[name].setdefault(value, {"metrics": _zero(), "metadata": meta, "api_key_breakdown": {}})
            _acc(entry["metrics"], r)
            kb = entry["api_key_breakdown"].setdefault(r["api_key"], {"metrics": _zero(), "metadata": key_meta})
            _acc(kb["metrics"], r)
        entry = bd["api_keys"].setdefault(r["api_key"], {"metrics": _zero(), "metadata": key_meta})
        _acc(entry["metrics"], r)
    metadata = {
        "total_spend": meta_totals["spend"],
        "total_prompt_tokens": meta_totals["prompt_tokens"],
        "total_completion_tokens": meta_totals["completion_tokens"],
        "total_tokens": meta_totals["total_tokens"],
        "total_api_requests": meta_totals["api_requests"],
        "total_successful_requests": meta_totals["successful_requests"],
        "total_failed_requests": meta_totals["failed_requests"],
        "total_cache_read_input_tokens": meta_totals["cache_read_input_tokens"],
        "total_cache_creation_input_tokens": meta_totals["cache_creation_input_tokens"],
        "total_response_time_ms": meta_totals["total_response_time_ms"],
        "total_timed_requests": meta_totals["timed_requests"],
        "page": 1,
        "total_pages": 1,
        "has_more": False,
        "api_key_limit": None,
        "total_api_keys": None,
        "entity_total_api_keys": None,
    }
    return {"results": [by_date[d] for d in sorted(by_date)], "metadata": metadata}


def _zero() -> dict:
    return {m: (0.0 if m in ("spend", "total_response_time_ms") else 0) for m in METRIC_NAMES} | dict(EXTRA_METRICS)


def _acc(target: dict, row: dict) -> None:
    for m in METRIC_NAMES:
        target[m] += row[m]


def _days(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def _json(status: int, body) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def _fraction_of_day_elapsed() -> float:
    now = utcnow()
    return max(0.05, (now.hour * 3600 + now.minute * 60) / 86400)


def demo_transport(seed: int = 42, today: date | None = None, days: int = DEMO_HISTORY_DAYS) -> httpx.MockTransport:
    return httpx.MockTransport(DemoLiteLLM(seed=seed, today=today, days=days).handle)
