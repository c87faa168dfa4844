"""Ingest timed without HTTP: LiteLLM 1.108-shaped /user/daily/activity pages of the most recent daily-table rows,
read, merged and written by lib.usage.ingest.ingest_days as production runs it."""

from __future__ import annotations

import gc
import json
import shutil
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from lib.litellm.demo import EXTRA_METRICS
from lib.usage.activity_sql import merge_pages
from lib.usage.ingest import ApiSource, day_ranges, ingest_days
from lib.usage.store import FLOAT_METRICS, METRICS, UsageStore
from tests.bench.answers import check_ingest_equivalence
from tests.bench.data import ENDPOINTS, EPOCH, PROVIDERS, Daily, World


class ReplayClient:
    """Stands in for LiteLLMClient.daily_activity_body: pre-built response bodies instead of HTTP."""

    def __init__(self, bodies: dict[tuple[date, date], list[bytes]]):
        self.bodies = bodies

    def daily_activity_body(self, start: date, end: date, page: int = 1, page_size: int = 1000) -> bytes:
        return self.bodies[(start, end)][page - 1]


def daily_rows(w: World, daily: Daily, idx: np.ndarray) -> list[dict]:
    """Daily-table rows as the dicts lib.litellm.demo.aggregate takes (LiteLLM's column names)."""
    m = w.route_model[daily.route[idx]]
    cols = {
        "date": [(EPOCH + timedelta(days=int(x))).isoformat() for x in daily.day[idx] + daily.first_epoch],
        "user_id": [w.users[u] for u in w.key_user[daily.key[idx]]],
        "api_key": [w.keys[k] for k in daily.key[idx]],
        "model": [w.models[i] for i in m],
        "model_group": [w.groups[r] for r in daily.route[idx]],
        "custom_llm_provider": [PROVIDERS[p] for p in w.model_provider[m]],
        "endpoint": [ENDPOINTS[int(e)] for e in w.embedding[m]],
    }
    for name, x in daily.metrics.items():
        cols[name] = x[idx].tolist()
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def key_metadata(w: World) -> list[dict]:
    return [
        {
            "key_alias": w.aliases[i],
            "team_id": w.teams[w.key_team[i]] if w.key_team[i] >= 0 else None,
            "user_id": w.users[w.key_user[i]],
            "user_email": w.emails[w.key_user[i]],
            "key_exists": True,
        }
        for i in range(len(w.keys))
    ]


def _metric_dicts(sums: np.ndarray) -> list[dict]:
    cols = [
        sums[:, i].tolist() if m in FLOAT_METRICS else sums[:, i].round().astype(np.int64).tolist()
        for i, m in enumerate(METRICS)
    ]
    return [dict(zip(METRICS, vals)) | EXTRA_METRICS for vals in zip(*cols)]


def _group_sums(inv: np.ndarray, n: int, x: np.ndarray) -> np.ndarray:
    return np.stack([np.bincount(inv, weights=x[:, i], minlength=n) for i in range(x.shape[1])], axis=1)


def page_body(w: World, daily: Daily, idx: np.ndarray, key_meta: list[dict]) -> dict:
    """LiteLLM 1.108's /user/daily/activity response for these daily-table rows: the same document
    lib.litellm.demo.aggregate builds (tests check it), vectorised so that building 200k rows' pages is quick."""
    n_keys = len(w.keys)
    day, key, route = daily.day[idx], daily.key[idx].astype(np.int64), daily.route[idx]
    model = w.route_model[route]
    dims = {
        "models": (model, w.models, None),
        "model_groups": (route, w.groups, None),
        "providers": (w.model_provider[model], PROVIDERS, None),
        "endpoints": (w.embedding[model].astype(np.int64), ENDPOINTS, None),
        "entities": (w.key_user[key], w.users, w.emails),
    }
    x = np.column_stack([daily.metrics[m][idx].astype(np.float64) for m in METRICS])
    results = []
    for d in np.unique(day).tolist():
        sel = np.flatnonzero(day == d)
        xd, kd = x[sel], key[sel]
        bd: dict = {
            "mcp_servers": {},
            "models": {},
            "model_groups": {},
            "providers": {},
            "endpoints": {},
            "api_keys": {},
            "entities": {},
        }
        for name, (v, names, emails) in dims.items():
            vd = v[sel].astype(np.int64)
            ue, inv = np.unique(vd, return_inverse=True)
            entries = {}
            for e, met in zip(ue.tolist(), _metric_dicts(_group_sums(inv, len(ue), xd))):
                meta = {"user_email": emails[e], "user_alias": None} if emails else {}
                entries[names[e]] = {"metrics": met, "metadata": meta, "api_key_breakdown": {}}
            uc, inv = np.unique(vd * n_keys + kd, return_inverse=True)
            for c, met in zip(uc.tolist(), _metric_dicts(_group_sums(inv, len(uc), xd))):
                e, k = divmod(c, n_keys)
                entries[names[e]]["api_key_breakdown"][w.keys[k]] = {"metrics": met, "metadata": key_meta[k]}
            bd[name] = entries
        uk, inv = np.unique(kd, return_inverse=True)
        bd["api_keys"] = {
            w.keys[k]: {"metrics": met, "metadata": key_meta[k]}
            for k, met in zip(uk.tolist(), _metric_dicts(_group_sums(inv, len(uk), xd)))
        }
        results.append(
            {
                "date": (EPOCH + timedelta(days=daily.first_epoch + d)).isoformat(),
                "metrics": _metric_dicts(xd.sum(axis=0, keepdims=True))[0],
                "breakdown": bd,
            }
        )
    t = _metric_dicts(x.sum(axis=0, keepdims=True))[0]
    metadata = {
        "total_spend": t["spend"],
        "total_prompt_tokens": t["prompt_tokens"],
        "total_completion_tokens": t["completion_tokens"],
        "total_tokens": t["total_tokens"],
        "total_api_requests": t["api_requests"],
        "total_successful_requests": t["successful_requests"],
        "total_failed_requests": t["failed_requests"],
        "total_cache_read_input_tokens": t["cache_read_input_tokens"],
        "total_cache_creation_input_tokens": t["cache_creation_input_tokens"],
        "total_response_time_ms": t["total_response_time_ms"],
        "total_timed_requests": t["timed_requests"],
        "page": 1,
        "total_pages": 1,
        "has_more": False,
        "api_key_limit": None,
        "total_api_keys": None,
        "entity_total_api_keys": None,
    }
    return {"results": results, "metadata": metadata}


def build_pages(
    w: World, daily: Daily, n_rows: int, max_days: int = 42, page_size: int = 1000
) -> tuple[list[date], dict]:
    """LiteLLM /user/daily/activity bodies for the most recent days holding >= n_rows daily-table rows (at
    most max_days days), per 7-day chunk as ingest_days asks for them, 1,000 table rows per page."""
    cum = np.cumsum(np.bincount(daily.day, minlength=daily.days)[::-1])
    n_days = min(int(np.searchsorted(cum, min(n_rows, int(cum[-1])))) + 1, max_days, daily.days)
    first = daily.days - n_days
    days = [EPOCH + timedelta(days=daily.first_epoch + d) for d in range(first, daily.days)]
    key_meta = key_metadata(w)
    bodies: dict = {}
    for a, b in day_ranges(days, 7):
        lo, hi = (a - EPOCH).days - daily.first_epoch, (b - EPOCH).days - daily.first_epoch
        idx = np.flatnonzero((daily.day >= lo) & (daily.day <= hi))
        pages = max(1, -(-len(idx) // page_size))
        bodies[(a, b)] = []
        for p in range(pages):
            body = page_body(w, daily, idx[p * page_size : (p + 1) * page_size], key_meta)
            body["metadata"].update({"page": p + 1, "total_pages": pages, "has_more": p + 1 < pages})
            bodies[(a, b)].append(json.dumps(body).encode())
    return days, bodies


def time_ingest(
    w: World,
    daily: Daily,
    bench_store: UsageStore,
    n_rows: int,
    tmp: Path,
    log=print,
    split_rows: int = 60_000,
    rounds: int = 3,
) -> dict:
    t0 = time.perf_counter()
    days, bodies = build_pages(w, daily, n_rows)
    all_bodies = [b for bs in bodies.values() for b in bs]
    n_daily = int(np.count_nonzero(daily.day >= (days[0] - EPOCH).days - daily.first_epoch))
    log(
        f"ingest sample: {n_daily:,} daily-table rows of the last {len(days)} days as {len(all_bodies)} pages "
        f"({sum(map(len, all_bodies)) / 2**20:,.0f} MB of JSON), built in {time.perf_counter() - t0:.1f}s"
    )
    # 1. as production runs it: ingest_days (7-day chunks, 4 threads), minus HTTP, alternately into
    #    a write-only store (parse + write: the CLI's backfill) and a serving store (+ loading the new days into
    #    this process's in-memory query tables, as the app does); medians of `rounds`
    seconds: dict[str, list[float]] = {"write_only": [], "serving": []}
    problems: list[str] = []
    for n in range(rounds):
        for kind in seconds:
            where = tmp / f"ingest-{kind}-{n}"
            store = UsageStore.writer(where) if kind == "write_only" else UsageStore(where)
            gc.collect()
            t0 = time.perf_counter()
            summary = ingest_days(ApiSource(ReplayClient(bodies)), store, days)
            seconds[kind].append(time.perf_counter() - t0)
            if kind == "serving" and n == 0:
                problems = check_ingest_equivalence(bench_store, store, days[0], days[-1])
            store.close()
            shutil.rmtree(where)
    write_only_s, serving_s = (statistics.median(v) for v in seconds.values())
    # 2. the same work serially, chunk by chunk (the first chunks, >= split_rows table rows), split by step
    split = dict.fromkeys(("merge_pages", "replace_days"), 0.0)
    split_stored, split_daily = 0, 0
    store2 = UsageStore.writer(tmp / "ingest-serial")
    fetched = datetime.now(timezone.utc)
    for (a, b), chunk in bodies.items():
        if split_daily >= split_rows:
            break
        lo, hi = (a - EPOCH).days - daily.first_epoch, (b - EPOCH).days - daily.first_epoch
        split_daily += int(np.count_nonzero((daily.day >= lo) & (daily.day <= hi)))
        t0 = time.perf_counter()
        tables = merge_pages(chunk)
        t1 = time.perf_counter()
        split_stored += store2.replace_days(tables, {d: "complete" for d in tables}, fetched)
        t2 = time.perf_counter()
        for k, v in zip(split, (t1 - t0, t2 - t1)):
            split[k] += v
        del tables
    store2.close()
    serial = sum(split.values())
    return {
        "daily_rows": n_daily,
        "stored_rows": summary.rows_written,
        "pages": summary.pages,
        "seconds": write_only_s,
        "rows_per_s": summary.rows_written / write_only_s,
        "daily_rows_per_s": n_daily / write_only_s,
        "serving_rows_per_s": summary.rows_written / serving_s,
        "rounds": rounds,
        "split": split,
        "serial_s": serial,
        "split_stored_rows": split_stored,
        "split_daily_rows": split_daily,
        "problems": problems,
    }
