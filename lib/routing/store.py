"""The routing state in the app database: one row holding the desired state (what the admin set) and the last
applied one (what LiteLLM accepted; drift is LiteLLM differing from it), each as JSON, with who changed them when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, insert, select, update

from lib.core.clock import as_aware, utcnow
from lib.core.db import metadata
from lib.routing.state import RoutingState, parse_state, state_json

ROW_ID = 1

routing_state = Table(
    "routing_state",
    metadata,
    Column("id", Integer, primary_key=True),  # always ROW_ID: one routing per console
    Column("desired", JSON, nullable=False),
    Column("applied", JSON),  # NULL: never applied
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("applied_at", DateTime(timezone=True)),
    Column("applied_by", String(128)),
)


@dataclass(frozen=True)
class StoredRouting:
    desired: RoutingState
    applied: RoutingState | None
    updated_at: datetime | None = None
    updated_by: str | None = None
    applied_at: datetime | None = None
    applied_by: str | None = None


def load_routing(conn) -> StoredRouting:
    row = conn.execute(select(routing_state).where(routing_state.c.id == ROW_ID)).mappings().first()
    if row is None:
        return StoredRouting(RoutingState(), None)
    return StoredRouting(
        parse_state(row["desired"]),
        parse_state(row["applied"]) if row["applied"] is not None else None,
        as_aware(row["updated_at"]),
        row["updated_by"],
        as_aware(row["applied_at"]) if row["applied_at"] else None,
        row["applied_by"],
    )


def save_desired(conn, state: RoutingState, by: str) -> None:
    _upsert(conn, {"desired": state_json(state), "updated_at": utcnow(), "updated_by": by})


def save_applied(conn, state: RoutingState, by: str) -> None:
    """The state LiteLLM accepted: it becomes both the desired and the last applied one."""
    now = utcnow()
    data = state_json(state)
    _upsert(
        conn,
        {"desired": data, "applied": data, "updated_at": now, "updated_by": by, "applied_at": now, "applied_by": by},
    )


def _upsert(conn, values: dict) -> None:
    if conn.execute(select(routing_state.c.id).where(routing_state.c.id == ROW_ID)).first() is None:
        conn.execute(insert(routing_state).values(id=ROW_ID, **values))
    else:
        conn.execute(update(routing_state).where(routing_state.c.id == ROW_ID).values(**values))
