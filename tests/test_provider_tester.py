"""Test connection (lib.providers.tester) against local fakes: each type speaks its API's auth, and every failure
class is told apart (a wrong key, a closed port, a slow endpoint, an answer that is no model list)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lib.providers.tester import test_connection as connect
from lib.providers.types import PROVIDER_TYPES
from tests.support.ports import free_port

KEY = "sk-test-0123456789abcdef"


class Provider:
    """A fake provider API that lists models only for a request carrying KEY the way its type sends it."""

    def __init__(self, auth: str):
        self.auth, self.requests = auth, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        sent = {
            "bearer": request.headers.get("authorization") == f"Bearer {KEY}",
            "x-api-key": request.headers.get("x-api-key") == KEY,
            "api-key-header": request.headers.get("api-key") == KEY,
            "query-key": request.url.params.get("key") == KEY,
            "none": True,
        }[self.auth]
        if not sent:
            return httpx.Response(401, json={"error": {"message": f"invalid key {request.headers.get('x-api-key')}"}})
        if request.url.path.endswith("/api/tags"):
            return httpx.Response(200, json={"models": [{"name": "llama3:latest"}]})
        if request.url.path.endswith("/v1beta/models"):
            return httpx.Response(200, json={"models": [{"name": "models/gemini-1.5-pro"}]})
        return httpx.Response(200, json={"data": [{"id": "model-a"}, {"id": "model-b"}]})


@pytest.mark.parametrize("type_id", sorted(PROVIDER_TYPES))
def test_each_type_sends_its_own_auth_and_reads_the_model_list(type_id):
    ptype = PROVIDER_TYPES[type_id]
    fake = Provider(ptype.test.auth)
    base = ptype.default_api_base or "https://llm.example"
    result = connect(type_id, base, KEY if ptype.needs_key else None, transport=httpx.MockTransport(fake))
    assert result.success and result.result == "ok", result.message
    assert result.models_available and result.latency_ms is not None
    request = fake.requests[0]
    assert str(request.url).startswith(base.rstrip("/") + ptype.test.path)
    if ptype.test.auth == "none":
        assert not {"authorization", "x-api-key", "api-key"} & set(request.headers)
    if type_id == "anthropic":
        assert request.headers["anthropic-version"] == "2023-06-01"
    if type_id == "azure":
        assert request.url.params["api-version"] == "2024-10-21"


@pytest.mark.parametrize("type_id", ["openai", "anthropic", "gemini", "azure"])
def test_a_wrong_key_is_authentication_failed_and_the_key_is_never_in_the_message(type_id):
    fake = Provider(PROVIDER_TYPES[type_id].test.auth)
    wrong = "sk-wrong-key-that-is-echoed-42"
    result = connect(type_id, "https://llm.example", wrong, transport=httpx.MockTransport(fake))
    assert (result.success, result.result) == (False, "auth_failed")
    assert result.message.startswith("Authentication failed (HTTP 401)")
    assert wrong not in result.message


def test_a_closed_port_is_cannot_contact_with_the_reason():
    result = connect("openai_compatible", f"http://127.0.0.1:{free_port()}/v1", KEY)
    assert result.result == "unreachable"
    assert "connection refused" in result.message


@pytest.fixture
def slow_server():
    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):
            release.wait(10)  # answers only after the client has given up
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    release.set()
    server.shutdown()


def test_a_slow_endpoint_is_timeout(slow_server):
    result = connect("ollama", slow_server, None, timeout=0.3)
    assert result.result == "timeout"
    assert "did not answer within 0.3 s" in result.message


def test_an_answer_that_is_no_model_list_is_unexpected():
    html = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>login</html>"))
    result = connect("openai", "https://llm.example/v1", KEY, transport=html)
    assert result.result == "unexpected" and "model list" in result.message
    missing = httpx.MockTransport(lambda r: httpx.Response(404, json={"error": {"message": "no route"}}))
    assert connect("openai", "https://llm.example", KEY, transport=missing).result == "unexpected"


def test_input_that_cannot_be_sent_is_refused_before_any_request():
    calls = []
    spy = httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200, json={"data": []}))
    assert connect("openai", "ftp://llm.example", KEY, transport=spy).result == "invalid_input"
    assert connect("openai", None, "sk-with space", transport=spy).result == "invalid_input"
    assert connect("nope", None, KEY, transport=spy).result == "invalid_input"
    assert connect("azure", None, KEY, transport=spy).result == "invalid_input"  # Azure has no default endpoint
    assert calls == []


def test_a_query_key_is_not_shown_in_the_url_of_a_message():
    result = connect("gemini", f"http://127.0.0.1:{free_port()}", "AIzaSecretKey123456")
    assert result.result == "unreachable" and "AIzaSecretKey123456" not in result.message
