"""URLs as the console stores, shows and audits them: never with credentials or a query string."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def without_credentials(url: str) -> str:
    """`url` without user:password@, query string and fragment (some providers put keys in the query); an
    unparsable port is dropped. Raises ValueError when `url` cannot be parsed at all (e.g. a broken IPv6 host)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return urlunsplit((parts.scheme, host + (f":{port}" if port else ""), parts.path, "", ""))
