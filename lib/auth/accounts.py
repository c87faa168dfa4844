"""Console users: bcrypt passwords, roles, lockout after repeated failures, server-side sessions.

State-changing functions take the acting user (`actor`; None = the operator's CLI) and run through the
gate (lib.auth.gate): permission checked, the change and its audit row in one transaction, a refused or
failed change audited too. Usernames are case-insensitive (stored lower-case).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import bcrypt
import pandas as pd
from sqlalchemy import Boolean, Column, DateTime, Float, Integer, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lib.auth.audit import audit
from lib.auth.gate import perform
from lib.auth.permissions import ROLE_LABELS, ROLES
from lib.core.clock import as_aware, utcnow
from lib.core.db import metadata
from lib.core.errors import ConsoleError
from lib.core.files import generated_secret
from lib.core.settings import Settings

users = Table(
    "users",
    metadata,
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
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("cookie_exp", Float, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

# Failed logins are counted per name typed, whether or not an account has it, so lockout says nothing about
# which names exist. Keyed by the name's SHA-256: people type passwords into the username field.
login_failures = Table(
    "login_failures",
    metadata,
    Column("name_sha256", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("locked_until", DateTime(timezone=True)),
)

# The lockout policy's defaults; the policy in effect is the settings' (LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_MINUTES,
# changeable on the Settings page without a restart): LoginPolicy.of(rt.settings) at each login.
MAX_FAILED_LOGINS = Settings.model_fields["LOGIN_MAX_FAILURES"].default
LOCKOUT = timedelta(minutes=Settings.model_fields["LOGIN_LOCKOUT_MINUTES"].default)
FAILED_LOGIN_MEMORY = timedelta(hours=24)  # failures older than this are forgotten (and their rows deleted)
# One answer for every refused login: which names exist, or are disabled or locked, is for the audit log only.
LOGIN_FAILED = "Wrong username or password, or the account is locked or disabled. Ask an admin if this persists."
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit
DEMO_ACCOUNTS = (
    ("admin", "admin", "admin", "Demo Admin", None),
    ("viewer", "viewer", "admin-readonly", "Demo Viewer", None),
    ("alice", "alice", "user", "Alice Martin", "alice.martin"),
)


class AccountError(ConsoleError, ValueError):
    """A user-management request that cannot be done; the message says why."""


class Unchanged(AccountError):
    """The account already is as asked (disabling a disabled login): nothing to do, so nothing is audited."""

    audit_outcome = None


class LoginError(ConsoleError):
    """A refused login; the message never says why (the audit log does)."""


@dataclass(frozen=True)
class User:
    """A console login as pages see it (`user = require_page(...)`); never carries the password hash.

    `litellm_user_id` links the login to a LiteLLM user for "My usage" (None: not linked).
    """

    username: str
    display_name: str
    email: str | None
    role: str
    litellm_user_id: str | None
    enabled: bool

    def can(self, permission: str) -> bool:
        from lib.auth.permissions import has_permission

        return has_permission(self.role, permission)


def _user(row) -> User:
    return User(
        row["username"],
        row["display_name"] or row["username"],
        row["email"],
        row["role"],
        row["litellm_user_id"],
        bool(row["enabled"]),
    )


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def _check_password(password: str, demo: bool) -> None:
    if not password:
        raise AccountError("The password must not be empty")
    if not demo and len(password) < MIN_PASSWORD:
        raise AccountError(f"The password must have at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AccountError(f"The password must have at most {MAX_PASSWORD_BYTES} bytes")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def normalize_username(username: str | None) -> str:
    """Usernames are case-insensitive and stored lower-case (streamlit-authenticator lower-cases its keys)."""
    return (username or "").strip().lower()


def get_user(engine, username: str) -> User | None:
    with engine.connect() as c:
        row = c.execute(select(users).where(users.c.username == normalize_username(username))).mappings().first()
    return _user(row) if row else None


def list_users(engine, now: datetime | None = None) -> pd.DataFrame:
    """Every account, with `locked_until` the end of a lockout still running (None: not locked) and `status`
    what the Users page shows: "Active", "Disabled" or "Locked until HH:MM UTC"."""
    now = now or utcnow()
    cols = [
        users.c.username,
        users.c.display_name,
        users.c.email,
        users.c.role,
        users.c.litellm_user_id,
        users.c.enabled,
        users.c.locked_until,
        users.c.created_at,
        users.c.last_login_at,
    ]
    with engine.connect() as c:
        rows = c.execute(select(*cols).order_by(users.c.username)).mappings().all()
        hashes = [_name_sha256(r["username"]) for r in rows]
        lockouts = select(login_failures.c.name_sha256, login_failures.c.locked_until).where(
            login_failures.c.name_sha256.in_(hashes)
        )
        counted = dict(c.execute(lockouts).all())
    records = []
    for r in rows:
        locked = _lock_end((r["locked_until"], counted.get(_name_sha256(r["username"]))), now)
        status = "Disabled" if not r["enabled"] else f"Locked until {locked:%H:%M} UTC" if locked else "Active"
        records.append({**r, "locked_until": locked, "status": status})
    return pd.DataFrame(records, columns=[c.name for c in cols] + ["status"])


def _lock_end(ends: tuple[datetime | None, ...], now: datetime) -> datetime | None:
    """When the lockout running at `now` ends (None: not locked), of a name's lockout ends: its login_failures
    row's and users.locked_until (a lockout begun before failures were counted per name)."""
    end = max((as_aware(t) for t in ends if t), default=None)
    return end if end and end > now else None


def _locked_until(c, row, now: datetime) -> datetime | None:
    counted = c.execute(
        select(login_failures.c.locked_until).where(login_failures.c.name_sha256 == _name_sha256(row["username"]))
    ).scalar()
    return _lock_end((counted, row["locked_until"]), now)


def count_users(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(users)).scalar()


def create_user(
    engine,
    actor: User | None,
    username: str,
    password: str,
    role: str,
    name: str | None = None,
    email: str | None = None,
    litellm_user_id: str | None = None,
    demo: bool = False,
) -> User:
    username = normalize_username(username)

    def change(c) -> None:
        if not username or len(username) > 64 or not all(ch.isalnum() or ch in "._-@" for ch in username):
            raise AccountError("Username must be 1-64 letters, digits or . _ - @")
        _check_role(role)
        _check_password(password, demo)
        if c.execute(select(users.c.id).where(users.c.username == username)).first():
            raise AccountError(f"User {username!r} already exists")
        try:
            c.execute(
                insert(users).values(
                    username=username,
                    display_name=(name or "").strip() or username,
                    email=(email or "").strip() or None,
                    password_hash=hash_password(password),
                    role=role,
                    litellm_user_id=(litellm_user_id or "").strip() or None,
                    enabled=True,
                    failed_logins=0,
                    created_at=utcnow(),
                )
            )
        except IntegrityError:  # created by a concurrent request between our check and our insert
            raise AccountError(f"User {username!r} already exists") from None

    perform(
        engine,
        actor,
        "user.create",
        username[:64] or None,
        change,
        details={"role": role, "email": email, "litellm_user_id": litellm_user_id},
    )
    return get_user(engine, username)


def _enabled_admins(c) -> int:
    # FOR UPDATE (PostgreSQL) serialises two concurrent demotions of the last two admins
    ids = c.execute(
        select(users.c.id).where(users.c.role == "admin", users.c.enabled.is_(True)).with_for_update()
    ).all()
    return len(ids)


def _change(engine, actor: User | None, username: str, action: str, values: Callable[[], dict], details: dict) -> User:
    """Change one account through the gate. `values()` checks the request and gives the columns to set: it
    runs after the permission check, so a bad request by someone refused anyway is audited as refused.
    A request for what already is raises Unchanged (not audited: nothing was done)."""
    username = normalize_username(username)
    perform(
        engine, actor, action, username, lambda c: _apply_change(c, actor, username, action, values()), details=details
    )
    return get_user(engine, username)


def already_done(engine, username: str, action: str, role: str | None = None) -> str | None:
    """Why `action` (with `role` for a role change) would change nothing for this account ("alice is already
    disabled"), or None: lets the Users page say so before it asks for a confirmation."""
    with engine.connect() as c:
        row = c.execute(select(users).where(users.c.username == normalize_username(username))).mappings().first()
        return _already(c, row, action, {"role": role}) if row else None


def _already(c, row, action: str, values: dict) -> str | None:
    name = row["username"]
    if action == "user.disable" and not row["enabled"]:
        return f"{name} is already disabled"
    if action == "user.enable" and row["enabled"]:
        return f"{name} is already enabled"
    if action == "user.change_role" and row["role"] == values.get("role"):
        return f"{name} already has the role {ROLE_LABELS[row['role']]}"
    if action == "user.unlock" and _locked_until(c, row, utcnow()) is None:
        return f"{name} is not locked"
    if action == "user.link_litellm" and row["litellm_user_id"] == values.get("litellm_user_id"):
        linked = row["litellm_user_id"]
        return f"{name} is already linked to LiteLLM user {linked}" if linked else f"{name} is not linked to LiteLLM"
    return None


def _apply_change(c, actor: User | None, username: str, action: str, values: dict) -> None:
    row = c.execute(select(users).where(users.c.username == username)).mappings().first()
    if row is None:
        raise AccountError(f"No user {username!r}")
    unchanged = _already(c, row, action, values)
    if unchanged:
        raise Unchanged(unchanged)
    loses_admin = (
        row["role"] == "admin"
        and row["enabled"]
        and (values.get("role", "admin") != "admin" or values.get("enabled", True) is False)
    )
    if loses_admin and _enabled_admins(c) <= 1:
        raise AccountError("This is the last enabled admin: make another admin first")
    if actor is not None and actor.username == username and values.get("enabled") is False:
        raise AccountError("You cannot disable your own account")
    c.execute(update(users).where(users.c.username == username).values(**values))
    if "locked_until" in values:  # a password reset, enabling or unlocking ends a lockout
        c.execute(login_failures.delete().where(login_failures.c.name_sha256 == _name_sha256(username)))
    if values.get("enabled") is False or "password_hash" in values or "role" in values:
        _end_sessions(c, username)


def _end_sessions(c, username: str) -> None:
    c.execute(
        update(sessions)
        .where(sessions.c.username == username, sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _password_values(password: str, demo: bool = False) -> dict:
    """A new password's columns (checked first); a password reset also ends any lockout."""
    _check_password(password, demo)
    return {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None}


def set_password(engine, actor: User | None, username: str, password: str, demo: bool = False) -> User:
    return _change(engine, actor, username, "user.set_password", lambda: _password_values(password, demo), {})


def set_enabled(engine, actor: User | None, username: str, enabled: bool) -> User:
    return _change(
        engine,
        actor,
        username,
        "user.enable" if enabled else "user.disable",
        lambda: {"enabled": enabled, "failed_logins": 0, "locked_until": None},
        {},
    )


def change_role(engine, actor: User | None, username: str, role: str) -> User:
    return _change(engine, actor, username, "user.change_role", lambda: {"role": _check_role(role)}, {"role": role})


def unlock(engine, actor: User | None, username: str) -> User:
    """End the lockout that failed logins put on this account (its failure count starts again from zero)."""
    return _change(engine, actor, username, "user.unlock", lambda: {"failed_logins": 0, "locked_until": None}, {})


def set_litellm_user(engine, actor: User | None, username: str, litellm_user_id: str | None) -> User:
    return _change(
        engine,
        actor,
        username,
        "user.link_litellm",
        lambda: {"litellm_user_id": litellm_user_id or None},
        {"litellm_user_id": litellm_user_id},
    )


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed logins of one name (within FAILED_LOGIN_MEMORY) lock it, and for how long."""

    max_failures: int = MAX_FAILED_LOGINS
    lockout: timedelta = LOCKOUT

    @classmethod
    def of(cls, settings) -> LoginPolicy:
        """The policy the settings in effect say (LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_MINUTES)."""
        return cls(settings.LOGIN_MAX_FAILURES, timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES))


def authenticate(
    engine, username: str, password: str, now: datetime | None = None, policy: LoginPolicy | None = None
) -> User:
    """Check a login. Every refusal raises LoginError(LOGIN_FAILED), whatever the reason (audited).

    Failures are counted per name typed, known or not; after `policy.max_failures` the name is locked for
    `policy.lockout` (default: the settings' defaults). The failure count and the audit row are committed before
    the refusal is raised.
    """
    now = now or utcnow()
    if not _login_attempt(engine, username, password, now, policy or LoginPolicy()):
        raise LoginError(LOGIN_FAILED)
    return get_user(engine, username)


@lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=10))


def verify_password(password: str, password_hash: str | None) -> bool:
    """bcrypt check; always does one bcrypt's worth of work (unknown users, over-long input) and never raises."""
    raw = (password or "").encode()
    if password_hash is None or len(raw) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"x", _dummy_hash())
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode())
    except ValueError:  # not a bcrypt hash
        return False


def _name_sha256(username: str) -> str:
    return hashlib.sha256(normalize_username(username).encode()).hexdigest()


def _upsert(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert


def _count_failure(c, name_sha256: str, now: datetime, policy: LoginPolicy) -> tuple[int, datetime | None]:
    """One more failed login for this name: (failures counted, locked until or None). Forgotten ones are pruned."""
    c.execute(login_failures.delete().where(login_failures.c.last_failed_at < now - FAILED_LOGIN_MEMORY))
    # counted in the database (not read-modify-write), so parallel guesses are all counted
    stmt = _upsert(c)(login_failures).values(name_sha256=name_sha256, failures=1, last_failed_at=now)
    failures = c.execute(
        stmt.on_conflict_do_update(
            index_elements=[login_failures.c.name_sha256],
            set_={"failures": login_failures.c.failures + 1, "last_failed_at": now},
        ).returning(login_failures.c.failures)
    ).scalar_one()
    if failures < policy.max_failures:
        return failures, None
    c.execute(
        update(login_failures)
        .where(login_failures.c.name_sha256 == name_sha256)
        .values(failures=0, locked_until=now + policy.lockout)
    )
    return failures, now + policy.lockout


def _login_attempt(engine, username: str, password: str, now: datetime, policy: LoginPolicy) -> bool:
    """True when the login succeeds. Known and unknown names, locked or not, take the same path and the same
    work (one bcrypt check), so neither the answer nor its time says whether an account exists."""
    username = normalize_username(username)
    name_sha256 = _name_sha256(username)
    password = password or ""
    with engine.begin() as c:
        row = c.execute(select(users).where(users.c.username == username)).mappings().first()
        counted = c.execute(
            select(login_failures.c.locked_until).where(login_failures.c.name_sha256 == name_sha256)
        ).scalar()
        locked = _lock_end((counted, row and row["locked_until"]), now)
        if row is None:
            # Not stored as typed: people type their password into the username field. A short hash still
            # shows repeated attempts on one name (and can be checked against a suspected name).
            actor, target, details = "anonymous", "(unknown user)", {"username_sha256": name_sha256[:12]}
        else:
            actor, target, details = username, username, {}
        if locked:
            verify_password(password, None)  # the work of a real check: a lockout answers no faster
            audit(engine, actor, "login", target, "locked", {**details, "reason": "locked"}, conn=c)
            return False
        matches = verify_password(password, row["password_hash"] if row else None)
        if matches and row["enabled"]:
            c.execute(login_failures.delete().where(login_failures.c.name_sha256 == name_sha256))
            c.execute(
                update(users)
                .where(users.c.id == row["id"])
                .values(failed_logins=0, locked_until=None, last_login_at=now)
            )
            audit(engine, username, "login", username, "success", {}, conn=c)
            return True
        failures, locks_until = _count_failure(c, name_sha256, now, policy)
        # the users row mirrors the count for the Users page (no row for an unknown name: nothing updated)
        c.execute(
            update(users)
            .where(users.c.username == username)
            .values(failed_logins=0 if locks_until else failures, locked_until=locks_until)
        )
        reason = "unknown user" if row is None else "disabled" if matches else "wrong password"
        audit(
            engine,
            actor,
            "login",
            target,
            "locked" if locks_until else "failure",
            {**details, "reason": reason, "failures": failures},
            conn=c,
        )
    return False


def open_session(engine, username: str, cookie_exp: float) -> str:
    sid = secrets.token_hex(16)
    with engine.begin() as c:
        # sessions whose cookie expired a day ago can never be used again: drop them
        c.execute(sessions.delete().where(sessions.c.cookie_exp < utcnow().timestamp() - 86400))
        c.execute(
            insert(sessions).values(
                id=sid, username=normalize_username(username), cookie_exp=cookie_exp, created_at=utcnow()
            )
        )
    return sid


def session_user(engine, username: str, cookie_exp: float) -> User | None:
    """The user of a login cookie if its session is open and the account is enabled."""
    with engine.connect() as c:
        ok = c.execute(
            select(sessions.c.id).where(
                sessions.c.username == username, sessions.c.cookie_exp == cookie_exp, sessions.c.revoked_at.is_(None)
            )
        ).first()
    if not ok or cookie_exp < utcnow().timestamp():
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
    return {
        "usernames": {
            r["username"]: {
                "name": r["display_name"] or r["username"],
                "email": r["email"] or "",
                "password": r["password_hash"],
                "roles": [r["role"]],
                "failed_login_attempts": 0,
                "logged_in": False,
            }
            for r in rows
        }
    }


# The actor recorded for changes made at start-up from the environment (not by a person or the CLI).
BOOTSTRAP = User("bootstrap", "bootstrap", None, "admin", None, True)
_demo_checked: set[str] = set()


def has_enabled_admin(engine) -> bool:
    with engine.connect() as c:
        admin = select(users.c.id).where(users.c.role == "admin", users.c.enabled.is_(True)).limit(1)
        return c.execute(admin).first() is not None


def bootstrap_accounts(engine, settings) -> list[str]:
    """Called by app.py on every run (cheap). Returns the usernames it created or changed.

    Demo mode: the three demo accounts when the database has no user. Production: no default password
    exists anywhere: accounts still carrying a demo password (a database first used in demo mode) are
    disabled, and ADMIN_USERNAME/ADMIN_PASSWORD make the first admin when no enabled admin exists.
    """
    if settings.demo_mode:
        if count_users(engine):
            return []
        created = []
        for username, password, role, name, litellm_id in DEMO_ACCOUNTS:
            try:
                create_user(
                    engine, BOOTSTRAP, username, password, role, name=name, litellm_user_id=litellm_id, demo=True
                )
                created.append(username)
            except AccountError:  # another session created it first
                pass
        return created
    changed = _retire_demo_passwords(engine)
    if has_enabled_admin(engine) or not (settings.ADMIN_USERNAME or settings.ADMIN_PASSWORD):
        return changed
    if not settings.ADMIN_USERNAME or not settings.ADMIN_PASSWORD:
        raise AccountError("ADMIN_USERNAME and ADMIN_PASSWORD: set both to create the first admin")
    password = settings.ADMIN_PASSWORD
    try:
        _check_password(password, demo=False)
    except AccountError as exc:
        raise AccountError(f"ADMIN_PASSWORD: {exc}") from None
    username = normalize_username(settings.ADMIN_USERNAME)
    try:
        if get_user(engine, username) is None:
            create_user(engine, BOOTSTRAP, username, password, "admin", name="Administrator")
        else:  # no enabled admin left: the environment's admin takes this account back
            _change(
                engine,
                BOOTSTRAP,
                username,
                "user.restore_admin",
                lambda: _password_values(password) | {"role": "admin", "enabled": True},
                {"reason": "ADMIN_USERNAME/ADMIN_PASSWORD at start, no enabled admin"},
            )
    except AccountError as exc:
        if has_enabled_admin(engine):  # a concurrent start did it
            return changed
        raise AccountError(f"ADMIN_USERNAME: {exc}") from None
    return changed + [username]


def _retire_demo_passwords(engine) -> list[str]:
    """Outside demo mode, disable accounts whose password is still a published demo password (once per process)."""
    key = engine.url.render_as_string(hide_password=True)
    if key in _demo_checked:
        return []
    retired = []
    for username, password, *_ in DEMO_ACCOUNTS:
        with engine.connect() as c:
            row = c.execute(
                select(users.c.password_hash).where(users.c.username == username, users.c.enabled.is_(True))
            ).first()
        if row and verify_password(password, row[0]):
            # not _change: the last admin loses this account too, a published password is worse than none
            perform(
                engine,
                BOOTSTRAP,
                "user.disable",
                username,
                lambda c, u=username: _retire(c, u),
                details={"reason": "demo password outside demo mode"},
            )
            retired.append(username)
    _demo_checked.add(key)
    return retired


def _retire(c, username: str) -> None:
    c.execute(update(users).where(users.c.username == username).values(enabled=False))
    _end_sessions(c, username)


def cookie_secret(settings, data_dir: Path) -> str:
    """APP_SECRET_KEY; in demo mode generated once into data/ (0600) if unset; in production required (>= 32)."""
    if settings.APP_SECRET_KEY:
        if len(settings.APP_SECRET_KEY) < 32 and not settings.demo_mode:
            raise AccountError("APP_SECRET_KEY: must be at least 32 characters")
        return settings.APP_SECRET_KEY
    if not settings.demo_mode:
        raise AccountError("APP_SECRET_KEY: required outside demo mode (at least 32 random characters)")
    path = data_dir / "app_secret_key"
    secret = generated_secret(path, lambda: secrets.token_urlsafe(48))
    if len(secret) < 32:
        raise AccountError(f"{path}: the generated APP_SECRET_KEY is damaged; delete the file to make a new one")
    return secret
