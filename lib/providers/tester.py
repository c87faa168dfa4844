"""Test connection: ask the provider itself for its model list, with that type's auth, and say what happened.

One request to the type's list endpoint (lib.providers.types: OpenAI and compatible `GET {base}/models` with a
bearer token, Anthropic `GET {base}/v1/models` with x-api-key and anthropic-version, Ollama `GET {base}/api/tags`
without auth, Gemini `?key=`, Azure an api-key header and api-version, …) answers exactly one of: ok (with the
models available), auth_failed, unreachable (with the reason), timeout, unexpected (an answer that is not a model
list), invalid_input. The key is never in a message: URLs are shown without query string (lib.core.urls) and an
endpoint that echoes the key gets it masked (lib.core.endpoint_errors).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import asdict, dataclass, field

import httpx

from lib.core.endpoint_errors import provider_error, scrub, transport_reason
from lib.core.urls import without_credentials
from lib.providers.records import (
    ProviderInputError,
    validate_api_base,
    validate_extra,
    validate_key,
    validate_type,
)

DEFAULT_TIMEOUT_S = 10.0
RESULTS = ("ok", "auth_failed", "unreachable", "timeout", "unexpected", "invalid_input")
RESULT_LABELS = {
    "ok": "Connected",
    "auth_failed": "Authentication failed",
    "unreachable": "Cannot contact the provider",
    "timeout": "Timeout",
    "unexpected": "Unexpected answer",
    "invalid_input": "Invalid settings",
}


@dataclass
class ConnectionTest:
    success: bool
    result: str  # one of RESULTS
    message: str
    latency_ms: float | None = None
    models_available: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The CLI's JSON: success, result, message, latency_ms, models_available."""
        return asdict(self)


def request_for(type_id: str, api_base: str | None, api_key: str | None, extra: dict | None) -> httpx.Request:
    """The model-list request of that type (ProviderInputError for settings that cannot make one)."""
    ptype = validate_type(type_id)
    base = validate_api_base(api_base, ptype)
    extra = validate_extra(extra, ptype)
    spec = ptype.test
    headers = {"Accept": "application/json", **dict(spec.headers)}
    params = {k: v.format(**extra) for k, v in spec.params}
    key = validate_key(api_key, ptype, have_stored=True) or ""
    if key and spec.auth == "bearer":
        headers["Authorization"] = f"Bearer {key}"
    elif key and spec.auth == "x-api-key":
        headers["x-api-key"] = key
    elif key and spec.auth == "api-key-header":
        headers["api-key"] = key
    elif key and spec.auth == "query-key":
        params["key"] = key
    return httpx.Request("GET", base.rstrip("/") + spec.path, headers=headers, params=params)


def model_names(body) -> list[str] | None:
    """The model names of a list answer: `{"data": [{"id"}]}` (OpenAI and most), a bare list (Together AI),
    `{"models": [{"name"}]}` (Ollama, Cohere, Gemini's "models/…"); None when it is no model list."""
    items = body if isinstance(body, list) else None
    if isinstance(body, dict):
        items = body.get("data") if isinstance(body.get("data"), list) else body.get("models")
    if not isinstance(items, list):
        return None
    names = []
    for item in items:
        if isinstance(item, dict):
            name = item.get("id") or item.get("name") or item.get("model")
            if name:
                names.append(str(name).removeprefix("models/"))
    return sorted(set(names))


def test_connection(
    type_id: str,
    api_base: str | None,
    api_key: str | None,
    extra: dict | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> ConnectionTest:
    """Never raises for network or endpoint problems: every outcome is a ConnectionTest."""
    key = (api_key or "").strip()
    try:
        request = request_for(type_id, api_base, key, extra)
    except ProviderInputError as exc:
        return ConnectionTest(False, "invalid_input", str(exc))
    shown = without_credentials(str(request.url))
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=True) as http:
            resp = http.send(request)
    except httpx.TimeoutException:
        return ConnectionTest(
            False, "timeout", f"Timeout: {shown} did not answer within {timeout:g} s (check the URL and the network)."
        )
    except (httpx.TransportError, httpx.InvalidURL, ssl.SSLError, OSError) as exc:
        return ConnectionTest(False, "unreachable", f"Cannot contact {shown}: {scrub(transport_reason(exc), key)}")
    latency = round((time.perf_counter() - started) * 1000, 1)
    said = provider_error(resp, key)
    if resp.status_code in (401, 403) or (resp.status_code == 400 and "api key" in said.lower()):
        return ConnectionTest(
            False,
            "auth_failed",
            f"Authentication failed (HTTP {resp.status_code}): the provider refused the API key. {said}".strip(),
            latency,
        )
    if not 200 <= resp.status_code < 300:
        return ConnectionTest(
            False, "unexpected", f"{shown} answered HTTP {resp.status_code}: {said} — is the API base right?", latency
        )
    try:
        names = model_names(resp.json())
    except ValueError:
        names = None
    if names is None:
        return ConnectionTest(
            False, "unexpected", f"{shown} did not answer with a model list — is the API base right?", latency
        )
    return ConnectionTest(True, "ok", f"Connected in {latency:g} ms: {len(names)} model(s) available.", latency, names)


test_connection.__test__ = False  # not a pytest test, despite the name
