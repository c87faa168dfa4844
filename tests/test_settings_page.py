"""The Settings page per role (AppTest): every setting by group with its value, source, range and restart mark;
an admin saves an editable one (in effect at once, audited), a bad value is refused with its range, a read-only
admin sees the forms disabled, a value the deployment sets is shown locked, secrets are never shown."""

from __future__ import annotations

from email import message_from_string, policy

import pandas as pd
import pytest

from lib.auth import accounts
from lib.auth.audit import list_audit
from lib.console_settings.effective import MASK
from lib.console_settings.saved import saved_values
from lib.console_settings.service import change_setting
from lib.core.settings import EDITABLE_NAMES, GROUPS, SETTINGS_SPEC
from lib.core.text_safety import markdown_literal
from tests.support.apptest import app_as, app_runtime, demo_settings
from tests.support.notify_servers import Receiver, SMTPServer
from tests.support.ports import free_port
from tests.test_text_safety import displayed

PAGE = "pages/settings.py"


@pytest.fixture
def env(tmp_path):
    """A demo app of its own (a saved setting must not leak into other tests), with demo logins."""
    settings = demo_settings(tmp_path, APP_SECRET_KEY="s" * 48)
    accounts.bootstrap_accounts(app_runtime(settings).engine, settings)
    return settings


def _table(at) -> pd.DataFrame:
    return pd.concat([d.value for d in at.dataframe], ignore_index=True).set_index("setting")


def _save(at, name: str, typed: str):
    at.text_input(key=f"setting_{name}").input(typed)
    at.button(key=f"settings_save_{name}").click().run()
    assert not at.exception, at.exception
    return at


def test_every_setting_is_shown_by_group_with_its_source_range_and_restart_mark(env):
    at = app_as(env, "admin", PAGE)
    assert [t.value for t in at.title] == ["Settings"]
    shown_groups = [s.value for s in at.subheader]
    assert shown_groups == [g for g in GROUPS if any(s.group == g for s in SETTINGS_SPEC.values())]
    table = _table(at)
    assert list(table.index) == [n for g in shown_groups for n, s in SETTINGS_SPEC.items() if s.group == g]
    refresh = table.loc["REFRESH_INTERVAL_MINUTES"]
    assert (refresh["value"], refresh["source"], refresh["allowed"], refresh["restart required"]) == (
        "5",
        "default",
        "1 to 1,440",
        "",
    )
    assert table.loc["DATABASE_URL", "restart required"] == "yes"
    assert table.loc["DATABASE_URL", "value"] == MASK  # may hold a database password
    assert table.loc["DUCKDB_PATH", "source"] == "secrets.toml"  # the deployment (the test's settings) set it
    assert table.loc["APP_SECRET_KEY", "value"] == MASK
    assert {b.key for b in at.button} >= {f"settings_save_{n}" for n in EDITABLE_NAMES}


def test_an_admin_saves_a_setting_and_it_is_in_effect_without_a_restart(env):
    rt = app_runtime(env)
    at = _save(app_as(env, "admin", PAGE), "REFRESH_INTERVAL_MINUTES", "7")
    assert [s.value for s in at.success] == ["Saved REFRESH_INTERVAL_MINUTES; in effect now."]
    assert rt.settings.REFRESH_INTERVAL_MINUTES == 7
    row = _table(at).loc["REFRESH_INTERVAL_MINUTES"]
    assert (row["value"], row["source"]) == ("7", "saved in the console")
    audit = list_audit(rt.engine, action="settings.change").iloc[0]
    assert (audit["actor"], audit["outcome"], audit["details"]["before"], audit["details"]["after"]) == (
        "admin",
        "success",
        "5",
        "7",
    )


def test_a_bad_value_is_refused_with_its_range_and_nothing_saved(env):
    at = _save(app_as(env, "admin", PAGE), "LOGS_EXPORT_MAX_ROWS", "10")
    assert [displayed(e.value) for e in at.error] == ["LOGS_EXPORT_MAX_ROWS must be 1,000 to 1,000,000 (got '10')"]
    assert not at.success
    assert saved_values(app_runtime(env).engine) == {}
    assert _table(at).loc["LOGS_EXPORT_MAX_ROWS", "value"] == "100000"


def test_a_saved_secret_is_never_shown(env):
    at = _save(app_as(env, "admin", PAGE), "SMTP_PASSWORD", "smtp-pass-123")
    assert app_runtime(env).settings.SMTP_PASSWORD == "smtp-pass-123"
    assert _table(at).loc["SMTP_PASSWORD", "value"] == MASK
    field = at.text_input(key="setting_SMTP_PASSWORD")
    assert field.value == "" and field.proto.type == field.proto.PASSWORD
    texts = [str(e.value) for kind in ("markdown", "caption", "success", "text_input") for e in at.get(kind)]
    texts += [_table(at).to_csv()]
    assert not [t for t in texts if "smtp-pass" in t]


def test_a_read_only_admin_sees_every_setting_and_disabled_forms(env):
    at = app_as(env, "viewer", PAGE)
    assert "REFRESH_INTERVAL_MINUTES" in _table(at).index
    for name in EDITABLE_NAMES:
        save = at.button(key=f"settings_save_{name}")
        assert save.disabled and save.help == "Admin access required to change the console's settings"
        assert at.text_input(key=f"setting_{name}").disabled


def test_a_setting_the_deployment_sets_is_shown_locked(tmp_path):
    settings = demo_settings(tmp_path, APP_SECRET_KEY="s" * 48, REFRESH_INTERVAL_MINUTES="9")
    accounts.bootstrap_accounts(app_runtime(settings).engine, settings)
    at = app_as(settings, "admin", PAGE)
    row = _table(at).loc["REFRESH_INTERVAL_MINUTES"]
    assert (row["value"], row["source"]) == ("9", "secrets.toml")
    keys = {b.key for b in at.button}
    assert "settings_save_REFRESH_INTERVAL_MINUTES" not in keys and "settings_save_BACKFILL_DAYS" in keys
    assert "Set in secrets.toml, which wins over a value saved here: change it there." in [c.value for c in at.caption]


def test_a_user_gets_403(env):
    at = app_as(env, "alice", PAGE)
    assert not at.dataframe and not at.text_input


# -- Send a test notification ----------------------------------------------------------------------------------
def _channels(rt, admin, webhook_url: str, smtp_port: int) -> None:
    for name, value in (
        ("ALERT_WEBHOOK_URL", webhook_url),
        ("SMTP_HOST", "127.0.0.1"),
        ("SMTP_PORT", str(smtp_port)),
        ("SMTP_FROM", "console@example.com"),
        ("ALERT_EMAIL_TO", "ops@example.com, finance@example.com"),
    ):
        change_setting(rt, admin, name, value)


def test_a_test_notification_reaches_the_saved_webhook_and_mail_server(env):
    rt = app_runtime(env)
    receiver, smtp = Receiver(), SMTPServer()
    try:
        _channels(rt, accounts.get_user(rt.engine, "admin"), receiver.url, smtp.port)
        at = app_as(env, "admin", PAGE)
        at.button(key="settings_test_notification").click().run()
        assert not at.exception
        assert [s.value for s in at.success] == ["Webhook: sent.", "E-mail: sent."]
        ((body),) = receiver.bodies
        assert body["test"] is True and body["sent_by"] == "admin"
        assert body["text"] == (
            f"Test notification from LiteLLM Console, sent by admin at {body['at']}: budget alerts will arrive here."
        )
        ((rcpts, data),) = smtp.messages
        assert rcpts == ["ops@example.com", "finance@example.com"]
        mail = message_from_string(data, policy=policy.default)
        assert mail["Subject"] == "[LiteLLM Console] Test notification"
        assert mail.get_content().strip() == body["text"]
        row = list_audit(rt.engine, action="settings.test_notification").iloc[0]
        assert (row["actor"], row["outcome"]) == ("admin", "success")
        assert {c: o["status"] for c, o in row["details"]["channels"].items()} == {"webhook": "sent", "email": "sent"}
        assert "/hooks/T000/B000/secret" not in list_audit(rt.engine).to_json()
    finally:
        receiver.close()
        smtp.close()


def test_a_failing_channel_is_shown_failed_with_its_reason_and_no_secret(env):
    rt = app_runtime(env)
    receiver = Receiver(status=500)
    try:
        _channels(rt, accounts.get_user(rt.engine, "admin"), receiver.url, free_port())  # no mail server there
        at = app_as(env, "admin", PAGE)
        at.button(key="settings_test_notification").click().run()
        errors = [e.value for e in at.error]
        assert errors == [
            f"Webhook: failed ({markdown_literal('HTTP 500')}).",
            f"E-mail: failed ({markdown_literal('ConnectionRefusedError')}).",
        ]
        assert len(receiver.bodies) == 1  # one try: the person waits for the answer
        assert "secret" not in "".join(errors)
        row = list_audit(rt.engine, action="settings.test_notification").iloc[0]
        assert row["outcome"] == "failure" and row["details"]["channels"]["webhook"]["error"] == "HTTP 500"
    finally:
        receiver.close()


def test_no_channel_configured_says_so_and_a_readonly_admin_cannot_send(env):
    at = app_as(env, "admin", PAGE)
    at.button(key="settings_test_notification").click().run()
    assert [i.value for i in at.info if not i.value.startswith("Demo mode")] == [
        "Webhook: not configured (set ALERT_WEBHOOK_URL).",
        "E-mail: not configured (set SMTP_HOST and ALERT_EMAIL_TO).",
    ]
    at = app_as(env, "viewer", PAGE)
    button = at.button(key="settings_test_notification")
    assert button.disabled and button.help == "Admin access required to change the console's settings"
