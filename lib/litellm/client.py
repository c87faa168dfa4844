"""HTTP client for the LiteLLM proxy's admin API.

One error type per failure kind, each with a message an operator can act on. Timeouts and 5xx are
retried a bounded number of times with exponential backoff; 4xx never are (they will not heal).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from lib.core.errors import ConsoleError
from lib.litellm.health_api import HealthCheck, LatestHealth, Readiness
from lib.litellm.logs_api import SPEND_LOGS_PATH, RequestPayload, SpendLogsPage, payload_path
from lib.litellm.schemas import ModelInfoResponse

log = logging.getLogger(__name__)
ACTIVITY_PATH = "/user/daily/activity"
# Told of every HTTP attempt: (path, seconds, error kind or None). The runtime passes its metrics' (no global).
RequestObserver = Callable[[str, float, str | None], None]


class LiteLLMError(ConsoleError):
    """Base of every client failure; `str()` is safe to show to a person (no secrets)."""

    kind = "error"


class LiteLLMUnreachable(LiteLLMError):
    kind = "unreachable"


class LiteLLMAuthError(LiteLLMError):
    kind = "auth"


class LiteLLMTimeout(LiteLLMError):
    kind = "timeout"


class LiteLLMBadResponse(LiteLLMError):
    """`status`: LiteLLM's HTTP status when it answered with an error; `reason`: its own message then (what it
    says in `error.message` or `detail`), for callers that show why a change was refused."""

    kind = "bad_response"

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class LiteLLMRefused(LiteLLMError):
    """LiteLLM answered a change (POST, PATCH, DELETE) with an error: `status` and LiteLLM's own words, cleaned (no
    secret the request carried, one short line)."""

    kind = "refused"

    def __init__(self, message: str, status: int, detail: str):
        super().__init__(message)
        self.status = status
        self.detail = detail

    @property
    def reason(self) -> str:  # as LiteLLMBadResponse names LiteLLM's words
        return self.detail


class LiteLLMNoDatabase(LiteLLMError):
    """The proxy runs without a database, so it keeps no keys, spend logs or activity to answer with."""

    kind = "no_database"


# How LiteLLM 1.108 says it has no database, depending on the endpoint: /spend/logs/v2 answers 401 "Prisma Client
# is not initialized" (not an authentication problem), /key/list 500 "Database not connected", /user/daily/activity
# 500 "DB not connected".
NO_DATABASE_ANSWERS = ("Prisma Client is not initialized", "Database not connected", "DB not connected")


class LiteLLMClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float = 30.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        observer: RequestObserver | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._observer = observer
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport)
        self.requests_made = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- transport ---------------------------------------------------------------------------
    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        resp = self._get(path, params)
        try:
            return resp.json()
        except ValueError:
            raise _not_json(f"{self.base_url}{path}", resp.content) from None

    def _get(self, path: str, params: dict[str, Any] | None = None, accept: tuple[int, ...] = ()) -> httpx.Response:
        """A 2xx response (or one of the `accept` statuses: an answer, not a failure, for that endpoint), after
        bounded retries of timeouts, transport errors and 5xx."""
        return self._request("GET", path, params=params, accept=accept)

    def _request(
        self, method: str, path: str, params: dict[str, Any] | None = None, accept: tuple[int, ...] = ()
    ) -> httpx.Response:
        """A read (changes go through `_send_change`): timeouts, transport errors and 5xx are retried."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            started = time.perf_counter()
            try:
                self.requests_made += 1
                resp = self._http.request(method, path, params=params)
            except httpx.TimeoutException:
                self._observe(path, started, "timeout")
                if last:
                    raise LiteLLMTimeout(
                        f"LiteLLM at {self.base_url} did not answer {path} within {self._http.timeout.read}s "
                        f"({attempt + 1} tries); check the proxy's load or raise LITELLM_TIMEOUT_S"
                    ) from None
            except httpx.TransportError as exc:
                self._observe(path, started, "unreachable")
                if last:  # connection refused / DNS: retrying a few times covers a proxy restart
                    raise self._unreachable(exc) from None
            else:
                if resp.status_code >= 400 and any(answer in resp.text for answer in NO_DATABASE_ANSWERS):
                    raise LiteLLMNoDatabase(
                        f"LiteLLM at {self.base_url} has no database connected, so it cannot answer {path}: it keeps "
                        "no spend logs, keys or activity without one (set DATABASE_URL on the proxy)"
                    )
                if resp.status_code in accept:
                    self._observe(path, started, None)
                    return resp
                self._observe(path, started, _error_kind(resp.status_code))
                if resp.status_code in (401, 403):
                    raise LiteLLMAuthError(
                        f"LiteLLM refused the API key for {path} (HTTP {resp.status_code}); LITELLM_API_KEY must be "
                        "the master key or a proxy_admin_viewer key"
                    )
                if 400 <= resp.status_code < 500:
                    raise LiteLLMBadResponse(
                        f"LiteLLM answered HTTP {resp.status_code} for {path}: {_short(resp.text)}",
                        status=resp.status_code,
                        reason=refusal_detail(resp),
                    )
                if resp.status_code >= 500:
                    if last:
                        raise LiteLLMBadResponse(
                            f"LiteLLM failed with HTTP {resp.status_code} for {path} after {attempt + 1} tries: "
                            f"{_short(resp.text)}",
                            status=resp.status_code,
                            reason=refusal_detail(resp),
                        )
                else:
                    return resp
            delay = self.backoff_s * (2**attempt)
            log.warning(
                "LiteLLM %s failed (try %d of %d); retrying in %.1fs", path, attempt + 1, self.retries + 1, delay
            )
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _unreachable(self, exc: Exception) -> LiteLLMUnreachable:
        return LiteLLMUnreachable(
            f"Cannot reach LiteLLM at {self.base_url} ({type(exc).__name__}: {exc}); "
            "check LITELLM_BASE_URL and that the proxy is running"
        )

    def _send_change(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """The one write path (POST, PATCH, DELETE): a 2xx answer, or LiteLLMRefused with LiteLLM's own words (any
        secret of `body` removed). Retried only when the request never reached LiteLLM (connection refused): a
        timeout or an error answer may have made the change already, and some (a new key) must not run twice."""
        for attempt in range(self.retries + 1):
            self.requests_made += 1
            started = time.perf_counter()
            try:
                resp = self._http.request(method, path, json=body)
            except httpx.TimeoutException:
                self._observe(path, started, "timeout")
                raise LiteLLMTimeout(
                    f"LiteLLM at {self.base_url} did not answer {method} {path} within {self._http.timeout.read}s; "
                    "the change may or may not have been made (the console reads LiteLLM again to find out)"
                ) from None
            except httpx.ConnectError as exc:
                self._observe(path, started, "unreachable")
                if attempt == self.retries:
                    raise self._unreachable(exc) from None
                self._sleep(self.backoff_s * (2**attempt))
                continue
            except httpx.TransportError as exc:  # it may have arrived: not repeated
                self._observe(path, started, "unreachable")
                raise self._unreachable(exc) from None
            self._observe(path, started, None if resp.status_code < 400 else _error_kind(resp.status_code))
            if resp.status_code in (401, 403):
                raise LiteLLMAuthError(
                    f"LiteLLM refused the API key for {method} {path} (HTTP {resp.status_code}); changing LiteLLM "
                    "needs LITELLM_API_KEY to be the master key (or a proxy_admin key)"
                )
            if resp.status_code >= 400:
                detail = refusal_detail(resp, _secrets_of(body))
                raise LiteLLMRefused(
                    f"LiteLLM refused {method} {path} (HTTP {resp.status_code}): {detail}", resp.status_code, detail
                )
            return resp
        raise AssertionError("unreachable")

    def _change(self, method: str, path: str, body: dict | None = None) -> Any:
        """`_send_change`'s JSON answer ({} when it sent none)."""
        resp = self._send_change(method, path, body)
        try:
            return resp.json()
        except ValueError:
            return {}

    def _observe(self, path: str, started: float, error: str | None) -> None:
        if self._observer is None:
            return
        try:
            self._observer(path, time.perf_counter() - started, error)
        except Exception:  # metrics must never break a request
            log.exception("LiteLLM request observer failed")

    def _parse_response(self, model: type[BaseModel], resp: httpx.Response, path: str):
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise bad_response(f"{self.base_url}{path}", exc, resp.content) from None

    # -- endpoints ---------------------------------------------------------------------------
    def daily_activity_body(self, start: date, end: date, page: int = 1, page_size: int = 1000) -> bytes:
        """One page of daily activity, unparsed: ingest reads the pages of a range together
        (lib/usage/activity_sql.py)."""
        return self._get(
            ACTIVITY_PATH,
            {"start_date": start.isoformat(), "end_date": end.isoformat(), "page": page, "page_size": page_size},
        ).content

    def model_info(self) -> ModelInfoResponse:
        path = "/model/info"
        return self._parse_response(ModelInfoResponse, self._get(path), path)

    # -- health (lib/litellm/health_api.py: the answers' shapes) ------------------------------
    def liveliness(self) -> Any:
        return self._get_json("/health/liveliness")

    # -- request logs (issue 13 part 2; shapes in lib/litellm/logs_api.py, the rest in lib/logs) ---------------
    def spend_logs(self, params: dict[str, Any]) -> SpendLogsPage:
        """One page of `/spend/logs/v2` for query parameters built by lib.logs.query."""
        return self._parse_response(SpendLogsPage, self._get(SPEND_LOGS_PATH, params), SPEND_LOGS_PATH)

    def request_payload(self, request_id: str) -> RequestPayload | None:
        """The prompt and response LiteLLM stored for a request (None: no such request)."""
        path = payload_path(request_id)
        resp = self._get(path)
        if resp.content.strip() == b"null":
            return None
        return self._parse_response(RequestPayload, resp, path)

    # -- admin: credentials and deployments (lib.providers) ------------------------------------------
    def credentials(self) -> list[dict]:
        """GET /credentials: each credential's name, values (api_key masked by LiteLLM) and info."""
        body = self._get_json("/credentials")
        if not isinstance(body, dict) or not isinstance(body.get("credentials"), list):
            raise LiteLLMBadResponse(f"LiteLLM's {self.base_url}/credentials response has no 'credentials' list")
        return body["credentials"]

    def create_credential(self, body: dict) -> Any:
        return self._change("POST", "/credentials", body)

    def patch_credential(self, name: str, body: dict) -> Any:
        return self._change("PATCH", f"/credentials/{quote(name, safe='')}", body)

    def delete_credential(self, name: str) -> Any:
        return self._change("DELETE", f"/credentials/{quote(name, safe='')}")

    def create_deployment(self, body: dict) -> Any:
        return self._change("POST", "/model/new", body)

    def update_deployment(self, deployment_id: str, body: dict) -> Any:
        """PATCH /model/{id}/update, merging `body`; model_info.id always sent (else LiteLLM replaces the id)."""
        body = {**body, "model_info": {**(body.get("model_info") or {}), "id": deployment_id}}
        return self._change("PATCH", f"/model/{quote(deployment_id, safe='')}/update", body)

    def delete_deployment(self, deployment_id: str) -> Any:
        return self._change("POST", "/model/delete", {"id": deployment_id})

    # -- admin: router settings (lib.routing) ----------------------------------------------------------
    def router_settings(self) -> dict:
        """GET /router/settings: `current_values` and each key's `source` (config / db / default)."""
        body = self._get_json("/router/settings")
        if not isinstance(body, dict) or not isinstance(body.get("current_values"), dict):
            raise LiteLLMBadResponse(f"LiteLLM's {self.base_url}/router/settings response has no 'current_values'")
        return body

    def update_router_settings(self, settings: dict) -> Any:
        """POST /config/update {"router_settings": …}: merged and applied live (config-file keys: refused)."""
        return self._change("POST", "/config/update", {"router_settings": settings})

    def readiness(self, details: bool = False) -> Readiness:
        """LiteLLM's readiness; `details` adds its version and cache (needs the key). A 503 is an answer here:
        LiteLLM sends it, with the same body, when its database is unreachable."""
        path = "/health/readiness/details" if details else "/health/readiness"
        return self._parse_response(Readiness, self._get(path, accept=(503,)), path)

    def latest_health(self) -> LatestHealth:
        path = "/health/latest"
        return self._parse_response(LatestHealth, self._get(path), path)

    def health_check(self, model: str | None = None) -> HealthCheck:
        """Check deployments now (one model group, or all): real calls to the providers. A 503 is an answer:
        some deployment is unhealthy (or no deployment has that name)."""
        path = "/health"
        resp = self._get(path, {"model": model} if model else None, accept=(503,))
        return self._parse_response(HealthCheck, resp, path)


def bad_response(where: str, exc: ValidationError, body: bytes) -> LiteLLMBadResponse:
    """A person's message for a response pydantic rejected: not JSON at all, or where its shape is wrong."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return _not_json(where, body)
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        return LiteLLMBadResponse(f"LiteLLM's {where} response has no '{loc}' (a field LiteLLM always sends)")
    return LiteLLMBadResponse(f"LiteLLM's {where} response has an unexpected shape at '{loc}': {first['msg']}")


def _error_kind(status: int) -> str | None:
    """A response's failure kind for the request observer (None: it succeeded)."""
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "http_5xx"
    return "http_4xx" if status >= 400 else None


def _not_json(where: str, body: bytes) -> LiteLLMBadResponse:
    return LiteLLMBadResponse(
        f"LiteLLM answered {where} with something that is not JSON: {_short(body.decode(errors='replace'))}"
    )


def _secrets_of(body: Any) -> list[str]:
    """Values of secret-looking fields anywhere in a request body (an api_key in credential_values)."""
    if isinstance(body, dict):
        found = []
        for k, v in body.items():
            if isinstance(v, str) and "key" in k.lower() and len(v) >= 4:
                found.append(v)
            else:
                found += _secrets_of(v)
        return found
    if isinstance(body, list):
        return [s for v in body for s in _secrets_of(v)]
    return []


def refusal_detail(resp: httpx.Response, secrets: list[str] = ()) -> str:
    """LiteLLM's own words in an error answer, one short line: `{"error": {"message": "{'error': '...'}"}}`,
    `{"detail": ...}` and FastAPI's validation list unwrapped, else the text; any of `secrets` replaced by ***."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    text = resp.text
    if isinstance(body, dict):
        err = body.get("error", body.get("detail"))
        if isinstance(err, dict):
            err = err.get("message", err.get("error", err))
        if isinstance(err, list):  # FastAPI's validation errors
            err = "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in err)
        text = str(err) if err is not None else text
        inner = re.fullmatch(r"\{'error': ['\"](.*)['\"]\}", text.strip(), flags=re.S)
        if inner:
            text = inner.group(1)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _short(text) or f"HTTP {resp.status_code}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
