"""Recording of background job runs (refresh, backfill, model sync) in the app database.

Pages read these rows to show freshness ("today refreshed 2 min ago") and the last error.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from lib.appdb import job_runs, utcnow


@dataclass
class JobRun:
    id: int
    rows: int = 0
    details: dict = field(default_factory=dict)


@contextmanager
def record_job(engine: Engine, job: str, trigger: str) -> Iterator[JobRun]:
    """Record a run: 'running' at start, then 'success' or 'failed' with the error. Re-raises failures."""
    with engine.begin() as conn:
        run_id = conn.execute(insert(job_runs).values(job=job, trigger=trigger, started_at=utcnow(),
                                                      status="running")).inserted_primary_key[0]
    run = JobRun(id=run_id)
    try:
        yield run
    except BaseException as exc:
        with engine.begin() as conn:
            conn.execute(update(job_runs).where(job_runs.c.id == run_id).values(
                finished_at=utcnow(), status="failed", rows=run.rows, details=run.details, error=str(exc)[:2000]))
        raise
    with engine.begin() as conn:
        conn.execute(update(job_runs).where(job_runs.c.id == run_id).values(
            finished_at=utcnow(), status="success", rows=run.rows, details=run.details))


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


def as_aware(ts: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; we only ever store UTC."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=timezone.utc)


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
    """What pages say about data freshness: last successful refresh, and the last failure if newer."""
    now = now or utcnow()
    ok = last_run(engine, "refresh_today", "success") or last_run(engine, "backfill", "success")
    latest = [r for r in (last_run(engine, "refresh_today"), last_run(engine, "backfill")) if r]
    newest = max(latest, key=lambda r: as_aware(r["started_at"])) if latest else None
    out = {"refreshed_at": None, "text": "No data fetched from LiteLLM yet", "failed": False, "error": None,
           "running": bool(newest and newest["status"] == "running")}
    if ok:
        at = as_aware(ok["finished_at"] or ok["started_at"])
        out["refreshed_at"] = at
        out["text"] = f"Today refreshed {humanize_ago(at, now)}"
    if newest and newest["status"] == "failed":
        out["failed"], out["error"] = True, newest["error"]
    return out
