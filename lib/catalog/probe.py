"""Test Configuration: can LiteLLM reach this OpenAI-compatible endpoint with this key, and does it serve this model?

Input that cannot be tested (no usable URL, no model name, a key that cannot be sent in a header) is refused
before any request: "Invalid input". Otherwise one `GET {base}/models` with a bearer token answers exactly one
of: model found, model not found (with the closest names), authentication failed (401/403), cannot contact the
endpoint (DNS, refused, TLS, a connection closed), endpoint error (it answered, but with another HTTP error or
not with an OpenAI model list), or timeout. Each outcome's message starts with its own label. The API key is
sent and forgotten: it is never stored, logged, audited or repeated in a message (an endpoint that echoes it
gets it masked).
"""

from __future__ import annotations

import difflib
import re
import ssl
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from lib.core.endpoint_errors import provider_error, scrub, transport_reason
from lib.core.errors import ConsoleError
from lib.core.urls import without_credentials

DEFAULT_TIMEOUT_S = 10.0
MAX_SUGGESTIONS = 5
MIN_SIMILARITY = 0.4
RESULTS = (
    "model_found",
    "model_not_found",
    "auth_error",
    "connection_error",
    "endpoint_error",
    "timeout",
    "invalid_input",
)
# What a model found means for LiteLLM, by what its catalogue (as of the last sync) knows: nothing here adds models.
ADD_TO_LITELLM = "add it to LiteLLM (its config file or its admin UI) with this API base, key and model name"
_VERSION_SEGMENT = re.compile(r"^v\d+[a-z0-9]*$", re.IGNORECASE)  # v1, v1beta, v2alpha1
_SEPARATORS = re.compile(r"[\s\-_.:/]+")
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


@dataclass
class ProbeResult:
    success: bool
    result: str  # one of RESULTS
    message: str
    suggestions: list[str] = field(default_factory=list)
    latency_ms: float | None = None
    models_available: int | None = None
    url: str | None = None  # the models URL asked (credentials and query string removed)

    def facts(self) -> list[str]:
        """Latency, model count and URL asked: those the message does not already state (shown under it)."""
        count = f"{self.models_available} model(s)" if self.models_available is not None else None
        return [
            f
            for f, stated in (
                (f"{self.latency_ms:g} ms" if self.latency_ms is not None else None, False),
                (f"{count} listed" if count else None, bool(count) and count in self.message),
                (self.url, bool(self.url) and self.url in self.message),
            )
            if f and not stated
        ]

    def as_dict(self) -> dict:
        """The CLI's JSON: success, result, message, suggestions, latency_ms, models_available."""
        d = asdict(self)
        d.pop("url")
        return d


class InvalidApiBase(ConsoleError, ValueError):
    """The API base typed is not a usable URL; the message says how to write one."""


def _invalid(reason: str) -> ProbeResult:
    """Input refused before any request; `reason` says what to fix."""
    return ProbeResult(False, "invalid_input", f"Invalid input: {reason[:1].lower()}{reason[1:]}.")


def clean_api_base(api_base: str) -> str:
    """The API base as shown and audited (credentials and query removed); the raw text if it is not a URL."""
    try:
        return without_credentials(api_base.strip()) if "://" in (api_base or "") else (api_base or "").strip()
    except ValueError:
        return "(invalid URL)"


def models_urls(api_base: str) -> list[str]:
    """The URLs to ask for the model list, in order (the next one only if the previous answered 404).

    `https://h/v1`, `https://h/v1/`, `https://h/v1/models` -> `https://h/v1/models`;
    `https://h` -> `https://h/v1/models`, then `https://h/models`;
    `https://h/openai` (no version segment) -> `https://h/openai/models`, then `https://h/openai/v1/models`.
    """
    text = (api_base or "").strip()
    if not text:
        raise InvalidApiBase("Enter the API base URL, e.g. https://api.openai.com/v1")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (validates the port)
    except ValueError as exc:
        raise InvalidApiBase(f"The API base URL is not valid ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidApiBase(
            "The API base URL must start with http:// or https:// and name a host, e.g. https://api.openai.com/v1"
        )
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1].lower() == "models":
        segments = segments[:-1]
    # keep the query string (some gateways need ?api-version=); drop user:password@ (the key is the credential)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    build = lambda segs: urlunsplit((parts.scheme, netloc, "/" + "/".join(segs), parts.query, ""))  # noqa: E731
    if segments and _VERSION_SEGMENT.match(segments[-1]):
        return [build(segments + ["models"])]
    if not segments:
        return [build(["v1", "models"]), build(["models"])]
    return [build(segments + ["models"]), build(segments + ["v1", "models"])]


# -- closeness ------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    return _SEPARATORS.sub("", name.lower())


def similarity(query: str, candidate: str) -> float:
    """0..1: how close a model name is to what was typed. Case and separators (-_.:/ and spaces) are ignored
    when they are the only difference; a provider prefix (openai/gpt-4o) is ignored; a name that extends
    what was typed (gpt-4 -> gpt-4o) gets a bonus over one that merely shares letters."""
    q, c = query.strip().lower(), candidate.strip().lower()
    if not q or not c:
        return 0.0
    if q == c:
        return 1.0
    variants = {q, q.split("/", 1)[1]} if "/" in q else {q}
    best = 0.0
    for v in variants:
        nv, nc = _norm(v), _norm(c)
        if nv and nv == nc:
            best = max(best, 0.99)
            continue
        score = max(
            difflib.SequenceMatcher(None, v, c, autojunk=False).ratio(),
            difflib.SequenceMatcher(None, nv, nc, autojunk=False).ratio(),
        )
        if nv and nc and (nc.startswith(nv) or nv.startswith(nc)):
            score += 0.1 * (1 - score)  # same family, more (or less) specific
        elif nv and nc and (nv in nc or nc in nv):
            score += 0.05 * (1 - score)
        best = max(best, min(score, 0.98))
    return best


def closest_models(
    query: str, names: list[str], limit: int = MAX_SUGGESTIONS, min_similarity: float = MIN_SIMILARITY
) -> list[str]:
    """Up to `limit` names, closest first (ties by name); names below `min_similarity` are not suggested."""
    scored = sorted(((similarity(query, n), n) for n in set(names)), key=lambda t: (-t[0], t[1]))
    return [n for s, n in scored if s >= min_similarity][:limit]


# -- the probe ------------------------------------------------------------------------------------
def probe_config(
    api_base: str,
    api_key: str,
    model: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> ProbeResult:
    """Ask the endpoint for its models with the key; never raises for input, network or endpoint problems."""
    model = (model or "").strip()
    api_key = (api_key or "").strip()
    try:
        urls = models_urls(api_base)
    except InvalidApiBase as exc:
        return _invalid(str(exc))
    if not model:
        return _invalid("enter the backend model name, e.g. gpt-4o")
    if api_key and not _HEADER_SAFE.fullmatch(api_key):
        return _invalid(
            "the API key contains characters that cannot be sent (spaces, line breaks or non-ASCII); "
            "check that it was pasted whole"
        )
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    with httpx.Client(
        timeout=httpx.Timeout(timeout_s), transport=transport, follow_redirects=True, headers=headers
    ) as http:
        deadline = time.perf_counter() + timeout_s
        for i, url in enumerate(urls):
            shown = without_credentials(url)
            started = time.perf_counter()
            # a fallback URL gets what is left of the one timeout
            limit = httpx.Timeout(max(0.1, deadline - started)) if i else httpx.USE_CLIENT_DEFAULT
            try:
                resp = http.get(url, timeout=limit)
            except httpx.TimeoutException:
                return ProbeResult(
                    False,
                    "timeout",
                    f"Timeout: {shown} did not answer within {timeout_s:g} s. "
                    "Check the URL, the network path (proxy, firewall) and that the server is up.",
                    url=shown,
                )
            except (httpx.TransportError, httpx.InvalidURL, ssl.SSLError, OSError) as exc:
                return ProbeResult(
                    False,
                    "connection_error",
                    f"Cannot contact the endpoint {shown}: {scrub(transport_reason(exc), api_key)}",
                    url=shown,
                )
            latency = round((time.perf_counter() - started) * 1000, 1)
            if resp.status_code == 404 and i + 1 < len(urls):
                continue  # e.g. a base without /v1: try the other form
            if resp.status_code in (401, 403):
                refused = "the endpoint refused the API key" if api_key else "the endpoint requires an API key"
                return ProbeResult(
                    False,
                    "auth_error",
                    f"Authentication failed (HTTP {resp.status_code}): {refused}. "
                    f"{provider_error(resp, api_key)}".strip(),
                    latency_ms=latency,
                    url=shown,
                )
            if not 200 <= resp.status_code < 300:
                return ProbeResult(
                    False,
                    "endpoint_error",
                    " ".join(
                        x
                        for x in (
                            f"Endpoint error: {shown} answered HTTP {resp.status_code}.",
                            "Check the API base's path (usually ending in /v1)." if resp.status_code == 404 else "",
                            provider_error(resp, api_key),
                        )
                        if x
                    ),
                    latency_ms=latency,
                    url=shown,
                )
            try:
                body = resp.json()
            except ValueError:
                return ProbeResult(
                    False,
                    "endpoint_error",
                    f"Endpoint error: {shown} did not answer with JSON — is this an "
                    "OpenAI-compatible API base (usually ending in /v1)?",
                    latency_ms=latency,
                    url=shown,
                )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                return ProbeResult(
                    False,
                    "endpoint_error",
                    f"Endpoint error: {shown} answered JSON without a model list "
                    "(data[]) — is this an OpenAI-compatible API base?",
                    latency_ms=latency,
                    url=shown,
                )
            names = [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id") is not None]
            return _model_answer(model, names, latency, shown, keyed=bool(api_key))
    raise AssertionError("unreachable")


def _model_answer(model: str, names: list[str], latency: float, url: str, keyed: bool) -> ProbeResult:
    if model in names:
        msg = f"Connection successful: the endpoint {'accepts the key and ' if keyed else ''}lists '{model}'."
        return ProbeResult(True, "model_found", msg, latency_ms=latency, models_available=len(names), url=url)
    suggestions = closest_models(model, names)
    msg = f"Model not available: '{model}' is not among the {len(names)} model(s) this endpoint lists."
    if "/" in model and model.split("/", 1)[1] in names:
        msg += (
            f" The backend calls it '{model.split('/', 1)[1]}': LiteLLM's provider prefix "
            f"('{model.split('/', 1)[0]}/') is not part of the backend model name."
        )
    elif suggestions:
        msg += " Closest names: " + ", ".join(suggestions) + "."
    else:
        msg += " No listed model has a similar name."
    return ProbeResult(False, "model_not_found", msg, suggestions, latency, len(names), url)


def with_litellm_note(engine, result: ProbeResult, model: str) -> ProbeResult:
    """A found model's message goes on with what LiteLLM's catalogue (as of the last sync) says about it, and how
    an admin adds it to LiteLLM: the console itself adds no model. `engine=None`: the catalogue is not read."""
    if result.result != "model_found":
        return result
    from lib.catalog.browse import models_with_backend

    model = model.strip()
    serving = models_with_backend(engine, model) if engine is not None else None
    if serving:
        note = (
            f"LiteLLM already has model(s) calling '{model}' (as of the last model sync): {', '.join(serving)}. "
            f"To serve it from this endpoint too, {ADD_TO_LITELLM}."
        )
    elif serving is not None:
        note = f"'{model}' is not in LiteLLM's catalogue (as of the last model sync): to serve it, {ADD_TO_LITELLM}."
    else:
        note = f"To serve it through LiteLLM, {ADD_TO_LITELLM}."
    result.message = f"{result.message} {note}"
    return result


def test_configuration(
    engine,
    user,
    api_base: str,
    api_key: str,
    model: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> ProbeResult:
    """The page's and CLI's Test Configuration, through the gate (models:test; `user=None` is the operator's CLI):
    probes, and audits the URL (cleaned), model and outcome — never the key. `engine=None`: not audited."""
    from lib.auth.gate import perform

    target = clean_api_base(api_base)
    return perform(
        engine,
        user,
        "models.test_config",
        target,
        lambda: with_litellm_note(
            engine, probe_config(api_base, api_key, model, timeout_s=timeout_s, transport=transport), model or ""
        ),
        transaction=False,
        context={"url": target, "model": model},
        outcome=lambda r: r.result,
        details=lambda r: {
            "url": r.url or target,
            "result": r.result,
            "success": r.success,
            "latency_ms": r.latency_ms,
            "models_available": r.models_available,
            "suggestions": r.suggestions,
        },
    )


test_configuration.__test__ = False  # not a pytest test, despite the name
