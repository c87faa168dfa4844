"""Demo mode's virtual keys: LiteLLM 1.108's `/key/*` endpoints over the demo's own keys, stateful.

The keys are demo.py's (the same hashes, aliases, owners, teams and models the generated usage was made with),
each given settings LiteLLM would hold (budgets, limits, expiry, a few blocked), deterministic from the demo
seed; a few deleted keys sit in the archive. Changes (generate, update, block, unblock, delete) are kept for
the life of the fake, and answered with LiteLLM's shapes and errors (checked against the harness's proxy).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
import re
import secrets
import threading
from datetime import date, datetime, time, timedelta, timezone

import httpx

from lib.core.clock import utcnow

STATUSES = ("active", "expired", "revoked", "deleted")
_DURATION = re.compile(r"^(\d+)(s|m|h|d|w|mo)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}
_SETTINGS = (
    "key_alias",
    "user_id",
    "team_id",
    "models",
    "max_budget",
    "soft_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "metadata",
)


class DemoKeys:
    """Over `demo`, a lib.litellm.demo.DemoLiteLLM (its seed, day, users, keys and usage rows; not imported here:
    it holds this). `extra_keys`: that many more keys (no usage) for the scale benchmark."""

    def __init__(self, demo, extra_keys: int = 0):
        rng = random.Random(demo.seed * 104729 + 3)  # its own generator: the demo's usage rows stay as they were
        spend: dict[str, float] = {}
        for r in demo.rows:
            spend[r["api_key"]] = spend.get(r["api_key"], 0.0) + r["spend"]
        emails = {u["user_id"]: u["user_email"] for u in demo.users}
        start = datetime.combine(demo.today, time(), timezone.utc)
        self._lock = threading.Lock()
        self._live: dict[str, dict] = {}
        self._deleted: dict[str, dict] = {}
        owned = [k for k in demo.keys if k.get("exists", True)]  # not the master key (it is no virtual key)
        for k in owned:
            self._add(self._settled(rng, k, spend.get(k["hash"], 0.0), start, emails))
        for i in range(6 + extra_keys):
            u = rng.choice(demo.users)
            token = hashlib.sha256(f"sk-demo-{demo.seed}-extra-{i}".encode()).hexdigest()
            k = {
                "hash": token,
                "alias": f"{u['user_id'].split('.')[0]}-{'old' if i < 6 else 'svc'}-{i}",
                "user_id": u["user_id"],
                "team_id": u["team"],
                "models": rng.sample(sorted({m for k in owned for m in k["models"]}), 2),
            }
            record = self._settled(rng, k, 0.0, start, emails)
            if i < 6:  # the archive: deleted keys (LiteLLM keeps them with when and by whom)
                record["deleted_at"] = _iso(start - timedelta(days=rng.randint(1, 60)))
                record["deleted_by"] = "default_user_id"
                self._deleted[token] = record
            else:
                self._add(record)

    def _settled(self, rng: random.Random, k: dict, spent: float, start: datetime, emails: dict) -> dict:
        budget = None
        if rng.random() < 0.6:
            budget = rng.choice([10.0, 25.0, 50.0, 100.0, 250.0, 500.0])
            if spent > 0 and rng.random() < 0.25:  # some keys near or over their budget
                budget = round(spent / rng.uniform(0.82, 1.05), 2) or budget
        period = rng.choice([None, "1d", "7d", "30d"]) if budget else None
        expires = None
        if rng.random() < 0.3:
            expires = start + timedelta(days=rng.randint(-20, 180), hours=rng.randint(0, 23))
        created = start - timedelta(days=120 + rng.randint(0, 300), seconds=rng.randint(0, 86399))
        limited = rng.random() < 0.5
        return _record(
            token=k["hash"],
            key_alias=k["alias"],
            user_id=k["user_id"],
            user_email=emails.get(k["user_id"]),
            team_id=k["team_id"],
            models=list(k["models"]),
            spend=round(spent, 10),
            max_budget=budget,
            soft_budget=round(budget * 0.8, 2) if budget and rng.random() < 0.5 else None,
            budget_duration=period,
            rpm_limit=rng.choice([60, 100, 500, 1000]) if limited else None,
            tpm_limit=rng.choice([100_000, 500_000, 1_000_000]) if limited else None,
            expires=expires,
            blocked=rng.random() < 0.05,
            created_at=created,
        )

    def _add(self, record: dict) -> None:
        self._live[record["token"]] = record

    # -- serving ----------------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        with self._lock:
            if request.method == "GET" and path == "/key/list":
                return self._list(request.url.params)
            if request.method == "GET" and path == "/key/info":
                return self._info(request.url.params.get("key", ""))
            if request.method == "POST":
                try:
                    body = json.loads(request.content or b"{}")
                except ValueError:
                    return _error(400, "Invalid JSON body", "bad_request_error")
                if not isinstance(body, dict):
                    return _error(400, "Invalid JSON body", "bad_request_error")
                handler = {
                    "/key/generate": self._generate,
                    "/key/update": self._update,
                    "/key/block": self._block,
                    "/key/unblock": self._unblock,
                    "/key/delete": self._delete,
                }.get(path)
                if handler is not None:
                    return handler(body)
        return _json(404, {"detail": "Not Found"})

    def _list(self, q) -> httpx.Response:
        try:
            page, size = int(q.get("page", 1)), int(q.get("size", 10))
        except ValueError:
            return _json(422, {"detail": [{"type": "int_parsing", "loc": ["query", "page"], "msg": "not a number"}]})
        if not 1 <= size <= 100 or page < 1:
            msg = "Input should be less than or equal to 100" if size > 100 else "Input should be greater than 0"
            return _json(422, {"detail": [{"type": "less_than_equal", "loc": ["query", "size"], "msg": msg}]})
        status = q.get("status")
        if status is not None and status not in STATUSES:
            return _error(
                400,
                "{'error': \"Invalid status value. Supported: 'active', 'expired', 'revoked', 'deleted'.\"}",
                "internal_server_error",
            )
        now = utcnow()
        if status == "deleted":
            rows = list(self._deleted.values())
        else:
            rows = [r for r in self._live.values() if status is None or _status(r, now) == status]
        for name in ("user_id", "team_id", "key_alias"):
            if q.get(name) is not None:
                rows = [r for r in rows if r[name] == q[name]]
        if q.get("key_hash") is not None:
            rows = [r for r in rows if r["token"] == q["key_hash"]]
        descending = q.get("sort_order", "desc") != "asc"
        sort_by = q.get("sort_by") or "created_at"
        rows.sort(key=lambda r: (r.get(sort_by) is None, r.get(sort_by) or 0, r["token"]), reverse=descending)
        total_pages = -(-len(rows) // size)
        chunk = rows[(page - 1) * size : page * size]
        full = q.get("return_full_object") == "true" or "user" in q.get_list("expand")
        return _json(
            200,
            {
                "keys": [_shown(r, "user" in q.get_list("expand")) if full else r["token"] for r in chunk],
                "total_count": len(rows),
                "current_page": page,
                "total_pages": total_pages,
            },
        )

    def _find(self, key: str) -> dict | None:
        token = _token(key)
        return self._live.get(token) or self._deleted.get(token)  # LiteLLM 1.108 still shows a deleted key's info

    def _info(self, key: str) -> httpx.Response:
        record = self._find(key)
        if record is None:
            return _error(404, "Key not found in database", "not_found_error", param="key")
        info = {k: v for k, v in _shown(record, False).items() if k != "token"}
        return _json(200, {"key": record["token"], "info": info})

    def _generate(self, body: dict) -> httpx.Response:
        problem = self._check(body, None)
        if problem:
            return problem
        plaintext = "sk-" + secrets.token_urlsafe(16)
        now = utcnow()
        record = _record(
            token=_token(plaintext),
            created_at=now,
            spend=0.0,
            blocked=None,
            expires=now + timedelta(seconds=_seconds(body["duration"])) if body.get("duration") else None,
            user_email=None,
            **{k: body.get(k) for k in _SETTINGS},
        )
        self._add(record)
        return _json(200, _shown(record, False) | {"key": plaintext, "token_id": record["token"]})

    def _update(self, body: dict) -> httpx.Response:
        record = self._live.get(_token(str(body.get("key", ""))))
        if record is None:
            return _error(404, "Key not found.", "not_found_error", param="key")
        problem = self._check(body, record)
        if problem:
            return problem
        for name in _SETTINGS:
            if name in body:
                record[name] = [] if name == "models" and body[name] is None else body[name]
        if "budget_duration" in body:
            record["budget_reset_at"] = _reset_at(record["budget_duration"], utcnow())
        if "duration" in body:
            record["expires"] = utcnow() + timedelta(seconds=_seconds(body["duration"])) if body["duration"] else None
        if "blocked" in body:
            record["blocked"] = bool(body["blocked"])
        record["updated_at"] = utcnow()
        return _json(200, {"key": record["token"]} | _shown(record, False))

    def _block(self, body: dict, blocked: bool = True) -> httpx.Response:
        key = str(body.get("key", ""))
        if not key:
            return _error(400, "Invalid key format.", "bad_request_error", param="key")
        record = self._live.get(_token(key))
        if record is None:
            return _error(404, "Key not found.", "not_found_error", param="key")
        record["blocked"] = blocked
        return _json(200, _shown(record, False))

    def _unblock(self, body: dict) -> httpx.Response:
        return self._block(body, blocked=False)

    def _delete(self, body: dict) -> httpx.Response:
        wanted = {_token(str(k)) for k in body.get("keys") or []}
        aliases = set(body.get("key_aliases") or [])
        found = [t for t, r in self._live.items() if t in wanted or (r["key_alias"] in aliases and r["key_alias"])]
        if not found:
            return _error(404, "{'error': 'No keys found'}", "internal_server_error")
        now = utcnow()
        for token in found:
            record = self._live.pop(token)
            self._deleted[token] = record | {"deleted_at": _iso(now), "deleted_by": "default_user_id"}
        return _json(200, {"deleted_keys": [k for k in body.get("keys") or body.get("key_aliases") or []]})

    def _check(self, body: dict, current: dict | None) -> httpx.Response | None:
        """LiteLLM's refusals of a new or changed key's settings."""
        alias = body.get("key_alias")
        if alias and any(r["key_alias"] == alias and r is not current for r in self._live.values()):
            return _error(
                400,
                f"Key with alias '{alias}' already exists. Unique key aliases across all keys are required.",
                "bad_request_error",
                param="key_alias",
            )
        for name in ("max_budget", "soft_budget"):
            v = body.get(name)
            if v is not None and (not isinstance(v, (int, float)) or v < 0):
                return _error(
                    400, f"{{'error': '{name} must be a non-negative finite number. Received: {v}'}}", "bad_request"
                )
        duration = body.get("duration")
        if duration is not None and _seconds(duration) is None:
            return _error(400, f"Invalid duration format: {duration}", "bad_request_error")
        return None


def _record(**fields) -> dict:
    now = fields["created_at"]
    fields["budget_reset_at"] = _reset_at(fields.get("budget_duration"), utcnow())
    fields.setdefault("updated_at", now)
    return fields


def _shown(r: dict, with_user: bool) -> dict:
    """A key as LiteLLM 1.108's full object shows it (the fields the console reads, and a few more)."""
    out = {
        "token": r["token"],
        "key_name": f"sk-...{r['token'][-4:]}",
        "key_alias": r["key_alias"],
        "spend": r["spend"],
        "max_budget": r["max_budget"],
        "expires": _iso(r["expires"]),
        "models": r["models"] or [],
        "user_id": r["user_id"],
        "team_id": r["team_id"],
        "metadata": r.get("metadata") or {},
        "tpm_limit": r["tpm_limit"],
        "rpm_limit": r["rpm_limit"],
        "budget_duration": r["budget_duration"],
        "budget_reset_at": _iso(r["budget_reset_at"]),
        "blocked": r["blocked"],
        "soft_budget": None,  # LiteLLM 1.108 keeps it in the budget row
        "litellm_budget_table": {"soft_budget": r["soft_budget"]} if r.get("soft_budget") is not None else None,
        "created_at": _iso(r["created_at"]),
        "updated_at": _iso(r.get("updated_at")),
        "last_active": None,  # LiteLLM 1.108 does not keep it up to date
        "user_email": None,
    }
    if "deleted_at" in r:
        out |= {"deleted_at": r["deleted_at"], "deleted_by": r["deleted_by"]}
    if with_user:
        out["user"] = {"user_id": r["user_id"], "user_email": r["user_email"]} if r["user_id"] else None
    return out


def _status(r: dict, now: datetime) -> str:
    if r["blocked"]:
        return "revoked"
    return "expired" if r["expires"] is not None and r["expires"] < now else "active"


def _token(key: str) -> str:
    """A key given as its plaintext (sk-...) or as its hash."""
    return hashlib.sha256(key.encode()).hexdigest() if key.startswith("sk-") else key


def _seconds(duration) -> int | None:
    m = _DURATION.match(str(duration))
    return int(m[1]) * _UNITS[m[2]] if m else None


def _reset_at(period: str | None, now: datetime) -> datetime | None:
    """When LiteLLM resets a budget of this period: the next day, Monday, or first of the month (UTC)."""
    if not period:
        return None
    day = now.date()
    seconds = _seconds(period) or 0
    if seconds == 86400:
        nxt = day + timedelta(days=1)
    elif seconds == 7 * 86400:
        nxt = day + timedelta(days=7 - day.weekday())
    elif seconds >= 28 * 86400:
        last = calendar.monthrange(day.year, day.month)[1]
        nxt = date(day.year, day.month, last) + timedelta(days=1)
    else:
        return now + timedelta(seconds=seconds)
    return datetime.combine(nxt, time(), timezone.utc)


def _iso(v) -> str | None:
    return v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v


def _error(status: int, message: str, kind: str, param: str | None = None) -> httpx.Response:
    return _json(status, {"error": {"message": message, "type": kind, "param": param, "code": str(status)}})


def _json(status: int, body) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
