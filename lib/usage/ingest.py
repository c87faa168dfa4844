"""Ingest of LiteLLM's daily activity into the usage store: from `GET /user/daily/activity` (ApiSource, the
default), or from LiteLLM's own database when LITELLM_DATABASE_URL is set (lib/usage/database_source.py), which
stores the same rows. Either way days are read in ranges, several at once, and each day is written whole.

Pages count rows of LiteLLM's daily table, not days: one date can be split across pages and each page's
metadata covers that page only. So every page of a range is fetched and rows are merged by
(date, breakdown, value, api key), summing metrics (in DuckDB: lib/usage/activity_sql.py).

Stored grain: for each breakdown (model, model_group, provider, user, api_key) the per-API-key split,
with each key's alias, owner user id, email and team from LiteLLM's key metadata. Where an entry's key
split does not add up to the entry's own metrics (older LiteLLM, or keys LiteLLM could not attach), the
remainder is kept as a row with api_key NULL, so every breakdown total stays exact.

Provider attribution (LiteLLM gives no model-group x provider split). A row's `provider` column is:
  * provider rows: the provider itself;
  * model rows: the model's `provider/` prefix (LiteLLM names models `openai/gpt-4o`), else the key's
    only provider that day;
  * model-group rows: the key's only provider that day (exact), else the provider of the same-named
    model (`gpt-4o` -> `openai/gpt-4o`), else NULL ("unattributed").
This rule is shown in the UI wherever a provider filter meets a model-group view (`PROVIDER_RULE`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

import pyarrow as pa
from pydantic import ValidationError

from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.litellm.client import (
    ACTIVITY_PATH,
    LiteLLMAuthError,
    LiteLLMClient,
    LiteLLMError,
    LiteLLMUnreachable,
    bad_response,
)
from lib.litellm.schemas import ActivityHead
from lib.usage.activity_sql import merge_pages
from lib.usage.store import SCHEMA, UsageStore

log = logging.getLogger(__name__)

PROVIDER_RULE = (
    "LiteLLM reports no model-group x provider split. A model group counts for a provider when the API key "
    "used only that provider that day, otherwise when a model of the same name belongs to it; the rest is "
    "'unattributed'."
)


@dataclass
class IngestSummary:
    days_fetched: int = 0
    rows_written: int = 0
    pages: int = 0
    seconds: float = 0.0
    days_complete: int = 0
    days_partial: int = 0
    errors: list[str] = field(default_factory=list)
    skipped_ranges: int = 0
    source: str = "api"  # where the rows were read: "api" or "database" (ActivitySource.name)
    notice: str | None = None  # what the operator should know (e.g. the database unreachable: read the API)

    def as_dict(self) -> dict:
        return {
            "days_fetched": self.days_fetched,
            "rows_written": self.rows_written,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "days_complete": self.days_complete,
            "days_partial": self.days_partial,
            "errors": self.errors,
            "source": self.source,
            **({"notice": self.notice} if self.notice else {}),
        }


class IngestError(ConsoleError):
    """Some ranges could not be fetched; what was fetched is stored, the rest is untouched."""

    def __init__(self, summary: IngestSummary):
        self.summary = summary
        super().__init__("; ".join(summary.errors))


# -- sources -------------------------------------------------------------------------------------
class ActivitySource(Protocol):
    """Where the daily activity is read: LiteLLM's API (ApiSource) or its database
    (lib/usage/database_source.py). Both give the same stored rows."""

    name: str
    fatal_errors: tuple[type[Exception], ...]  # errors every other range would meet too: stop reading

    def ranges(self, days: list[date], chunk_days: int) -> list[tuple[date, date]]:
        """The (start, end) ranges of consecutive days to read `days` in (sorted), each read and written at once."""
        ...

    def read(self, start: date, end: date, today: date) -> tuple[dict[date, pa.Table], int]:
        """The stored rows of each date of [start, end] that has any, and how many pages that took."""
        ...


class ApiSource:
    """`GET /user/daily/activity`, every page of a range, merged in DuckDB (lib/usage/activity_sql.py)."""

    name = "api"
    fatal_errors = (LiteLLMUnreachable, LiteLLMAuthError)

    def __init__(self, client: LiteLLMClient, page_size: int = 1000):
        self.client, self.page_size = client, page_size

    def ranges(self, days: list[date], chunk_days: int) -> list[tuple[date, date]]:
        return day_ranges(days, chunk_days)

    def read(self, start: date, end: date, today: date) -> tuple[dict[date, pa.Table], int]:
        bodies = fetch_range(self.client, start, end, self.page_size)
        return merge_pages(bodies), len(bodies)


# -- fetching ------------------------------------------------------------------------------------
def fetch_range(client: LiteLLMClient, start: date, end: date, page_size: int = 1000) -> list[bytes]:
    """The response body of every page of the range, in page order."""
    first = client.daily_activity_body(start, end, page=1, page_size=page_size)
    try:
        total_pages = max(1, ActivityHead.model_validate_json(first).metadata.total_pages)
    except ValidationError as exc:
        raise bad_response(ACTIVITY_PATH, exc, first) from None
    return [first] + [
        client.daily_activity_body(start, end, page=p, page_size=page_size) for p in range(2, total_pages + 1)
    ]


def day_status(day: date, fetched_at: datetime, grace_minutes: int) -> str:
    """A day is complete once it was fetched after its UTC end plus the grace period."""
    day_end = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    return "complete" if fetched_at >= day_end + timedelta(minutes=grace_minutes) else "partial"


def days_to_fetch(store: UsageStore, start: date, end: date, force: bool = False) -> list[date]:
    states = store.day_states()
    out = []
    d = start
    while d <= end:
        st = states.get(d)
        if force or st is None or st.status != "complete":
            out.append(d)
        d += timedelta(days=1)
    return out


def day_ranges(days: list[date], max_len: int) -> list[tuple[date, date]]:
    """Consecutive runs of days, each at most max_len long: the (start, end) ranges ingest_days fetches."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and d == out[-1][1] + timedelta(days=1) and (d - out[-1][0]).days < max_len:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def ingest_days(
    source: ActivitySource | LiteLLMClient,
    store: UsageStore,
    days: list[date],
    *,
    page_size: int = 1000,
    concurrency: int = 4,
    grace_minutes: int = 60,
    chunk_days: int = 7,
    now=None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    """Fetch the given days (in chunks of consecutive days, at most `chunk_days` long from the API, `concurrency` at a
    time) and replace them.

    Each chunk is written as soon as it is fetched; a failing chunk leaves its days as they were.
    Raises IngestError after all chunks ran if any failed. A LiteLLMClient as `source` reads the API.
    """
    if isinstance(source, LiteLLMClient):
        source = ApiSource(source, page_size)
    now = now or utcnow
    summary = IngestSummary(source=source.name)
    t0 = time.perf_counter()

    def run(chunk: tuple[date, date]) -> tuple[int, int, int, int]:
        a, b = chunk
        if fatal:
            raise fatal[0]
        fetched_at = now()  # every row is at least this fresh: the completeness rule's clock
        try:
            tables, pages = source.read(a, b, fetched_at.date())
        except source.fatal_errors as exc:
            fatal.append(exc)
            raise
        wanted = [a + timedelta(days=i) for i in range((b - a).days + 1)]
        tables = {d: tables.get(d, SCHEMA.empty_table()) for d in wanted}  # an empty day is still a day
        status = {d: day_status(d, fetched_at, grace_minutes) for d in wanted}
        rows = store.replace_days(tables, status, fetched_at)
        del tables
        store.sync()  # a serving store loads these days now, while other chunks are still being merged
        complete = sum(1 for s in status.values() if s == "complete")
        return len(wanted), rows, pages, complete

    # newest first: while a long history loads, the Usage page's default range (the last days) fills first
    chunks = source.ranges(sorted(days), chunk_days)[::-1]
    fatal: list[LiteLLMError] = []  # unreachable, a refused key: the other chunks would fail alike
    done = 0
    if progress:
        progress(0, len(days))
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(run, c): c for c in chunks}
        for fut in as_completed(futures):
            a, b = futures[fut]
            done += (b - a).days + 1
            if progress:
                progress(done, len(days))
            try:
                n, rows, pages, complete = fut.result()
            except LiteLLMError as exc:
                if not (fatal and exc is fatal[0] and summary.errors):
                    summary.errors.append(f"{a}..{b}: {exc}")
                else:
                    summary.skipped_ranges += 1
                continue
            summary.days_fetched += n
            summary.rows_written += rows
            summary.pages += pages
            summary.days_complete += complete
            summary.days_partial += n - complete
    store.sync()  # new days queryable now (this runs in a background job), not at the next page view
    summary.seconds = time.perf_counter() - t0
    if summary.skipped_ranges:
        summary.errors.append(f"{summary.skipped_ranges} more ranges not fetched for the same reason")
    if summary.errors:
        raise IngestError(summary)
    return summary


def backfill(client, store, start: date, end: date, *, force: bool = False, **kw) -> IngestSummary:
    """Fill [start, end]: days missing or partial, or every day with force (an admin's rebuild)."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return ingest_days(client, store, days_to_fetch(store, start, end, force), **kw)


def refresh_today(client, store, *, now=None, **kw) -> IngestSummary:
    """Re-fetch today, and yesterday until it is complete."""
    current = (now or utcnow)()
    today = current.date()
    yesterday = today - timedelta(days=1)
    days = days_to_fetch(store, yesterday, yesterday) + [today]
    return ingest_days(client, store, days, now=now, **kw)
