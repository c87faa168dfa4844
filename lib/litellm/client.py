"""HTTP client for the LiteLLM proxy's admin API.

One error type per failure kind, each with a message an operator can act on. Timeouts and 5xx are
retried a bounded number of times with exponential backoff; 4xx never are (they will not heal).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from lib.core.errors import ConsoleError
from lib.litellm.logs_api import SPEND_LOGS_PATH, RequestPayload, SpendLogsPage, payload_path
from lib.litellm.schemas import ModelInfoResponse

log = logging.getLogger(__name__)
ACTIVITY_PATH = "/user/daily/activity"


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
    kind = "bad_response"


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
    ):
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
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

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A 2xx response, after bounded retries of timeouts, transport errors and 5xx."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                self.requests_made += 1
                resp = self._http.get(path, params=params)
            except httpx.TimeoutException:
                if last:
                    raise LiteLLMTimeout(
                        f"LiteLLM at {self.base_url} did not answer {path} within {self._http.timeout.read}s "
                        f"({self.retries + 1} tries); check the proxy's load or raise LITELLM_TIMEOUT_S"
                    ) from None
            except httpx.TransportError as exc:
                # Connection refused / DNS: retrying a few times covers a proxy restart.
                if last:
                    raise LiteLLMUnreachable(
                        f"Cannot reach LiteLLM at {self.base_url} ({type(exc).__name__}: {exc}); "
                        "check LITELLM_BASE_URL and that the proxy is running"
                    ) from None
            else:
                if resp.status_code >= 400 and any(answer in resp.text for answer in NO_DATABASE_ANSWERS):
                    raise LiteLLMNoDatabase(
                        f"LiteLLM at {self.base_url} has no database connected, so it cannot answer {path}: it keeps "
                        "no spend logs, keys or activity without one (set DATABASE_URL on the proxy)"
                    )
                if resp.status_code in (401, 403):
                    raise LiteLLMAuthError(
                        f"LiteLLM refused the API key for {path} (HTTP {resp.status_code}); LITELLM_API_KEY must be "
                        "the master key or a proxy_admin_viewer key"
                    )
                if 400 <= resp.status_code < 500:
                    raise LiteLLMBadResponse(
                        f"LiteLLM answered HTTP {resp.status_code} for {path}: {_short(resp.text)}"
                    )
                if resp.status_code >= 500:
                    if last:
                        raise LiteLLMBadResponse(
                            f"LiteLLM failed with HTTP {resp.status_code} for {path} after {self.retries + 1} tries: "
                            f"{_short(resp.text)}"
                        )
                else:
                    return resp
            delay = self.backoff_s * (2**attempt)
            log.warning(
                "LiteLLM %s failed (try %d of %d); retrying in %.1fs", path, attempt + 1, self.retries + 1, delay
            )
            self._sleep(delay)
        raise AssertionError("unreachable")

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

    def health(self) -> dict:
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


def bad_response(where: str, exc: ValidationError, body: bytes) -> LiteLLMBadResponse:
    """A person's message for a response pydantic rejected: not JSON at all, or where its shape is wrong."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return _not_json(where, body)
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        return LiteLLMBadResponse(f"LiteLLM's {where} response has no '{loc}' (a field LiteLLM always sends)")
    return LiteLLMBadResponse(f"LiteLLM's {where} response has an unexpected shape at '{loc}': {first['msg']}")


def _not_json(where: str, body: bytes) -> LiteLLMBadResponse:
    return LiteLLMBadResponse(
        f"LiteLLM answered {where} with something that is not JSON: {_short(body.decode(errors='replace'))}"
    )


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
