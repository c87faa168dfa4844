"""The app database (SQLAlchemy 2): SQLite under data/ by default, PostgreSQL via DATABASE_URL (psycopg 3).

Schema changes are a numbered list of migrations (lib/migrations.py, the one module that knows every domain's
tables) applied at start, each in its own transaction, with the applied number kept in `schema_version`; the
operator never runs SQL by hand. This module runs a list it is given and imports no domain. Concurrent starts
(app + CLI) are safe: every migration transaction first takes one database-wide lock, so a second process
waits, then finds the work done.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, event, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url

from lib.core.clock import utcnow
from lib.core.files import create_private_file, make_private_dir, restrict_to_owner

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

Migration = Callable[[Connection], None]
SQLITE_BUSY_TIMEOUT_S = 30  # how long a SQLite connection waits for another's write lock


def new_engine(database_url: str) -> Engine:
    """An engine (connection pool) for the URL; a SQLite file is created private first. No schema work."""
    if database_url.startswith("sqlite:///"):
        _create_private_sqlite_file(database_url)
        engine = create_engine(
            database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True)


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
    _use_wal(cur)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _use_wal(cur) -> None:
    """WAL: readers do not block the scheduler's writes. The database file keeps the mode, so only a new one
    switches; SQLite refuses that switch at once, without waiting out its busy timeout, while another process
    writes the file in the old mode (waiting could deadlock). That happens only when processes start together
    on a new database (app + CLI), and the right answer is to switch once that write ends: so retry, for as
    long as the busy timeout would have waited."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def current_version(conn: Connection) -> int:
    return conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).scalar() or 0


@contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction whose first statement takes the database-wide schema lock, held until it ends.

    Taken before anything is read, so two processes' "check, then create" never interleave. PostgreSQL: an
    advisory lock, released at commit. SQLite: BEGIN IMMEDIATE takes the write lock at once (the driver's own
    BEGIN is deferred and is not sent before DDL at all); a second process waits for it (the 30 s busy timeout).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7426001)"))
        yield conn
        conn.commit()


def init_db(engine: Engine, migrations: Sequence[Migration]) -> int:
    """Apply the pending ones of `migrations` (numbered from 1, in order); returns the schema version."""
    with _schema_transaction(engine) as conn:
        schema_version.create(conn, checkfirst=True)
    for number, migrate in enumerate(migrations, start=1):
        with _schema_transaction(engine) as conn:
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


def add_missing_columns(conn: Connection, table: Table, names: tuple[str, ...]) -> None:
    """ALTER TABLE ... ADD COLUMN for those of `names` the table lacks (a new database already has them all)."""
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column = table.c[name]
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(conn.dialect)}"))
