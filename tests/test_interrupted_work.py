"""Work cut short (a process killed, a page rerun) leaves no run "running" forever, no stray files, no lost audit.

A killed process is a real one: a child Python process starts the work, says so on stdout, blocks on stdin,
and is SIGKILLed at that point. The next start (the CLI here) must clean up after it, and only after it:
runs and files of processes still alive are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from lib.appdb import open_app_database
from lib.auth.audit import list_audit
from lib.catalog.browse import sync_running
from lib.core import leases
from lib.core.jobs import freshness, job_runs, last_run, recent_runs
from lib.core.settings import Settings
from lib.runtime import Runtime
from lib.usage.store import UsageStore
from tests.support.apptest import app_runtime, new_app, start_session

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.now(timezone.utc).date()
DAY = TODAY - timedelta(days=3)


@pytest.fixture
def env(tmp_path):
    """A demo-mode CLI environment over a store and app database of its own."""
    e = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    e.update(
        {
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
            "LITELLM_BASE_URL": "",
            "BACKGROUND_SERVICES": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    return e


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def started_child(env: dict, code: str) -> subprocess.Popen:
    """A Python process that runs `code` (which prints "ready" and then blocks on stdin) and has reached that point."""
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    return child


def killed(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)


RUN_A_JOB = """
import os, sys
from lib.appdb import open_app_database
from lib.core.jobs import record_job
with record_job(open_app_database(os.environ["DATABASE_URL"]), {job!r}, "cli"):
    print("ready", flush=True)
    sys.stdin.read()
"""


def job_in_child(env: dict, job: str) -> subprocess.Popen:
    return started_child(env, RUN_A_JOB.format(job=job))


def test_a_killed_backfill_is_marked_abandoned_at_the_next_start_and_a_live_one_is_not(env):
    engine = open_app_database(env["DATABASE_URL"])
    dead = job_in_child(env, "backfill")
    killed(dead)
    alive = job_in_child(env, "refresh_today")
    try:
        assert last_run(engine, "backfill")["status"] == "running"  # what the killed process left
        done = cli(env, "backfill", "--start", str(DAY), "--end", str(DAY))
        assert done.returncode == 0, done.stderr
        abandoned = [r for r in recent_runs(engine, job="backfill").to_dict("records") if r["status"] == "abandoned"]
        assert len(abandoned) == 1 and abandoned[0]["finished_at"] is not None
        assert str(dead.pid) in abandoned[0]["error"]
        assert last_run(engine, "backfill")["status"] == "success"  # the new run
        assert last_run(engine, "refresh_today")["status"] == "running"  # its process is alive: left alone
    finally:
        alive.communicate("", timeout=60)
    assert last_run(engine, "refresh_today")["status"] == "success"


def test_the_sidebar_does_not_show_a_killed_refresh_as_running(env):
    engine = open_app_database(env["DATABASE_URL"])
    killed(job_in_child(env, "refresh_today"))
    info = freshness(engine)
    assert not info["running"]
    assert info["failed"] and info["unfinished"]
    assert last_run(engine, "refresh_today")["status"] == "abandoned"


def test_a_run_on_another_host_is_abandoned_only_when_its_heartbeat_stops(env):
    engine = open_app_database(env["DATABASE_URL"])
    now = datetime.now(timezone.utc)
    with engine.begin() as c:
        for job, started, beat in (
            ("refresh_today", now - timedelta(hours=2), now - timedelta(hours=1)),
            ("backfill", now - timedelta(hours=1), now - timedelta(minutes=1)),
        ):
            c.execute(
                insert(job_runs).values(
                    job=job,
                    trigger="scheduler",
                    started_at=started,
                    status="running",
                    owner_host="another-host.example",
                    owner_pid=1,
                    owner_started=0.0,
                    heartbeat_at=beat,
                )
            )
    info = freshness(engine)
    assert info["running"]  # the backfill still beats
    assert last_run(engine, "backfill")["status"] == "running"
    assert last_run(engine, "refresh_today")["status"] == "abandoned"
    assert "another-host.example" in last_run(engine, "refresh_today")["error"]


def _orphans(store_dir: Path) -> dict[str, Path]:
    days = store_dir / "days"
    return {
        "unlisted day": days / f"{TODAY - timedelta(days=30)}.parquet",
        "day being written": days / f"{DAY}.parquet.tmp",
        "manifest being written": store_dir / "manifest.json.tmp",
    }


def test_files_a_killed_writer_left_are_removed_at_the_next_start(env):
    assert cli(env, "backfill", "--start", str(DAY), "--end", str(DAY)).returncode == 0
    store_dir = Path(env["DUCKDB_PATH"]).with_suffix("")  # the store's folder (lib.core.settings store_dir)
    manifest = (store_dir / "manifest.json").read_text()
    listed = store_dir / "days" / f"{DAY}.parquet"
    # what a writer killed between writing its day files and rewriting the manifest leaves behind
    for path in _orphans(store_dir).values():
        shutil.copyfile(listed, path)
    before = cli(env, "export", "--start", str(DAY), "--end", str(DAY), "--breakdown", "model", "--format", "json")
    done = cli(env, "refresh-today")
    assert done.returncode == 0, done.stderr
    assert [name for name, path in _orphans(store_dir).items() if path.exists()] == []
    listed_now = json.loads((store_dir / "manifest.json").read_text())["days"]
    assert listed_now[str(DAY)] == json.loads(manifest)["days"][str(DAY)]
    after = cli(env, "export", "--start", str(DAY), "--end", str(DAY), "--breakdown", "model", "--format", "json")
    assert json.loads(after.stdout)["data"] == json.loads(before.stdout)["data"]


def test_no_file_is_removed_while_another_writer_holds_the_store(tmp_path):
    store_dir = tmp_path / "usage"
    writer = UsageStore.writer(store_dir)
    being_written = store_dir / "days" / f"{DAY}.parquet.tmp"
    with writer.write_lock():  # another writer, mid-write
        being_written.write_bytes(b"half a day")
        assert UsageStore.writer(store_dir).remove_orphans() is None
        assert being_written.exists()
    assert UsageStore.writer(store_dir).remove_orphans() == [being_written.name]
    assert not being_written.exists()


HOLD_THE_SYNC_LEASE = """
import os, sys
from lib.appdb import open_app_database
from lib.catalog.sync import acquire_sync_lease
acquire_sync_lease(open_app_database(os.environ["DATABASE_URL"]), "scheduler")
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_killed_model_sync_does_not_block_the_next_one_and_a_live_one_still_does(env):
    engine = open_app_database(env["DATABASE_URL"])
    killed(started_child(env, HOLD_THE_SYNC_LEASE))
    assert sync_running(engine) is None  # the Models page does not say "a sync is running"
    done = cli(env, "sync-models", "--wait", "0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] in ("success", "partial")
    child = started_child(env, HOLD_THE_SYNC_LEASE)
    try:
        assert sync_running(engine) == "scheduler"
        refused = cli(env, "sync-models", "--wait", "0")
        assert refused.returncode == 1 and "already running" in refused.stderr
    finally:
        child.communicate("", timeout=60)


REFRESH_IN_PROGRESS = """
import sys
from lib import services
from lib.core.settings import load_settings
from lib.runtime import Runtime


def fetching(*args, **kwargs):          # a refresh under way: it holds the lease while it fetches
    print("ready", flush=True)
    sys.stdin.read()


services.refresh_today = fetching
services.run_refresh_today(Runtime(load_settings()), "cli")
"""


def test_a_refresh_in_another_process_is_refused_until_that_process_dies(env):
    from lib.services import RefreshInProgress, run_refresh_today

    rt = Runtime(Settings(DATABASE_URL=env["DATABASE_URL"], DUCKDB_PATH=env["DUCKDB_PATH"], LITELLM_BASE_URL=""))
    engine = rt.engine
    child = started_child(env, REFRESH_IN_PROGRESS)
    try:
        assert leases.holder(engine, "refresh_today").owner == "cli"
        with pytest.raises(RefreshInProgress, match=r"^A refresh is already running; try again in a moment\.$"):
            run_refresh_today(rt, "admin")
    finally:
        killed(child)
    run_refresh_today(rt, "admin")  # its holder died: free at once, no expiry wait
    assert last_run(engine, "refresh_today")["trigger"] == "admin"
    assert last_run(engine, "refresh_today")["status"] == "success"
    assert leases.holder(engine, "refresh_today") is None


def test_a_refresh_cut_short_by_a_page_interaction_is_audited_and_not_left_running(demo_env, monkeypatch):
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    import lib.services

    def cut_short(*args, **kwargs):
        raise StopException()  # what Streamlit raises in the script thread when the run is stopped

    monkeypatch.setattr(lib.services, "refresh_today", cut_short)
    engine = app_runtime(demo_env).engine
    at = new_app(demo_env)
    start_session(engine, "admin", at.session_state)
    at.run()
    at.switch_page("pages/usage.py").run()
    at.button(key="refresh_today").click().run()
    audit = list_audit(engine, action="usage.refresh")
    assert list(audit["outcome"][:1]) == ["interrupted"]
    assert audit["actor"].iloc[0] == "admin"
    run = last_run(engine, "refresh_today")
    assert run["status"] == "interrupted" and run["trigger"] == "admin" and run["finished_at"] is not None
    with engine.connect() as c:
        assert c.execute(select(job_runs.c.id).where(job_runs.c.status == "running")).first() is None
    assert leases.holder(engine, lib.services.REFRESH_LEASE) is None


def test_a_database_of_the_previous_release_gains_run_owners_and_keeps_its_runs(app_db_url):
    from sqlalchemy import create_engine, inspect, text

    from lib.core.clock import utcnow
    from lib.core.db import init_db, schema_version
    from lib.migrations import MIGRATIONS

    run_owners = 5  # the migration's number
    previous = create_engine(app_db_url)
    with previous.begin() as c:  # the schema before run owners: every earlier migration, without the new columns
        schema_version.create(c)
        for number, migrate in enumerate(MIGRATIONS[: run_owners - 1], start=1):
            migrate(c)
            c.execute(insert(schema_version).values(version=number, applied_at=utcnow()))
        for table, columns in (
            ("job_runs", ("owner_host", "owner_pid", "owner_started", "heartbeat_at")),
            ("sync_locks", ("holder_host", "holder_pid", "holder_started")),
        ):
            for column in columns:
                c.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        c.execute(
            text(
                "INSERT INTO job_runs (job, trigger, started_at, status) VALUES ('backfill', 'startup', :at, 'running')"
            ),
            {"at": utcnow() - timedelta(days=1)},
        )
    assert init_db(previous, MIGRATIONS[:run_owners]) == run_owners
    insp = inspect(previous)
    job_columns = {c["name"] for c in insp.get_columns("job_runs")}
    assert {"owner_host", "owner_pid", "owner_started", "heartbeat_at"} <= job_columns
    assert {"holder_host", "holder_pid"} <= {c["name"] for c in insp.get_columns("sync_locks")}
    assert init_db(previous, MIGRATIONS) == len(MIGRATIONS)  # and every later one
    previous.dispose()
    engine = open_app_database(app_db_url)
    assert freshness(engine)["unfinished"]  # a day-old run of the previous release, with no sign of life since
    assert last_run(engine, "backfill")["status"] == "abandoned"
