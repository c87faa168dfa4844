"""Ingest of LiteLLM's `GET /user/daily/activity` into the usage store.

Pages count rows of LiteLLM's daily table, not days: one date can be split across pages and each page's
metadata covers that page only. So every page of a range is fetched and rows are merged by
(date, breakdown, value, api key), summing metrics.

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
import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from lib.litellm_client import LiteLLMAuthError, LiteLLMClient, LiteLLMError, LiteLLMUnreachable
from lib.schemas import DailyResult, SpendMetrics
from lib.store import METRICS, SCHEMA, UsageStore

log = logging.getLogger(__name__)

PROVIDER_RULE = (
    "LiteLLM reports no model-group x provider split. A model group counts for a provider when the API key "
    "used only that provider that day, otherwise when a model of the same name belongs to it; the rest is "
    "'unattributed'."
)
_DIM_OF = {"models": "model", "model_groups": "model_group", "providers": "provider", "entities": "user"}
_EPS = 1e-9


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

    def as_dict(self) -> dict:
        return {"days_fetched": self.days_fetched, "rows_written": self.rows_written, "pages": self.pages,
                "seconds": round(self.seconds, 3), "days_complete": self.days_complete,
                "days_partial": self.days_partial, "errors": self.errors}


class IngestError(Exception):
    """Some ranges could not be fetched; what was fetched is stored, the rest is untouched."""

    def __init__(self, summary: IngestSummary):
        self.summary = summary
        super().__init__("; ".join(summary.errors))


# -- fetching ------------------------------------------------------------------------------------
def fetch_range(client: LiteLLMClient, start: date, end: date, page_size: int = 1000) -> tuple[list[DailyResult], int]:
    """Every page of the range (results in page order) and the number of pages read."""
    first = client.daily_activity_page(start, end, page=1, page_size=page_size)
    results = list(first.results)
    total_pages = max(1, first.metadata.total_pages)
    page = 1
    while page < total_pages:
        page += 1
        nxt = client.daily_activity_page(start, end, page=page, page_size=page_size)
        results.extend(nxt.results)
    return results, total_pages


# -- merging and flattening ---------------------------------------------------------------------
def _vec(m: SpendMetrics) -> list:
    # spend (index 0) collects its parts and is summed with math.fsum at the end, so the stored value
    # does not depend on how LiteLLM split the rows across pages (re-ingest is byte-identical).
    v = [getattr(m, name) or 0 for name in METRICS]
    v[0] = [v[0]]
    return v


def _add(acc: dict, key, vec: list) -> None:
    cur = acc.get(key)
    if cur is None:
        acc[key] = [list(vec[0])] + vec[1:]
    else:
        cur[0].extend(vec[0])
        for i in range(1, len(vec)):
            cur[i] += vec[i]


def _total(vec: list) -> list:
    return [math.fsum(vec[0])] + vec[1:]


def merge_results(results: list[DailyResult]) -> dict[date, pa.Table]:
    """Merge results of all pages (a date may repeat) into one table per date."""
    cells: dict[tuple, list] = {}         # (date, dim, value, api_key) -> metrics
    entries: dict[tuple, list] = {}       # (date, dim, value) -> the entry's own metrics
    day_totals: dict[date, list] = {}     # date -> day metrics (sum over pages)
    key_meta: dict[tuple, dict] = {}      # (date, api_key) -> metadata
    for res in results:
        d = res.date
        _add(day_totals, d, _vec(res.metrics))
        bd = res.breakdown
        for attr, dim in _DIM_OF.items():
            for value, entry in getattr(bd, attr).items():
                _add(entries, (d, dim, value), _vec(entry.metrics))
                for key_hash, kb in (entry.api_key_breakdown or {}).items():
                    _add(cells, (d, dim, value, key_hash), _vec(kb.metrics))
                    _remember_meta(key_meta, d, key_hash, kb.metadata)
        for key_hash, kb in bd.api_keys.items():
            _add(cells, (d, "api_key", key_hash, key_hash), _vec(kb.metrics))
            _remember_meta(key_meta, d, key_hash, kb.metadata)
    # The api_key breakdown is the key split of the day's total; the others of their own entries.
    for d, total in day_totals.items():
        entries[(d, "api_key", None)] = total
    split_sums: dict[tuple, list] = {}
    for (d, dim, value, _k), vec in cells.items():
        _add(split_sums, (d, dim, None if dim == "api_key" else value), vec)
    for (d, dim, value), vec in entries.items():
        got = _total(split_sums.get((d, dim, value), [[0.0]] + [0] * (len(METRICS) - 1)))
        rest = [a - b for a, b in zip(_total(vec), got)]
        if any(abs(x) > _EPS for x in rest):
            rest[0] = [rest[0]]
            _add(cells, (d, dim, value if dim != "api_key" else None, None), rest)

    providers_by_key = _providers_by_key(cells)
    model_provider = _model_providers(cells)
    cols: dict[str, list] = {name: [] for name in SCHEMA.names}
    for (d, dim, value, key_hash) in sorted(cells, key=lambda c: (c[0], c[1], c[2] or "", c[3] or "")):
        vec = _total(cells[(d, dim, value, key_hash)])
        meta = key_meta.get((d, key_hash), {})
        cols["date"].append(d)
        cols["dim"].append(dim)
        cols["value"].append(value)
        cols["api_key"].append(key_hash)
        cols["key_alias"].append(meta.get("key_alias"))
        cols["key_user_id"].append(meta.get("user_id"))
        cols["user_email"].append(meta.get("user_email"))
        cols["team_id"].append(meta.get("team_id"))
        cols["provider"].append(_attribute_provider(d, dim, value, key_hash, providers_by_key, model_provider))
        for name, v in zip(METRICS, vec):
            cols[name].append(v)
    table = pa.Table.from_pydict(cols, schema=SCHEMA)
    out: dict[date, pa.Table] = {}
    days = table.column("date").to_pylist()
    # rows are sorted by date: slice contiguous runs
    start = 0
    for i in range(1, len(days) + 1):
        if i == len(days) or days[i] != days[start]:
            out[days[start]] = table.slice(start, i - start)
            start = i
    return out


def _remember_meta(store: dict, d: date, key_hash: str, meta) -> None:
    cur = store.setdefault((d, key_hash), {})
    for name in ("key_alias", "user_id", "user_email", "team_id"):
        v = getattr(meta, name)
        if v is not None and cur.get(name) is None:
            cur[name] = v


def _providers_by_key(cells: dict) -> dict[tuple, set]:
    out: dict[tuple, set] = {}
    for (d, dim, value, key_hash), vec in cells.items():
        if dim == "provider" and vec[METRICS.index("api_requests")] > 0:
            out.setdefault((d, key_hash), set()).add(value)
    return out


def _model_providers(cells: dict) -> dict[tuple, str]:
    """(date, model short name) -> provider, from models named `provider/name`."""
    known = {(d, value) for (d, dim, value, _k) in cells if dim == "provider"}
    out = {}
    for (d, dim, value, _k) in cells:
        if dim == "model" and value and "/" in value:
            prefix, short = value.split("/", 1)
            if (d, prefix) in known:
                out[(d, value)] = prefix
                out.setdefault((d, "short:" + short), prefix)
    return out


def _attribute_provider(d, dim, value, key_hash, providers_by_key, model_provider) -> str | None:
    if dim == "provider":
        return value
    if dim not in ("model", "model_group"):
        return None
    if dim == "model" and (d, value) in model_provider:
        return model_provider[(d, value)]
    only = providers_by_key.get((d, key_hash), set())
    if len(only) == 1:
        return next(iter(only))
    if dim == "model_group":
        return model_provider.get((d, "short:" + (value or "")))
    return None


# -- orchestration ---------------------------------------------------------------------------------
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


def _chunks(days: list[date], max_len: int) -> list[tuple[date, date]]:
    """Consecutive runs of days, each at most max_len long."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and d == out[-1][1] + timedelta(days=1) and (d - out[-1][0]).days < max_len:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def ingest_days(client: LiteLLMClient, store: UsageStore, days: list[date], *, page_size: int = 1000,
                concurrency: int = 4, grace_minutes: int = 60, chunk_days: int = 7,
                now=None, progress: Callable[[int, int], None] | None = None) -> IngestSummary:
    """Fetch the given days (in chunks of consecutive days, `concurrency` at a time) and replace them.

    Each chunk is written as soon as it is fetched; a failing chunk leaves its days as they were.
    Raises IngestError after all chunks ran if any failed.
    """
    now = now or (lambda: datetime.now(timezone.utc))
    summary = IngestSummary()
    t0 = time.perf_counter()

    def run(chunk: tuple[date, date]) -> tuple[int, int, int, int]:
        a, b = chunk
        if fatal:
            raise fatal[0]
        try:
            results, pages = fetch_range(client, a, b, page_size)
        except (LiteLLMUnreachable, LiteLLMAuthError) as exc:
            fatal.append(exc)
            raise
        fetched_at = now()
        tables = merge_results(results)
        wanted = [a + timedelta(days=i) for i in range((b - a).days + 1)]
        tables = {d: tables.get(d, SCHEMA.empty_table()) for d in wanted}   # an empty day is still a day
        status = {d: day_status(d, fetched_at, grace_minutes) for d in wanted}
        rows = store.replace_days(tables, status, fetched_at)
        complete = sum(1 for s in status.values() if s == "complete")
        return len(wanted), rows, pages, complete

    chunks = _chunks(sorted(days), chunk_days)
    fatal: list[LiteLLMError] = []   # unreachable or refused key: the other chunks would fail alike
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
    current = (now or (lambda: datetime.now(timezone.utc)))()
    today = current.date()
    yesterday = today - timedelta(days=1)
    days = days_to_fetch(store, yesterday, yesterday) + [today]
    return ingest_days(client, store, days, now=now, **kw)
