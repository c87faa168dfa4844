"""Recording of background job runs (refresh, backfill, model sync) in the app database.

Pages read these rows to show freshness ("today refreshed 2 min ago") and the last error.

A run ends "success", "failed" (an error), "interrupted" (stopped from outside: a page rerun, Ctrl-C) or,
when its process died without a word (killed, crashed machine), "abandoned": each run records its process
(host, pid, the pid's start time) and a heartbeat, and `sweep_abandoned` marks the runs whose process is
gone. It runs when the app and the CLI start and whenever freshness finds a run "running".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psutil
from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection, Engine

from lib.core.clock import as_aware, utcnow
from lib.core.db import metadata

log = logging.getLogger(__name__)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False, index=True),  # e.g. refresh_today, backfill, model_sync
    Column("trigger", String(128), nullable=False),  # "scheduler", "startup", "cli" or a username
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),  # running | success | failed | interrupted | abandoned
    Column("rows", Integer),
    Column("details", JSON),  # the job's own statistics (a model sync: lib.catalog.sync)
    Column("error", Text),
    # the process running it (ProcessOwner), so a run whose process died can be told from a live one
    Column("owner_host", String(255)),
    Column("owner_pid", Integer),
    Column("owner_started", Float),  # the pid's start time: a reused pid differs
    Column("heartbeat_at", DateTime(timezone=True)),  # updated while it runs (other hosts' runs)
)

HEARTBEAT_EVERY = timedelta(seconds=60)
# A run on another host is abandoned after this long without a heartbeat (its pid cannot be checked from here).
STALE_AFTER = timedelta(minutes=10)
UNFINISHED = ("interrupted", "abandoned")


@dataclass(frozen=True)
class ProcessOwner:
    """A process, told apart from a later one that reuses its pid (after a restart) by its start time."""

    host: str
    pid: int
    started: float  # seconds since the epoch

    @classmethod
    def current(cls) -> ProcessOwner:
        me = psutil.Process()
        return cls(this_host(), me.pid, me.create_time())

    def is_gone(self, heartbeat_at: datetime | None, now: datetime) -> bool:
        """Whether this process has ended: checked directly on this host; elsewhere, by a stopped heartbeat."""
        if self.host == this_host():
            return not process_alive(self.pid, self.started)
        return heartbeat_at is None or now - heartbeat_at > STALE_AFTER

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def this_host() -> str:
    """The host name, and on Linux the pid namespace: two containers given the same host name still differ
    (a pid of one cannot be checked from the other)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:")  # e.g. "pid:[4026531836]"
    except OSError:
        namespace = ""
    return (socket.gethostname() + namespace)[-255:]  # the owner_host column


def process_alive(pid: int, started: float | None) -> bool:
    """Whether pid `pid` of this host runs, and is the process that started at `started` (not a reuse)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # ended, not yet reaped by its parent
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # exists, owned by someone else
        return True


@dataclass
class JobRun:
    id: int
    started_at: datetime
    rows: int = 0
    details: dict = field(default_factory=dict)


@contextmanager
def record_job(engine: Engine, job: str, trigger: str) -> Iterator[JobRun]:
    """Record a run: 'running' at start (with its process and a heartbeat), then 'success', 'failed' with the
    error, or 'interrupted' (a BaseException that is not an error: Streamlit stopping the script, Ctrl-C).
    Re-raises."""
    owner, now = ProcessOwner.current(), utcnow()
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(job_runs).values(
                job=job,
                trigger=trigger,
                started_at=now,
                status="running",
                owner_host=owner.host,
                owner_pid=owner.pid,
                owner_started=owner.started,
                heartbeat_at=now,
            )
        ).inserted_primary_key[0]
    run = JobRun(id=run_id, started_at=now)
    stop_beating = _start_heartbeat(engine, run_id)
    try:
        yield run
    except Exception as exc:
        _finish(engine, run, "failed", str(exc)[:2000])
        raise
    except BaseException as exc:
        _finish(engine, run, "interrupted", f"Interrupted before it finished ({type(exc).__name__})")
        raise
    else:
        _finish(engine, run, "success", None)
    finally:
        stop_beating.set()


def _finish(engine: Engine, run: JobRun, status: str, error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(job_runs)
            .where(job_runs.c.id == run.id)
            .values(finished_at=utcnow(), status=status, rows=run.rows, details=run.details, error=error)
        )


def save_results(conn: Connection, run_id: int, rows: int, details: dict) -> None:
    """Write a run's rows and details in the caller's transaction: a job whose results must commit together
    with its work (a model sync) saves them there, and sets them on its JobRun once committed (the run's end
    writes them again)."""
    conn.execute(update(job_runs).where(job_runs.c.id == run_id).values(rows=rows, details=details))


def _start_heartbeat(engine: Engine, run_id: int) -> threading.Event:
    """Touch the run's heartbeat every HEARTBEAT_EVERY until the returned event is set."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY.total_seconds()):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        update(job_runs)
                        .where(job_runs.c.id == run_id, job_runs.c.status == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except Exception as exc:  # the database is briefly unavailable: the next beat tries again
                log.warning("job run %s heartbeat not recorded: %s", run_id, exc)

    threading.Thread(target=beat, name=f"job-run-{run_id}-heartbeat", daemon=True).start()
    return stop


def _owner_of(row: Mapping) -> ProcessOwner:
    return ProcessOwner(row["owner_host"] or "an unknown host", row["owner_pid"] or 0, row["owner_started"])


def sweep_abandoned(engine: Engine, now: datetime | None = None) -> int:
    """Mark 'abandoned' every running run whose process is gone; returns how many. A live process's run is
    never touched (a run recorded before owners were, has only its start time as heartbeat)."""
    now = now or utcnow()
    with engine.connect() as conn:
        running = conn.execute(select(job_runs).where(job_runs.c.status == "running")).mappings().all()
    swept = 0
    for row in running:
        owner = _owner_of(row)
        if not owner.is_gone(as_aware(row["heartbeat_at"] or row["started_at"]), now):
            continue
        with engine.begin() as conn:  # unless it finished meanwhile
            swept += conn.execute(
                update(job_runs)
                .where(job_runs.c.id == row["id"], job_runs.c.status == "running")
                .values(
                    status="abandoned",
                    finished_at=now,
                    error=f"Abandoned: its process ({owner.describe()}) ended before it finished",
                )
            ).rowcount
    if swept:
        log.warning("marked %d job run(s) abandoned: their processes ended before they finished", swept)
    return swept


def last_run(engine: Engine, job: str, status: str | None = None) -> dict | None:
    q = select(job_runs).where(job_runs.c.job == job)
    if status:
        q = q.where(job_runs.c.status == status)
    with engine.connect() as conn:
        row = conn.execute(q.order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def recent_runs(engine: Engine, limit: int = 20, job: str | None = None) -> pd.DataFrame:
    q = select(job_runs)
    if job:
        q = q.where(job_runs.c.job == job)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(job_runs.c.id.desc()).limit(limit)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in job_runs.columns])


def humanize_ago(ts: datetime, now: datetime) -> str:
    seconds = max(0, int((now - ts).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def freshness(engine: Engine, now: datetime | None = None) -> dict:
    """What pages say about data freshness: last successful refresh, and the last failure if newer.

    `failed` also covers a refresh that did not finish (`unfinished`: interrupted or abandoned). A run shown
    as running is first checked: one whose process is gone is marked abandoned (cheap: only then is it checked).
    `source` is where the newest finished run read LiteLLM's data ("api" or "database"), `notice` what it said
    the operator should know (e.g. LiteLLM's database unreachable, so it read the API).
    """
    now = now or utcnow()

    def latest_runs() -> list[dict]:
        return [r for r in (last_run(engine, "refresh_today"), last_run(engine, "backfill")) if r]

    latest = latest_runs()
    if any(r["status"] == "running" for r in latest) and sweep_abandoned(engine, now):
        latest = latest_runs()
    ok = last_run(engine, "refresh_today", "success") or last_run(engine, "backfill", "success")
    newest = max(latest, key=lambda r: as_aware(r["started_at"])) if latest else None
    out = {
        "refreshed_at": None,
        "text": "No data fetched from LiteLLM yet",
        "failed": False,
        "error": None,
        "unfinished": False,
        "running": bool(newest and newest["status"] == "running"),
        "source": None,
        "notice": None,
    }
    finished = [r for r in latest if r["status"] != "running"]
    if finished:
        details = max(finished, key=lambda r: as_aware(r["started_at"]))["details"] or {}
        out["source"], out["notice"] = details.get("source"), details.get("notice")
    if ok:
        at = as_aware(ok["finished_at"] or ok["started_at"])
        out["refreshed_at"] = at
        out["text"] = f"Today refreshed {humanize_ago(at, now)}"
    if newest and newest["status"] in ("failed", *UNFINISHED):
        out["failed"], out["error"], out["unfinished"] = True, newest["error"], newest["status"] in UNFINISHED
    return out
