"""The usage jobs a process runs (refresh today, backfill, warm the store) and the scheduler that runs them.

Each takes the process's runtime, `rt` (lib/runtime.py, which builds the scheduler from here), so the Streamlit
app, the CLI and tests share one code path. Scheduler jobs never touch Streamlit.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from lib.catalog.models import run_model_sync
from lib.core.errors import ConsoleError
from lib.core.jobs import record_job
from lib.core.settings import Settings
from lib.usage.ingest import IngestError, IngestSummary, backfill, refresh_today
from lib.usage.store import UsageStore

log = logging.getLogger(__name__)


class RefreshInProgress(ConsoleError, RuntimeError):
    """Another refresh of this process is running; nothing was done (so nothing is audited)."""

    audit_outcome = None


def _ingest_kwargs(settings: Settings) -> dict:
    return {"page_size": settings.ACTIVITY_PAGE_SIZE, "concurrency": settings.BACKFILL_CONCURRENCY,
            "grace_minutes": settings.COMPLETE_GRACE_MINUTES}


def run_refresh_today(rt, trigger: str, wait: bool = False) -> IngestSummary:
    """Refresh today (and yesterday until complete), recorded as a job run.

    Two refreshes in one process never overlap: the second waits (wait=True) or is refused.
    """
    if not rt.refresh_lock.acquire(blocking=wait):
        raise RefreshInProgress("A refresh is already running; try again in a moment.")
    try:
        with record_job(rt.engine, "refresh_today", trigger) as run, rt.litellm_client() as client:
            try:
                summary = refresh_today(client, rt.store, **_ingest_kwargs(rt.settings))
            except IngestError as exc:
                run.details = exc.summary.as_dict()
                raise
            run.rows, run.details = summary.rows_written, summary.as_dict()
            return summary
    finally:
        rt.refresh_lock.release()


def refresh_today_as(rt, user) -> IngestSummary:
    """A person's "Refresh today", through the gate (usage:refresh): audited whatever ends it, refused at once
    (RefreshInProgress, not audited: nothing was done) while another refresh of this process runs."""
    from lib.auth.gate import perform
    return perform(rt.engine, user, "usage.refresh", "today",
                   lambda: run_refresh_today(rt, trigger=user.username), transaction=False,
                   details=lambda summary: summary.as_dict())


def run_backfill(rt, trigger: str, start=None, end=None, force: bool = False) -> IngestSummary:
    """Fill missing or partial days of [start, end] (default: the last BACKFILL_DAYS), recorded as a job run."""
    today = datetime.now(timezone.utc).date()
    end = end or today
    start = start or (today - timedelta(days=max(rt.settings.BACKFILL_DAYS - 1, 0)))
    progress = rt.backfill_progress

    def advance(done: int, total: int) -> None:
        progress.done_days, progress.total_days = done, total

    progress.running, progress.started_at, progress.error = True, datetime.now(timezone.utc), None
    try:
        with record_job(rt.engine, "backfill", trigger) as run, rt.litellm_client() as client:
            run.details = {"start": start.isoformat(), "end": end.isoformat(), "force": force}
            try:
                summary = backfill(client, rt.store, start, end, force=force, progress=advance,
                                   **_ingest_kwargs(rt.settings))
            except IngestError as exc:
                run.details |= exc.summary.as_dict()
                raise
            run.rows = summary.rows_written
            run.details |= summary.as_dict()
            return summary
    except Exception as exc:
        progress.error = str(exc)
        raise
    finally:
        progress.running = False


def recover_interrupted_work(engine, store: UsageStore | None = None) -> dict:
    """Clean up after processes that died mid-work (a killed CLI, a crashed app): runs left "running" are marked
    abandoned, a dead model sync's lease is freed, and the store's orphan files are removed. Nothing of a live
    process is touched. Run when the app and the CLI start."""
    from lib.catalog.models import release_abandoned_sync_lock
    from lib.core.jobs import sweep_abandoned
    done = {"abandoned_runs": sweep_abandoned(engine), "sync_lease_freed": release_abandoned_sync_lock(engine),
            "orphan_files": store.remove_orphans() if store is not None else None}
    if done["orphan_files"]:
        log.warning("removed files an interrupted store write left: %s", ", ".join(done["orphan_files"]))
    return done


def warm_store(rt) -> None:
    rt.store.sync()


def _scheduled(fn, *args, **kwargs) -> None:
    """Job wrapper: failures are already recorded in job_runs; log one line, keep the scheduler alive."""
    try:
        fn(*args, **kwargs)
    except ConsoleError as exc:
        log.warning("%s failed: %s", fn.__name__, exc)
    except Exception:
        log.exception("%s crashed", fn.__name__)


def build_scheduler(rt) -> BackgroundScheduler:
    """Startup backfill, then refresh_today and the model sync on their intervals (not started)."""
    s = rt.settings
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                  "misfire_grace_time": 300})
    now = datetime.now(timezone.utc)
    # load the stored history into memory now, not on the first page view after a restart
    scheduler.add_job(_scheduled, "date", args=[warm_store, rt], id="warm_store")
    scheduler.add_job(_scheduled, "date", args=[run_backfill, rt, "startup"], id="startup_backfill")
    scheduler.add_job(_scheduled, "interval", args=[run_model_sync, rt, "scheduler"],
                      minutes=s.MODEL_SYNC_INTERVAL_MINUTES, id="model_sync", next_run_time=now)  # at start, then ...
    scheduler.add_job(_scheduled, "interval", args=[run_refresh_today, rt, "scheduler"],
                      minutes=s.REFRESH_INTERVAL_MINUTES, id="refresh_today",
                      next_run_time=now + timedelta(minutes=s.REFRESH_INTERVAL_MINUTES))
    return scheduler
