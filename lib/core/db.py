"""The app database (SQLAlchemy 2): SQLite under data/ by default, PostgreSQL via DATABASE_URL (psycopg 3).

Schema changes are a numbered list of migrations applied at start, each in its own transaction, with
the applied number kept in `schema_version`; the operator never runs SQL by hand. Concurrent starts
(app + CLI) are safe: a migration that another process already applied is skipped.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from lib.core.files import create_private_file, make_private_dir, restrict_to_owner

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

job_runs = Table(
    "job_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False, index=True),          # e.g. refresh_today, backfill
    Column("trigger", String(128), nullable=False),                 # "scheduler", "startup", "cli" or a username
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),   # running | success | failed | interrupted | abandoned
    Column("rows", Integer),
    Column("details", JSON),
    Column("error", Text),
    # the process running it (lib.core.jobs.ProcessOwner), so a run whose process died can be told from a live one
    Column("owner_host", String(255)),
    Column("owner_pid", Integer),
    Column("owner_started", Float),                                 # the pid's start time: a reused pid differs
    Column("heartbeat_at", DateTime(timezone=True)),                # updated while it runs (other hosts' runs)
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _migration_1(conn: Connection) -> None:
    job_runs.create(conn, checkfirst=True)


def _migration_2(conn: Connection) -> None:
    from lib.auth.accounts import sessions, users  # tables live beside their logic
    from lib.auth.audit import audit_log
    for table in (users, sessions, audit_log):
        table.create(conn, checkfirst=True)


# Append new migrations at the end; never edit or reorder applied ones.
MIGRATIONS = [_migration_1, _migration_2]

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(database_url: str) -> Engine:
    """One engine (connection pool) per URL per process, schema brought up to date on first use."""
    with _engines_lock:
        engine = _engines.get(database_url)
        if engine is None:
            if database_url.startswith("sqlite:///"):
                _create_private_sqlite_file(database_url)
                engine = create_engine(database_url, connect_args={"timeout": 30, "check_same_thread": False})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(database_url, pool_pre_ping=True)
            init_db(engine)
            _engines[database_url] = engine
        return engine


def _create_private_sqlite_file(database_url: str) -> None:
    """The database holds password hashes, sessions and the audit log: 0600 (in a 0700 folder if we make it).

    SQLite gives its -wal and -shm files the database file's mode, so creating that one 0600 covers them;
    files left more open by an earlier release are tightened.
    """
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    make_private_dir(path.parent)
    create_private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        restrict_to_owner(f"{path}{suffix}")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")      # readers do not block the scheduler's writes
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def current_version(conn: Connection) -> int:
    schema_version.create(conn, checkfirst=True)
    return conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).scalar() or 0


def init_db(engine: Engine) -> int:
    """Apply pending migrations; returns the schema version.

    Two processes starting on a new database (app + CLI) may race on "check, then create": PostgreSQL
    serialises them with an advisory lock; on SQLite the loser sees "already exists" and simply retries.
    """
    for attempt in range(5):
        try:
            return _apply_migrations(engine)
        except (IntegrityError, OperationalError, ProgrammingError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7426001)"))   # released at commit


def _apply_migrations(engine: Engine) -> int:
    with engine.begin() as conn:
        _lock(conn)
        schema_version.create(conn, checkfirst=True)
    for number, migrate in enumerate(MIGRATIONS, start=1):
        with engine.begin() as conn:
            _lock(conn)
            if current_version(conn) >= number:
                continue
            migrate(conn)
            conn.execute(insert(schema_version).values(version=number, applied_at=utcnow()))
    with engine.connect() as conn:
        return current_version(conn)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn


def _migration_model_catalog(conn: Connection) -> None:
    from lib.catalog.models import create_tables  # models catalogue, sync runs, sync lease (lazy: no cycle)
    create_tables(conn)


MIGRATIONS.append(_migration_model_catalog)


def _migration_login_failures(conn: Connection) -> None:
    from lib.auth.accounts import login_failures  # failed logins per username hash, known or not (lazy: no cycle)
    login_failures.create(conn, checkfirst=True)


MIGRATIONS.append(_migration_login_failures)


def add_missing_columns(conn: Connection, table: Table, names: tuple[str, ...]) -> None:
    """ALTER TABLE ... ADD COLUMN for those of `names` the table lacks (a new database already has them all)."""
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column = table.c[name]
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(conn.dialect)}"))


def _migration_run_owners(conn: Connection) -> None:
    from lib.catalog.models import sync_locks  # lazy: no cycle
    add_missing_columns(conn, job_runs, ("owner_host", "owner_pid", "owner_started", "heartbeat_at"))
    add_missing_columns(conn, sync_locks, ("holder_host", "holder_pid", "holder_started"))


MIGRATIONS.append(_migration_run_owners)
