"""Settings saved in the console: each editable one round-trips and is in effect at once (the scheduler takes a new
interval), bad values are refused with their range and nothing saved, the deployment's values win, and every change
is audited before → after with secrets masked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.console_settings.effective import MASK, SettingValueError
from lib.console_settings.saved import save_value, saved_values
from lib.console_settings.service import change_setting
from lib.core.clock import utcnow
from lib.core.settings import EDITABLE_NAMES, SETTINGS_SPEC, load_settings
from lib.runtime import Runtime
from tests.support.ports import free_port

ADMIN = User("root", "Root", None, "admin", None, True)
READONLY = User("viewer", "Viewer", None, "admin-readonly", None, True)

# A valid value other than the default for every editable setting, and the value it is in effect as.
VALID = {
    "REFRESH_INTERVAL_MINUTES": ("7", 7),
    "MODEL_SYNC_INTERVAL_MINUTES": ("120", 120),
    "BACKFILL_DAYS": ("30", 30),
    "KEYS_CACHE_MINUTES": ("3", 3),
    "ROUTING_DRIFT_INTERVAL_MINUTES": ("30", 30),
    "LOGS_EXPORT_MAX_ROWS": ("5000", 5000),
    "LOGIN_MAX_FAILURES": ("3", 3),
    "LOGIN_LOCKOUT_MINUTES": ("60", 60),
    "ALERT_WEBHOOK_URL": (
        "https://hooks.example.com/services/T0/B0/hook-secret/",
        "https://hooks.example.com/services/T0/B0/hook-secret",
    ),
    "SMTP_HOST": ("smtp.example.com", "smtp.example.com"),
    "SMTP_PORT": ("2525", 2525),
    "SMTP_USERNAME": ("alerts", "alerts"),
    "SMTP_PASSWORD": ("smtp-pass-123", "smtp-pass-123"),
    "SMTP_FROM": ("console@example.com", "console@example.com"),
    "ALERT_EMAIL_TO": ("ops@example.com, finance@example.com", "ops@example.com, finance@example.com"),
}


def _values(tmp_path, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
        "METRICS_PORT": "0",
        **more,
    }


@pytest.fixture
def rt(tmp_path):
    """A demo-mode console whose deployment sets none of the editable settings."""
    runtime = Runtime(load_settings(_values(tmp_path), secrets_path=None), environ={})
    yield runtime
    runtime.close()


def test_every_editable_setting_has_a_round_trip_here():
    assert set(VALID) == set(EDITABLE_NAMES)


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_saved_setting_is_in_effect_at_once_and_after_a_restart(rt, tmp_path, name):
    typed, value = VALID[name]
    assert getattr(rt.settings, name) != value
    settings = change_setting(rt, ADMIN, name, typed)
    assert getattr(settings, name) == value and getattr(rt.settings, name) == value
    assert rt.setting_sources[name] == "saved in the console"

    restarted = Runtime(rt.base_settings, environ={})  # a new process over the same app database
    try:
        assert getattr(restarted.settings, name) != value  # the deployment's, until the saved values are read
        restarted.load_saved_settings()
        assert getattr(restarted.settings, name) == value
        assert restarted.setting_sources[name] == "saved in the console"
    finally:
        restarted.close()


def test_a_saved_value_forgotten_falls_back_to_the_default(rt):
    default_days = rt.settings.BACKFILL_DAYS  # demo mode: all 120 days the demo has
    change_setting(rt, ADMIN, "BACKFILL_DAYS", "30")
    change_setting(rt, ADMIN, "BACKFILL_DAYS", "")
    assert rt.settings.BACKFILL_DAYS == default_days == 120
    assert rt.setting_sources["BACKFILL_DAYS"] == "default"
    assert saved_values(rt.engine) == {}
    row = list_audit(rt.engine, action="settings.change").iloc[0]
    assert (row["details"]["before"], row["details"]["after"]) == ("30", "120")


@pytest.mark.parametrize(
    ("name", "typed", "message"),
    [
        ("REFRESH_INTERVAL_MINUTES", "0", "REFRESH_INTERVAL_MINUTES must be 1 to 1,440 (got '0')"),
        ("REFRESH_INTERVAL_MINUTES", "1441", "REFRESH_INTERVAL_MINUTES must be 1 to 1,440 (got '1441')"),
        ("REFRESH_INTERVAL_MINUTES", "soon", "REFRESH_INTERVAL_MINUTES must be 1 to 1,440 (got 'soon'); Input should"),
        ("LOGS_EXPORT_MAX_ROWS", "999", "LOGS_EXPORT_MAX_ROWS must be 1,000 to 1,000,000 (got '999')"),
        ("SMTP_PORT", "70000", "SMTP_PORT must be 1 to 65,535 (got '70000')"),
        ("LOGIN_MAX_FAILURES", "0", "LOGIN_MAX_FAILURES must be 1 to 100 (got '0')"),
        ("LOGIN_LOCKOUT_MINUTES", "1441", "LOGIN_LOCKOUT_MINUTES must be 1 to 1,440 (got '1441')"),
        ("ALERT_EMAIL_TO", "ops", "ALERT_EMAIL_TO must be e-mail addresses (name@example.com), comma-separated"),
        ("ALERT_WEBHOOK_URL", "ftp://hooks.example.com/hook-secret", "ALERT_WEBHOOK_URL must start with http"),
        ("DATABASE_URL", "sqlite:///elsewhere.db", "DATABASE_URL needs a restart"),
        ("NO_SUCH_SETTING", "1", "'NO_SUCH_SETTING' is not a setting"),
    ],
)
def test_a_bad_value_is_refused_with_its_range_and_nothing_is_saved(rt, name, typed, message):
    before = rt.settings
    with pytest.raises(SettingValueError) as err:
        change_setting(rt, ADMIN, name, typed)
    assert str(err.value).startswith(message)
    assert saved_values(rt.engine) == {} and rt.settings == before
    row = list_audit(rt.engine, action="settings.change").iloc[0]
    assert (row["outcome"], row["details"]["error"]) == ("failure", str(err.value))
    assert "hook-secret" not in str(err.value)  # a secret's value is never echoed


def test_the_environment_wins_over_a_saved_value_and_cannot_be_overridden(tmp_path):
    first = Runtime(load_settings(_values(tmp_path), secrets_path=None), environ={})
    change_setting(first, ADMIN, "REFRESH_INTERVAL_MINUTES", "7")  # saved while the environment said nothing
    first.close()

    environ = {"REFRESH_INTERVAL_MINUTES": "9"}
    rt = Runtime(load_settings(_values(tmp_path) | environ, secrets_path=None), environ=environ)
    try:
        rt.load_saved_settings()
        assert rt.settings.REFRESH_INTERVAL_MINUTES == 9
        assert rt.setting_sources["REFRESH_INTERVAL_MINUTES"] == "environment"
        with pytest.raises(SettingValueError, match="^REFRESH_INTERVAL_MINUTES is set in the environment, which wins"):
            change_setting(rt, ADMIN, "REFRESH_INTERVAL_MINUTES", "11")
        assert saved_values(rt.engine) == {"REFRESH_INTERVAL_MINUTES": "7"}
        assert rt.settings.REFRESH_INTERVAL_MINUTES == 9
    finally:
        rt.close()


def test_a_value_from_secrets_toml_wins_too_and_its_source_says_so(tmp_path):
    rt = Runtime(load_settings(_values(tmp_path, BACKFILL_DAYS="10"), secrets_path=None), environ={})
    try:
        with rt.engine.begin() as conn:  # a value saved before secrets.toml set it
            save_value(conn, "BACKFILL_DAYS", "30", by="root")
        rt.load_saved_settings()
        assert rt.settings.BACKFILL_DAYS == 10
        assert rt.setting_sources["BACKFILL_DAYS"] == "secrets.toml"
        assert rt.setting_sources["REFRESH_INTERVAL_MINUTES"] == "default"
        with pytest.raises(SettingValueError, match="^BACKFILL_DAYS is set in secrets.toml"):
            change_setting(rt, ADMIN, "BACKFILL_DAYS", "20")
    finally:
        rt.close()


def test_every_change_is_audited_before_and_after_with_secrets_masked(rt):
    change_setting(rt, ADMIN, "REFRESH_INTERVAL_MINUTES", "7")
    change_setting(rt, ADMIN, "SMTP_PASSWORD", "smtp-pass-123")
    change_setting(rt, ADMIN, "SMTP_PASSWORD", "smtp-pass-456")
    change_setting(rt, ADMIN, "ALERT_WEBHOOK_URL", "https://hooks.example.com/services/T0/B0/hook-secret")
    rows = list_audit(rt.engine, action="settings.change").iloc[::-1]  # oldest first
    seen = [(r["actor"], r["target"], r["outcome"], r["details"]) for _, r in rows.iterrows()]
    assert seen == [
        (
            "root",
            "REFRESH_INTERVAL_MINUTES",
            "success",
            {"setting": "REFRESH_INTERVAL_MINUTES", "before": "5", "after": "7"},
        ),
        ("root", "SMTP_PASSWORD", "success", {"setting": "SMTP_PASSWORD", "before": None, "after": MASK}),
        ("root", "SMTP_PASSWORD", "success", {"setting": "SMTP_PASSWORD", "before": MASK, "after": MASK}),
        ("root", "ALERT_WEBHOOK_URL", "success", {"setting": "ALERT_WEBHOOK_URL", "before": None, "after": MASK}),
    ]
    everything = list_audit(rt.engine).to_json()
    assert "smtp-pass" not in everything and "hook-secret" not in everything


def test_a_read_only_admin_may_not_change_a_setting(rt):
    with pytest.raises(PermissionDenied, match="^Admin access required to change the console's settings$"):
        change_setting(rt, READONLY, "REFRESH_INTERVAL_MINUTES", "7")
    assert saved_values(rt.engine) == {} and rt.settings.REFRESH_INTERVAL_MINUTES == 5


def test_a_new_interval_reschedules_the_running_jobs_without_a_restart(tmp_path):
    # LiteLLM down: the jobs the scheduler starts with fail at once and change nothing
    values = _values(tmp_path, LITELLM_BASE_URL=f"http://127.0.0.1:{free_port()}", LITELLM_TIMEOUT_S="2")
    rt = Runtime(load_settings(values, secrets_path=None), environ={})
    try:
        scheduler = rt.start_background_services()
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert jobs["refresh_today"].trigger.interval == timedelta(minutes=5)
        assert jobs["model_sync"].trigger.interval == timedelta(minutes=60)

        change_setting(rt, ADMIN, "REFRESH_INTERVAL_MINUTES", "7")
        asked = utcnow()
        refresh = scheduler.get_job("refresh_today")
        assert refresh.trigger.interval == timedelta(minutes=7)
        assert asked < refresh.next_run_time <= asked + timedelta(minutes=7)
        assert scheduler.get_job("model_sync").trigger.interval == timedelta(minutes=60)  # its setting unchanged

        change_setting(rt, ADMIN, "MODEL_SYNC_INTERVAL_MINUTES", "120")
        assert scheduler.get_job("model_sync").trigger.interval == timedelta(minutes=120)
        assert scheduler.get_job("routing_drift").trigger.interval == timedelta(minutes=15)
        change_setting(rt, ADMIN, "ROUTING_DRIFT_INTERVAL_MINUTES", "45")
        assert scheduler.get_job("routing_drift").trigger.interval == timedelta(minutes=45)
        assert rt.start_background_services() is scheduler  # the same scheduler: nothing restarted
    finally:
        rt.close()


def test_a_new_keys_cache_time_applies_to_the_kept_snapshot(rt):
    assert rt.key_snapshots.max_age == timedelta(minutes=15)
    change_setting(rt, ADMIN, "KEYS_CACHE_MINUTES", "3")
    assert rt.key_snapshots.max_age == timedelta(minutes=3)


def test_the_spec_reads_ranges_and_choices_from_the_fields():
    assert SETTINGS_SPEC["REFRESH_INTERVAL_MINUTES"].allowed == "1 to 1,440"
    assert SETTINGS_SPEC["LITELLM_TIMEOUT_S"].allowed == "more than 0, at most 600"
    assert SETTINGS_SPEC["COOKIE_SECURE"].allowed == "auto, true or false"
    assert (
        SETTINGS_SPEC["DATABASE_URL"].restart_required
        and not SETTINGS_SPEC["REFRESH_INTERVAL_MINUTES"].restart_required
    )
    assert {n for n, s in SETTINGS_SPEC.items() if s.secret} >= {"LITELLM_API_KEY", "SMTP_PASSWORD", "APP_SECRET_KEY"}
