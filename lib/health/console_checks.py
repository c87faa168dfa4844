"""The console's own health: its app database, the usage store, the background jobs and the model sync.

Each check reads what the console recorded (job_runs, the store's manifest, the catalogue) and never calls
LiteLLM, so it answers even when LiteLLM is down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, text

from lib.catalog.sync import JOB_NAME as MODEL_SYNC
from lib.catalog.tables import model_catalog
from lib.core.clock import as_aware, utcnow
from lib.core.db import schema_version
from lib.core.formatting import duration
from lib.core.jobs import UNFINISHED, freshness, humanize_ago, last_run, sweep_abandoned
from lib.health.status import Check, Status
from lib.litellm.database import LiteLLMDatabase

log = logging.getLogger(__name__)
APP_DATABASE, USAGE_STORE, MODEL_SYNC_STATUS = "App database", "Usage store", "Models catalogue"
SLOW_DATABASE_S = 1.0  # a `SELECT 1` slower than this is amber
STALE_INTERVALS = 3  # data or a sync older than this many of its intervals is amber
RUNNING_TOO_LONG = timedelta(minutes=15)  # the refresh's and the sync's lease: a run past it is stuck
# The recorded jobs (lib.core.jobs names) in the order the page lists them: name -> label.
JOBS = {
    "refresh_today": "Refresh today",
    "backfill": "Backfill",
    MODEL_SYNC: "Model sync",
    "routing_drift": "Routing drift check",
}


def check_app_database(rt) -> Check:
    started = time.perf_counter()
    try:
        engine = rt.engine  # opened (and migrated) on first use: may fail here too
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            version = conn.execute(select(func.max(schema_version.c.version))).scalar()
    except Exception as exc:  # its text may quote the URL: the log has it, the page only the type
        log.warning("app database check failed: %s", exc)
        return Check(APP_DATABASE, "red", f"Cannot use the app database ({type(exc).__name__}); see the server log")
    seconds = time.perf_counter() - started
    what = f"{engine.dialect.name}, schema version {version}, answered in {seconds * 1000:,.0f} ms"
    if seconds > SLOW_DATABASE_S:
        return Check(APP_DATABASE, "amber", f"Slow: {what}")
    return Check(APP_DATABASE, "green", f"Reachable ({what})")


# -- the usage store -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreFacts:
    days: int  # days stored (complete and partial)
    complete_days: int
    first_day: date | None
    last_complete_day: date | None
    today_fetched_at: datetime | None  # today's last refresh (when its data was fetched)
    size_bytes: int


def store_facts(rt) -> StoreFacts:
    """What the store holds, from its manifest and files (raises when they cannot be read)."""
    store = rt.store
    states = store.day_states()
    complete = [d for d, s in states.items() if s.status == "complete"]
    today = states.get(utcnow().date())
    size = sum(p.stat().st_size for p in store.dir.rglob("*") if p.is_file())
    return StoreFacts(
        days=len(states),
        complete_days=len(complete),
        first_day=min(states, default=None),
        last_complete_day=max(complete, default=None),
        today_fetched_at=as_aware(today.fetched_at) if today else None,
        size_bytes=size,
    )


def check_usage_store(rt, now: datetime | None = None) -> tuple[Check, StoreFacts | None]:
    now = now or utcnow()
    try:
        facts = store_facts(rt)
    except Exception as exc:
        log.warning("usage store check failed: %s", exc)
        return Check(USAGE_STORE, "red", f"Cannot read the usage store ({type(exc).__name__}: {exc})"), None
    s = rt.settings
    if not facts.days:
        return Check(USAGE_STORE, "amber", "No usage data stored yet (the backfill fills it from LiteLLM)"), facts
    every = timedelta(minutes=s.REFRESH_INTERVAL_MINUTES)
    stale = STALE_INTERVALS * every
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=now.tzinfo)
    problems = []
    if facts.today_fetched_at is None:
        if now - midnight > stale:
            problems.append("today has not been fetched yet")
    elif now - facts.today_fetched_at > stale:
        problems.append(
            f"today last refreshed {humanize_ago(facts.today_fetched_at, now)} (every {s.REFRESH_INTERVAL_MINUTES} min)"
        )
    # yesterday becomes complete at the first refresh after its end plus the grace period
    expected = now.date() - timedelta(
        days=1 if now - midnight > timedelta(minutes=s.COMPLETE_GRACE_MINUTES) + stale else 2
    )
    if facts.last_complete_day is None or facts.last_complete_day < expected:
        since = facts.last_complete_day.isoformat() if facts.last_complete_day else "the start"
        problems.append(f"no complete day after {since}")
    refreshed = humanize_ago(facts.today_fetched_at, now) if facts.today_fetched_at else "not yet"
    source, notice = ingest_source(rt)
    if notice:
        problems.append(notice)
    held = (
        f"{facts.days} days stored ({facts.complete_days} complete, last {facts.last_complete_day or 'none'}); "
        f"today refreshed {refreshed}; {facts.size_bytes / 1e6:,.1f} MB; {source}"
    )
    if problems:
        said = "; ".join(problems)  # a notice quotes names (LiteLLM, URLs): only its first letter is raised
        return Check(USAGE_STORE, "amber", said[0].upper() + said[1:] + f". {held}"), facts
    return Check(USAGE_STORE, "green", held[0].upper() + held[1:]), facts


def ingest_source(rt) -> tuple[str, str | None]:
    """Where the usage data is read from, in words, and what the newest backfill or refresh said about it when
    LiteLLM's database is set (e.g. unreachable, so it read the API)."""
    url = rt.settings.LITELLM_DATABASE_URL
    if not url:
        return "read from LiteLLM's API", None
    info, where = freshness(rt.engine), LiteLLMDatabase(url).where
    if info["source"] == "api":
        return f"read from LiteLLM's API instead of its database ({where})", info["notice"]
    return f"read from LiteLLM's database ({where})", info["notice"]


# -- background jobs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobStatus:
    job: str
    label: str
    status: Status
    reason: str
    last_started: datetime | None
    trigger: str | None
    duration_s: float | None  # of the last run (so far, while it runs)
    outcome: str | None  # running | success | failed | interrupted | abandoned
    error: str | None
    next_run: datetime | None
    next_run_text: str  # when it runs next, in words (this process's scheduler, else who runs it)


def job_statuses(rt, now: datetime | None = None) -> list[JobStatus]:
    """Each recorded job's last run and next run (from this process's scheduler, if it runs one)."""
    now = now or utcnow()
    engine = rt.engine
    runs = {job: last_run(engine, job) for job in JOBS}
    if any(r and r["status"] == "running" for r in runs.values()) and sweep_abandoned(engine, now):
        runs = {job: last_run(engine, job) for job in JOBS}  # a dead process's run is abandoned, not running
    next_runs = rt.next_runs()
    return [_job_status(job, label, runs[job], next_runs, now) for job, label in JOBS.items()]


def _next_run(job: str, next_runs: dict | None, now: datetime) -> tuple[datetime | None, str]:
    if next_runs is None:
        return None, "not run by this process (background services off: the CLI or cron runs it)"
    if job not in next_runs:  # the backfill: once at start
        return None, "at the next start"
    at = as_aware(next_runs[job])
    if at is None:
        return None, "paused"
    wait = max(0, int((at - now).total_seconds()))
    return at, f"{at:%H:%M:%S} UTC (in {format_duration(wait)})" if wait else "now"


def _job_status(job: str, label: str, run: dict | None, next_runs: dict | None, now: datetime) -> JobStatus:
    next_run, next_text = _next_run(job, next_runs, now)
    if run is None:  # fine when this process will run it (just started), else nobody may
        status: Status = "green" if next_run is not None else "amber"
        reason = f"Not run yet; first run {next_text}" if next_run is not None else "Never run"
        return JobStatus(job, label, status, reason, None, None, None, None, None, next_run, next_text)
    started = as_aware(run["started_at"])
    finished = as_aware(run["finished_at"])
    duration = ((finished or now) - started).total_seconds()
    outcome, error = run["status"], run["error"]
    ago = humanize_ago(started, now)
    if outcome == "running":
        long = now - started > RUNNING_TOO_LONG
        status, reason = ("amber" if long else "green"), f"Running since {ago} ({format_duration(duration)})"
    elif outcome == "success":
        unit = {MODEL_SYNC: "models", "routing_drift": "differences from LiteLLM"}.get(job, "rows")
        rows = f", {run['rows']:,} {unit}" if run["rows"] is not None else ""
        status, reason = "green", f"Succeeded {ago} in {format_duration(duration)}{rows}"
    elif outcome in UNFINISHED:
        status, reason = "amber", f"{outcome.capitalize()} {ago}: {error or 'no reason recorded'}"
    else:
        status, reason = "red", f"Failed {ago}: {error or 'no reason recorded'}"
    return JobStatus(job, label, status, reason, started, run["trigger"], duration, outcome, error, next_run, next_text)


format_duration = duration  # one rule for durations (lib.core.formatting)


# -- the model sync ------------------------------------------------------------------------------------------
def check_model_sync(rt, now: datetime | None = None) -> Check:
    """The catalogue's state: how many models, when last synced, what the last sync found or why it failed."""
    now = now or utcnow()
    engine = rt.engine
    last, ok = last_run(engine, MODEL_SYNC), last_run(engine, MODEL_SYNC, "success")
    with engine.connect() as conn:
        available = conn.execute(
            select(func.count()).select_from(model_catalog).where(model_catalog.c.available.is_(True))
        ).scalar()
    if last is None:
        return Check(MODEL_SYNC_STATUS, "amber", "Models never synced from LiteLLM")
    synced = (
        f"last synced {humanize_ago(as_aware(ok['finished_at'] or ok['started_at']), now)}" if ok else "never synced"
    )
    if last["status"] in ("failed", *UNFINISHED):
        status: Status = "red" if last["status"] == "failed" else "amber"
        why = last["error"] or "no reason recorded"
        return Check(
            MODEL_SYNC_STATUS,
            status,
            f"Last sync {last['status']} {humanize_ago(as_aware(last['started_at']), now)}: {why}. "
            f"The catalogue ({available} models available) was {synced}",
        )
    if ok is None:  # the first sync is running
        return Check(MODEL_SYNC_STATUS, "amber", "The first model sync is running")
    details = ok["details"] or {}
    found = (
        f"{available} models available, {synced} "
        f"({details.get('new', 0)} new, {details.get('updated', 0)} updated, "
        f"{details.get('unavailable', 0)} unavailable)"
    )
    if details.get("errors"):
        names = ", ".join(str(e.get("model")) for e in details["errors"][:5])
        return Check(MODEL_SYNC_STATUS, "amber", f"{found}; {len(details['errors'])} with problems: {names}")
    every = rt.settings.MODEL_SYNC_INTERVAL_MINUTES
    if now - as_aware(ok["finished_at"] or ok["started_at"]) > STALE_INTERVALS * timedelta(minutes=every):
        return Check(MODEL_SYNC_STATUS, "amber", f"{found[0].upper()}{found[1:]}; it should run every {every} min")
    return Check(MODEL_SYNC_STATUS, "green", found[0].upper() + found[1:])
