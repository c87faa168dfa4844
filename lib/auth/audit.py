"""Audit log: who did what, when, to what, with which outcome. Secrets are masked before storing."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, insert, select

from lib.core.clock import utcnow
from lib.core.db import metadata
from lib.core.text_safety import spreadsheet_csv

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(128), nullable=False, index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(512)),
    Column("outcome", String(32), nullable=False),
    Column("details", JSON),
)
_SECRET_HINTS = ("password", "secret", "token", "api_key", "apikey", "key")


def mask(value):
    """Replace values of secret-looking keys with '***', recursively."""
    if isinstance(value, dict):
        return {
            k: "***" if any(h in str(k).lower() for h in _SECRET_HINTS) and v not in (None, "") else mask(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def audit(
    engine, actor: str, action: str, target: str | None, outcome: str, details: dict | None = None, conn=None
) -> None:
    """Write one audit row (inside `conn`'s transaction if given, so it commits with the change)."""
    # JSON-safe (dates and other values become text) and bounded to the column sizes, so an odd value
    # (a 5 kB "username" typed into the login form) can never make the action itself fail.
    safe = json.loads(json.dumps(mask(details or {}), default=str))
    row = dict(
        at=utcnow(),
        actor=(actor or "anonymous")[:128],
        action=action[:64],
        target=None if target is None else str(target)[:512],
        outcome=outcome[:32],
        details=safe,
    )
    if conn is not None:
        conn.execute(insert(audit_log).values(**row))
    else:
        with engine.begin() as c:
            c.execute(insert(audit_log).values(**row))


def list_audit(
    engine,
    user: str | None = None,
    action: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 5000,
    actor: str | None = None,
) -> pd.DataFrame:
    """Audit rows, newest first. `user` (alias `actor`) is who acted; start/end are inclusive UTC days."""
    who = user or actor
    q = select(audit_log)
    if who:
        q = q.where(audit_log.c.actor == who)
    if action:
        q = q.where(audit_log.c.action == action)
    if start:
        q = q.where(audit_log.c.at >= datetime(start.year, start.month, start.day, tzinfo=timezone.utc))
    if end:
        q = q.where(audit_log.c.at < datetime(end.year, end.month, end.day, tzinfo=timezone.utc) + timedelta(days=1))
    with engine.connect() as c:
        rows = c.execute(q.order_by(audit_log.c.id.desc()).limit(limit)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in audit_log.columns])


def audit_actions(engine) -> list[str]:
    with engine.connect() as c:
        return [r[0] for r in c.execute(select(audit_log.c.action).distinct().order_by(audit_log.c.action))]


def audit_actors(engine) -> list[str]:
    with engine.connect() as c:
        return [r[0] for r in c.execute(select(audit_log.c.actor).distinct().order_by(audit_log.c.actor))]


def audit_csv(source, **filters) -> str:
    """CSV of audit rows: `audit_csv(df)` for rows already listed, or `audit_csv(engine, user=..., action=...,
    start=..., end=...)` with list_audit's filters. Details are written as JSON; spreadsheet-safe like every
    CSV the console writes."""
    df = source if isinstance(source, pd.DataFrame) else list_audit(source, **filters)
    out = df.copy()
    if "details" in out.columns:
        out["details"] = [json.dumps(d, sort_keys=True, default=str) if d is not None else "" for d in out["details"]]
    return spreadsheet_csv(out)
