"""The models catalogue: LiteLLM's `/model/info` synced into the app database, and queries over it.

One catalogue row per **public model name** (what clients send as `model`, what LiteLLM reports as a
model group). `/model/info` lists one entry per deployment; a name with several deployments is merged
(see `_merge`), and an alias (router `model_group_alias`) repeats its target's `model_info.id`, so it is
kept as its own row with `alias_of` set.

A sync is one transaction: every row is inserted, updated or marked unavailable together with the run's
statistics (`model_sync_runs`) and its audit row, or nothing is. Two syncs never interleave, across
threads and processes: a sync first takes a lease in `sync_locks` with a conditional UPDATE (the second
sync waits for it or is refused with `SyncInProgress`), and its transaction starts by re-checking the
lease with an UPDATE, which row-locks it on PostgreSQL and takes SQLite's write lock, so a sync whose
lease expired can never commit over another's.

Backend API keys are never read: only the fields listed in `TRACKED` are taken from LiteLLM, and the API
base loses any user:password and query string. Nothing here touches Streamlit (the scheduler calls
`run_model_sync` from its background thread).
"""
from __future__ import annotations

import logging
import math
import reprlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Integer, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from lib.auth.audit import audit
from lib.core.db import metadata, utcnow
from lib.core.errors import ConsoleError
from lib.core.jobs import ProcessOwner, as_aware, process_alive, this_host

log = logging.getLogger(__name__)

model_catalog = Table(
    "model_catalog", metadata,
    Column("name", String(256), primary_key=True),             # public model name (model group)
    Column("underlying_model", String(512)),                   # litellm_params.model, e.g. openai/gpt-4o
    Column("provider", String(64), index=True),
    Column("api_base", String(1024)),                          # without credentials or query string
    Column("mode", String(32)),
    Column("input_cost_per_token", Float),
    Column("output_cost_per_token", Float),
    Column("max_input_tokens", Integer),
    Column("max_output_tokens", Integer),
    Column("capabilities", JSON),                              # sorted list of CAPABILITIES keys
    Column("tpm", Integer),
    Column("rpm", Integer),
    Column("litellm_model_ids", JSON),                         # sorted model_info.id of its deployments
    Column("deployments", Integer),
    Column("alias_of", String(256)),
    Column("issues", JSON),                                    # validation problems found by the last sync
    Column("available", Boolean, nullable=False, default=True),
    Column("unavailable_since", DateTime(timezone=True)),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True)),             # last time a tracked field changed
    Column("last_sync_id", Integer),
)

model_sync_runs = Table(
    "model_sync_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trigger", String(128), nullable=False),            # "scheduler", "startup", "cli" or a username
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),              # success | partial | failed
    Column("total", Integer),
    Column("new", Integer),
    Column("updated", Integer),
    Column("unavailable", Integer),
    Column("error_count", Integer),
    Column("errors", JSON),                                    # [{"model", "message"}]
    Column("details", JSON),                                   # names: new, updated (fields), unavailable, restored
    Column("error", Text),                                     # why a failed sync failed
)

# A named lease for jobs that must not overlap across processes; the migration creates the rows.
sync_locks = Table(
    "sync_locks", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64)),                              # random token of the holding sync, NULL = free
    Column("owner", String(128)),                              # its trigger, for the "already running" message
    Column("acquired_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    # the holding process (lib.core.jobs.ProcessOwner): a lease of a process that died is freed at once on its host
    Column("holder_host", String(255)),
    Column("holder_pid", Integer),
    Column("holder_started", Float),
)

LOCK_NAME = "model_sync"
LOCK_TTL = timedelta(minutes=15)       # a crashed sync's lease is taken over after this
DEFAULT_WAIT_S = 120.0                 # non-interactive syncs wait this long for a running one
PRICE_REL_TOL, PRICE_ABS_TOL = 1e-6, 1e-12   # 1e-12 $/token = $0.000001 per 1M tokens
JOB_NAME = "model_sync"

# Our capability name -> LiteLLM's model_info flag. "embeddings" comes from mode == "embedding".
CAPABILITIES = {
    "vision": "supports_vision",
    "function_calling": "supports_function_calling",
    "tool_choice": "supports_tool_choice",
    "parallel_function_calling": "supports_parallel_function_calling",
    "response_schema": "supports_response_schema",
    "reasoning": "supports_reasoning",
    "prompt_caching": "supports_prompt_caching",
    "pdf_input": "supports_pdf_input",
    "audio_input": "supports_audio_input",
    "audio_output": "supports_audio_output",
    "web_search": "supports_web_search",
    "system_messages": "supports_system_messages",
    "embedding_image_input": "supports_embedding_image_input",
}
CAPABILITY_LABELS = {
    "vision": "Vision", "function_calling": "Function calling", "tool_choice": "Tool choice",
    "parallel_function_calling": "Parallel function calls", "response_schema": "Structured output",
    "reasoning": "Reasoning", "prompt_caching": "Prompt caching", "pdf_input": "PDF input",
    "audio_input": "Audio input", "audio_output": "Audio output", "web_search": "Web search",
    "system_messages": "System messages", "embedding_image_input": "Image embeddings", "embeddings": "Embeddings",
}
# Fields whose change makes a model "updated" (plus availability: a model that returns is updated).
TRACKED = ("underlying_model", "provider", "api_base", "mode", "input_cost_per_token", "output_cost_per_token",
           "max_input_tokens", "max_output_tokens", "capabilities", "tpm", "rpm", "litellm_model_ids",
           "deployments", "alias_of")
PRICES = ("input_cost_per_token", "output_cost_per_token")
INTEGER_MAX = 2**31 - 1       # the catalogue's Integer columns (32 bits on PostgreSQL)


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
    status: str = "success"                  # success | partial (some models have problems) | failed
    run_id: int | None = None
    total: int = 0                           # public model names LiteLLM serves now
    new_models: list[str] = field(default_factory=list)
    updated_models: dict[str, list[str]] = field(default_factory=dict)   # name -> changed fields
    unavailable_models: list[str] = field(default_factory=list)          # newly missing from LiteLLM
    restored_models: list[str] = field(default_factory=list)             # back after being unavailable
    errors: list[dict] = field(default_factory=list)                     # [{"model", "message"}]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None                 # failed runs: why

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
        iso = lambda t: as_aware(t).isoformat() if t else None   # noqa: E731
        return {"total": self.total, "new": self.new, "updated": self.updated, "unavailable": self.unavailable,
                "errors": list(self.errors), "synced_at": iso(self.finished_at), "status": self.status,
                "trigger": self.trigger, "run_id": self.run_id, "started_at": iso(self.started_at),
                "new_models": list(self.new_models), "updated_models": dict(self.updated_models),
                "unavailable_models": list(self.unavailable_models),
                "restored_models": list(self.restored_models), "error": self.error}


# -- turning /model/info into catalogue rows ---------------------------------------------------------
def _clean_api_base(value: Any) -> str | None:
    """The API base without user:password@ and without a query string (some providers put keys there)."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return value if "://" not in value and "@" not in value else None
    host = parts.hostname or ""
    if ":" in host:                      # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _number(info: dict, params: dict, name: str, issues: list[str], integer: bool = False):
    """A non-negative number from model_info (else litellm_params); a bad value is an issue and None."""
    raw = info.get(name)
    if raw is None:
        raw = params.get(name)
    if raw is None:
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
        if not math.isfinite(value) or value < 0 or (integer and value > INTEGER_MAX):
            raise ValueError
    except (TypeError, ValueError, OverflowError):      # OverflowError: an integer beyond any float
        issues.append(f"invalid {name} {reprlib.repr(raw)} (ignored)")
        return None
    if integer:
        return int(value)
    return value


def _provider(info: dict, params: dict) -> str | None:
    provider = info.get("litellm_provider")
    if isinstance(provider, str) and provider:
        return provider
    model = params.get("model")
    if isinstance(model, str) and "/" in model:
        return model.split("/", 1)[0]
    return None


def _deployment(entry) -> dict:
    """One deployment's tracked fields and issues (only the fields we track: never a key)."""
    info, params = entry.model_info, entry.litellm_params
    issues: list[str] = []
    mode = info.get("mode") if isinstance(info.get("mode"), str) else None
    caps = sorted(name for name, flag in CAPABILITIES.items() if info.get(flag) is True)
    if mode == "embedding":
        caps = sorted(set(caps) | {"embeddings"})
    prices = {p: _number(info, params, p, issues) for p in PRICES}
    missing = [p for p in PRICES if prices[p] is None
               and not (p == "output_cost_per_token" and mode == "embedding")]
    if missing:
        issues.append(f"no pricing in LiteLLM ({', '.join(missing)}): its spend is recorded as 0")
    max_in = _number(info, params, "max_input_tokens", issues, integer=True)
    max_out = _number(info, params, "max_output_tokens", issues, integer=True)
    if max_in is None and max_out is None:
        max_in = _number(info, params, "max_tokens", issues, integer=True)
    underlying = params.get("model") if isinstance(params.get("model"), str) and params.get("model") else None
    if underlying is None:
        issues.append("no underlying model (litellm_params.model)")
    model_id = info.get("id")
    return {"underlying_model": underlying, "provider": _provider(info, params),
            "api_base": _clean_api_base(params.get("api_base")), "mode": mode, **prices,
            "max_input_tokens": max_in, "max_output_tokens": max_out, "capabilities": caps,
            "tpm": _number(info, params, "tpm", issues, integer=True),
            "rpm": _number(info, params, "rpm", issues, integer=True),
            "id": str(model_id) if model_id not in (None, "") else None, "issues": issues}


def _joined(values: Iterable) -> str | None:
    distinct = sorted({v for v in values if v})
    return ", ".join(distinct) if distinct else None


def _merge(deployments: list[dict]) -> dict:
    """One public name's deployments as one row, independent of LiteLLM's order: text fields list the
    distinct values, prices the highest (what a request may cost), context sizes the smallest (what every
    deployment accepts), capabilities those all deployments have, tpm/rpm the sum (the group's capacity)."""
    def numbers(name):
        return [d[name] for d in deployments if d[name] is not None]

    def total(name):
        vals = numbers(name)
        return sum(vals) if vals else None

    caps = set(deployments[0]["capabilities"])
    for d in deployments[1:]:
        caps &= set(d["capabilities"])
    issues: list[str] = []
    for d in deployments:
        for issue in d["issues"]:
            if issue not in issues:
                issues.append(issue)
    return {
        "underlying_model": _joined(d["underlying_model"] for d in deployments),
        "provider": _joined(d["provider"] for d in deployments),
        "api_base": _joined(d["api_base"] for d in deployments),
        "mode": _joined(d["mode"] for d in deployments),
        **{p: (max(numbers(p)) if numbers(p) else None) for p in PRICES},
        **{t: (min(numbers(t)) if numbers(t) else None) for t in ("max_input_tokens", "max_output_tokens")},
        "capabilities": sorted(caps),
        "tpm": total("tpm"), "rpm": total("rpm"),
        "litellm_model_ids": sorted({d["id"] for d in deployments if d["id"]}),
        "deployments": len(deployments),
        "issues": issues,
    }


def catalogue_rows(entries) -> tuple[dict[str, dict], list[dict]]:
    """`/model/info` entries -> ({public name: row}, errors). Pure: the sync's diff input."""
    by_name: dict[str, list[dict]] = {}
    first_name_of_id: dict[str, str] = {}
    seen: set[tuple[str, str | None]] = set()
    for entry in entries:
        name = (entry.model_name or "").strip()
        if not name:
            continue
        dep = _deployment(entry)
        if dep["id"] is not None:
            if (name, dep["id"]) in seen:
                continue                      # the same deployment listed twice under one name
            seen.add((name, dep["id"]))
            first_name_of_id.setdefault(dep["id"], name)
        by_name.setdefault(name, []).append(dep)
    rows, errors = {}, []
    unnamed = sum(1 for e in entries if not (e.model_name or "").strip())
    if unnamed:
        errors.append({"model": "(unnamed)", "message": f"{unnamed} deployment(s) without a model_name skipped"})
    for name in sorted(by_name):
        row = _merge(by_name[name])
        # An alias repeats deployments first listed under another name (LiteLLM lists aliases last).
        owners = {first_name_of_id[i] for i in row["litellm_model_ids"]}
        row["alias_of"] = next(iter(owners)) if len(owners) == 1 and name not in owners else None
        rows[name] = row
        errors.extend({"model": name, "message": m} for m in row["issues"])
    return rows, errors


def _same(field_name: str, old, new) -> bool:
    if field_name in PRICES:
        if old is None or new is None:
            return old is None and new is None
        return math.isclose(float(old), float(new), rel_tol=PRICE_REL_TOL, abs_tol=PRICE_ABS_TOL)
    if field_name in ("capabilities", "litellm_model_ids"):
        return sorted(old or []) == sorted(new or [])
    return old == new


def changed_fields(old: dict, new: dict) -> list[str]:
    return [f for f in TRACKED if not _same(f, old.get(f), new.get(f))]


# -- the lease -----------------------------------------------------------------------------------
@dataclass
class Lease:
    token: str
    owner: str


def _ensure_lock_row(engine: Engine) -> None:
    """The migration creates the row; this covers a database whose row was deleted by hand."""
    with engine.connect() as conn:
        if conn.execute(select(sync_locks.c.name).where(sync_locks.c.name == LOCK_NAME)).first() is not None:
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(sync_locks).values(name=LOCK_NAME))
    except IntegrityError:
        pass            # another process inserted it first


def acquire_sync_lock(engine: Engine, owner: str, wait_s: float = 0.0, poll_s: float = 0.2) -> Lease:
    """Take the model-sync lease, waiting up to `wait_s`; raise SyncInProgress with who holds it."""
    _ensure_lock_row(engine)
    token = uuid.uuid4().hex
    me = ProcessOwner.current()
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        release_abandoned_sync_lock(engine)
        now = utcnow()
        with engine.begin() as conn:
            got = conn.execute(
                update(sync_locks)
                .where(sync_locks.c.name == LOCK_NAME)
                .where((sync_locks.c.holder.is_(None)) | (sync_locks.c.expires_at < now))
                .values(holder=token, owner=owner, acquired_at=now, expires_at=now + LOCK_TTL,
                        holder_host=me.host, holder_pid=me.pid, holder_started=me.started)).rowcount
        if got == 1:
            return Lease(token, owner)
        if time.monotonic() >= deadline:
            raise SyncInProgress(_busy_message(engine))
        time.sleep(poll_s)


def release_abandoned_sync_lock(engine: Engine) -> bool:
    """Free the lease of a sync whose process died on this host (killed mid-sync); True if freed.

    Its transaction never committed, so nothing else is left to clean. A holder on another host keeps the
    lease until it expires (LOCK_TTL): its process cannot be checked from here.
    """
    with engine.connect() as conn:
        row = conn.execute(select(sync_locks.c.holder, sync_locks.c.owner, sync_locks.c.holder_host,
                                  sync_locks.c.holder_pid, sync_locks.c.holder_started)
                           .where(sync_locks.c.name == LOCK_NAME)).mappings().first()
    if not row or not row["holder"] or row["holder_host"] != this_host() or row["holder_pid"] is None:
        return False
    if process_alive(row["holder_pid"], row["holder_started"]):
        return False
    with engine.begin() as conn:
        freed = conn.execute(update(sync_locks).where(sync_locks.c.name == LOCK_NAME)
                             .where(sync_locks.c.holder == row["holder"]).values(**_FREE)).rowcount
    if freed:
        log.warning("freed the model-sync lease of %s (pid %s), which ended before its sync finished",
                    row["owner"], row["holder_pid"])
    return bool(freed)


_FREE = {"holder": None, "owner": None, "acquired_at": None, "expires_at": None, "holder_host": None,
         "holder_pid": None, "holder_started": None}


def _busy_message(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(select(sync_locks).where(sync_locks.c.name == LOCK_NAME)).mappings().first()
    who = ""
    if row and row["holder"]:
        started = as_aware(row["acquired_at"])
        ago = int((utcnow() - started).total_seconds()) if started else None
        who = f" (started by {row['owner']}" + (f" {ago} s ago)" if ago is not None else ")")
    return f"A model sync is already running{who}; try again in a moment."


def release_sync_lock(engine: Engine, lease: Lease) -> None:
    with engine.begin() as conn:
        conn.execute(update(sync_locks).where(sync_locks.c.name == LOCK_NAME)
                     .where(sync_locks.c.holder == lease.token)
                     .values(**_FREE))


def _hold(conn: Connection, lease: Lease) -> None:
    """First statement of the sync transaction: re-check (and row-lock) our lease."""
    got = conn.execute(update(sync_locks).where(sync_locks.c.name == LOCK_NAME)
                       .where(sync_locks.c.holder == lease.token)
                       .values(expires_at=utcnow() + LOCK_TTL)).rowcount
    if got != 1:
        raise SyncInProgress("This sync's lock expired and another sync took over; nothing was changed.")


# -- the sync ------------------------------------------------------------------------------------
def sync_models(engine: Engine, client, trigger: str, *, wait_s: float = 0.0, lease: Lease | None = None,
                actor: str | None = None, allow_empty: bool = False) -> SyncResult:
    """Read LiteLLM's `/model/info` and upsert the catalogue in one transaction; returns the run's statistics.

    Raises SyncInProgress when another sync holds the lease after `wait_s` seconds (nothing recorded but the
    audit row), ModelSyncError when LiteLLM or the database fails (recorded as a failed run, catalogue
    unchanged). `actor` is who the audit names (default: the trigger). LiteLLM listing no models while the
    catalogue has available ones is refused the same way unless `allow_empty` (every model really removed).
    """
    actor = actor or trigger
    own_lease = lease is None
    if own_lease:
        try:
            lease = acquire_sync_lock(engine, trigger, wait_s)
        except SyncInProgress as exc:
            audit(engine, actor, "models.sync", "litellm", "refused", {"trigger": trigger, "reason": str(exc)})
            raise
    result = SyncResult(trigger=trigger, started_at=utcnow())
    try:
        try:
            response = client.model_info()
            entries = list(response.data)
            rows, errors = catalogue_rows(entries)
            result.errors = errors
            with engine.begin() as conn:
                _hold(conn, lease)
                _apply(conn, rows, result, allow_empty)
                audit(engine, actor, "models.sync", "litellm", result.status, _audit_details(result), conn=conn)
            return result
        except SyncInProgress:
            raise
        except Exception as exc:  # LiteLLM down, bad answer, database error: nothing changed; say why
            result.status, result.finished_at = "failed", utcnow()
            result.error = str(exc) or type(exc).__name__
            result.new_models, result.updated_models, result.unavailable_models = [], {}, []
            result.restored_models, result.total = [], 0
            _record_failure(engine, result, actor)
            raise ModelSyncError(f"Model sync failed; the catalogue is unchanged. {result.error}", result) from exc
    finally:
        if own_lease:
            release_sync_lock(engine, lease)


def _apply(conn: Connection, rows: dict[str, dict], result: SyncResult, allow_empty: bool = False) -> None:
    now = utcnow()
    existing = {r["name"]: dict(r) for r in conn.execute(select(model_catalog)).mappings()}
    available = sum(1 for r in existing.values() if r["available"])
    if not rows and available and not allow_empty:
        # more likely a LiteLLM with a broken or empty database than an operator who removed every model
        raise ModelSyncError(f"LiteLLM listed no models while the catalogue has {available} available; refusing "
                             "to mark them all unavailable. If every model really was removed from LiteLLM, run "
                             "`python -m lib.cli sync-models --allow-empty`.")
    run_id = conn.execute(insert(model_sync_runs).values(
        trigger=result.trigger, started_at=result.started_at, status="running")).inserted_primary_key[0]
    result.run_id = run_id
    for name, row in rows.items():
        values = {k: row[k] for k in TRACKED} | {"issues": row["issues"], "available": True,
                                                 "unavailable_since": None, "last_seen": now,
                                                 "last_sync_id": run_id}
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
            conn.execute(update(model_catalog).where(model_catalog.c.name == name)
                         .values(available=False, unavailable_since=now, changed_at=now, last_sync_id=run_id))
            result.unavailable_models.append(name)
    result.total = len(rows)
    result.status = "partial" if result.errors else "success"
    result.finished_at = utcnow()
    conn.execute(update(model_sync_runs).where(model_sync_runs.c.id == run_id).values(**_run_values(result)))


def _run_values(result: SyncResult) -> dict:
    return {"finished_at": result.finished_at, "status": result.status, "total": result.total,
            "new": result.new, "updated": result.updated, "unavailable": result.unavailable,
            "error_count": len(result.errors), "errors": result.errors, "error": result.error,
            "details": {"new": result.new_models, "updated": result.updated_models,
                        "unavailable": result.unavailable_models, "restored": result.restored_models}}


def _audit_details(result: SyncResult) -> dict:
    d = result.as_dict()
    return {k: d[k] for k in ("trigger", "run_id", "total", "new", "updated", "unavailable", "errors",
                              "new_models", "updated_models", "unavailable_models", "restored_models", "error")}


def _record_failure(engine: Engine, result: SyncResult, actor: str) -> None:
    try:
        with engine.begin() as conn:
            result.run_id = conn.execute(insert(model_sync_runs).values(
                trigger=result.trigger, started_at=result.started_at, **_run_values(result))).inserted_primary_key[0]
            audit(engine, actor, "models.sync", "litellm", "failure", _audit_details(result), conn=conn)
    except Exception:  # the database itself is down: the caller still gets the original error
        log.exception("could not record the failed model sync")


def run_model_sync(rt, trigger: str, *, wait_s: float | None = None, actor: str | None = None,
                   allow_empty: bool = False) -> SyncResult:
    """The sync as the app, scheduler and CLI run it: the runtime's LiteLLM client, recorded in job_runs.

    Safe from any thread. `wait_s`: how long to wait for a running sync (default DEFAULT_WAIT_S; the UI passes 0
    to refuse at once). `allow_empty`: see sync_models. Raises SyncInProgress or ModelSyncError (both recorded
    and audited).
    """
    from lib.core.jobs import record_job

    engine = rt.engine
    actor = actor or trigger
    try:
        lease = acquire_sync_lock(engine, trigger, DEFAULT_WAIT_S if wait_s is None else wait_s)
    except SyncInProgress as exc:
        audit(engine, actor, "models.sync", "litellm", "refused", {"trigger": trigger, "reason": str(exc)})
        raise
    try:
        with record_job(engine, JOB_NAME, trigger) as run, rt.litellm_client() as client:
            try:
                result = sync_models(engine, client, trigger, lease=lease, actor=actor, allow_empty=allow_empty)
            except ModelSyncError as exc:
                if exc.result is not None:
                    run.details = exc.result.as_dict()
                raise
            run.rows, run.details = result.total, result.as_dict()
            return result
    finally:
        release_sync_lock(engine, lease)


def sync_models_as(rt, user) -> SyncResult:
    """A person's "Refresh Models from LiteLLM": checks models:sync, refuses at once if a sync is running."""
    from lib.auth.gate import authorize
    # The gate checks (and audits a refusal); the sync audits its own outcome in its transaction (sync_models).
    authorize(rt.engine, user, "models.sync", "litellm")
    return run_model_sync(rt, user.username, wait_s=0.0)


# -- queries (pages draw these) ------------------------------------------------------------------
CATALOGUE_COLUMNS = ["name", "provider", "underlying_model", "mode", "available", "input_cost_per_1m",
                     "output_cost_per_1m", "max_input_tokens", "max_output_tokens", "capabilities", "tpm", "rpm",
                     "api_base", "alias_of", "deployments", "litellm_model_id", "issues", "first_seen", "last_seen",
                     "unavailable_since", "changed_at", "input_cost_per_token", "output_cost_per_token"]


def catalogue(engine: Engine) -> pd.DataFrame:
    """Every model ever seen, available ones first, with prices per 1M tokens."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(model_catalog).order_by(model_catalog.c.name)).mappings()]
    for r in rows:
        r["capabilities"] = list(r["capabilities"] or [])
        r["issues"] = list(r["issues"] or [])
        ids = r.pop("litellm_model_ids") or []
        r["litellm_model_id"] = ", ".join(ids) if ids else None
        r["available"] = bool(r["available"])
        for p in PRICES:
            v = r[p]
            r[p.replace("_per_token", "_per_1m")] = None if v is None else v * 1_000_000
        for t in ("first_seen", "last_seen", "unavailable_since", "changed_at"):
            r[t] = as_aware(r[t])
    df = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    if not df.empty:
        df = df.sort_values(["available", "name"], ascending=[False, True]).reset_index(drop=True)
    for c in ("max_input_tokens", "max_output_tokens", "tpm", "rpm", "deployments"):
        df[c] = df[c].astype("Int64")
    return df


def with_usage(df: pd.DataFrame, store, today: date, days: int = 30) -> pd.DataFrame:
    """Adds requests/spend over the last `days` UTC days (public model name = LiteLLM model group)."""
    from lib.usage.queries import Filters, breakdown
    start = today - timedelta(days=days - 1)
    out = df.copy()
    try:
        usage = breakdown(store, start, today, Filters(), by="model_group")
    except Exception as exc:  # an empty or unreadable store: usage unknown, not zero
        log.warning("model usage unavailable: %s", exc)
        out["requests_30d"], out["spend_30d"] = pd.Series(dtype="Int64"), pd.Series(dtype="float64")
        out.attrs["usage_error"] = str(exc)
        return out
    usage = usage.set_index("model_group")
    out["requests_30d"] = out["name"].map(usage["requests"]).fillna(0).astype("Int64")
    out["spend_30d"] = out["name"].map(usage["spend"]).fillna(0.0).astype(float)
    out.attrs["usage_days"] = days
    return out


def facets(df: pd.DataFrame) -> dict[str, list[str]]:
    """Filter choices present in the catalogue."""
    caps = sorted({c for cs in df["capabilities"] for c in cs}) if not df.empty else []
    return {"providers": sorted({p for v in df["provider"].dropna() for p in str(v).split(", ")}),
            "modes": sorted({m for v in df["mode"].dropna() for m in str(v).split(", ")}),
            "capabilities": caps}


def filter_catalogue(df: pd.DataFrame, search: str = "", providers: Iterable[str] = (), modes: Iterable[str] = (),
                     capabilities: Iterable[str] = (), availability: str = "all") -> pd.DataFrame:
    """Search (name, underlying model, provider, API base; case-insensitive) and filters. A model must have
    every selected capability; availability is "all", "available" or "unavailable"."""
    mask = pd.Series(True, index=df.index)
    text = (search or "").strip().lower()
    if text:
        hay = (df["name"].fillna("") + " " + df["underlying_model"].fillna("") + " " + df["provider"].fillna("")
               + " " + df["api_base"].fillna("") + " " + df["alias_of"].fillna("")).str.lower()
        for word in text.split():
            mask &= hay.str.contains(word, regex=False)
    providers, modes, capabilities = set(providers), set(modes), set(capabilities)
    if providers:
        mask &= df["provider"].fillna("").map(lambda v: bool(providers & set(v.split(", "))))
    if modes:
        mask &= df["mode"].fillna("").map(lambda v: bool(modes & set(v.split(", "))))
    if capabilities:
        mask &= df["capabilities"].map(lambda cs: capabilities <= set(cs))
    if availability == "available":
        mask &= df["available"]
    elif availability == "unavailable":
        mask &= ~df["available"]
    return df[mask].reset_index(drop=True)


HISTORY_COLUMNS = ["id", "started_at", "finished_at", "trigger", "status", "total", "new", "updated",
                   "unavailable", "error_count", "error", "errors", "details"]


def sync_history(engine: Engine, limit: int = 20) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(model_sync_runs).order_by(model_sync_runs.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        r = dict(r)
        r["started_at"], r["finished_at"] = as_aware(r["started_at"]), as_aware(r["finished_at"])
        out.append(r)
    return pd.DataFrame(out, columns=HISTORY_COLUMNS)


def _result_from_row(r) -> SyncResult:
    d = r["details"] or {}
    return SyncResult(trigger=r["trigger"], status=r["status"], run_id=r["id"], total=r["total"] or 0,
                      new_models=list(d.get("new", [])), updated_models=dict(d.get("updated", {})),
                      unavailable_models=list(d.get("unavailable", [])), restored_models=list(d.get("restored", [])),
                      errors=list(r["errors"] or []), started_at=as_aware(r["started_at"]),
                      finished_at=as_aware(r["finished_at"]), error=r["error"])


def last_sync(engine: Engine, succeeded: bool = False) -> SyncResult | None:
    """The latest recorded sync (or the latest that changed the catalogue: success or partial)."""
    q = select(model_sync_runs)
    if succeeded:
        q = q.where(model_sync_runs.c.status.in_(("success", "partial")))
    with engine.connect() as conn:
        row = conn.execute(q.order_by(model_sync_runs.c.id.desc()).limit(1)).mappings().first()
    return _result_from_row(row) if row else None


def sync_running(engine: Engine) -> str | None:
    """'alice' (the trigger) while a sync holds an unexpired lease, else None."""
    release_abandoned_sync_lock(engine)
    with engine.connect() as conn:
        row = conn.execute(select(sync_locks).where(sync_locks.c.name == LOCK_NAME)).mappings().first()
    if row and row["holder"] and row["expires_at"] and as_aware(row["expires_at"]) > utcnow():
        return row["owner"]
    return None


def create_tables(conn: Connection) -> None:
    """Migration body (lib.core.db appends a migration that calls this)."""
    for table in (model_catalog, model_sync_runs, sync_locks):
        table.create(conn, checkfirst=True)
    if conn.execute(select(sync_locks.c.name).where(sync_locks.c.name == LOCK_NAME)).first() is None:
        conn.execute(insert(sync_locks).values(name=LOCK_NAME))
