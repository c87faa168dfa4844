"""Process-wide services: the usage store, the app database, and the one background scheduler.

Everything here exists once per process (module-level singletons behind a lock), so the Streamlit
app, the CLI and tests share one code path. Scheduler jobs never touch Streamlit.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from lib.appdb import get_engine
from lib.catalog.sync import ModelSyncError, run_model_sync
from lib.core import leases
from lib.core.clock import utcnow
from lib.core.settings import Settings
from lib.usage.ingest import IngestError, IngestSummary, backfill, refresh_today
from lib.core.jobs import record_job, sweep_abandoned
from lib.litellm.client import LiteLLMError, client_from_settings
from lib.usage.store import UsageStore

log = logging.getLogger(__name__)

_lock = threading.RLock()     # start_background_services takes it, then get_store again
_stores: dict[str, UsageStore] = {}
_scheduler: BackgroundScheduler | None = None


def get_store(settings: Settings) -> UsageStore:
    key = str(settings.store_dir)
    with _lock:
        if key not in _stores:
            _stores[key] = UsageStore(settings.store_dir)
        return _stores[key]


@dataclass
class BackfillProgress:
    running: bool = False
    done_days: int = 0
    total_days: int = 0
    started_at: datetime | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        return self.done_days / self.total_days if self.total_days else 1.0


backfill_progress = BackfillProgress()


class RefreshInProgress(RuntimeError):
    pass


REFRESH_LEASE = "refresh_today"          # its job runs' name too
# A refresh takes seconds to minutes; this bounds how long one whose process died on another host blocks the next
# (on this host a dead holder's lease is freed at once).
REFRESH_LEASE_TTL = timedelta(minutes=15)


def _ingest_kwargs(settings: Settings) -> dict:
    return {"page_size": settings.ACTIVITY_PAGE_SIZE, "concurrency": settings.BACKFILL_CONCURRENCY,
            "grace_minutes": settings.COMPLETE_GRACE_MINUTES}


def run_refresh_today(settings: Settings, trigger: str, wait: bool = False,
                      store: UsageStore | None = None) -> IngestSummary:
    """Refresh today (and yesterday until complete), recorded as a job run.

    Two refreshes never overlap, in one process or across processes (the app and a CLI refresh-today): the
    second waits until the first ends (wait=True) or is refused. `store`: this process's serving store by
    default; the CLI passes a write-only one.
    """
    engine = get_engine(settings.DATABASE_URL)
    try:
        lease = leases.acquire(engine, REFRESH_LEASE, trigger, REFRESH_LEASE_TTL, wait_s=math.inf if wait else 0.0)
    except leases.LeaseTaken:
        raise RefreshInProgress("A refresh is already running; try again in a moment.") from None
    try:
        store = store or get_store(settings)
        with record_job(engine, REFRESH_LEASE, trigger) as run, client_from_settings(settings) as client:
            try:
                summary = refresh_today(client, store, **_ingest_kwargs(settings))
            except IngestError as exc:
                run.details = exc.summary.as_dict()
                raise
            run.rows, run.details = summary.rows_written, summary.as_dict()
            return summary
    finally:
        leases.release(engine, lease)


def run_backfill(settings: Settings, trigger: str, start=None, end=None, force: bool = False,
                 store: UsageStore | None = None) -> IngestSummary:
    """Fill missing or partial days of [start, end] (default: the last BACKFILL_DAYS), recorded as a job run."""
    today = utcnow().date()
    end = end or today
    start = start or (today - timedelta(days=max(settings.BACKFILL_DAYS - 1, 0)))
    store, engine = store or get_store(settings), get_engine(settings.DATABASE_URL)

    def progress(done: int, total: int) -> None:
        backfill_progress.done_days, backfill_progress.total_days = done, total

    backfill_progress.running, backfill_progress.started_at, backfill_progress.error = True, utcnow(), None
    try:
        with record_job(engine, "backfill", trigger) as run, client_from_settings(settings) as client:
            run.details = {"start": start.isoformat(), "end": end.isoformat(), "force": force}
            try:
                summary = backfill(client, store, start, end, force=force, progress=progress,
                                   **_ingest_kwargs(settings))
            except IngestError as exc:
                run.details |= exc.summary.as_dict()
                raise
            run.rows = summary.rows_written
            run.details |= summary.as_dict()
            return summary
    except Exception as exc:
        backfill_progress.error = str(exc)
        raise
    finally:
        backfill_progress.running = False


def recover_interrupted_work(engine, store: UsageStore | None = None) -> dict:
    """Clean up after processes that died mid-work (a killed CLI, a crashed app): runs left "running" are marked
    abandoned, the leases of dead syncs and refreshes are freed, and the store's orphan files are removed. Nothing
    of a live process is touched. Run when the app and the CLI start."""
    done = {"abandoned_runs": sweep_abandoned(engine), "leases_freed": leases.release_abandoned(engine),
            "orphan_files": store.remove_orphans() if store is not None else None}
    if done["orphan_files"]:
        log.warning("removed files an interrupted store write left: %s", ", ".join(done["orphan_files"]))
    return done


def warm_store(settings: Settings) -> None:
    get_store(settings).sync()


def _scheduled(fn, *args, **kwargs) -> None:
    """Job wrapper: failures are already recorded in job_runs; log one line, keep the scheduler alive."""
    try:
        fn(*args, **kwargs)
    except (LiteLLMError, IngestError, RefreshInProgress, ModelSyncError) as exc:
        log.warning("%s failed: %s", fn.__name__, exc)
    except Exception:
        log.exception("%s crashed", fn.__name__)


def start_background_services(settings: Settings) -> BackgroundScheduler:
    """Start the process's one scheduler (idempotent): startup backfill, then refresh_today on an interval."""
    global _scheduler
    with _lock:
        if _scheduler is not None:
            return _scheduler
        engine = get_engine(settings.DATABASE_URL)  # schema up to date before any job records a run
        try:
            recover_interrupted_work(engine, get_store(settings))
        except Exception:  # the app still starts; the next start (or freshness) tries again
            log.exception("could not clean up after interrupted work")
        scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                      "misfire_grace_time": 300})
        # load the stored history into memory now, not on the first page view after a restart
        scheduler.add_job(_scheduled, "date", args=[warm_store, settings], id="warm_store")
        scheduler.add_job(_scheduled, "date", args=[run_backfill, settings, "startup"], id="startup_backfill")
        scheduler.add_job(_scheduled, "interval", args=[run_model_sync, settings, "scheduler"],
                          minutes=settings.MODEL_SYNC_INTERVAL_MINUTES, id="model_sync",
                          next_run_time=utcnow())       # at start, then on the interval
        scheduler.add_job(_scheduled, "interval", args=[run_refresh_today, settings, "scheduler"],
                          minutes=settings.REFRESH_INTERVAL_MINUTES, id="refresh_today",
                          next_run_time=utcnow() + timedelta(minutes=settings.REFRESH_INTERVAL_MINUTES))
        scheduler.start()
        _scheduler = scheduler
        return scheduler


def stop_background_services() -> None:
    global _scheduler
    with _lock:
        if _scheduler is not None:
            _scheduler.shutdown(wait=False)
            _scheduler = None
