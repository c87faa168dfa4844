"""Accounts, sessions and audit on SQLite and on a real PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lib import accounts
from lib.accounts import AccountError, LoginError
from lib.appdb import MIGRATIONS, get_engine, init_db
from lib.audit import list_audit
from lib.config import load_settings
from lib.jobs import record_job, recent_runs
from lib.permissions import PermissionDenied


@pytest.fixture
def engine(app_db_url):
    return get_engine(app_db_url)


def _admin(engine, name="root"):
    return accounts.create_user(engine, None, name, "s3cret-pass", "admin")


def test_schema_is_versioned_and_upgrades_are_idempotent(engine):
    assert init_db(engine) == len(MIGRATIONS)
    assert init_db(engine) == len(MIGRATIONS)           # a second start changes nothing
    with record_job(engine, "refresh_today", "scheduler") as run:
        run.rows = 5
    assert recent_runs(engine)["rows"].tolist() == [5]


def test_login_lockout_and_disabled_users(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "bob", "bob-password", "user", litellm_user_id="bob.l")
    assert accounts.authenticate(engine, "bob", "bob-password").role == "user"
    now = datetime.now(timezone.utc)
    for _ in range(accounts.MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginError, match="Wrong username or password"):
            accounts.authenticate(engine, "bob", "nope", now=now)
    with pytest.raises(LoginError, match="locked"):
        accounts.authenticate(engine, "bob", "nope", now=now)
    with pytest.raises(LoginError, match="locked"):           # even the right password, while locked
        accounts.authenticate(engine, "bob", "bob-password", now=now + timedelta(minutes=5))
    assert accounts.authenticate(engine, "bob", "bob-password", now=now + timedelta(minutes=16))
    accounts.set_enabled(engine, admin, "bob", False)
    with pytest.raises(LoginError, match="disabled"):
        accounts.authenticate(engine, "bob", "bob-password")
    outcomes = list_audit(engine, action="login")["outcome"].tolist()
    assert outcomes.count("failure") >= 4 and "locked" in outcomes and "success" in outcomes


def test_logout_revokes_the_cookie_session(engine):
    _admin(engine)
    exp = (datetime.now(timezone.utc) + timedelta(days=1)).timestamp()
    accounts.open_session(engine, "root", exp)
    assert accounts.session_user(engine, "root", exp).username == "root"
    accounts.close_session(engine, "root", exp)
    assert accounts.session_user(engine, "root", exp) is None          # a replayed cookie no longer works
    assert accounts.session_user(engine, "root", exp + 1) is None       # nor a forged stamp


def test_last_admin_cannot_be_removed_and_permissions_are_enforced(engine):
    admin = _admin(engine)
    with pytest.raises(AccountError, match="last enabled admin"):
        accounts.set_enabled(engine, admin, "root", False)
    with pytest.raises(AccountError, match="last enabled admin"):
        accounts.change_role(engine, admin, "root", "user")
    viewer = accounts.create_user(engine, admin, "viewer", "viewer-pass", "admin-readonly")
    with pytest.raises(PermissionDenied, match="Admin access required"):
        accounts.create_user(engine, viewer, "eve", "eve-password", "admin")
    assert accounts.get_user(engine, "eve") is None
    accounts.create_user(engine, admin, "second", "second-pass", "admin")
    accounts.change_role(engine, admin, "root", "user")                 # fine now: another admin exists
    assert accounts.get_user(engine, "root").role == "user"


def test_audit_rows_mask_secrets_and_passwords_never_stored(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "carol", "carol-very-secret", "user")
    accounts.set_password(engine, admin, "carol", "another-secret-1")
    df = list_audit(engine)
    text = df.to_json()
    assert "carol-very-secret" not in text and "another-secret-1" not in text
    assert {"user.create", "user.set_password"} <= set(df["action"])
    assert (df[df["action"] == "user.create"]["actor"] == "root").any()
    from lib.audit import mask
    assert mask({"api_key": "sk-1", "nested": {"password": "x"}, "model": "m"}) == \
        {"api_key": "***", "nested": {"password": "***"}, "model": "m"}


def test_bootstrap_demo_accounts_and_first_admin(engine, tmp_path):
    demo = load_settings({"DATABASE_URL": "sqlite://", "APP_SECRET_KEY": ""}, secrets_path=None)
    assert accounts.bootstrap_accounts(engine, demo) == ["admin", "viewer", "alice"]
    assert accounts.bootstrap_accounts(engine, demo) == []               # only when no user exists


def test_production_needs_an_admin_from_env_and_a_strong_secret(app_db_url, tmp_path):
    engine = get_engine(app_db_url)
    prod = load_settings({"LITELLM_BASE_URL": "http://x", "ADMIN_USERNAME": "ops", "ADMIN_PASSWORD": "long-enough-pw"},
                         secrets_path=None)
    assert accounts.bootstrap_accounts(engine, prod) == ["ops"]
    with pytest.raises(AccountError, match="APP_SECRET_KEY"):
        accounts.cookie_secret(prod, tmp_path)
    demo = load_settings({}, secrets_path=None)
    secret = accounts.cookie_secret(demo, tmp_path)
    assert len(secret) >= 32 and (tmp_path / "app_secret_key").stat().st_mode & 0o777 == 0o600
    assert accounts.cookie_secret(demo, tmp_path) == secret              # generated once
