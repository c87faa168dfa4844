"""pytest plugin: `local_backend`, a local OpenAI-compatible endpoint serving GET /v1/models (what Test
Configuration calls) to the key KEY."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

KEY = "sk-local-secret-123"
LOCAL_MODELS = ["gpt-4o", "gpt-4o-mini", "in-house-model", "llama3"]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            body, code = {"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}"}}, 401
        elif self.path.split("?")[0].rstrip("/") == "/v1/models":
            body, code = {"object": "list", "data": [{"id": m, "object": "model"} for m in LOCAL_MODELS]}, 200
        else:
            body, code = {"error": {"message": "not found"}}, 404
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture(scope="module")
def local_backend():
    """http://127.0.0.1:PORT/v1 serving LOCAL_MODELS to the key KEY (401 otherwise)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
