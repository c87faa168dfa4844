"""Ingest straight from LiteLLM's PostgreSQL (LITELLM_DATABASE_URL), and the choice between it and the API.

A range is read in one read-only snapshot: its daily-table rows streamed with COPY (lib/litellm/database.py), then
the metadata of the keys among them, and turned into the stored rows the API path would store
(lib/usage/daily_table_sql.py). The API stays the default and the fallback: without a database URL, or when the
database cannot be reached, ingest reads the API and says why in a notice the job run records.

Today's refresh reads only the rows LiteLLM changed since the last read (`updated_at`, where the table has it):
today's rows as last read are kept in `TodayRows` (the process's runtime holds one), and rows changed at or after
the newest `updated_at` seen minus `CHANGE_OVERLAP` replace their old copies by id. The overlap covers rows whose
transaction commits after a later one's (LiteLLM stamps `updated_at` before it commits) and small clock
differences between proxies. Every other day, and today when nothing is kept, is read whole.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from lib.core.settings import Settings
from lib.litellm.client import LiteLLMClient, LiteLLMError
from lib.litellm.database import LiteLLMDatabase, LiteLLMDatabaseUnreachable, LiteLLMSchemaError, Schema
from lib.usage.daily_table_sql import table_rows_to_stored
from lib.usage.ingest import ActivitySource, ApiSource

log = logging.getLogger(__name__)

CHANGE_OVERLAP = timedelta(minutes=10)
# A range read at once: up to a month, and about this many daily-table rows (a day is never split). Larger than the
# API's week: no page limits here, and each range has a fixed cost (a snapshot, the keys' metadata, DuckDB's setup).
RANGE_DAYS = 31
RANGE_ROWS = 250_000


@dataclass(frozen=True)
class _KeptDay:
    day: date
    rows: pa.Table  # DAILY_SCHEMA
    mark: datetime  # the newest updated_at among them, as the database gave it


class TodayRows:
    """Today's daily-table rows as last read, so the next refresh reads only what changed since (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._kept: _KeptDay | None = None

    def get(self, day: date) -> _KeptDay | None:
        with self._lock:
            return self._kept if self._kept is not None and self._kept.day == day else None

    def put(self, day: date, rows: pa.Table, mark: datetime | None) -> None:
        with self._lock:
            if self._kept is not None and self._kept.day > day:
                return  # a slower read of an older day: keep the newer one
            self._kept = _KeptDay(day, rows, mark) if mark is not None else None


class DatabaseSource:
    name = "database"
    fatal_errors = (LiteLLMDatabaseUnreachable, LiteLLMSchemaError)

    def __init__(
        self,
        db: LiteLLMDatabase,
        today_rows: TodayRows | None = None,
        version: Callable[[], str | None] = lambda: None,
        overlap: timedelta = CHANGE_OVERLAP,
    ):
        self.db = db
        self.overlap = overlap
        self.today_rows = today_rows if today_rows is not None else TodayRows()
        self.version = version
        self.schema: Schema | None = None
        self.rows_read = 0  # daily-table rows read (changed rows only, for an incremental today)

    def prepare(self) -> Schema:
        """Connect and check the tables: LiteLLMDatabaseUnreachable, or LiteLLMSchemaError naming what is missing."""
        with self.db.connect() as conn:
            self.schema = self.db.check_schema(conn, self.version)
        return self.schema

    def ranges(self, days: list[date], chunk_days: int) -> list[tuple[date, date]]:
        """Consecutive days, up to RANGE_DAYS and about RANGE_ROWS rows a range (LiteLLM counts them: one query)."""
        if not days:
            return []
        with self.db.connect() as conn:
            rows = self.db.rows_per_day(conn, days[0], days[-1])
        out: list[tuple[date, date]] = []
        in_range = 0
        for d in days:
            n = rows.get(d, 0)
            if (
                out
                and d == out[-1][1] + timedelta(days=1)
                and (d - out[-1][0]).days < RANGE_DAYS
                and in_range + n <= RANGE_ROWS
            ):
                out[-1], in_range = (out[-1][0], d), in_range + n
            else:
                out.append((d, d))
                in_range = n
        return out

    def read(self, start: date, end: date, today: date) -> tuple[dict[date, pa.Table], int]:
        schema = self.schema or self.prepare()
        incremental = schema.updated_at and start <= today <= end
        kept = self.today_rows.get(today) if incremental else None
        with self.db.connect() as conn:  # one snapshot for the rows and their keys
            if kept is None:
                raw = self.db.daily_rows(conn, schema, start, end)
                self.rows_read += raw.num_rows
            else:
                parts = []
                if start < today:
                    parts.append(self.db.daily_rows(conn, schema, start, today - timedelta(days=1)))
                changed = self.db.daily_rows(conn, schema, today, today, changed_since=kept.mark - self.overlap)
                unchanged = kept.rows.filter(pc.invert(pc.is_in(kept.rows.column("id"), changed.column("id"))))
                parts += [unchanged, changed]
                if end > today:
                    parts.append(self.db.daily_rows(conn, schema, today + timedelta(days=1), end))
                self.rows_read += sum(t.num_rows for t in parts) - unchanged.num_rows
                raw = pa.concat_tables(parts)
            mark = self.db.changed_mark(conn, today) if incremental else None
            meta = self.db.key_metadata(conn, schema, pc.unique(raw.column("api_key")).to_pylist(), _window(raw))
        if incremental:
            self.today_rows.put(today, raw.filter(pc.equal(raw.column("date"), pa.scalar(today, pa.date32()))), mark)
        return table_rows_to_stored(raw, meta), 0


def _window(raw: pa.Table) -> tuple[datetime, datetime] | None:
    """LiteLLM's spend-log search window for rows of these dates: a day before the first to two after the last."""
    if raw.num_rows == 0:
        return None
    bounds = pc.min_max(raw.column("date"))
    first, last = bounds["min"].as_py(), bounds["max"].as_py()
    return datetime.combine(first - timedelta(days=1), time()), datetime.combine(last + timedelta(days=2), time())


def open_source(
    settings: Settings, client: LiteLLMClient, today_rows: TodayRows | None = None
) -> tuple[ActivitySource, str | None]:
    """The source ingest reads, and a notice for the operator (or None). LiteLLM's database when
    LITELLM_DATABASE_URL is set and answers, else the API; a database whose tables lack what the console needs
    raises LiteLLMSchemaError (the run fails, saying what is missing; nothing is stored)."""
    api = ApiSource(client, settings.ACTIVITY_PAGE_SIZE)
    if not settings.LITELLM_DATABASE_URL:
        return api, None
    source = DatabaseSource(LiteLLMDatabase(settings.LITELLM_DATABASE_URL), today_rows, lambda: _version(client))
    try:
        schema = source.prepare()
    except LiteLLMDatabaseUnreachable as exc:
        log.warning("%s; reading LiteLLM's API instead", exc)
        return api, f"{exc}; read LiteLLM's API instead"
    if schema.left_out:
        tables = ", ".join(f'"{t}"' for t in schema.left_out)
        return source, f"This role may not read {tables}: keys known only there show without alias or owner"
    return source, None


def _version(client: LiteLLMClient) -> str | None:
    """The proxy's LiteLLM version, for a refusal's message; None when it cannot be asked."""
    try:
        return client.readiness(details=True).litellm_version
    except LiteLLMError:
        return None
