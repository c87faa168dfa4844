"""The app database's schema history: every migration, in order, numbered from 1 by its place in MIGRATIONS.

The one module that knows every domain's tables: it sits above them (they import lib.core.db, never this), and
lib.core.db.init_db runs the list it is given. Existing databases record in `schema_version` how far they got,
so applied migrations are never edited, removed or reordered: a new one is appended at the end.

A migration creates a table from its current definition (so a new database gets it whole, and a later
`add_missing_columns` finds nothing to add). Tables that have since been retired keep their last definition
here, on a MetaData of their own, so older migrations still replay on a new database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection

from lib.auth.accounts import login_failures, sessions, users
from lib.auth.audit import audit_log
from lib.budgets.records import alert_events, budgets
from lib.catalog.tables import model_catalog
from lib.console_settings.saved import setting_overrides
from lib.core.clock import as_aware
from lib.core.db import Migration, add_missing_columns
from lib.core.jobs import job_runs
from lib.core.leases import leases
from lib.providers.records import provider_models, providers
from lib.routing.store import routing_state

_retired = MetaData()

# Retired by migration 6: a sync's statistics are now its job run's details (job "model_sync").
model_sync_runs = Table(
    "model_sync_runs",
    _retired,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trigger", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),  # success | partial | failed
    Column("total", Integer),
    Column("new", Integer),
    Column("updated", Integer),
    Column("unavailable", Integer),
    Column("error_count", Integer),
    Column("errors", JSON),  # [{"model", "message"}]
    Column("details", JSON),  # names: new, updated (fields), unavailable, restored
    Column("error", Text),
)

# Retired by migration 6: the model sync's lease is now a row of `leases` (lib.core.leases).
sync_locks = Table(
    "sync_locks",
    _retired,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64)),
    Column("owner", String(128)),
    Column("acquired_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("holder_host", String(255)),
    Column("holder_pid", Integer),
    Column("holder_started", Float),
)


def _job_runs(conn: Connection) -> None:
    job_runs.create(conn, checkfirst=True)


def _accounts_and_audit(conn: Connection) -> None:
    for table in (users, sessions, audit_log):
        table.create(conn, checkfirst=True)


def _model_catalogue(conn: Connection) -> None:
    for table in (model_catalog, model_sync_runs, sync_locks):
        table.create(conn, checkfirst=True)
    if conn.execute(select(sync_locks.c.name).where(sync_locks.c.name == "model_sync")).first() is None:
        conn.execute(insert(sync_locks).values(name="model_sync"))


def _login_failures(conn: Connection) -> None:
    login_failures.create(conn, checkfirst=True)


def _run_owners(conn: Connection) -> None:
    add_missing_columns(conn, job_runs, ("owner_host", "owner_pid", "owner_started", "heartbeat_at"))
    add_missing_columns(conn, sync_locks, ("holder_host", "holder_pid", "holder_started"))


def _one_run_table_and_one_lease_table(conn: Connection) -> None:
    """Each model_sync_runs row becomes the details of its job run (the model_sync job run that recorded the same
    sync, else a new one), the catalogue's last_sync_id follows it, and `leases` replaces `sync_locks`.

    Both old tables are dropped, not left unused: a table nothing writes any more would only mislead whoever
    reads the database. A lease held at upgrade time is not carried over (every process of the previous release
    has stopped by then); its rows are created on first use.
    """
    leases.create(conn, checkfirst=True)
    recorded_by = {}  # model_sync_runs.id -> the job run that recorded the same sync
    for run in conn.execute(select(job_runs.c.id, job_runs.c.details).where(job_runs.c.job == "model_sync")):
        sync_id = (run.details or {}).get("run_id")
        if sync_id is not None:
            recorded_by.setdefault(sync_id, run.id)
    job_run_of = {}
    for sync in conn.execute(select(model_sync_runs).order_by(model_sync_runs.c.id)).mappings().all():
        details = _sync_details(sync)
        run_id = recorded_by.get(sync["id"])
        if run_id is None:
            run_id = conn.execute(
                insert(job_runs).values(
                    job="model_sync",
                    trigger=sync["trigger"],
                    started_at=sync["started_at"],
                    finished_at=sync["finished_at"],
                    status="failed" if sync["status"] == "failed" else "success",
                    error=sync["error"],
                )
            ).inserted_primary_key[0]
        conn.execute(
            update(job_runs)
            .where(job_runs.c.id == run_id)
            .values(rows=details["total"], details=details | {"run_id": run_id})
        )
        job_run_of[sync["id"]] = run_id
    for name, sync_id in conn.execute(select(model_catalog.c.name, model_catalog.c.last_sync_id)).all():
        if sync_id is not None:
            conn.execute(
                update(model_catalog).where(model_catalog.c.name == name).values(last_sync_id=job_run_of.get(sync_id))
            )
    model_sync_runs.drop(conn)
    sync_locks.drop(conn)


def _sync_details(sync) -> dict:
    """A model_sync_runs row as lib.catalog.sync.SyncResult.as_dict() records a sync in its job run's details."""
    names = sync["details"] or {}

    def iso(ts: datetime | None) -> str | None:
        return as_aware(ts).isoformat() if ts else None

    return {
        "total": sync["total"] or 0,
        "new": sync["new"] or 0,
        "updated": sync["updated"] or 0,
        "unavailable": sync["unavailable"] or 0,
        "errors": list(sync["errors"] or []),
        "synced_at": iso(sync["finished_at"]),
        "status": sync["status"],
        "trigger": sync["trigger"],
        "run_id": None,
        "started_at": iso(sync["started_at"]),
        "new_models": list(names.get("new", [])),
        "updated_models": dict(names.get("updated", {})),
        "unavailable_models": list(names.get("unavailable", [])),
        "restored_models": list(names.get("restored", [])),
        "error": sync["error"],
    }


def _providers(conn: Connection) -> None:
    for table in (providers, provider_models):
        table.create(conn, checkfirst=True)


def _routing(conn: Connection) -> None:
    routing_state.create(conn, checkfirst=True)


def _setting_overrides(conn: Connection) -> None:
    setting_overrides.create(conn, checkfirst=True)


def _budgets(conn: Connection) -> None:
    for table in (budgets, alert_events):
        table.create(conn, checkfirst=True)


def _provider_key_variables(conn: Connection) -> None:
    add_missing_columns(conn, providers, ("api_key_env",))


# Numbered from 1 in this order; append new migrations at the end, never edit or reorder applied ones.
MIGRATIONS: tuple[Migration, ...] = (
    _job_runs,  # 1
    _accounts_and_audit,  # 2
    _model_catalogue,  # 3
    _login_failures,  # 4
    _run_owners,  # 5
    _one_run_table_and_one_lease_table,  # 6
    _providers,  # 7
    _routing,  # 8
    _setting_overrides,  # 9
    _budgets,  # 10
    _provider_key_variables,  # 11
)
