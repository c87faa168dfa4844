"""The app database as the app, the CLI and the scheduler use it: one engine (connection pool) per URL per
process, its schema brought up to date (lib.migrations) on first use.

Above every domain (through lib.migrations it knows all their tables), so lib.core.db stays below them.
"""
from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from lib.core.db import init_db, new_engine
from lib.migrations import MIGRATIONS

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(database_url: str) -> Engine:
    """One engine (connection pool) per URL per process, schema brought up to date on first use."""
    with _engines_lock:
        engine = _engines.get(database_url)
        if engine is None:
            engine = new_engine(database_url)
            init_db(engine, MIGRATIONS)
            _engines[database_url] = engine
        return engine
