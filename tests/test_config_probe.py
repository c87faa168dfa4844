"""Test Configuration: URL handling, every outcome, closest-name suggestions, the CLI, and the key kept secret."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from lib.appdb import open_app_database
from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.catalog.probe import (
    MAX_SUGGESTIONS,
    closest_models,
    models_urls,
    probe_config,
    similarity,
    test_configuration,
)
from lib.catalog.sync import sync_models
from tests.support.models_endpoint import KEY, LOCAL_MODELS
from tests.support.ports import free_port

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
ADMIN = User("root", "Root", None, "admin", None, True)
VIEWER = User("viewer", "Viewer", None, "admin-readonly", None, True)


# -- sockets that misbehave ----------------------------------------------------------------------
@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held, stop = [], threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    sock.close()


def mock(handler) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def models_json(names):
    return httpx.Response(200, json={"object": "list", "data": [{"id": n} for n in names]})


# -- URLs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "base, urls",
    [
        ("https://api.openai.com/v1", ["https://api.openai.com/v1/models"]),
        ("https://api.openai.com/v1/", ["https://api.openai.com/v1/models"]),
        ("  https://api.openai.com/v1//  ", ["https://api.openai.com/v1/models"]),
        ("https://api.openai.com/v1/models", ["https://api.openai.com/v1/models"]),
        ("https://api.openai.com", ["https://api.openai.com/v1/models", "https://api.openai.com/models"]),
        ("http://127.0.0.1:8000/", ["http://127.0.0.1:8000/v1/models", "http://127.0.0.1:8000/models"]),
        ("https://openrouter.ai/api/v1", ["https://openrouter.ai/api/v1/models"]),
        (
            "https://g.example/v1beta/openai",
            ["https://g.example/v1beta/openai/models", "https://g.example/v1beta/openai/v1/models"],
        ),
        (
            "https://gw.example/openai?api-version=2024-10-21",
            [
                "https://gw.example/openai/models?api-version=2024-10-21",
                "https://gw.example/openai/v1/models?api-version=2024-10-21",
            ],
        ),
    ],
)
def test_models_urls(base, urls):
    assert models_urls(base) == urls


@pytest.mark.parametrize(
    "base, key, model, says",
    [
        ("", KEY, "gpt-4o", "enter the API base URL"),
        ("api.openai.com/v1", KEY, "gpt-4o", "must start with http:// or https://"),
        ("ftp://x.example", KEY, "gpt-4o", "must start with http:// or https://"),
        ("http://", KEY, "gpt-4o", "must start with http:// or https://"),
        ("http://h:99999/v1", KEY, "gpt-4o", "not valid"),
        ("https://h.example/v1", KEY, "   ", "enter the backend model name"),
        ("https://h.example/v1", "sk-abc\ndef", "gpt-4o", "cannot be sent"),
        ("https://h.example/v1", "sk-abc déf", "gpt-4o", "cannot be sent"),
    ],
)
def test_bad_input_is_invalid_input_without_a_request(base, key, model, says):
    """What was typed is wrong: labelled as such, not as an endpoint that cannot be contacted or a refused key."""
    called = []
    r = probe_config(base, key, model, transport=mock(lambda req: called.append(req) or models_json([model])))
    assert (r.success, r.result, called) == (False, "invalid_input", [])
    assert r.message.startswith("Invalid input: ") and says in r.message, r.message
    assert "Cannot contact" not in r.message and "Authentication" not in r.message
    assert "sk-abc" not in r.message


# -- each outcome (mocked HTTP) --------------------------------------------------------------------
def test_found_sends_the_bearer_key_once_and_reports_latency_and_count():
    seen = []

    def handler(req):
        seen.append((str(req.url), req.headers.get("authorization")))
        return models_json(LOCAL_MODELS)

    r = probe_config("https://h.example/v1/", f"  {KEY} ", "gpt-4o", transport=mock(handler))
    assert seen == [("https://h.example/v1/models", f"Bearer {KEY}")]
    assert r.as_dict() == {
        "success": True,
        "result": "model_found",
        "message": "Connection successful: the endpoint accepts the key and lists 'gpt-4o'.",
        "suggestions": [],
        "latency_ms": r.latency_ms,
        "models_available": 4,
    }
    assert r.latency_ms is not None and r.latency_ms >= 0


def test_missing_v1_falls_back_on_404():
    def handler(req):
        return models_json(["m"]) if req.url.path == "/models" else httpx.Response(404, text="no")

    r = probe_config("https://h.example", KEY, "m", transport=mock(handler))
    assert r.result == "model_found" and r.url == "https://h.example/models"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_masks_an_echoed_key(status):
    r = probe_config(
        "https://h.example/v1",
        KEY,
        "m",
        transport=mock(lambda req: httpx.Response(status, json={"error": {"message": f"bad key {KEY}"}})),
    )
    assert r.result == "auth_error" and not r.success and f"HTTP {status}" in r.message
    assert KEY not in r.message and "***" in r.message


@pytest.mark.parametrize(
    "response, reason",
    [
        (httpx.Response(500, text="boom"), "HTTP 500. boom"),
        (httpx.Response(404, text="nope"), "HTTP 404. Check the API base's path"),
        (httpx.Response(429, json={"error": {"message": "slow down"}}), "HTTP 429. slow down"),
        (httpx.Response(200, text="<html>login</html>"), "did not answer with JSON"),
        (httpx.Response(200, json={"models": []}), "without a model list"),
        (httpx.Response(200, json=[1, 2]), "without a model list"),
    ],
)
def test_endpoint_answers_that_are_no_model_list_are_endpoint_errors(response, reason):
    """The endpoint was contacted and answered: not labelled 'Cannot contact the endpoint'."""
    r = probe_config("https://h.example/v1", KEY, "m", transport=mock(lambda req: response))
    assert r.result == "endpoint_error" and r.message.startswith("Endpoint error: https://h.example/v1/models ")
    assert reason in r.message and "Cannot contact" not in r.message
    assert r.latency_ms is not None


def test_not_found_suggests_closest_first():
    names = [f"model-{i}" for i in range(12)] + ["gpt-4o-mini", "gpt-4-turbo", "gpt-4o"]
    r = probe_config("https://h.example/v1", KEY, "gpt-4", transport=mock(lambda req: models_json(names)))
    assert r.result == "model_not_found" and not r.success and r.models_available == 15
    assert r.suggestions[0] == "gpt-4o" and set(r.suggestions[:3]) == {"gpt-4o", "gpt-4-turbo", "gpt-4o-mini"}
    assert len(r.suggestions) <= MAX_SUGGESTIONS and "gpt-4" in r.message


def test_provider_prefix_is_explained():
    r = probe_config(
        "https://h.example/v1", KEY, "openai/gpt-4o", transport=mock(lambda req: models_json(LOCAL_MODELS))
    )
    assert r.result == "model_not_found" and r.suggestions[0] == "gpt-4o" and "provider prefix" in r.message


def test_no_key_refused_says_a_key_is_required():
    r = probe_config("https://h.example/v1", "", "m", transport=mock(lambda req: httpx.Response(401, text="")))
    assert (
        r.result == "auth_error" and r.message == "Authentication failed (HTTP 401): the endpoint requires an API key."
    )


# -- real sockets ----------------------------------------------------------------------------------
def test_closed_port_cannot_contact():
    r = probe_config(f"http://127.0.0.1:{free_port()}/v1", KEY, "m")
    assert r.result == "connection_error" and "refused" in r.message and r.latency_ms is None
    assert r.message.startswith("Cannot contact the endpoint http://127.0.0.1:")


def test_silent_server_times_out_quickly(silent_server):
    started = time.monotonic()
    r = probe_config(silent_server, KEY, "m", timeout_s=1.0)
    took = time.monotonic() - started
    assert r.result == "timeout" and not r.success and "1 s" in r.message
    assert 0.9 <= took < 4


def test_silent_server_without_v1_is_still_bounded_by_one_timeout(silent_server):
    started = time.monotonic()
    r = probe_config(silent_server.removesuffix("/v1"), KEY, "m", timeout_s=1.0)
    assert r.result == "timeout" and time.monotonic() - started < 4


def test_tls_to_a_plain_http_server_is_a_tls_error(local_backend):
    r = probe_config(local_backend.replace("http://", "https://"), KEY, "gpt-4o", timeout_s=3)
    assert r.result == "connection_error" and "TLS" in r.message


def test_unknown_host_is_a_dns_error():
    r = probe_config("http://no-such-host.invalid/v1", KEY, "gpt-4o", timeout_s=3)
    assert r.result in ("connection_error", "timeout")
    if r.result == "connection_error":
        assert "DNS" in r.message


def test_local_backend_outcomes(local_backend):
    assert probe_config(local_backend, KEY, "llama3").result == "model_found"
    assert probe_config(local_backend.removesuffix("/v1") + "/", KEY, "llama3").result == "model_found"
    wrong = probe_config(local_backend, "sk-wrong-key-999", "llama3")
    assert wrong.result == "auth_error" and "sk-wrong-key-999" not in wrong.message
    assert probe_config(local_backend, KEY, "gpt-4").suggestions[0] == "gpt-4o"


# -- closeness -------------------------------------------------------------------------------------
def test_similarity_basics():
    assert similarity("gpt-4o", "gpt-4o") == 1.0
    assert similarity("GPT_4O", "gpt-4o") > similarity("gpt-4", "gpt-4o") > similarity("gpt-4", "llama3")
    assert closest_models("gpt4o", ["llama3", "gpt-4o-mini", "gpt-4o"])[:2] == ["gpt-4o", "gpt-4o-mini"]
    assert (
        closest_models("claude-3-5-sonet", ["claude-3-5-haiku", "claude-3-5-sonnet", "gpt-4o"])[0]
        == "claude-3-5-sonnet"
    )
    assert closest_models("zzzz", ["gpt-4o", "llama3"]) == []  # nothing similar: no noise


names_st = st.lists(st.text(alphabet="abcdefgo-_.0123456789", min_size=1, max_size=14), min_size=0, max_size=30)


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefgo-_.0123456789", min_size=1, max_size=14), names_st)
def test_suggestions_are_the_closest_in_order(query, names):
    got = closest_models(query, names)
    assert len(got) <= MAX_SUGGESTIONS and len(set(got)) == len(got) and set(got) <= set(names)
    scores = [similarity(query, n) for n in got]
    assert scores == sorted(scores, reverse=True)
    left_out = set(names) - set(got)
    if len(got) == MAX_SUGGESTIONS and left_out:
        assert max(similarity(query, n) for n in left_out) <= scores[-1]  # no closer name left out
    if query in names:
        assert got[0] == query


# -- audit, permission, CLI ------------------------------------------------------------------------
def test_audit_records_url_model_outcome_never_the_key(tmp_path, local_backend):
    engine = open_app_database(f"sqlite:///{tmp_path}/app.db")
    r = test_configuration(engine, ADMIN, local_backend.replace("http://", "http://u:pw@") + "?token=zz", KEY, "gpt-4o")
    assert r.result == "model_found"
    row = list_audit(engine, action="models.test_config").iloc[0]
    assert row["actor"] == "root" and row["outcome"] == "model_found"
    assert row["details"]["model"] == "gpt-4o" and row["details"]["url"] == local_backend + "/models"
    dump = json.dumps(list_audit(engine).to_dict("records"), default=str)
    assert KEY not in dump and "pw@" not in dump and "zz" not in dump


def test_a_found_model_says_what_litellm_has_and_how_to_add_it(tmp_path, local_backend):
    """The console adds no model: a found one is either already in LiteLLM's catalogue (named) or is not, and the
    message says how an admin adds it to LiteLLM."""
    from tests.test_model_catalog import BASE, FakeClient

    engine = open_app_database(f"sqlite:///{tmp_path}/app.db")
    before_sync = test_configuration(engine, ADMIN, local_backend, KEY, "in-house-model").message
    assert before_sync == (
        "Connection successful: the endpoint accepts the key and lists 'in-house-model'. To serve it through LiteLLM, "
        "add it to LiteLLM (its config file or its admin UI) with this API base, key and model name."
    )
    sync_models(engine, FakeClient(BASE), "scheduler")
    known = sorted(d["model_name"] for d in BASE if d["litellm_params"]["model"] == "openai/gpt-4o-mini")
    assert len(known) == 2, "the catalogue's fixture has a model and an alias calling gpt-4o-mini"
    found = test_configuration(engine, ADMIN, local_backend, KEY, "gpt-4o-mini").message
    assert f"LiteLLM already has model(s) calling 'gpt-4o-mini' (as of the last model sync): {', '.join(known)}." in (
        found
    )
    missing = test_configuration(engine, ADMIN, local_backend, KEY, "in-house-model").message
    assert (
        "'in-house-model' is not in LiteLLM's catalogue (as of the last model sync): to serve it, add it to LiteLLM"
        in (missing)
    )
    for message in (before_sync, found, missing):
        assert "create" not in message.lower()  # nothing on the page creates a model


def test_readonly_may_not_test(tmp_path):
    engine = open_app_database(f"sqlite:///{tmp_path}/app.db")
    with pytest.raises(PermissionDenied, match="Admin access required to test model configurations"):
        test_configuration(engine, VIEWER, "https://h.example/v1", KEY, "m")
    assert list_audit(engine, action="models.test_config")["outcome"].tolist() == ["denied"]


@pytest.mark.parametrize(
    "key, model, result, code",
    [
        (KEY, "gpt-4o", "model_found", 0),
        ("sk-nope-nope", "gpt-4o", "auth_error", 1),
        (KEY, "gpt-4", "model_not_found", 1),
    ],
)
def test_cli_test_config(tmp_path, local_backend, key, model, result, code):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "DUCKDB_PATH": str(tmp_path / "u.duckdb"),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib.cli",
            "test-config",
            "--api-base",
            local_backend,
            "--api-key",
            key,
            "--model",
            model,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == code, out.stderr
    answer = json.loads(out.stdout)
    assert list(answer) == ["success", "result", "message", "suggestions", "latency_ms", "models_available"]
    assert answer["result"] == result and answer["success"] is (code == 0)
    assert key not in out.stdout + out.stderr
    engine = open_app_database(env["DATABASE_URL"])
    audit = list_audit(engine, action="models.test_config")
    assert audit["actor"].tolist() == ["cli"] and key not in json.dumps(audit.to_dict("records"), default=str)
    if result == "model_not_found":
        assert answer["suggestions"][0] == "gpt-4o" and answer["models_available"] == 4


def test_cli_timeout_and_closed_port(tmp_path, silent_server):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/app.db", "PATH": "/usr/bin:/bin"}
    for base, result in ((silent_server, "timeout"), (f"http://127.0.0.1:{free_port()}", "connection_error")):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "lib.cli",
                "test-config",
                "--api-base",
                base,
                "--api-key",
                KEY,
                "--model",
                "m",
                "--timeout",
                "1",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        answer = json.loads(out.stdout)
        assert out.returncode == 1 and answer["result"] == result and answer["latency_ms"] is None


# -- the harness's fake OpenAI backend -------------------------------------------------------------
@pytest.mark.litellm
def test_against_the_harness_fake_backend(litellm_harness, silent_server):
    base = litellm_harness["LITELLM_FAKE_BACKEND_URL"]
    ok = probe_config(base, "sk-fake-backend", "gpt-4o")
    assert ok.success and ok.result == "model_found" and ok.message.startswith("Connection successful")
    assert ok.models_available == 4 and ok.latency_ms is not None
    assert probe_config(base.removesuffix("/v1"), "sk-fake-backend", "in-house-model").result == "model_found"
    assert probe_config(base, "sk-wrong", "gpt-4o").result == "auth_error"
    missing = probe_config(base, "sk-fake-backend", "gpt-4")
    assert missing.result == "model_not_found" and missing.suggestions[0] == "gpt-4o"
    assert set(missing.suggestions) <= {"gpt-4o", "gpt-4o-mini", "in-house-model", "llama3"}
    assert probe_config(f"http://127.0.0.1:{free_port()}/v1", "sk-fake-backend", "gpt-4o").result == "connection_error"
    started = time.monotonic()
    assert probe_config(silent_server, "sk-fake-backend", "gpt-4o", timeout_s=1).result == "timeout"
    assert time.monotonic() - started < 4
