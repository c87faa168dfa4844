"""Recording of background job runs (refresh, backfill, model sync) in the app database.

Pages read these rows to show freshness ("today refreshed 2 min ago") and the last error.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
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
    from datetime import timezone
    return ts.replace(tzinfo=timezone.utc)
