"""Audit log: who did what, when, to what, with which outcome. Secrets are masked before storing."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, insert, select

from lib.appdb import metadata, utcnow

audit_log = Table(
    "audit_log", metadata,
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
        return {k: "***" if any(h in str(k).lower() for h in _SECRET_HINTS) and v not in (None, "")
                else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def audit(engine, actor: str, action: str, target: str | None, outcome: str, details: dict | None = None,
          conn=None) -> None:
    """Write one audit row (inside `conn`'s transaction if given, so it commits with the change)."""
    row = dict(at=utcnow(), actor=actor or "anonymous", action=action, target=target, outcome=outcome,
               details=mask(details or {}))
    if conn is not None:
        conn.execute(insert(audit_log).values(**row))
    else:
        with engine.begin() as c:
            c.execute(insert(audit_log).values(**row))


def list_audit(engine, actor: str | None = None, action: str | None = None, start: date | None = None,
               end: date | None = None, limit: int = 5000) -> pd.DataFrame:
    q = select(audit_log)
    if actor:
        q = q.where(audit_log.c.actor == actor)
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


def audit_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()
