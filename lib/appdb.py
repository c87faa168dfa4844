"""The app database as the app, the CLI and the scheduler open it: an engine (connection pool) with its schema
brought up to date (lib.migrations). The process's runtime (lib/runtime.py) opens it once and holds it.

Above every domain (through lib.migrations it knows all their tables), so lib.core.db stays below them.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from lib.core.db import init_db, new_engine
from lib.migrations import MIGRATIONS


def open_app_database(database_url: str) -> Engine:
    """A new engine on the app database, its schema up to date (safe while other processes start too)."""
    engine = new_engine(database_url)
    init_db(engine, MIGRATIONS)
    return engine
