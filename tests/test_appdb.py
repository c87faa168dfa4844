"""The app database schema on SQLite and PostgreSQL: versioned migrations, upgrades, concurrent starts."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from sqlalchemy import inspect, insert, select

from lib import appdb
from lib.appdb import get_engine
from lib.auth.accounts import login_failures, sessions, users
from lib.auth.audit import audit_log
from lib.core.clock import utcnow
from lib.core.db import init_db, new_engine, schema_version
from lib.core.jobs import job_runs
from lib.migrations import MIGRATIONS

ACCESS_TABLES = (users, sessions, audit_log, login_failures)


def _new_engine(url: str):
    """An engine of its own (not get_engine's cached one), as a second process would have."""
    return new_engine(url)


def test_a_fresh_database_gets_every_migration_once(app_db_url):
    engine = get_engine(app_db_url)
    assert get_engine(app_db_url) is engine                          # one pool per URL per process
    assert init_db(engine, MIGRATIONS) == len(MIGRATIONS)
    assert init_db(engine, MIGRATIONS) == len(MIGRATIONS)            # a restart changes nothing
    with engine.connect() as c:
        versions = c.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars().all()
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_the_migrated_schema_matches_the_table_definitions(app_db_url):
    insp = inspect(get_engine(app_db_url))
    for table in (job_runs, *ACCESS_TABLES):
        assert insp.has_table(table.name), table.name
        columns = {c["name"] for c in insp.get_columns(table.name)}
        assert columns == set(table.c.keys()), table.name
    assert "username" in {c for u in insp.get_unique_constraints("users") for c in u["column_names"]} | \
        {c for i in insp.get_indexes("users") if i["unique"] for c in i["column_names"]}


def test_a_version_1_database_is_upgraded_and_keeps_its_rows(app_db_url):
    old = _new_engine(app_db_url)
    with old.begin() as c:                                           # what the first release created
        schema_version.create(c)
        MIGRATIONS[0](c)
        c.execute(insert(schema_version).values(version=1, applied_at=utcnow()))
        c.execute(insert(job_runs).values(job="backfill", trigger="startup", started_at=utcnow(), status="success"))
    assert not inspect(old).has_table("users")
    assert init_db(old, MIGRATIONS) == len(MIGRATIONS)
    assert inspect(old).has_table("users") and inspect(old).has_table("audit_log")
    with old.connect() as c:
        assert c.execute(select(job_runs.c.job)).scalars().all() == ["backfill"]
    old.dispose()


def test_concurrent_starts_apply_each_migration_once(app_db_url):
    engines = [_new_engine(app_db_url) for _ in range(4)]
    results, errors = [], []

    def start(engine):
        try:
            results.append(init_db(engine, MIGRATIONS))
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == [len(MIGRATIONS)] * 4
    with engines[0].connect() as c:
        versions = c.execute(select(schema_version.c.version)).scalars().all()
    assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))
    for e in engines:
        e.dispose()


def _mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_sqlite_database_and_its_folder_are_private(tmp_path, umask_022):
    """The app database holds password hashes, sessions and the audit log: readable by the app's user only."""
    url = f"sqlite:///{tmp_path}/data/app.db"
    try:
        get_engine(url)                                               # a first start: migrations write, WAL on
        files = {p.name: _mode(p) for p in (tmp_path / "data").iterdir()}
        assert files == {"app.db": 0o600, "app.db-wal": 0o600, "app.db-shm": 0o600}
        assert _mode(tmp_path / "data") == 0o700
    finally:
        appdb._engines.pop(url).dispose()


def test_an_existing_world_readable_database_is_made_private(tmp_path, umask_022):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    path = folder / "app.db"
    sqlite3.connect(path).close()                                     # e.g. made by an earlier release
    assert _mode(path) == 0o644
    url = f"sqlite:///{path}"
    try:
        get_engine(url)
        assert _mode(path) == 0o600
        assert _mode(folder) == 0o755                                 # a folder the app did not create is left alone
    finally:
        appdb._engines.pop(url).dispose()
