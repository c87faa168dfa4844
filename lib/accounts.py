"""Console users: bcrypt passwords, roles, lockout after repeated failures, server-side sessions.

State-changing functions take the acting user (`actor`; None = the operator's CLI or bootstrap) and
check its permission themselves, then write the change and its audit row in one transaction.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bcrypt
import pandas as pd
from sqlalchemy import (Boolean, Column, DateTime, Float, Integer, String, Table, func, insert, select, update)

from lib.appdb import metadata, utcnow
from lib.audit import audit
from lib.jobs import as_aware
from lib.permissions import ROLES, require

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128)),
    Column("email", String(256)),
    Column("password_hash", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("litellm_user_id", String(256)),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)
# A login cookie is valid only while its session row exists and is not revoked: logout revokes it, so a
# replayed cookie no longer logs in. Keyed by username + the cookie's expiry stamp (unique per login).
sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("cookie_exp", Float, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8
DEMO_ACCOUNTS = (("admin", "admin", "admin", "Demo Admin", None),
                 ("viewer", "viewer", "admin-readonly", "Demo Viewer", None),
                 ("alice", "alice", "user", "Alice Martin", "alice.martin"))


class AccountError(ValueError):
    """A user-management request that cannot be done; the message says why."""


class LoginError(Exception):
    pass


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    email: str | None
    role: str
    litellm_user_id: str | None
    enabled: bool


def _user(row) -> User:
    return User(row["username"], row["display_name"] or row["username"], row["email"], row["role"],
                row["litellm_user_id"], bool(row["enabled"]))


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def _check_password(password: str, demo: bool) -> None:
    if not password:
        raise AccountError("The password must not be empty")
    if not demo and len(password) < MIN_PASSWORD:
        raise AccountError(f"The password must have at least {MIN_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}")


def _actor_name(actor: User | None) -> str:
    return actor.username if actor else "cli"


def _require(actor: User | None, permission: str) -> None:
    if actor is not None:
        require(actor.role, permission)


def get_user(engine, username: str) -> User | None:
    with engine.connect() as c:
        row = c.execute(select(users).where(users.c.username == username)).mappings().first()
    return _user(row) if row else None


def list_users(engine) -> pd.DataFrame:
    cols = [users.c.username, users.c.display_name, users.c.email, users.c.role, users.c.litellm_user_id,
            users.c.enabled, users.c.locked_until, users.c.created_at, users.c.last_login_at]
    with engine.connect() as c:
        rows = c.execute(select(*cols).order_by(users.c.username)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in cols])


def count_users(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(users)).scalar()


def create_user(engine, actor: User | None, username: str, password: str, role: str, name: str | None = None,
                email: str | None = None, litellm_user_id: str | None = None, demo: bool = False) -> User:
    _require(actor, "users:manage")
    username = (username or "").strip()
    if not username or len(username) > 64 or not all(ch.isalnum() or ch in "._-@" for ch in username):
        raise AccountError("Username must be 1-64 letters, digits or . _ - @")
    _check_role(role)
    _check_password(password, demo)
    with engine.begin() as c:
        if c.execute(select(users.c.id).where(users.c.username == username)).first():
            raise AccountError(f"User {username!r} already exists")
        c.execute(insert(users).values(username=username, display_name=name or username, email=email,
                                       password_hash=hash_password(password), role=role,
                                       litellm_user_id=litellm_user_id or None, enabled=True, failed_logins=0,
                                       created_at=utcnow()))
        audit(engine, _actor_name(actor), "user.create", username, "success",
              {"role": role, "email": email, "litellm_user_id": litellm_user_id}, conn=c)
    return get_user(engine, username)


def _enabled_admins(c) -> int:
    return c.execute(select(func.count()).select_from(users).where(users.c.role == "admin",
                                                                   users.c.enabled.is_(True))).scalar()


def _change(engine, actor: User | None, username: str, action: str, values: dict, details: dict) -> User:
    _require(actor, "users:manage")
    with engine.begin() as c:
        row = c.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            raise AccountError(f"No user {username!r}")
        loses_admin = row["role"] == "admin" and row["enabled"] and (
            values.get("role", "admin") != "admin" or values.get("enabled", True) is False)
        if loses_admin and _enabled_admins(c) <= 1:
            raise AccountError("This is the last enabled admin: make another admin first")
        c.execute(update(users).where(users.c.username == username).values(**values))
        if values.get("enabled") is False or "password_hash" in values or "role" in values:
            c.execute(update(sessions).where(sessions.c.username == username, sessions.c.revoked_at.is_(None))
                      .values(revoked_at=utcnow()))
        audit(engine, _actor_name(actor), action, username, "success", details, conn=c)
    return get_user(engine, username)


def set_password(engine, actor: User | None, username: str, password: str, demo: bool = False) -> User:
    _check_password(password, demo)
    return _change(engine, actor, username, "user.set_password",
                   {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None}, {})


def set_enabled(engine, actor: User | None, username: str, enabled: bool) -> User:
    return _change(engine, actor, username, "user.enable" if enabled else "user.disable",
                   {"enabled": enabled, "failed_logins": 0, "locked_until": None}, {})


def change_role(engine, actor: User | None, username: str, role: str) -> User:
    _check_role(role)
    return _change(engine, actor, username, "user.change_role", {"role": role}, {"role": role})


def set_litellm_user(engine, actor: User | None, username: str, litellm_user_id: str | None) -> User:
    return _change(engine, actor, username, "user.link_litellm", {"litellm_user_id": litellm_user_id or None},
                   {"litellm_user_id": litellm_user_id})


def authenticate(engine, username: str, password: str, now: datetime | None = None) -> User:
    """Check a login. Counts failures; after MAX_FAILED_LOGINS the account is locked for LOCKOUT.

    The failure count and the audit row are committed before the refusal is raised.
    """
    now = now or utcnow()
    error = _login_attempt(engine, username, password, now)
    if error:
        raise LoginError(error)
    return get_user(engine, username)


def _login_attempt(engine, username: str, password: str, now: datetime) -> str | None:
    generic = "Wrong username or password."
    with engine.begin() as c:
        row = c.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            audit(engine, username or "anonymous", "login", username, "failure", {"reason": "unknown user"}, conn=c)
            return generic
        locked = as_aware(row["locked_until"])
        if locked and locked > now:
            audit(engine, username, "login", username, "locked", {}, conn=c)
            minutes = max(1, int((locked - now).total_seconds() // 60) + 1)
            return f"Too many failed logins: this account is locked for {minutes} more minute(s)."
        if not row["enabled"]:
            audit(engine, username, "login", username, "failure", {"reason": "disabled"}, conn=c)
            return "This account is disabled. Ask an admin to enable it."
        if not bcrypt.checkpw(password.encode(), row["password_hash"].encode()):
            failures = (row["failed_logins"] or 0) + 1
            locks = failures >= MAX_FAILED_LOGINS
            c.execute(update(users).where(users.c.id == row["id"]).values(
                failed_logins=0 if locks else failures, locked_until=now + LOCKOUT if locks else None))
            audit(engine, username, "login", username, "locked" if locks else "failure",
                  {"reason": "wrong password", "failures": failures}, conn=c)
            if locks:
                return f"Too many failed logins: this account is locked for {int(LOCKOUT.total_seconds() // 60)} minutes."
            return generic
        c.execute(update(users).where(users.c.id == row["id"]).values(failed_logins=0, locked_until=None,
                                                                       last_login_at=now))
        audit(engine, username, "login", username, "success", {}, conn=c)
    return None


def open_session(engine, username: str, cookie_exp: float) -> str:
    sid = secrets.token_hex(16)
    with engine.begin() as c:
        c.execute(insert(sessions).values(id=sid, username=username, cookie_exp=cookie_exp, created_at=utcnow()))
    return sid


def session_user(engine, username: str, cookie_exp: float) -> User | None:
    """The user of a login cookie if its session is open and the account is enabled."""
    with engine.connect() as c:
        ok = c.execute(select(sessions.c.id).where(
            sessions.c.username == username, sessions.c.cookie_exp == cookie_exp, sessions.c.revoked_at.is_(None))).first()
    if not ok or cookie_exp < datetime.now(timezone.utc).timestamp():
        return None
    user = get_user(engine, username)
    return user if user and user.enabled else None


def close_session(engine, username: str, cookie_exp: float | None) -> None:
    with engine.begin() as c:
        q = update(sessions).where(sessions.c.username == username, sessions.c.revoked_at.is_(None))
        if cookie_exp is not None:
            q = q.where(sessions.c.cookie_exp == cookie_exp)
        c.execute(q.values(revoked_at=utcnow()))
        audit(engine, username, "logout", username, "success", {}, conn=c)


def credentials(engine) -> dict:
    """streamlit-authenticator's credentials dict, built fresh from enabled users (never a YAML file)."""
    with engine.connect() as c:
        rows = c.execute(select(users).where(users.c.enabled.is_(True))).mappings().all()
    return {"usernames": {r["username"]: {"name": r["display_name"] or r["username"], "email": r["email"] or "",
                                          "password": r["password_hash"], "roles": [r["role"]],
                                          "failed_login_attempts": 0, "logged_in": False} for r in rows}}


def bootstrap_accounts(engine, settings) -> list[str]:
    """First start: demo accounts in demo mode, or ADMIN_USERNAME/ADMIN_PASSWORD. Never a default password."""
    if count_users(engine):
        return []
    created = []
    if settings.demo_mode:
        for username, password, role, name, litellm_id in DEMO_ACCOUNTS:
            create_user(engine, None, username, password, role, name=name, litellm_user_id=litellm_id, demo=True)
            created.append(username)
    elif settings.ADMIN_USERNAME and settings.ADMIN_PASSWORD:
        create_user(engine, None, settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD, "admin", name="Administrator")
        created.append(settings.ADMIN_USERNAME)
    return created


def cookie_secret(settings, data_dir: Path) -> str:
    """APP_SECRET_KEY; in demo mode generated once into data/ (0600) if unset; in production required."""
    if settings.APP_SECRET_KEY:
        if len(settings.APP_SECRET_KEY) < 32 and not settings.demo_mode:
            raise AccountError("APP_SECRET_KEY: must be at least 32 characters")
        return settings.APP_SECRET_KEY
    if not settings.demo_mode:
        raise AccountError("APP_SECRET_KEY: required outside demo mode (at least 32 random characters)")
    path = data_dir / "app_secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with open(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
