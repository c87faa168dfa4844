"""The usage jobs a process runs (refresh today, backfill, warm the store) and the scheduler that runs them.

Each takes the process's runtime, `rt` (lib/runtime.py, which builds the scheduler from here), so the Streamlit
app, the CLI and tests share one code path. Scheduler jobs never touch Streamlit.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from lib.budgets.alerts import run_after_refresh as run_alerts_after_refresh
from lib.catalog.sync import run_model_sync
from lib.core import leases
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.core.jobs import record_job, sweep_abandoned
from lib.core.settings import Settings
from lib.routing.service import run_drift_check
from lib.usage.database_source import open_source
from lib.usage.ingest import IngestError, IngestSummary, backfill, refresh_today
from lib.usage.store import UsageStore

log = logging.getLogger(__name__)


class RefreshInProgress(ConsoleError, RuntimeError):
    """Another refresh of this process is running; nothing was done (so nothing is audited)."""

    audit_outcome = None


REFRESH_LEASE = "refresh_today"  # its job runs' name too
# A refresh takes seconds to minutes; this bounds how long one whose process died on another host blocks the next
# (on this host a dead holder's lease is freed at once).
REFRESH_LEASE_TTL = timedelta(minutes=15)


def _ingest_kwargs(settings: Settings) -> dict:
    return {
        "page_size": settings.ACTIVITY_PAGE_SIZE,
        "concurrency": settings.BACKFILL_CONCURRENCY,
        "grace_minutes": settings.COMPLETE_GRACE_MINUTES,
    }


def _ingest(rt, run, client, read):
    """Run `read(source)` on the source ingest reads (LiteLLM's database or its API: lib/usage/database_source.py),
    recording in the job run which one it was and any notice (the database unreachable: the API read instead).
    A failing read records what it did before it raises."""
    source, notice = open_source(rt.settings, client, rt.litellm_today_rows)
    run.details |= {"source": source.name, **({"notice": notice} if notice else {})}
    try:
        summary = read(source)
    except IngestError as exc:
        exc.summary.notice = notice
        run.details |= exc.summary.as_dict()
        raise
    summary.notice = notice
    run.rows = summary.rows_written
    run.details |= summary.as_dict()
    return summary


def run_refresh_today(rt, trigger: str, wait: bool = False) -> IngestSummary:
    """Refresh today (and yesterday until complete), recorded as a job run; then the budget alerts are evaluated.

    Two refreshes never overlap, in one process or across processes (the app and a CLI refresh-today): the
    second waits until the first ends (wait=True) or is refused.
    """
    engine = rt.engine
    try:
        lease = leases.acquire(engine, REFRESH_LEASE, trigger, REFRESH_LEASE_TTL, wait_s=math.inf if wait else 0.0)
    except leases.LeaseTaken:
        raise RefreshInProgress("A refresh is already running; try again in a moment.") from None
    try:
        with record_job(engine, REFRESH_LEASE, trigger) as run, rt.litellm_client() as client:
            kwargs = _ingest_kwargs(rt.settings)
            summary = _ingest(rt, run, client, lambda source: refresh_today(source, rt.store, **kwargs))
        run_alerts_after_refresh(rt, trigger)  # still under the lease: two evaluations never race
        return summary
    finally:
        leases.release(engine, lease)


def refresh_today_as(rt, user) -> IngestSummary:
    """A person's "Refresh today", through the gate (usage:refresh): audited whatever ends it, refused at once
    (RefreshInProgress, not audited: nothing was done) while another refresh of this process runs."""
    from lib.auth.gate import perform

    return perform(
        rt.engine,
        user,
        "usage.refresh",
        "today",
        lambda: run_refresh_today(rt, trigger=user.username),
        transaction=False,
        details=lambda summary: summary.as_dict(),
    )


def run_backfill(rt, trigger: str, start=None, end=None, force: bool = False) -> IngestSummary:
    """Fill missing or partial days of [start, end] (default: the last BACKFILL_DAYS), recorded as a job run."""
    today = utcnow().date()
    end = end or today
    start = start or (today - timedelta(days=max(rt.settings.BACKFILL_DAYS - 1, 0)))
    progress = rt.backfill_progress

    def advance(done: int, total: int) -> None:
        progress.done_days, progress.total_days = done, total

    progress.running, progress.started_at, progress.error = True, utcnow(), None
    try:
        with record_job(rt.engine, "backfill", trigger) as run, rt.litellm_client() as client:
            run.details = {"start": start.isoformat(), "end": end.isoformat(), "force": force}
            kwargs = {**_ingest_kwargs(rt.settings), "force": force, "progress": advance}
            return _ingest(rt, run, client, lambda source: backfill(source, rt.store, start, end, **kwargs))
    except Exception as exc:
        progress.error = str(exc)
        raise
    finally:
        progress.running = False


def recover_interrupted_work(engine, store: UsageStore | None = None) -> dict:
    """Clean up after processes that died mid-work (a killed CLI, a crashed app): runs left "running" are marked
    abandoned, the leases of dead syncs and refreshes are freed, and the store's orphan files are removed. Nothing
    of a live process is touched. Run when the app and the CLI start."""
    done = {
        "abandoned_runs": sweep_abandoned(engine),
        "leases_freed": leases.release_abandoned(engine),
        "orphan_files": store.remove_orphans() if store is not None else None,
    }
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


# The job runs' name (lib.core.jobs) of a scheduler job whose id differs.
JOB_OF_SCHEDULED = {"startup_backfill": "backfill"}


# The scheduler's interval jobs and the setting each one's interval is.
INTERVAL_SETTINGS = {
    "refresh_today": "REFRESH_INTERVAL_MINUTES",
    "model_sync": "MODEL_SYNC_INTERVAL_MINUTES",
    "routing_drift": "ROUTING_DRIFT_INTERVAL_MINUTES",
}


def reschedule_intervals(scheduler: BackgroundScheduler, before: Settings, after: Settings) -> list[str]:
    """Give the interval jobs whose setting changed their new interval (a setting saved in the console), counted
    from now; returns the ids of the jobs rescheduled."""
    moved = []
    for job_id, name in INTERVAL_SETTINGS.items():
        minutes = getattr(after, name)
        if getattr(before, name) != minutes and scheduler.get_job(job_id) is not None:
            scheduler.reschedule_job(job_id, trigger="interval", minutes=minutes)
            moved.append(job_id)
    return moved


def build_scheduler(rt) -> BackgroundScheduler:
    """Startup backfill, then refresh_today, the model sync and the routing drift check on their intervals (not
    started)."""
    s = rt.settings
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    now = utcnow()
    # load the stored history into memory now, not on the first page view after a restart
    scheduler.add_job(_scheduled, "date", args=[warm_store, rt], id="warm_store")
    scheduler.add_job(_scheduled, "date", args=[run_backfill, rt, "startup"], id="startup_backfill")
    scheduler.add_job(
        _scheduled,
        "interval",
        args=[run_model_sync, rt, "scheduler"],
        minutes=s.MODEL_SYNC_INTERVAL_MINUTES,
        id="model_sync",
        next_run_time=now,  # at start, then on the interval
    )
    scheduler.add_job(
        _scheduled,
        "interval",
        args=[run_refresh_today, rt, "scheduler"],
        minutes=s.REFRESH_INTERVAL_MINUTES,
        id="refresh_today",
        next_run_time=now + timedelta(minutes=s.REFRESH_INTERVAL_MINUTES),
    )
    # LiteLLM compared with the last applied routing; the Routing page shows the result (lib.routing.service)
    scheduler.add_job(
        _scheduled,
        "interval",
        args=[run_drift_check, rt, "scheduler"],
        minutes=s.ROUTING_DRIFT_INTERVAL_MINUTES,
        id="routing_drift",
        next_run_time=now + timedelta(minutes=1),
    )
    return scheduler
