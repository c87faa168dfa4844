"""Accounts, sessions and audit on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from lib.appdb import open_app_database
from lib.auth import accounts
from lib.auth.accounts import AccountError, LoginError
from lib.auth.audit import list_audit
from lib.auth.permissions import PermissionDenied
from lib.core.db import init_db
from lib.core.jobs import recent_runs, record_job
from lib.core.settings import load_settings
from lib.migrations import MIGRATIONS


@pytest.fixture
def engine(app_db_url):
    return open_app_database(app_db_url)


def _admin(engine, name="root"):
    return accounts.create_user(engine, None, name, "s3cret-pass", "admin")


def test_schema_is_versioned_and_upgrades_are_idempotent(engine):
    assert init_db(engine, MIGRATIONS) == len(MIGRATIONS)
    assert init_db(engine, MIGRATIONS) == len(MIGRATIONS)  # a second start changes nothing
    with record_job(engine, "refresh_today", "scheduler") as run:
        run.rows = 5
    assert recent_runs(engine)["rows"].tolist() == [5]


def _refused(engine, username: str, password: str, now: datetime | None = None) -> None:
    """A refused login: always the one message that names no reason (the audit log keeps the reason)."""
    with pytest.raises(LoginError) as refusal:
        accounts.authenticate(engine, username, password, now=now)
    assert str(refusal.value) == accounts.LOGIN_FAILED


def test_login_lockout_and_disabled_users(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "bob", "bob-password", "user", litellm_user_id="bob.l")
    assert accounts.authenticate(engine, "bob", "bob-password").role == "user"
    now = datetime.now(timezone.utc)
    for _ in range(accounts.MAX_FAILED_LOGINS):
        _refused(engine, "bob", "nope", now=now)
    _refused(engine, "bob", "bob-password", now=now + timedelta(minutes=5))  # even the right password, while locked
    assert accounts.authenticate(engine, "bob", "bob-password", now=now + timedelta(minutes=16))
    for _ in range(accounts.MAX_FAILED_LOGINS):
        _refused(engine, "bob", "nope")
    accounts.set_password(engine, admin, "bob", "bob-password-2")  # an admin's reset ends the lockout
    assert accounts.authenticate(engine, "bob", "bob-password-2")
    accounts.set_enabled(engine, admin, "bob", False)
    _refused(engine, "bob", "bob-password-2")
    audited = list_audit(engine, action="login")
    outcomes = audited["outcome"].tolist()
    assert outcomes.count("failure") >= 4 and "locked" in outcomes and "success" in outcomes
    assert audited["details"].iloc[0]["reason"] == "disabled"


def test_logout_revokes_the_cookie_session(engine):
    _admin(engine)
    exp = (datetime.now(timezone.utc) + timedelta(days=1)).timestamp()
    accounts.open_session(engine, "root", exp)
    assert accounts.session_user(engine, "root", exp).username == "root"
    accounts.close_session(engine, "root", exp)
    assert accounts.session_user(engine, "root", exp) is None  # a replayed cookie no longer works
    assert accounts.session_user(engine, "root", exp + 1) is None  # nor a forged stamp


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
    accounts.change_role(engine, admin, "root", "user")  # fine now: another admin exists
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
    from lib.auth.audit import mask

    assert mask({"api_key": "sk-1", "nested": {"password": "x"}, "model": "m"}) == {
        "api_key": "***",
        "nested": {"password": "***"},
        "model": "m",
    }


def test_bootstrap_demo_accounts_and_first_admin(engine, tmp_path):
    demo = load_settings({"DATABASE_URL": "sqlite://", "APP_SECRET_KEY": ""}, secrets_path=None)
    assert accounts.bootstrap_accounts(engine, demo) == ["admin", "viewer", "alice"]
    assert accounts.bootstrap_accounts(engine, demo) == []  # only when no user exists


def test_production_needs_an_admin_from_env_and_a_strong_secret(app_db_url, tmp_path):
    engine = open_app_database(app_db_url)
    prod = load_settings(
        {"LITELLM_BASE_URL": "http://x", "ADMIN_USERNAME": "ops", "ADMIN_PASSWORD": "long-enough-pw"}, secrets_path=None
    )
    assert accounts.bootstrap_accounts(engine, prod) == ["ops"]
    with pytest.raises(AccountError, match="APP_SECRET_KEY"):
        accounts.cookie_secret(prod, tmp_path)
    demo = load_settings({}, secrets_path=None)
    secret = accounts.cookie_secret(demo, tmp_path)
    assert len(secret) >= 32 and (tmp_path / "app_secret_key").stat().st_mode & 0o777 == 0o600
    assert accounts.cookie_secret(demo, tmp_path) == secret  # generated once


# -- added: usernames, passwords, refusals, production bootstrap, CLI ---------------------------------


def test_usernames_are_case_insensitive_and_match_the_authenticator_keys(engine):
    admin = _admin(engine)
    bob = accounts.create_user(engine, admin, "  Bob.Smith ", "bob-password", "user")
    assert bob.username == "bob.smith"
    assert accounts.authenticate(engine, "BOB.smith", "bob-password").username == "bob.smith"
    assert set(accounts.credentials(engine)["usernames"]) == {"root", "bob.smith"}  # the library lower-cases keys
    with pytest.raises(AccountError, match="already exists"):
        accounts.create_user(engine, admin, "BOB.SMITH", "bob-password", "user")
    for bad in ("", "a b", "x" * 65, "bob;drop"):
        with pytest.raises(AccountError, match="Username"):
            accounts.create_user(engine, admin, bad, "bob-password", "user")


def test_passwords_outside_bcrypt_limits_are_refused_not_crashes(engine):
    admin = _admin(engine)
    with pytest.raises(AccountError, match="at least 8"):
        accounts.create_user(engine, admin, "short", "1234567", "user")
    with pytest.raises(AccountError, match="at most 72 bytes"):
        accounts.create_user(engine, admin, "long", "é" * 40, "user")
    assert accounts.create_user(engine, admin, "demo", "abc", "user", demo=True)  # demo mode: any length
    with pytest.raises(LoginError, match="Wrong username or password"):  # never a ValueError
        accounts.authenticate(engine, "root", "x" * 500)
    with pytest.raises(LoginError, match="Wrong username or password"):
        accounts.authenticate(engine, "nobody", "whatever-password")


def test_a_disabled_account_is_named_only_in_the_audit_log(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "dora", "dora-password", "user")
    accounts.set_enabled(engine, admin, "dora", False)
    _refused(engine, "dora", "guess-password")
    _refused(engine, "dora", "dora-password")
    reasons = [d["reason"] for d in list_audit(engine, user="dora", action="login")["details"]]
    assert reasons == ["disabled", "wrong password"]
    assert "dora" not in accounts.credentials(engine)["usernames"]
    accounts.set_enabled(engine, admin, "dora", True)
    assert accounts.authenticate(engine, "dora", "dora-password").enabled


# -- logins tell nobody which accounts exist ------------------------------------------------------------


def _count_bcrypt(monkeypatch) -> list:
    calls, real = [], accounts.bcrypt.checkpw

    def counting(password, hashed):
        calls.append(1)
        return real(password, hashed)

    monkeypatch.setattr(accounts.bcrypt, "checkpw", counting)
    return calls


def test_every_refused_login_gets_the_same_answer_after_the_same_work(engine, monkeypatch):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "bob", "bob-password", "user")
    accounts.create_user(engine, admin, "dora", "dora-password", "user")
    accounts.set_enabled(engine, admin, "dora", False)
    now = datetime.now(timezone.utc)
    for name in ("bob", "ghost"):  # a real name and an unknown one, both locked
        for _ in range(accounts.MAX_FAILED_LOGINS):
            _refused(engine, name, "nope", now=now)
    checks = _count_bcrypt(monkeypatch)
    attempts = [
        ("bob", "nope-again"),
        ("bob", "bob-password"),
        ("ghost", "whatever"),
        ("nobody", "whatever"),
        ("dora", "dora-password"),
        ("dora", "guess"),
        ("root", "x" * 500),
    ]
    for username, password in attempts:
        before = len(checks)
        _refused(engine, username, password, now=now + timedelta(minutes=1))
        assert len(checks) - before == 1, username  # one bcrypt check each: no timing tell
    reasons = {
        (r["actor"], r["outcome"], r["details"].get("reason"))
        for _, r in list_audit(engine).iterrows()
        if r["action"] == "login"
    }
    assert {
        ("bob", "locked", "locked"),
        ("anonymous", "locked", "locked"),
        ("dora", "failure", "disabled"),
        ("anonymous", "failure", "unknown user"),
    } <= reasons  # the audit log keeps the reasons


def test_unknown_usernames_lock_out_like_real_ones(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "bob", "bob-password", "user")
    now = datetime.now(timezone.utc)
    for name in ("bob", "ghost"):
        for minutes in range(accounts.MAX_FAILED_LOGINS + 1):  # the last one falls in the lockout
            _refused(engine, name, "nope", now=now + timedelta(minutes=minutes))
        _refused(engine, name, "nope", now=now + accounts.LOCKOUT + timedelta(minutes=10))  # lockout over
    real = list_audit(engine, user="bob", action="login")["outcome"].tolist()
    unknown = list_audit(engine, user="anonymous", action="login")["outcome"].tolist()
    assert real == unknown == ["failure", "locked", "locked"] + ["failure"] * (accounts.MAX_FAILED_LOGINS - 1)
    assert accounts.get_user(engine, "ghost") is None  # counted without creating a user


def test_failed_logins_are_forgotten_after_a_while_and_their_records_pruned(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "bob", "bob-password", "user")
    now = datetime.now(timezone.utc)
    for name in ("bob", "ghost", "ghost2", "ghost3"):
        for _ in range(accounts.MAX_FAILED_LOGINS - 1):
            _refused(engine, name, "nope", now=now)
    later = now + accounts.FAILED_LOGIN_MEMORY + timedelta(minutes=1)
    for name in ("bob", "ghost"):
        _refused(engine, name, "nope", now=later)  # counts as a first failure: no lockout
    assert accounts.authenticate(engine, "bob", "bob-password", now=later)
    assert set(list_audit(engine, action="login")["outcome"]) == {"failure", "success"}
    with engine.connect() as c:  # only ghost's fresh failure is kept
        assert c.execute(select(func.count()).select_from(accounts.login_failures)).scalar() == 1


def test_refused_changes_are_audited_and_change_nothing(engine):
    admin = _admin(engine)
    viewer = accounts.create_user(engine, admin, "vera", "vera-password", "admin-readonly")
    for change in (
        lambda: accounts.set_enabled(engine, viewer, "root", False),
        lambda: accounts.set_password(engine, viewer, "root", "taken-over-1"),
        lambda: accounts.change_role(engine, viewer, "vera", "admin"),
    ):
        with pytest.raises(PermissionDenied, match="Admin access required to manage users"):
            change()
    assert accounts.get_user(engine, "vera").role == "admin-readonly"
    assert accounts.authenticate(engine, "root", "s3cret-pass")
    denied = list_audit(engine, user="vera")
    assert set(denied["outcome"]) == {"denied"} and len(denied) == 3
    accounts.create_user(engine, admin, "second", "second-pass", "admin")
    with pytest.raises(AccountError, match="your own account"):
        accounts.set_enabled(engine, admin, "root", False)
    failure = list_audit(engine, user="root", action="user.disable").iloc[0]
    assert failure["outcome"] == "failure" and "own account" in failure["details"]["error"]
    assert "taken-over-1" not in list_audit(engine).to_json()


def test_sessions_end_on_logout_disable_and_password_reset(engine):
    admin = _admin(engine)
    accounts.create_user(engine, admin, "erin", "erin-password", "user")
    future = (datetime.now(timezone.utc) + timedelta(days=1)).timestamp()
    for end in (
        lambda exp: accounts.close_session(engine, "erin", exp),
        lambda exp: accounts.set_password(engine, admin, "erin", "erin-password-2"),
        lambda exp: (
            accounts.set_enabled(engine, admin, "erin", False),
            accounts.set_enabled(engine, admin, "erin", True),
        ),
    ):
        accounts.open_session(engine, "erin", future)
        assert accounts.session_user(engine, "erin", future).username == "erin"
        end(future)
        assert accounts.session_user(engine, "erin", future) is None
        future += 1
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).timestamp()
    accounts.open_session(engine, "erin", past)
    assert accounts.session_user(engine, "erin", past) is None  # an expired cookie


def _prod(**env):
    return load_settings({"LITELLM_BASE_URL": "http://litellm.example", **env}, secrets_path=None)


def test_production_never_keeps_a_demo_password(app_db_url, monkeypatch):
    engine = open_app_database(app_db_url)
    demo = load_settings({"APP_SECRET_KEY": ""}, secrets_path=None)
    accounts.bootstrap_accounts(engine, demo)  # a database first used in demo mode
    accounts.set_password(engine, None, "viewer", "viewer-changed-1")
    monkeypatch.setattr(accounts, "_demo_checked", set())
    assert accounts.bootstrap_accounts(engine, _prod()) == ["admin", "alice"]
    assert not accounts.get_user(engine, "admin").enabled and accounts.get_user(engine, "viewer").enabled
    for name in ("admin", "alice"):
        with pytest.raises(LoginError):
            accounts.authenticate(engine, name, name)
    assert not accounts.has_enabled_admin(engine)
    # ADMIN_USERNAME/ADMIN_PASSWORD take the admin account back when no enabled admin is left
    assert accounts.bootstrap_accounts(engine, _prod(ADMIN_USERNAME="Admin", ADMIN_PASSWORD="a-long-password")) == [
        "admin"
    ]
    assert accounts.authenticate(engine, "admin", "a-long-password").role == "admin"
    assert list_audit(engine, user="bootstrap", action="user.restore_admin")["outcome"].tolist() == ["success"]
    assert accounts.bootstrap_accounts(engine, _prod(ADMIN_USERNAME="admin", ADMIN_PASSWORD="other-password")) == []
    assert list_audit(engine, user="bootstrap", action="user.disable")["target"].tolist() == ["alice", "admin"]


def test_bad_admin_environment_names_the_variable(app_db_url):
    engine = open_app_database(app_db_url)
    assert accounts.bootstrap_accounts(engine, _prod()) == []  # nothing set: the login page explains
    with pytest.raises(AccountError, match="^ADMIN_USERNAME and ADMIN_PASSWORD"):
        accounts.bootstrap_accounts(engine, _prod(ADMIN_USERNAME="ops"))
    with pytest.raises(AccountError, match="^ADMIN_PASSWORD: .*at least 8"):
        accounts.bootstrap_accounts(engine, _prod(ADMIN_USERNAME="ops", ADMIN_PASSWORD="short"))
    with pytest.raises(AccountError, match="^ADMIN_USERNAME: "):
        accounts.bootstrap_accounts(engine, _prod(ADMIN_USERNAME="bad name", ADMIN_PASSWORD="long-enough-pw"))
    assert accounts.count_users(engine) == 0


def test_cookie_secret_rules(tmp_path):
    with pytest.raises(AccountError, match="APP_SECRET_KEY: must be at least 32"):
        accounts.cookie_secret(_prod(APP_SECRET_KEY="too-short"), tmp_path)
    assert accounts.cookie_secret(_prod(APP_SECRET_KEY="k" * 32), tmp_path) == "k" * 32
    assert not (tmp_path / "app_secret_key").exists()  # production never generates one
    demo = load_settings({}, secrets_path=None)
    import threading

    got = []
    threads = [
        threading.Thread(target=lambda: got.append(accounts.cookie_secret(demo, tmp_path / "d"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and len(got[0]) >= 32  # concurrent first starts agree
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["app_secret_key"]


def _cli(monkeypatch, capsys, url: str, *argv: str, stdin: str = ""):
    import io

    from lib import cli

    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_user_commands(app_db_url, monkeypatch, capsys):
    import json

    code, out, err = _cli(
        monkeypatch,
        capsys,
        app_db_url,
        "create-user",
        "--username",
        "Ops",
        "--role",
        "admin",
        "--name",
        "Operator",
        "--email",
        "ops@example.com",
        "--litellm-user-id",
        "ops.l",
        "--password-stdin",
        stdin="first-password-1\n",
    )
    assert code == 0 and out.count("\n") == 1 and json.loads(out)["created"] == "ops"
    engine = open_app_database(app_db_url)
    ops = accounts.get_user(engine, "ops")
    assert (ops.display_name, ops.email, ops.litellm_user_id, ops.role) == (
        "Operator",
        "ops@example.com",
        "ops.l",
        "admin",
    )
    code, out, err = _cli(
        monkeypatch,
        capsys,
        app_db_url,
        "set-password",
        "--username",
        "ops",
        "--password-stdin",
        stdin="second-password-2\r\n",
    )
    assert code == 0 and json.loads(out)
    assert accounts.authenticate(engine, "ops", "second-password-2")
    code, out, err = _cli(
        monkeypatch,
        capsys,
        app_db_url,
        "create-user",
        "--username",
        "u1",
        "--role",
        "user",
        "--password-stdin",
        stdin="short\n",
    )
    assert code != 0 and "at least 8" in err and out == ""
    code, out, err = _cli(monkeypatch, capsys, app_db_url, "disable-user", "--username", "ops")
    assert code != 0 and "last enabled admin" in err
    code, out, err = _cli(monkeypatch, capsys, app_db_url, "disable-user", "--username", "ghost")
    assert code != 0 and "ghost" in err
    code, out, err = _cli(
        monkeypatch,
        capsys,
        app_db_url,
        "create-user",
        "--username",
        "u2",
        "--role",
        "user",
        "--password-stdin",
        stdin="",
    )
    assert code != 0 and "password" in err
    actions = list_audit(engine, user="cli")[["action", "outcome"]].values.tolist()
    assert ["user.create", "success"] in actions and ["user.disable", "failure"] in actions
    assert "second-password-2" not in list_audit(engine).to_json() + out + err


def test_cli_unlocks_a_locked_login_and_says_when_there_was_nothing_to_do(app_db_url, monkeypatch, capsys):
    import json

    engine = open_app_database(app_db_url)
    admin = _admin(engine)
    accounts.create_user(engine, admin, "bob", "bob-password", "user")
    for _ in range(accounts.MAX_FAILED_LOGINS):
        _refused(engine, "bob", "nope")
    _refused(engine, "bob", "bob-password")
    code, out, err = _cli(monkeypatch, capsys, app_db_url, "unlock-user", "--username", "bob")
    assert (code, json.loads(out)) == (0, {"unlocked": "bob"})
    assert accounts.authenticate(engine, "bob", "bob-password").username == "bob"
    code, out, err = _cli(monkeypatch, capsys, app_db_url, "unlock-user", "--username", "bob")
    assert (code, json.loads(out)) == (0, {"unlocked": "bob", "unchanged": "bob is not locked"})
    accounts.set_enabled(engine, admin, "bob", False)
    code, out, err = _cli(monkeypatch, capsys, app_db_url, "disable-user", "--username", "bob")
    assert (code, json.loads(out)) == (0, {"disabled": "bob", "unchanged": "bob is already disabled"})
    assert list_audit(engine, action="user.unlock")[["actor", "target", "outcome"]].values.tolist() == [
        ["cli", "bob", "success"]
    ]


def test_a_password_typed_as_a_username_is_not_stored(engine):
    _admin(engine)
    with pytest.raises(LoginError, match="Wrong username or password"):
        accounts.authenticate(engine, "My-Secret-Passw0rd", "")
    row = list_audit(engine, action="login").iloc[0]
    assert (row["actor"], row["target"], row["outcome"]) == ("anonymous", "(unknown user)", "failure")
    assert "My-Secret-Passw0rd" not in list_audit(engine).to_json()
    assert len(row["details"]["username_sha256"]) == 12
