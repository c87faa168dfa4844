"""The console's own HTTP endpoints, on their own port (METRICS_PORT), for orchestrators and Prometheus:

- `/healthz`: 200 while the process runs;
- `/readyz`: 200 when the app database answers, the usage store can be read and LiteLLM answers, else 503; both
  with a JSON body saying why (lib/health/readiness.py);
- `/metrics`: the runtime's registry in Prometheus text format (lib/health/metrics.py).

No login: nothing here is secret (counts, timings, the reasons a dependency is down). Served by a small threaded
HTTP server of the standard library, in a daemon thread beside the app; a port already in use is logged and the
app runs on without it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from lib.health.metrics import ConsoleMetrics
from lib.health.readiness import Readiness

log = logging.getLogger(__name__)


class ConsoleEndpoints:
    def __init__(self, port: int, metrics: ConsoleMetrics, readiness: Callable[[], Readiness], host: str = "0.0.0.0"):
        self.host, self.port = host, port
        self._metrics, self._readiness = metrics, readiness
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    def start(self) -> bool:
        """Serve in a background thread; False (with one clear log line) when the port cannot be bound."""
        try:
            server = ThreadingHTTPServer((self.host, self.port), _handler(self._metrics, self._readiness))
        except OSError as exc:
            log.error(
                "The console's /healthz, /readyz and /metrics are not served: cannot listen on %s:%d (%s). "
                "Set METRICS_PORT to a free port, or 0 to turn them off. The app itself runs on.",
                self.host,
                self.port,
                exc.strerror or exc,
            )
            return False
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="console-endpoints", daemon=True)
        self._thread.start()
        log.info("serving /healthz, /readyz and /metrics on %s:%d", self.host, self.port)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None


def _handler(metrics: ConsoleMetrics, readiness: Callable[[], Readiness]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = urlsplit(self.path).path
            if path == "/healthz":
                self._send(200, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/readyz":
                self._ready()
            elif path == "/metrics":
                try:
                    body, content_type = metrics.exposition(self.headers.get("Accept"))
                except Exception:
                    log.exception("metrics exposition failed")
                    self._send(500, b"metrics unavailable; see the server log\n", "text/plain; charset=utf-8")
                    return
                self._send(200, body, content_type)
            else:
                self._send(404, b"not found: /healthz, /readyz, /metrics\n", "text/plain; charset=utf-8")

        def _ready(self) -> None:
            try:
                found = readiness()
                code, body = (200 if found.ready else 503), found.as_json()
            except Exception as exc:
                log.exception("readiness check failed")
                code, body = 503, {"status": "not ready", "reasons": [f"readiness check failed ({type(exc).__name__})"]}
            self._send(code, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (the standard library's name)
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
