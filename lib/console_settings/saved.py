"""The settings saved in the console: one row per setting, its value as text (as the environment would give it)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Connection

from lib.core.clock import utcnow
from lib.core.db import metadata

setting_overrides = Table(
    "setting_overrides",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(128), nullable=False),
)


def saved_values(conn_or_engine) -> dict[str, str]:
    """name -> saved text of every setting saved in the console."""
    if isinstance(conn_or_engine, Connection):
        return {r.name: r.value for r in conn_or_engine.execute(select(setting_overrides))}
    with conn_or_engine.connect() as conn:
        return saved_values(conn)


def save_value(conn: Connection, name: str, value: str | None, by: str) -> None:
    """Save `value` for `name` (None: forget it, the setting falls back to its default)."""
    conn.execute(delete(setting_overrides).where(setting_overrides.c.name == name))
    if value is not None:
        conn.execute(insert(setting_overrides).values(name=name, value=value, updated_at=utcnow(), updated_by=by))
