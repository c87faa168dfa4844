"""Providers in demo mode (its in-memory LiteLLM admin API), on SQLite and PostgreSQL: keys stay secret at rest, in
the audit log, views, logs and CLI output; bad input changes nothing; the encryption key rotates and is required
at start; the CLI's exit codes and JSON."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, select

import lib.cli
from lib.auth.audit import list_audit
from lib.core.settings import SettingsError, load_settings
from lib.providers import crypto, service
from lib.providers.records import ProviderInput, ProviderInputError, load_providers
from lib.runtime import Runtime

KEY = "sk-live-Secret0123456789abcdef"
NEW_KEY = "sk-live-Rotated9876543210fedcba"


@pytest.fixture
def rt(app_db_url, tmp_path):
    settings = load_settings(
        {"DATABASE_URL": app_db_url, "DUCKDB_PATH": str(tmp_path / "usage.duckdb")}, secrets_path=None
    )
    rt = Runtime(settings)
    yield rt
    rt.close()


def every_row(engine) -> str:
    """The whole app database as text (every table, every row)."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as c:
        return repr({t.name: c.execute(select(t)).all() for t in meta.sorted_tables})


def _without_audit(rows: str) -> str:
    """every_row's text without the audit log (refusals are audited: that is all they may change)."""
    head, _, tail = rows.partition("'audit_log': ")
    return head + tail.partition("], '")[2]


def demo_litellm_credentials(rt) -> dict:
    return {c["credential_name"]: c for c in rt.demo_litellm().admin._credentials.values()}


def test_a_key_is_only_ever_stored_encrypted_and_shown_masked(rt, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    inp = ProviderInput("acme", "openai", api_key=KEY, priority=10)
    service.add_provider(rt, None, inp, [("gpt-4o", "gpt-4o")])
    service.configure_provider(rt, None, "acme", {"api_key": NEW_KEY, "priority": 20})
    service.set_enabled(rt, None, "acme", False)
    service.test_provider(rt, None, "acme", timeout=0.5)

    # LiteLLM got the key (its credential), the console keeps it encrypted only
    assert demo_litellm_credentials(rt)["acme"]["credential_values"]["api_key"] == NEW_KEY
    stored = every_row(rt.engine)
    for secret in (KEY, NEW_KEY):
        assert secret not in stored and secret not in caplog.text
        assert secret not in list_audit(rt.engine).to_json()
    if rt.settings.DATABASE_URL.startswith("sqlite"):
        files = b"".join(p.read_bytes() for p in tmp_path.glob("app.db*"))
        assert NEW_KEY.encode() not in files and KEY.encode() not in files
    view = service.list_providers(rt)[0]
    assert view.masked_key == "sk-…dcba" and NEW_KEY not in repr(view)
    rows = list_audit(rt.engine, action="providers.configure")
    assert rows.iloc[0]["details"]["credential_changed"] is True
    assert rows.iloc[0]["details"]["before"]["priority"] == 10 and rows.iloc[0]["details"]["after"]["priority"] == 20


def test_bad_input_is_refused_with_its_reason_and_changes_nothing(rt):
    service.add_provider(rt, None, ProviderInput("acme", "openai", api_key=KEY), [("gpt-4o", "gpt-4o")])
    before_db, before_litellm = every_row(rt.engine), repr(rt.demo_litellm().admin._deployments)
    cases = [
        (ProviderInput("bad name", "openai", api_key=KEY), [], "Name:"),
        (ProviderInput("x", "nope", api_key=KEY), [], "Type: unknown provider type"),
        (ProviderInput("x", "openai", api_key=KEY, priority=0), [], "Priority:"),
        (ProviderInput("x", "openai", api_key=KEY, api_base="ftp://h"), [], "API base:"),
        (ProviderInput("x", "openai", api_key=KEY, api_base="https://u:p@h/v1"), [], "API base:"),
        (ProviderInput("x", "openai"), [], "API key: OpenAI needs an API key"),
        (ProviderInput("x", "azure", api_key=KEY), [], "API base: Azure OpenAI needs"),
        (ProviderInput("x", "openai", api_key=KEY), [("a", "m"), ("a", "n")], "listed twice"),
        (ProviderInput("acme", "openai", api_key=KEY), [], "exists already"),
    ]
    for inp, models, message in cases:
        with pytest.raises(ProviderInputError, match=message.replace("(", r"\(")):
            service.add_provider(rt, None, inp, models)
    with pytest.raises(ProviderInputError, match="name and type are fixed"):
        service.configure_provider(rt, None, "acme", {"type": "anthropic"})
    assert repr(rt.demo_litellm().admin._deployments) == before_litellm
    after = every_row(rt.engine)
    assert after.split("'audit_log'")[1:] != [] and _without_audit(after) == _without_audit(before_db)
    with rt.engine.connect() as conn:
        assert [p.name for p in load_providers(conn)] == ["acme"]


def test_priority_and_auto_fallback_shape_litellms_model_group(rt):
    service.add_provider(rt, None, ProviderInput("a", "openai", api_key=KEY, priority=10), [("chat", "gpt-4o")])
    service.add_provider(rt, None, ProviderInput("b", "anthropic", api_key=KEY, priority=20), [("chat", "claude")])
    views = {v.name: v for v in service.list_providers(rt)}
    assert [(m.state, m.order) for m in views["a"].models] == [("serving", 1)]
    assert [(m.state, m.order) for m in views["b"].models] == [("serving", 2)]
    service.configure_provider(rt, None, "a", {"auto_fallback": False})
    views = {v.name: v for v in service.list_providers(rt)}
    assert views["b"].models[0].state == "parked" and views["b"].status == "active"
    litellm = rt.demo_litellm().admin._deployments.values()
    assert [d["litellm_params"]["litellm_credential_name"] for d in litellm if d["model_name"] == "chat"] == ["a"]


def test_rotation_re_encrypts_every_key_and_the_start_needs_the_key(app_db_url, tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    values = {"DATABASE_URL": app_db_url, "DUCKDB_PATH": str(tmp_path / "u.duckdb"), "CONSOLE_ENCRYPTION_KEY": old}
    rt = Runtime(load_settings(values, secrets_path=None))
    try:
        service.add_provider(rt, None, ProviderInput("acme", "openai", api_key=KEY), [])
        assert service.rotate_encryption_key(rt, None, new) == 1
        with rt.engine.connect() as conn:
            token = load_providers(conn)[0].api_key_encrypted
        assert crypto.KeyCipher(new).decrypt(token) == KEY
        with pytest.raises(crypto.ProviderKeyError, match="does not decrypt"):
            crypto.KeyCipher(old).decrypt(token)

        production = {**values, "LITELLM_BASE_URL": "http://litellm.internal"}
        crypto.check_at_start(load_settings(production | {"CONSOLE_ENCRYPTION_KEY": new}, secrets_path=None), rt.engine)
        without = load_settings(
            {k: v for k, v in production.items() if k != "CONSOLE_ENCRYPTION_KEY"}, secrets_path=None
        )
        with pytest.raises(SettingsError, match="^CONSOLE_ENCRYPTION_KEY: required"):
            crypto.check_at_start(without, rt.engine)
        with pytest.raises(SettingsError, match="^CONSOLE_ENCRYPTION_KEY does not decrypt"):
            crypto.check_at_start(load_settings(production, secrets_path=None), rt.engine)
    finally:
        rt.close()


def test_mask_shows_the_prefix_and_last_four_only():
    assert crypto.mask("sk-proj-abcdefghijklmnop9f3a") == "sk-…9f3a"
    assert crypto.mask("AIzaSyD-abcdefghijk1234") == "…1234"
    assert crypto.mask("short-key") == "••••"
    assert crypto.mask(None) == ""


# -- the command line ------------------------------------------------------------------------------------------
def run_cli(monkeypatch, capsys, tmp_path, *argv) -> tuple[int, str, str]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/app.db")
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "usage.duckdb"))
    monkeypatch.setattr(lib.cli, "load_settings", lambda: load_settings(secrets_path=None))
    code = lib.cli.main(list(argv))
    out, err = capsys.readouterr()
    assert KEY not in out and KEY not in err
    return code, out, err


def test_the_cli_adds_lists_disables_and_deletes_with_json_and_never_prints_the_key(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ACME_KEY", KEY)
    code, out, _ = run_cli(
        monkeypatch, capsys, tmp_path, "providers", "add", "--name", "acme", "--type", "openai",
        "--api-key-env", "ACME_KEY", "--priority", "10", "--model", "gpt-4o=gpt-4o",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["steps"][0].startswith("Create credential acme")
    # each command is its own process in real use; here one process keeps demo mode's LiteLLM between them
    code, out, _ = run_cli(monkeypatch, capsys, tmp_path, "providers", "list")
    listed = json.loads(out)
    assert code == 0 and [(p["name"], p["priority"], p["masked_key"]) for p in listed] == [("acme", 10, "sk-…cdef")]
    code, out, _ = run_cli(monkeypatch, capsys, tmp_path, "providers", "disable", "--name", "acme")
    assert code == 0 and json.loads(out)["enabled"] is False
    code, out, _ = run_cli(monkeypatch, capsys, tmp_path, "providers", "delete", "--name", "acme")
    assert code == 0 and json.loads(out)["deleted"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (("providers", "add", "--name", "x", "--type", "openai", "--api-key-env", "UNSET_VAR"), "UNSET_VAR"),
        (("providers", "add", "--name", "x", "--type", "openai", "--model", "nopair"), "PUBLIC=PROVIDER_MODEL"),
        (("providers", "add", "--name", "x", "--type", "openai"), "API key: OpenAI needs an API key"),
        (("providers", "add", "--name", "x", "--type", "bogus"), "invalid choice"),
        (("providers", "delete", "--name", "ghost"), "No provider named 'ghost'"),
        (("providers", "add", "--name", "x", "--type", "openai", "--priority", "101"), "1 to 100"),
        (("rotate-encryption-key", "--new-key-env", "UNSET_VAR"), "UNSET_VAR"),
    ],
)
def test_the_cli_refuses_bad_input_with_one_line_and_exit_2(monkeypatch, capsys, tmp_path, argv, message):
    monkeypatch.delenv("UNSET_VAR", raising=False)
    try:
        code, _, err = run_cli(monkeypatch, capsys, tmp_path, *argv)
    except SystemExit as exc:  # argparse's own refusals
        code, err = exc.code, capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and err.startswith("error: ")
