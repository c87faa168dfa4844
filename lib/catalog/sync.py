"""The model sync: LiteLLM's `/model/info` upserted into the catalogue (lib.catalog.tables), one sync at a time.

A model is *new* when its name was not in the catalogue, *updated* when a tracked field changed (prices with a
tolerance), *unavailable* when LiteLLM no longer lists it (kept and marked; available again if it returns).

A sync is one transaction: every row is inserted, updated or marked unavailable together with the run's
statistics (its job run's details: lib.core.jobs, job "model_sync") and its audit row, or nothing is. Two syncs
never interleave, across threads and processes: a sync first takes the "model_sync" lease (lib.core.leases; the
second sync waits for it or is refused with `SyncInProgress`), and its transaction starts by re-checking the
lease with an UPDATE, so a sync whose lease expired can never commit over another's.

Nothing here touches Streamlit (the scheduler calls `run_model_sync` from its background thread).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from lib.auth.audit import audit
from lib.auth.gate import authorize
from lib.catalog.parse import TRACKED, catalogue_rows, changed_fields
from lib.catalog.tables import model_catalog
from lib.core import leases
from lib.core.clock import as_aware, utcnow
from lib.core.errors import ConsoleError
from lib.core.jobs import JobRun, record_job, save_results
from lib.core.leases import Holder, Lease, LeaseTaken

log = logging.getLogger(__name__)

JOB_NAME = "model_sync"  # its job runs, and its lease
LEASE_TTL = timedelta(minutes=15)  # a crashed sync's lease is taken over after this (on another host)
DEFAULT_WAIT_S = 120.0  # non-interactive syncs wait this long for a running one


class ModelSyncError(ConsoleError, RuntimeError):
    """A sync failed (LiteLLM unreachable, bad answer, database error); nothing was changed.

    `result` is the failed run as recorded (status "failed"), `str()` is safe to show.
    """

    def __init__(self, message: str, result: SyncResult | None = None):
        super().__init__(message)
        self.result = result


class SyncInProgress(ModelSyncError):
    """Another sync (another admin, the scheduler, the CLI) holds the lease; nothing was done."""


@dataclass
class SyncResult:
    trigger: str
    status: str = "success"  # success | partial (some models have problems) | failed
    run_id: int | None = None
    total: int = 0  # public model names LiteLLM serves now
    new_models: list[str] = field(default_factory=list)
    updated_models: dict[str, list[str]] = field(default_factory=dict)  # name -> changed fields
    unavailable_models: list[str] = field(default_factory=list)  # newly missing from LiteLLM
    restored_models: list[str] = field(default_factory=list)  # back after being unavailable
    errors: list[dict] = field(default_factory=list)  # [{"model", "message"}]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None  # failed runs: why

    @property
    def new(self) -> int:
        return len(self.new_models)

    @property
    def updated(self) -> int:
        return len(self.updated_models)

    @property
    def unavailable(self) -> int:
        return len(self.unavailable_models)

    @property
    def synced_at(self) -> datetime | None:
        return self.finished_at

    def as_dict(self) -> dict:
        iso = lambda t: as_aware(t).isoformat() if t else None  # noqa: E731
        return {
            "total": self.total,
            "new": self.new,
            "updated": self.updated,
            "unavailable": self.unavailable,
            "errors": list(self.errors),
            "synced_at": iso(self.finished_at),
            "status": self.status,
            "trigger": self.trigger,
            "run_id": self.run_id,
            "started_at": iso(self.started_at),
            "new_models": list(self.new_models),
            "updated_models": dict(self.updated_models),
            "unavailable_models": list(self.unavailable_models),
            "restored_models": list(self.restored_models),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SyncResult:
        """The inverse of `as_dict` (a recorded run's details)."""
        when = lambda t: as_aware(datetime.fromisoformat(t)) if t else None  # noqa: E731
        return cls(
            trigger=d["trigger"],
            status=d["status"],
            run_id=d["run_id"],
            total=d["total"] or 0,
            new_models=list(d["new_models"]),
            updated_models=dict(d["updated_models"]),
            unavailable_models=list(d["unavailable_models"]),
            restored_models=list(d["restored_models"]),
            errors=list(d["errors"] or []),
            started_at=when(d["started_at"]),
            finished_at=when(d["synced_at"]),
            error=d["error"],
        )


# -- the lease -----------------------------------------------------------------------------------
def acquire_sync_lease(engine: Engine, owner: str, wait_s: float = 0.0) -> Lease:
    """Take the model-sync lease, waiting up to `wait_s`; raise SyncInProgress with who holds it."""
    try:
        return leases.acquire(engine, JOB_NAME, owner, LEASE_TTL, wait_s)
    except LeaseTaken as exc:
        raise SyncInProgress(_busy_message(exc.holder)) from None


def _busy_message(holder: Holder | None) -> str:
    who = ""
    if holder is not None:
        ago = int((utcnow() - holder.acquired_at).total_seconds()) if holder.acquired_at else None
        who = f" (started by {holder.owner}" + (f" {ago} s ago)" if ago is not None else ")")
    return f"A model sync is already running{who}; try again in a moment."


# -- the sync ------------------------------------------------------------------------------------
def sync_models(
    engine: Engine,
    client,
    trigger: str,
    *,
    wait_s: float = 0.0,
    lease: Lease | None = None,
    actor: str | None = None,
    allow_empty: bool = False,
) -> SyncResult:
    """Read LiteLLM's `/model/info` and upsert the catalogue in one transaction; returns the run's statistics.

    Recorded as a job run ("model_sync", its statistics in the run's details). Raises SyncInProgress when
    another sync holds the lease after `wait_s` seconds (nothing recorded but the audit row), ModelSyncError
    when LiteLLM or the database fails (recorded as a failed run, catalogue unchanged). `actor` is who the audit
    names (default: the trigger). LiteLLM listing no models while the catalogue has available ones is refused the
    same way unless `allow_empty` (every model really removed).
    """
    actor = actor or trigger
    own_lease = lease is None
    if own_lease:
        try:
            lease = acquire_sync_lease(engine, trigger, wait_s)
        except SyncInProgress as exc:
            audit(engine, actor, "models.sync", "litellm", "refused", {"trigger": trigger, "reason": str(exc)})
            raise
    try:
        with record_job(engine, JOB_NAME, trigger) as run:
            return _sync(engine, client, run, lease, trigger, actor, allow_empty)
    finally:
        if own_lease:
            leases.release(engine, lease)


def _sync(engine: Engine, client, run: JobRun, lease: Lease, trigger: str, actor: str, allow_empty: bool) -> SyncResult:
    result = SyncResult(trigger=trigger, run_id=run.id, started_at=run.started_at)
    try:
        response = client.model_info()
        entries = list(response.data)
        rows, errors = catalogue_rows(entries)
        result.errors = errors
        with engine.begin() as conn:
            if not leases.extend(conn, lease, LEASE_TTL):  # first: re-check (and row-lock) our lease
                raise SyncInProgress("This sync's lock expired and another sync took over; nothing was changed.")
            _apply(conn, rows, result, allow_empty)
            save_results(conn, run.id, result.total, result.as_dict())
            audit(engine, actor, "models.sync", "litellm", result.status, _audit_details(result), conn=conn)
        run.rows, run.details = result.total, result.as_dict()  # only once committed
        return result
    except SyncInProgress:
        raise
    except Exception as exc:  # LiteLLM down, bad answer, database error: nothing changed; say why
        result.status, result.finished_at = "failed", utcnow()
        result.error = str(exc) or type(exc).__name__
        result.new_models, result.updated_models, result.unavailable_models = [], {}, []
        result.restored_models, result.total = [], 0
        run.rows, run.details = 0, result.as_dict()  # the job run records it as it ends, failed
        _audit_failure(engine, result, actor)
        raise ModelSyncError(f"Model sync failed; the catalogue is unchanged. {result.error}", result) from exc


def _apply(conn: Connection, rows: dict[str, dict], result: SyncResult, allow_empty: bool = False) -> None:
    now = utcnow()
    existing = {r["name"]: dict(r) for r in conn.execute(select(model_catalog)).mappings()}
    available = sum(1 for r in existing.values() if r["available"])
    if not rows and available and not allow_empty:
        # more likely a LiteLLM with a broken or empty database than an operator who removed every model
        raise ModelSyncError(
            f"LiteLLM listed no models while the catalogue has {available} available; refusing "
            "to mark them all unavailable. If every model really was removed from LiteLLM, run "
            "`python -m lib.cli sync-models --allow-empty`."
        )
    run_id = result.run_id
    for name, row in rows.items():
        values = {k: row[k] for k in TRACKED} | {
            "issues": row["issues"],
            "available": True,
            "unavailable_since": None,
            "last_seen": now,
            "last_sync_id": run_id,
        }
        old = existing.get(name)
        if old is None:
            conn.execute(insert(model_catalog).values(name=name, first_seen=now, changed_at=now, **values))
            result.new_models.append(name)
            continue
        changed = changed_fields(old, row)
        if not old["available"]:
            changed.append("available")
            result.restored_models.append(name)
        if changed:
            values["changed_at"] = now
            result.updated_models[name] = changed
        conn.execute(update(model_catalog).where(model_catalog.c.name == name).values(**values))
    for name, old in sorted(existing.items()):
        if name not in rows and old["available"]:
            conn.execute(
                update(model_catalog)
                .where(model_catalog.c.name == name)
                .values(available=False, unavailable_since=now, changed_at=now, last_sync_id=run_id)
            )
            result.unavailable_models.append(name)
    result.total = len(rows)
    result.status = "partial" if result.errors else "success"
    result.finished_at = utcnow()


def _audit_details(result: SyncResult) -> dict:
    d = result.as_dict()
    return {
        k: d[k]
        for k in (
            "trigger",
            "run_id",
            "total",
            "new",
            "updated",
            "unavailable",
            "errors",
            "new_models",
            "updated_models",
            "unavailable_models",
            "restored_models",
            "error",
        )
    }


def _audit_failure(engine: Engine, result: SyncResult, actor: str) -> None:
    try:
        audit(engine, actor, "models.sync", "litellm", "failure", _audit_details(result))
    except Exception:  # the database itself is down: the caller still gets the original error
        log.exception("could not record the failed model sync")


def run_model_sync(
    rt, trigger: str, *, wait_s: float | None = None, actor: str | None = None, allow_empty: bool = False
) -> SyncResult:
    """The sync as the app, scheduler and CLI run it: the runtime's LiteLLM client, recorded in job_runs.

    Safe from any thread. `wait_s`: how long to wait for a running sync (default DEFAULT_WAIT_S; the UI passes 0
    to refuse at once). `allow_empty`: see sync_models. Raises SyncInProgress or ModelSyncError (both recorded
    and audited).
    """
    with rt.litellm_client() as client:
        return sync_models(
            rt.engine,
            client,
            trigger,
            wait_s=DEFAULT_WAIT_S if wait_s is None else wait_s,
            actor=actor,
            allow_empty=allow_empty,
        )


def sync_models_as(rt, user) -> SyncResult:
    """A person's "Refresh Models from LiteLLM": checks models:sync, refuses at once if a sync is running."""
    # The gate checks (and audits a refusal); the sync audits its own outcome in its transaction (sync_models).
    authorize(rt.engine, user, "models.sync", "litellm")
    return run_model_sync(rt, user.username, wait_s=0.0)
