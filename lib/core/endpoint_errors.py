"""How a person is told why an HTTP endpoint (a provider's API, an OpenAI-compatible server) could not be used:
the reason of a transport failure (DNS, refused, TLS, …) and the provider's own error message, with the API key
that was sent never repeated (an endpoint that echoes it gets it masked)."""

from __future__ import annotations

import socket
import ssl

import httpx


def transport_reason(exc: Exception) -> str:
    """A person's reason for a transport failure: DNS, refused, TLS, or the library's words."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "certificate verify failed" in text:
        return "TLS error: the server's certificate could not be verified"
    ssl_errors = [e for e in chain if isinstance(e, ssl.SSLError)]
    if ssl_errors:
        return f"TLS error: {ssl_errors[0]}"
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        s in text
        for s in (
            "name or service not known",
            "nodename nor servname",
            "name resolution",
            "getaddrinfo",
            "no address associated",
        )
    ):
        return "DNS lookup failed: the host name does not resolve"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return "connection refused: nothing is listening on that host and port"
    if "ssl" in text or "tls" in text:
        return f"TLS error: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server closed the connection or did not speak HTTP ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def scrub(text: str, api_key: str) -> str:
    text = text or ""
    for secret in {api_key or "", (api_key or "").strip()}:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "…"


def provider_error(resp: httpx.Response, api_key: str) -> str:
    try:
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        msg = err.get("message") if isinstance(err, dict) else (err if isinstance(err, str) else body.get("detail"))
        if msg:
            return scrub(str(msg), api_key)
    except (ValueError, AttributeError):
        pass
    return scrub(resp.text, api_key)
