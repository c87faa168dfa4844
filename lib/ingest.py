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

import gc
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lib.litellm_client import LiteLLMAuthError, LiteLLMClient, LiteLLMError, LiteLLMUnreachable
from lib.schemas import DailyResult, metric_values
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
_ATTRIBUTED = frozenset(("model", "model_group", "provider"))     # rows with a provider column
_FLOAT_AT = tuple(i for i, name in enumerate(METRICS) if SCHEMA.field(name).type == pa.float64())


def _sum_parts(parts: list[tuple]) -> tuple:
    """Sum metric tuples (None is zero). Floats (spend, response time) with math.fsum: the sum of the parts
    does not depend on their order. (The parts are LiteLLM's own per-page float sums, so other page
    boundaries can still move a total by its last bit; the same pages always give the same bytes.)"""
    if len(parts) == 1:
        return tuple(x or 0 for x in parts[0])
    cols = [[x or 0 for x in col] for col in zip(*parts)]
    return tuple(math.fsum(c) if i in _FLOAT_AT else sum(c) for i, c in enumerate(cols))


def merge_results(results: list[DailyResult]) -> dict[date, pa.Table]:
    """Merge results of all pages (a date may repeat) into one table per date.

    One pass flattens every key-level entry into rows; the (rare) cells that repeat across pages are
    summed afterwards, and each entry's total is compared with its key split in numpy."""
    cells: list[tuple] = []          # (date, dim, value, api_key) per row
    parts: list[tuple] = []          # its metrics (first part)
    more: dict[int, list] = {}       # row -> every part, for cells that repeat across pages
    row_of: dict[tuple, int] = {}
    group: list[int] = []            # per row: its entry (date, dim, value) -> index in entry_keys
    entry_keys: list[tuple] = []
    entry_parts: list[list] = []
    entry_of: dict[tuple, int] = {}
    key_meta: dict[tuple, dict] = {}         # (date, api_key) -> metadata
    own_meta: set[tuple] = set()             # key_meta entries that are copies (may be filled in)

    def entry_index(ek: tuple, metrics) -> int:
        g = entry_of.get(ek)
        if g is None:
            g = entry_of[ek] = len(entry_keys)
            entry_keys.append(ek)
            entry_parts.append([])
        entry_parts[g].append(metric_values(metrics))
        return g

    def add_keys(d, dim: str, value, g: int, split: dict) -> None:
        # The hot loop of ingest (one pass per stored row): kept to plain dict and list operations.
        n = len(cells)
        by_key = dim == "api_key"           # the api_key breakdown's value is the key itself
        for key_hash, kb in split.items():
            cell = (d, dim, key_hash if by_key else value, key_hash)
            values = metric_values(kb.get("metrics"))
            i = row_of.setdefault(cell, n)
            if i == n:
                cells.append(cell)
                parts.append(values)
                group.append(g)
                n += 1
            else:
                more.setdefault(i, [parts[i]]).append(values)
            meta = kb.get("metadata")
            if meta:
                mk = (d, key_hash)
                seen = key_meta.get(mk)
                if seen is None:
                    key_meta[mk] = meta
                elif seen is not meta and seen != meta:
                    if mk not in own_meta:              # copy before filling: never change the response
                        seen = key_meta[mk] = dict(seen)
                        own_meta.add(mk)
                    for name, v in meta.items():      # per field, the first non-null value of the day
                        if v is not None and seen.get(name) is None:
                            seen[name] = v

    for res in results:
        d = res["date"]
        bd = res.get("breakdown") or {}
        for attr, dim in _DIM_OF.items():
            for value, entry in (bd.get(attr) or {}).items():
                g = entry_index((d, dim, value), entry.get("metrics"))
                add_keys(d, dim, value, g, entry.get("api_key_breakdown") or {})
        # The api_key breakdown is the key split of the day's total; the others of their own entries.
        g = entry_index((d, "api_key", None), res.get("metrics"))
        add_keys(d, "api_key", None, g, bd.get("api_keys") or {})

    for i, ps in more.items():
        parts[i] = _sum_parts(ps)
    metrics = _metric_arrays(parts)
    rest_cells, rest_parts = _remainders(metrics, group, entry_keys, entry_parts, parts, more)
    if rest_cells:
        cells += rest_cells
        parts += rest_parts
        metrics = _metric_arrays(parts)

    providers_by_key = _providers_by_key(cells, metrics["api_requests"].to_numpy(zero_copy_only=False))
    model_provider = _model_providers(cells)
    cols: dict[str, object] = dict(zip(("date", "dim", "value", "api_key"), map(list, zip(*cells)))) if cells \
        else {c: [] for c in ("date", "dim", "value", "api_key")}
    meta_fields = {mk: (m.get("key_alias"), m.get("user_id"), m.get("user_email"), m.get("team_id"))
                   for mk, m in key_meta.items()}
    no_meta = (None,) * 4
    metas = [meta_fields.get((d, k), no_meta) for d, _dim, _v, k in cells]
    for name, col in zip(("key_alias", "key_user_id", "user_email", "team_id"), zip(*metas) if metas else ([],) * 4):
        cols[name] = col
    cols["provider"] = [_attribute_provider(d, dim, value, k, providers_by_key, model_provider)
                        if dim in _ATTRIBUTED else None for d, dim, value, k in cells]
    cols.update(metrics)
    table = pa.Table.from_pydict(cols, schema=SCHEMA)
    day_numbers = table.column("date").cast(pa.int32()).to_numpy()
    if len(day_numbers) and (np.diff(day_numbers) < 0).any():
        # A date split across pages can come back in several runs: a stable sort by date joins them.
        table = table.take(pc.sort_indices(table, sort_keys=[("date", "ascending")]))
        day_numbers = table.column("date").cast(pa.int32()).to_numpy()
    bounds = [0, *(np.flatnonzero(np.diff(day_numbers)) + 1).tolist(), len(day_numbers)]
    return {table.column("date")[a].as_py(): table.slice(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a}


def _metric_arrays(parts: list[tuple]) -> dict[str, pa.Array]:
    """Metric tuples -> one Arrow column per metric (nulls as zero)."""
    if parts:
        try:
            # One C-level conversion; exact while the integers stay below 2**53 (checked).
            x = np.array(parts, dtype=np.float64)
            if np.abs(x).max() < 2 ** 53:
                return {name: pa.array(x[:, i] if i in _FLOAT_AT else x[:, i].astype(np.int64))
                        for i, name in enumerate(METRICS)}
        except (TypeError, ValueError):      # a null metric somewhere: the general path below
            pass
    columns = zip(*parts) if parts else [()] * len(METRICS)
    return {name: pc.fill_null(pa.array(col, type=SCHEMA.field(name).type), 0) for name, col in zip(METRICS, columns)}


def _remainders(metrics: dict, group: list[int], entry_keys: list[tuple], entry_parts: list[list],
                parts: list[tuple], more: dict) -> tuple[list, list]:
    """Where an entry's key split does not add up to the entry's own metrics (older LiteLLM, or keys
    LiteLLM could not attach), the rest becomes a row with api_key NULL, so every breakdown total is exact.
    numpy finds the candidates; their remainder is then computed exactly (fsum over every part)."""
    if not entry_keys:
        return [], []
    totals = np.array([_sum_parts(ps) for ps in entry_parts], dtype=np.float64)
    g = np.asarray(group, dtype=np.int64)
    split = np.column_stack([np.bincount(g, weights=metrics[name].to_numpy(zero_copy_only=False).astype(np.float64),
                                         minlength=len(entry_keys)) for name in METRICS])
    candidates = np.flatnonzero((np.abs(totals - split) > _EPS / 2).any(axis=1)).tolist()
    rows_of: dict[int, list[int]] = {c: [] for c in candidates}
    if candidates:
        for i in np.flatnonzero(np.isin(g, candidates)).tolist():
            rows_of[group[i]].append(i)
    cells, rests = [], []
    for c in candidates:
        key_parts = [p for i in rows_of[c] for p in more.get(i, [parts[i]])]
        got = _sum_parts(key_parts) if key_parts else (0,) * len(METRICS)
        rest = tuple(a - b for a, b in zip(_sum_parts(entry_parts[c]), got))
        if any(abs(x) > _EPS for x in rest):
            d, dim, value = entry_keys[c]
            cells.append((d, dim, value, None))
            rests.append(rest)
    return cells, rests


def _providers_by_key(cells: list[tuple], api_requests: np.ndarray) -> dict[tuple, set]:
    out: dict[tuple, set] = {}
    for i in np.flatnonzero(api_requests > 0).tolist():
        d, dim, value, key_hash = cells[i]
        if dim == "provider":
            out.setdefault((d, key_hash), set()).add(value)
    return out


def _model_providers(cells: list[tuple]) -> dict[tuple, str]:
    """(date, model short name) -> provider, from models named `provider/name`."""
    known = {(d, value) for (d, dim, value, _k) in cells if dim == "provider"}
    out = {}
    for (d, dim, value, _k) in cells:
        if dim == "model" and value and "/" in value and (d, value) not in out:
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
_gc_lock = threading.Lock()
_gc_pausers = 0           # chunks being parsed right now (ingest runs several in threads)
_gc_restore = False       # whether the collector was on before the first of them


@contextmanager
def gc_paused():
    """No cyclic garbage collection while a chunk is parsed and merged: the millions of small dicts and
    tuples it allocates (none of them cyclic) trigger collections that walk them all again, about a
    quarter of ingest's time. The collector is back on once the last concurrent chunk is done."""
    global _gc_pausers, _gc_restore
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_restore:
                gc.enable()


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
        with gc_paused():
            try:
                results, pages = fetch_range(client, a, b, page_size)
            except (LiteLLMUnreachable, LiteLLMAuthError) as exc:
                fatal.append(exc)
                raise
            fetched_at = now()
            tables = merge_results(results)
            del results
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
    store.sync()         # new days queryable now (this runs in a background job), not at the next page view
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
