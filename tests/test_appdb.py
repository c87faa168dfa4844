"""The app database schema on SQLite and PostgreSQL: versioned migrations, upgrades, concurrent starts."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, inspect, select, text, update

from lib.appdb import open_app_database
from lib.auth.accounts import login_failures, sessions, users
from lib.auth.audit import audit_log
from lib.core.clock import utcnow
from lib.core.db import init_db, new_engine, schema_version
from lib.core.jobs import job_runs
from lib.migrations import MIGRATIONS

ACCESS_TABLES = (users, sessions, audit_log, login_failures)
ROOT = Path(__file__).resolve().parent.parent


def test_a_fresh_database_gets_every_migration_once(app_db_url):
    engine = open_app_database(app_db_url)
    assert init_db(engine, MIGRATIONS) == len(MIGRATIONS)
    assert init_db(engine, MIGRATIONS) == len(MIGRATIONS)  # a restart changes nothing
    with engine.connect() as c:
        versions = c.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars().all()
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_the_migrated_schema_matches_the_table_definitions(app_db_url):
    insp = inspect(open_app_database(app_db_url))
    for table in (job_runs, *ACCESS_TABLES):
        assert insp.has_table(table.name), table.name
        columns = {c["name"] for c in insp.get_columns(table.name)}
        assert columns == set(table.c.keys()), table.name
    assert "username" in {c for u in insp.get_unique_constraints("users") for c in u["column_names"]} | {
        c for i in insp.get_indexes("users") if i["unique"] for c in i["column_names"]
    }


def test_a_version_1_database_is_upgraded_and_keeps_its_rows(app_db_url):
    old = new_engine(app_db_url)
    with old.begin() as c:  # what the first release created
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
    engines = [new_engine(app_db_url) for _ in range(4)]
    results, errors = [], []

    def start(engine):
        try:
            results.append(init_db(engine, MIGRATIONS))
        except Exception as exc:  # pragma: no cover - reported below
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
    engine = open_app_database(url)  # a first start: migrations write, WAL on
    try:
        files = {p.name: _mode(p) for p in (tmp_path / "data").iterdir()}
        assert files == {"app.db": 0o600, "app.db-wal": 0o600, "app.db-shm": 0o600}
        assert _mode(tmp_path / "data") == 0o700
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_made_private(tmp_path, umask_022):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    path = folder / "app.db"
    sqlite3.connect(path).close()  # e.g. made by an earlier release
    assert _mode(path) == 0o644
    url = f"sqlite:///{path}"
    engine = open_app_database(url)
    try:
        assert _mode(path) == 0o600
        assert _mode(folder) == 0o755  # a folder the app did not create is left alone
    finally:
        engine.dispose()


START_ON_SIGNAL = """
import sys
from lib.core.db import init_db, new_engine
from lib.migrations import MIGRATIONS
engine = new_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()                   # every process is past its imports: start together
print(init_db(engine, MIGRATIONS), flush=True)
"""


def test_processes_starting_together_on_a_new_database_all_start(app_db_url):
    """The app and CLI commands starting at once on a database nobody has created yet."""
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", START_ON_SIGNAL, app_db_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in starts:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in starts:
        p.stdin.write("go\n")
        p.stdin.flush()
    outcomes = [p.communicate(timeout=120) for p in starts]
    assert [p.returncode for p in starts] == [0] * 4, [err for _, err in outcomes]
    assert [out.strip() for out, _ in outcomes] == [str(len(MIGRATIONS))] * 4
    engine = new_engine(app_db_url)
    with engine.connect() as c:
        versions = c.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars().all()
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    engine.dispose()


def _version_5_database(url: str):
    """A database as the release before migration 6 left it: syncs in model_sync_runs (most also recorded as a
    model_sync job run whose details name them by run_id), the catalogue pointing at them, a sync_locks lease."""
    from lib.migrations import model_sync_runs, sync_locks

    old = new_engine(url)
    at = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    syncs = [  # id, trigger, status, total, names, errors, error, recorded as a job run
        (
            1,
            "startup",
            "success",
            2,
            {"new": ["a", "b"], "updated": {}, "unavailable": [], "restored": []},
            [],
            None,
            True,
        ),
        (
            2,
            "alice",
            "partial",
            3,
            {"new": ["c"], "updated": {"a": ["input_cost_per_token"]}, "unavailable": ["b"], "restored": []},
            [{"model": "c", "message": "no pricing"}],
            None,
            False,
        ),
        (
            3,
            "scheduler",
            "failed",
            0,
            {"new": [], "updated": {}, "unavailable": [], "restored": []},
            [],
            "Cannot reach LiteLLM",
            True,
        ),
    ]
    with old.begin() as c:
        schema_version.create(c)
        for number, migrate in enumerate(MIGRATIONS[:5], start=1):
            migrate(c)
            c.execute(insert(schema_version).values(version=number, applied_at=utcnow()))
        c.execute(insert(job_runs).values(job="backfill", trigger="startup", started_at=at, status="success"))
        for sync_id, trigger, status, total, names, errors, error, as_job in syncs:
            started, finished = at + timedelta(hours=sync_id), at + timedelta(hours=sync_id, seconds=2)
            c.execute(
                insert(model_sync_runs).values(
                    id=sync_id,
                    trigger=trigger,
                    started_at=started,
                    finished_at=finished,
                    status=status,
                    total=total,
                    new=len(names["new"]),
                    updated=len(names["updated"]),
                    unavailable=len(names["unavailable"]),
                    error_count=len(errors),
                    errors=errors,
                    details=names,
                    error=error,
                )
            )
            if as_job:  # what run_model_sync recorded besides: the statistics, run_id = the sync's id
                c.execute(
                    insert(job_runs).values(
                        job="model_sync",
                        trigger=trigger,
                        started_at=started - timedelta(milliseconds=5),
                        finished_at=finished,
                        status="failed" if status == "failed" else "success",
                        rows=total,
                        details={"run_id": sync_id, "status": status, "total": total},
                    )
                )
        c.execute(
            text(
                "INSERT INTO model_catalog (name, available, first_seen, last_seen, last_sync_id) "
                "VALUES ('c', :yes, :at, :at, 2)"
            ),
            {"yes": True, "at": at},
        )
        c.execute(
            update(sync_locks).values(
                holder="dead-sync", owner="scheduler", acquired_at=at, expires_at=at + timedelta(minutes=15)
            )
        )
    return old


def test_a_version_5_database_keeps_its_sync_history_in_the_one_run_table(app_db_url):
    from lib.catalog.browse import last_sync, sync_history, sync_running
    from lib.catalog.sync import acquire_sync_lease
    from lib.catalog.tables import model_catalog
    from lib.core.leases import release

    old = _version_5_database(app_db_url)
    assert init_db(old, MIGRATIONS) == len(MIGRATIONS)
    assert not inspect(old).has_table("model_sync_runs") and not inspect(old).has_table("sync_locks")
    old.dispose()
    engine = open_app_database(app_db_url)
    history = sync_history(engine)
    assert history["trigger"].tolist() == ["scheduler", "alice", "startup"]
    assert history["status"].tolist() == ["failed", "partial", "success"]
    assert history[["total", "new", "updated", "unavailable", "error_count"]].values.tolist() == [
        [0, 0, 0, 0, 0],
        [3, 1, 1, 1, 1],
        [2, 2, 0, 0, 0],
    ]
    assert history["error"].tolist()[0] == "Cannot reach LiteLLM"
    assert (history["finished_at"] - history["started_at"]).dt.total_seconds().tolist() == [2.0, 2.0, 2.0]
    assert history["started_at"].iloc[0] == datetime(2025, 3, 1, 15, 0, tzinfo=timezone.utc)
    latest, previous = last_sync(engine), last_sync(engine, succeeded=True)
    assert latest.status == "failed" and latest.error == "Cannot reach LiteLLM"
    assert previous.trigger == "alice" and previous.errors == [{"model": "c", "message": "no pricing"}]
    assert (previous.new_models, previous.updated_models, previous.unavailable_models) == (
        ["c"],
        {"a": ["input_cost_per_token"]},
        ["b"],
    )
    with engine.connect() as c:
        runs = c.execute(
            select(job_runs.c.id, job_runs.c.trigger, job_runs.c.details).where(job_runs.c.job == "model_sync")
        ).all()
        last_sync_id = c.execute(select(model_catalog.c.last_sync_id)).scalar_one()
    assert len(runs) == 3  # each sync once, in its job run
    assert sorted(history["id"]) == sorted(r.id for r in runs) and all(r.details["run_id"] == r.id for r in runs)
    assert last_sync_id == history["id"].iloc[1] == previous.run_id  # the catalogue follows its sync
    assert sync_running(engine) is None  # the old lease was not carried over
    release(engine, acquire_sync_lease(engine, "alice"))
