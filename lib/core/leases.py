"""Leases: jobs that must not overlap (the model sync, today's refresh) take a named lease in the app database
first, so two runs never overlap across threads, processes and hosts (the app, the scheduler, the CLI).

One row per name. Taking it is one conditional UPDATE (free, or expired), so exactly one taker wins; a second
one waits for it (`wait_s`) or is refused with `LeaseTaken`, which says who holds it since when. A holder that
needs its work to commit only while it still holds the lease re-checks it first in that transaction (`extend`):
an UPDATE, which row-locks it on PostgreSQL and takes SQLite's write lock.

A holder that died does not block the next run: its process (host, pid, the pid's start time) is recorded,
and on its own host a lease whose process is gone is freed at once (`release_abandoned`); a holder on another
host cannot be checked from here, so its lease is taken over when it expires (`ttl`).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, Float, Integer, String, Table, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from lib.core.clock import as_aware, utcnow
from lib.core.db import metadata
from lib.core.jobs import ProcessOwner, process_alive, this_host

log = logging.getLogger(__name__)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),  # the job, e.g. "model_sync", "refresh_today"
    Column("holder", String(64)),  # random token of the holder, NULL = free
    Column("owner", String(128)),  # its trigger, for the "already running" message
    Column("acquired_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    # the holding process (lib.core.jobs.ProcessOwner): a lease of a process that died is freed at once on its host
    Column("holder_host", String(255)),
    Column("holder_pid", Integer),
    Column("holder_started", Float),
)

_FREE = {
    "holder": None,
    "owner": None,
    "acquired_at": None,
    "expires_at": None,
    "holder_host": None,
    "holder_pid": None,
    "holder_started": None,
}


@dataclass(frozen=True)
class Lease:
    name: str
    token: str
    owner: str


@dataclass(frozen=True)
class Holder:
    owner: str | None
    acquired_at: datetime | None


class LeaseTaken(RuntimeError):
    """Another run holds the lease (after any wait); nothing was done. `holder`: who, since when."""

    def __init__(self, name: str, holder: Holder | None):
        super().__init__(f"the {name} lease is held by {holder.owner if holder else 'another run'}")
        self.name, self.holder = name, holder


def _ensure_row(engine: Engine, name: str) -> None:
    with engine.connect() as conn:
        if conn.execute(select(leases.c.name).where(leases.c.name == name)).first() is not None:
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(leases).values(name=name))
    except IntegrityError:
        pass  # another process inserted it first


def acquire(engine: Engine, name: str, owner: str, ttl: timedelta, wait_s: float = 0.0, poll_s: float = 0.2) -> Lease:
    """Take lease `name` for `ttl`, waiting up to `wait_s` seconds (math.inf: until it is free); raise LeaseTaken."""
    _ensure_row(engine, name)
    token = uuid.uuid4().hex
    me = ProcessOwner.current()
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        release_abandoned(engine, name)
        now = utcnow()
        with engine.begin() as conn:
            got = conn.execute(
                update(leases)
                .where(leases.c.name == name)
                .where((leases.c.holder.is_(None)) | (leases.c.expires_at < now))
                .values(
                    holder=token,
                    owner=owner,
                    acquired_at=now,
                    expires_at=now + ttl,
                    holder_host=me.host,
                    holder_pid=me.pid,
                    holder_started=me.started,
                )
            ).rowcount
        if got == 1:
            return Lease(name, token, owner)
        if time.monotonic() >= deadline:
            raise LeaseTaken(name, _holder_row(engine, name))
        time.sleep(poll_s)  # polling: a waiter in another process has nothing to be woken by


def release(engine: Engine, lease: Lease) -> None:
    """Give the lease back (a no-op if it expired and another run took it over)."""
    with engine.begin() as conn:
        conn.execute(
            update(leases).where(leases.c.name == lease.name).where(leases.c.holder == lease.token).values(**_FREE)
        )


def extend(conn: Connection, lease: Lease, ttl: timedelta) -> bool:
    """In the caller's transaction: whether the lease is still ours, and if so held `ttl` from now (row-locked
    until that transaction ends, so no one takes it over before the work commits)."""
    return (
        conn.execute(
            update(leases)
            .where(leases.c.name == lease.name)
            .where(leases.c.holder == lease.token)
            .values(expires_at=utcnow() + ttl)
        ).rowcount
        == 1
    )


def release_abandoned(engine: Engine, name: str | None = None) -> list[str]:
    """Free the leases (of `name`, or all) whose holder died on this host; returns the names freed.

    A holder's unfinished transaction never committed, so nothing else is left to clean. A holder on another
    host keeps its lease until it expires: its process cannot be checked from here.
    """
    q = select(leases.c.name, leases.c.holder, leases.c.owner, leases.c.holder_pid, leases.c.holder_started).where(
        leases.c.holder.is_not(None), leases.c.holder_host == this_host(), leases.c.holder_pid.is_not(None)
    )
    if name is not None:
        q = q.where(leases.c.name == name)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    freed = []
    for row in rows:
        if process_alive(row["holder_pid"], row["holder_started"]):
            continue
        with engine.begin() as conn:
            if conn.execute(
                update(leases)
                .where(leases.c.name == row["name"])
                .where(leases.c.holder == row["holder"])
                .values(**_FREE)
            ).rowcount:
                freed.append(row["name"])
                log.warning(
                    "freed the %s lease of %s (pid %s), which ended before its run finished",
                    row["name"],
                    row["owner"],
                    row["holder_pid"],
                )
    return freed


def _holder_row(engine: Engine, name: str) -> Holder | None:
    with engine.connect() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
    if row is None or not row["holder"]:
        return None
    return Holder(row["owner"], as_aware(row["acquired_at"]))


def holder(engine: Engine, name: str) -> Holder | None:
    """Who holds lease `name` now (an unexpired lease of a live holder), or None."""
    release_abandoned(engine, name)
    with engine.connect() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
    if row and row["holder"] and row["expires_at"] and as_aware(row["expires_at"]) > utcnow():
        return Holder(row["owner"], as_aware(row["acquired_at"]))
    return None
