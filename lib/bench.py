"""Benchmark: the Usage page's whole query set on DuckDB, against pandas and PostgreSQL (LiteLLM's layout).

    python -m lib.bench [--rows 10000000] [--repeat 5] [--json] [--no-postgres]

What it does, in one run:

1. Generates a synthetic LiteLLM deployment (1,500 API keys of 500 users in 10 teams, 15 models of 6
   providers behind 18 model groups, ~2 years of days ending today, growing traffic, quiet weekends) as
   rows of LiteLLM's daily table (`LiteLLM_DailyUserSpend`: date x user x key x model x group), and
   derives from them, vectorised, exactly the rows ingest stores (every breakdown x API key, with
   lib/usage/ingest.py's provider attribution) until there are `--rows` stored rows.
2. Writes them with `UsageStore.replace_days` (64 days per call) and loads a fresh `UsageStore`.
3. Times `lib.usage.queries.usage_page_queries` (overview + trends + every breakdown + daily series + heatmap)
   for 7, 30, 90 and 365 days, unfiltered, with 2 providers + 3 users, and with 1 model; the same
   questions with pandas on a DataFrame of the same stored rows (in memory, date-sorted; only the
   queries are timed); and, where `initdb` exists, with SQL GROUP BYs on a throwaway PostgreSQL holding
   the same data in LiteLLM's own `LiteLLM_DailyUserSpend` layout with LiteLLM's indexes (plus key and
   user tables for aliases, owners, teams and e-mails). Figures are medians over rounds (each round runs
   every configuration once per engine); ratios are against DuckDB on the same data. The machine's load
   average is printed: on a shared machine, read the medians with it (the best DuckDB run is shown too).
4. Times ingest without HTTP: LiteLLM 1.108-shaped pages of the most recent ~200k daily rows (1,000 table
   rows per page; the document lib.litellm.demo.aggregate builds, vectorised) are read and merged as ingest does
   (`lib.usage.activity_sql.merge_pages` of the bodies) and written by `ingest_days`, three times each way:
   into a write-only store (parse + write, the issue's definition of ingest and the CLI's backfill: the
   headline `ingest_rows_per_s`) and into a serving store, which also loads the new days into this process's
   in-memory query tables as the app does (`ingest_serving_rows_per_s`); medians. Rows/s counts STORED rows
   written; the daily-table rows/s and a serial split of the cost (parse and merge, write) are printed too.
5. Cross-checks the engines: DuckDB and pandas must agree on every answer of every configuration,
   DuckDB and PostgreSQL on every answer that LiteLLM's table answers the same way, and the generated
   stored rows must equal what ingest (`merge_pages`) stores for the ingested days. Any difference
   is printed and the exit status is 1 (a correctness check; nothing here asserts a timing).

With --json the output ends with one JSON line: rows, range_days (90), duckdb_ms, pandas_ms, postgres_ms
(null without PostgreSQL), ingest_rows_per_s and peak_rss_mb, plus a few extra keys (see `summary`).
If --pg-rows caps the PostgreSQL data below --rows, DuckDB is also timed on that capped dataset and
the PostgreSQL ratio is computed on it (like for like); the output says so.
"""
from __future__ import annotations

import argparse
import binascii
import gc
import hashlib
import io
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lib.core.clock import utcnow
from lib.usage.queries import (KEY_COLUMNS, NO_TEAM, NO_USER, ROW_METRICS, TREND_METRICS, UNATTRIBUTED, UNKNOWN_KEY,
                         Filters, QueryError, _plan, breakdown, daily_series, previous_period, trend, trends,
                         usage_page_queries, weekday_grid)
from lib.usage.store import FLOAT_METRICS, SCHEMA, UsageStore

RANGES = (7, 30, 90, 365)
HEADLINE_DAYS = 90
BREAKDOWN_BYS = ("model", "model_group", "provider", "user", "api_key", "team")
DIM_ORDER = ("api_key", "model", "model_group", "provider", "user")   # ingest's row order (sorted names)
SUMS = ["api_requests", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens",
        "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "spend",
        "total_response_time_ms", "timed_requests"]
EPOCH = date(1970, 1, 1)

# -- the synthetic deployment -----------------------------------------------------------------------
PROVIDERS = ["openai", "anthropic", "vertex_ai", "bedrock", "mistral", "azure"]
# underlying model, $ per 1M input, $ per 1M output, latency ms, failure rate, embedding, popularity
MODELS = [
    ("openai/gpt-4o", 2.5, 10.0, 1400, 0.02, False, 8.0),
    ("openai/gpt-4o-mini", 0.15, 0.6, 650, 0.01, False, 10.0),
    ("openai/o3-mini", 1.1, 4.4, 4200, 0.03, False, 2.0),
    ("openai/text-embedding-3-small", 0.02, 0.0, 250, 0.005, True, 4.0),
    ("anthropic/claude-3-5-sonnet-20241022", 3.0, 15.0, 2100, 0.03, False, 9.0),
    ("anthropic/claude-3-5-haiku-20241022", 0.8, 4.0, 900, 0.02, False, 5.0),
    ("anthropic/claude-3-opus-20240229", 15.0, 75.0, 3900, 0.04, False, 1.0),
    ("vertex_ai/gemini-1.5-pro", 1.25, 5.0, 1800, 0.05, False, 3.0),
    ("vertex_ai/gemini-1.5-flash", 0.075, 0.3, 700, 0.03, False, 4.0),
    ("bedrock/meta.llama3-70b-instruct-v1:0", 2.65, 3.5, 1600, 0.04, False, 1.5),
    ("bedrock/amazon.titan-embed-text-v2:0", 0.02, 0.0, 300, 0.01, True, 1.0),
    ("mistral/mistral-large-latest", 2.0, 6.0, 1600, 0.04, False, 2.0),
    ("mistral/codestral-latest", 0.2, 0.6, 800, 0.02, False, 2.5),
    ("azure/gpt-4o-eu", 2.5, 10.0, 1500, 0.02, False, 3.0),
    ("azure/gpt-35-turbo", 0.5, 1.5, 700, 0.02, False, 1.5),
]
# public model groups that are aliases (router settings), not a deployment's own name
ALIASES = [("fast-chat", "openai/gpt-4o-mini", 3.0), ("smart", "anthropic/claude-3-5-sonnet-20241022", 2.0),
           ("cheap", "vertex_ai/gemini-1.5-flash", 1.5)]
KEY_NAMES = ["laptop", "ci", "notebook", "prod-service", "staging", "batch", "eval", "agent"]
MAX_ROUTES = 10


@dataclass
class World:
    """Who and what exists: keys, users, teams, models, providers, model groups ("routes")."""
    models: list[str]
    model_provider: np.ndarray        # model -> provider index
    price_in: np.ndarray
    price_out: np.ndarray
    latency: np.ndarray
    fail_rate: np.ndarray
    embedding: np.ndarray
    groups: list[str]                 # one model group per route
    route_model: np.ndarray           # route -> model
    group_fallback: np.ndarray        # route -> provider of the model of the same short name, else -1
    users: list[str]
    emails: list[str]
    teams: list[str]
    keys: list[str]                   # sha256 hashes, as LiteLLM reports them
    aliases: list[str]
    key_user: np.ndarray
    key_team: np.ndarray              # -1 = no team
    key_weight: np.ndarray
    key_nroutes: np.ndarray
    key_routes: np.ndarray            # keys x MAX_ROUTES, preferred routes first
    key_q: np.ndarray                 # chance a key uses each of its routes on an active day
    values: list[str]                 # the `value` dictionary: models, groups, providers, users, keys
    offsets: dict[str, int]


def make_world(seed: int = 7, n_keys: int = 1500, n_users: int = 500, n_teams: int = 10) -> World:
    rng = np.random.default_rng(seed)
    models = [m[0] for m in MODELS]
    model_provider = np.array([PROVIDERS.index(m.split("/")[0]) for m in models])
    short = {m.split("/", 1)[1]: i for i, m in enumerate(models)}
    groups = [m.split("/", 1)[1] for m in models] + [a[0] for a in ALIASES]
    route_model = np.array(list(range(len(models))) + [models.index(a[1]) for a in ALIASES])
    group_fallback = np.array([model_provider[short[g]] if g in short else -1 for g in groups])
    popularity = np.array([m[6] for m in MODELS] + [a[2] for a in ALIASES])
    users = [f"user-{i:04d}" for i in range(n_users)]
    teams = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n_teams)]
    user_team = np.where(rng.random(n_users) < 0.12, -1, rng.integers(0, n_teams, n_users))
    key_user = rng.integers(0, n_users, n_keys)
    key_team = np.where(rng.random(n_keys) < 0.05, -1, user_team[key_user])
    scores = np.log(popularity)[None, :] + rng.gumbel(size=(n_keys, len(groups)))
    key_routes = np.argsort(-scores, axis=1)[:, :MAX_ROUTES]
    keys = [hashlib.sha256(f"sk-bench-{seed}-{i}".encode()).hexdigest() for i in range(n_keys)]
    aliases = [f"{users[key_user[i]]}-{KEY_NAMES[i % len(KEY_NAMES)]}-{i}" for i in range(n_keys)]
    values, offsets = [], {}
    for dim, names in (("model", models), ("model_group", groups), ("provider", PROVIDERS), ("user", users),
                       ("api_key", keys)):
        offsets[dim] = len(values)
        values += names
    assert len(set(values)) == len(values), "value names must be unique across breakdowns"
    return World(models=models, model_provider=model_provider, price_in=np.array([m[1] for m in MODELS]),
                 price_out=np.array([m[2] for m in MODELS]), latency=np.array([m[3] for m in MODELS], float),
                 fail_rate=np.array([m[4] for m in MODELS]), embedding=np.array([m[5] for m in MODELS]),
                 groups=groups, route_model=route_model, group_fallback=group_fallback, users=users,
                 emails=[f"{u}@example.com" for u in users], teams=teams, keys=keys, aliases=aliases,
                 key_user=key_user, key_team=key_team, key_weight=rng.lognormal(0.0, 1.0, n_keys),
                 key_nroutes=rng.integers(2, MAX_ROUTES + 1, n_keys), key_routes=key_routes,
                 key_q=rng.uniform(0.35, 1.0, n_keys), values=values, offsets=offsets)


@dataclass
class Daily:
    """Rows of LiteLLM's daily table as codes: (day, key, route) unique, plus metrics."""
    first_epoch: int                  # days since 1970-01-01 of day index 0
    days: int
    day: np.ndarray                   # int32 day index
    key: np.ndarray                   # int32
    route: np.ndarray                 # int16
    metrics: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.day)


def _pairs_and_routes(w: World, prob: np.ndarray, uniform: np.ndarray, seed: int):
    d, k = np.nonzero(uniform < prob)
    rng = np.random.default_rng(seed)
    used = rng.random((len(d), MAX_ROUTES)) < w.key_q[k][:, None]
    used &= np.arange(MAX_ROUTES)[None, :] < w.key_nroutes[k][:, None]
    used[~used.any(axis=1), 0] = True
    pair, slot = np.nonzero(used)
    return d, k, pair, w.key_routes[k[pair], slot], rng


def _stored_count(w: World, n_pairs: int, pair: np.ndarray, route: np.ndarray) -> int:
    """Stored rows these daily rows make: per (day, key) one api_key and one user row, plus one row per
    distinct model, model group and provider."""
    total = 2 * n_pairs + len(route)             # api_key + user rows; model groups are unique per route
    for v, n in ((w.route_model[route], len(w.models)), (w.model_provider[w.route_model[route]], len(PROVIDERS))):
        seen = np.zeros(n_pairs * n, dtype=bool)
        seen[pair.astype(np.int64) * n + v] = True
        total += int(seen.sum())
    return total


def generate_daily(w: World, target_rows: int, days: int, today: date, seed: int = 7, log=print) -> Daily:
    """Daily-table rows whose stored rows number about `target_rows` (within ~1 %)."""
    first_epoch = (today - EPOCH).days - (days - 1)
    weekday = (first_epoch + np.arange(days) + 3) % 7            # 1970-01-01 was a Thursday
    growth = (0.35 + 0.65 * np.arange(days) / max(days - 1, 1)) * np.where(weekday >= 5, 0.4, 1.0)
    base = np.outer(growth, w.key_weight)                         # relative activity, days x keys
    uniform = np.random.default_rng(seed + 100).random(base.shape)
    capacity = base.size * 16
    per_pair = 12.0                                               # stored rows per active (day, key); refined below
    for _ in range(6):
        want = min(target_rows / per_pair, base.size)
        lo, hi = 1e-12, 1e12
        for _ in range(45):                                       # scale s: sum(min(1, s * base)) = want
            mid = (lo * hi) ** 0.5
            lo, hi = (mid, hi) if np.minimum(1.0, mid * base).sum() < want else (lo, mid)
        prob = np.minimum(1.0, hi * base)
        d, k, pair, route, rng = _pairs_and_routes(w, prob, uniform, seed)
        got = _stored_count(w, len(d), pair, route)
        if abs(got - target_rows) <= 0.01 * target_rows or want >= base.size or got == 0:
            break
        per_pair = got / max(len(d), 1)
    if got < 0.97 * target_rows:
        log(f"note: {got:,} stored rows, fewer than the {target_rows:,} asked for "
            f"(this deployment's capacity over {days} days is ~{capacity:,})")
    day, key = d[pair].astype(np.int32), k[pair].astype(np.int32)
    n = len(route)
    m = w.route_model[route]
    req = (1 + np.floor(rng.lognormal(np.log(3 + 5 * np.sqrt(w.key_weight[key])), 0.9, n))).astype(np.int64)
    failed = rng.binomial(req, w.fail_rate[m]).astype(np.int64)
    ok = req - failed
    prompt = ok * rng.integers(150, 2500, n)
    completion = np.where(w.embedding[m], 0, prompt * rng.uniform(0.05, 0.6, n)).astype(np.int64)
    prov = w.model_provider[m]
    cache_read = np.where(prov <= 1, prompt * rng.uniform(0.0, 0.3, n), 0).astype(np.int64)
    cache_creation = np.where(prov == 1, prompt * rng.uniform(0.0, 0.05, n), 0).astype(np.int64)
    metrics = {"spend": (prompt * w.price_in[m] + completion * w.price_out[m]) / 1e6,
               "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
               "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_creation,
               "api_requests": req, "successful_requests": ok, "failed_requests": failed,
               "total_response_time_ms": np.round(ok * w.latency[m] * rng.uniform(0.7, 1.4, n)),
               "timed_requests": ok}
    return Daily(first_epoch, days, day, key, route.astype(np.int16), metrics)


def store_columns(w: World, daily: Daily) -> dict[str, np.ndarray]:
    """The stored rows (lib.usage.store.SCHEMA) of these daily-table rows, as codes, sorted by date then breakdown.

    Same grain and attribution as lib.usage.activity_sql.merge_pages: per breakdown value and API key; provider
    of model rows = the model's prefix; of model-group rows = the key's only provider that day, else the
    provider of the same-named model, else NULL; NULL on user and api_key rows.
    """
    n_keys, day64 = len(w.keys), daily.day.astype(np.int64)
    value_of = {"api_key": (daily.key, n_keys), "model": (w.route_model[daily.route], len(w.models)),
                "model_group": (daily.route.astype(np.int64), len(w.groups)),
                "provider": (w.model_provider[w.route_model[daily.route]], len(PROVIDERS)),
                "user": (w.key_user[daily.key], len(w.users))}
    parts = {}
    for dim in DIM_ORDER:
        v, nv = value_of[dim]
        u, inv = np.unique((day64 * nv + v) * n_keys + daily.key, return_inverse=True)
        cols = {"day": (u // (nv * n_keys)).astype(np.int32), "v": (u // n_keys) % nv, "key": (u % n_keys).astype(np.int32)}
        for name, x in daily.metrics.items():
            s = np.bincount(inv, weights=x, minlength=len(u))
            cols[name] = s if name in ("spend", "total_response_time_ms") else s.astype(np.int64)
        parts[dim] = cols
    # provider attribution
    pp = parts["provider"]
    dk = pp["day"].astype(np.int64) * n_keys + pp["key"]
    n_prov = np.bincount(dk, minlength=daily.days * n_keys)
    only = np.full(daily.days * n_keys, -1, dtype=np.int64)
    only[dk] = pp["v"]
    g = parts["model_group"]
    gdk = g["day"].astype(np.int64) * n_keys + g["key"]
    g["prov"] = np.where(n_prov[gdk] == 1, only[gdk], w.group_fallback[g["v"]])
    parts["model"]["prov"] = w.model_provider[parts["model"]["v"]]
    pp["prov"] = pp["v"]
    for dim in ("user", "api_key"):
        parts[dim]["prov"] = np.full(len(parts[dim]["v"]), -1, dtype=np.int64)
    out = {"day": np.concatenate([parts[d]["day"] for d in DIM_ORDER])}
    order = np.argsort(out["day"], kind="stable")
    out["day"] = out["day"][order]
    out["dim"] = np.concatenate([np.full(len(parts[d]["v"]), i, dtype=np.int8)
                                 for i, d in enumerate(DIM_ORDER)])[order]
    out["value"] = np.concatenate([parts[d]["v"] + w.offsets[d] for d in DIM_ORDER]).astype(np.int32)[order]
    for name in ["key", "prov"] + list(daily.metrics):
        out[name] = np.concatenate([parts[d][name] for d in DIM_ORDER])[order]
        for d in DIM_ORDER:
            parts[d].pop(name, None)
    out["prov"] = out["prov"].astype(np.int32)
    out["day"] = out["day"] + np.int32(daily.first_epoch)
    return out


def _dict_col(codes: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    codes = codes.astype(np.int32, copy=False)
    mask = codes < 0
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask if mask.any() else None), pa.array(names))


def store_table(w: World, cols: dict[str, np.ndarray]) -> pa.Table:
    """An arrow table in SCHEMA's column order; strings dictionary-encoded (replace_days casts per day)."""
    key = cols["key"]
    arrays = {"date": pa.array(cols["day"]).view(pa.date32()), "dim": _dict_col(cols["dim"], list(DIM_ORDER)),
              "value": _dict_col(cols["value"], w.values), "api_key": _dict_col(key, w.keys),
              "key_alias": _dict_col(key, w.aliases), "key_user_id": _dict_col(w.key_user[key], w.users),
              "user_email": _dict_col(w.key_user[key], w.emails), "team_id": _dict_col(w.key_team[key], w.teams),
              "provider": _dict_col(cols["prov"], PROVIDERS)}
    arrays |= {m: pa.array(cols[m]) for m in SUMS}
    return pa.table({name: arrays[name] for name in SCHEMA.names})


def store_frame(w: World, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    """The same stored rows as a pandas DataFrame (categoricals for strings), sorted by date."""
    key = cols["key"]
    cat = pd.Categorical.from_codes
    frame = {"date": cols["day"].astype("datetime64[D]").astype("datetime64[ns]"),
             "dim": cat(cols["dim"], list(DIM_ORDER)), "value": cat(cols["value"], w.values),
             "api_key": cat(key, w.keys), "key_alias": cat(key, w.aliases),
             "key_user_id": cat(w.key_user[key], w.users), "user_email": cat(w.key_user[key], w.emails),
             "team_id": cat(w.key_team[key], w.teams), "provider": cat(cols["prov"], PROVIDERS)}
    frame |= {m: cols[m] for m in SUMS}
    return pd.DataFrame(frame)


def fill_store(store: UsageStore, table: pa.Table, days_per_call: int = 64) -> int:
    """replace_days in batches of days (one manifest write per batch)."""
    day = table.column("date").combine_chunks().view(pa.int32()).to_numpy()
    cuts = [0, *(np.flatnonzero(day[1:] != day[:-1]) + 1).tolist(), len(day)]
    fetched, written, batch = utcnow(), 0, {}
    for a, b in zip(cuts, cuts[1:]):
        batch[EPOCH + timedelta(days=int(day[a]))] = table.slice(a, b - a)
        if len(batch) >= days_per_call or b == len(day):
            written += store.replace_days(batch, {d: "complete" for d in batch}, fetched)
            batch = {}
    return written


@dataclass
class Dataset:
    daily: Daily
    store: UsageStore
    frame: pd.DataFrame | None
    rows: int
    seconds: dict


def build_dataset(w: World, target_rows: int, days: int, today: date, seed: int, folder: Path,
                  with_frame: bool, log=print) -> Dataset:
    t0 = time.perf_counter()
    daily = generate_daily(w, target_rows, days, today, seed, log)
    cols = store_columns(w, daily)
    t_gen = time.perf_counter() - t0
    table = store_table(w, cols)
    t0 = time.perf_counter()
    # writes only; the store below loads what was written
    writer = UsageStore.writer(folder)
    written = fill_store(writer, table)
    t_write = time.perf_counter() - t0
    writer.close()
    del table
    frame = store_frame(w, cols) if with_frame else None
    del cols
    gc.collect()
    store = UsageStore(folder)
    t0 = time.perf_counter()
    store.sync()
    t_load = time.perf_counter() - t0
    # DuckDB's own account of its memory (an RSS difference is blurred by what the allocator gives back)
    store_mb = store.cursor().execute("SELECT sum(memory_usage_bytes) / 2 ^ 20 FROM duckdb_memory()").fetchone()[0]
    return Dataset(daily, store, frame, written, {"generate": t_gen, "write": t_write, "load": t_load,
                                                  "store_mb": store_mb})


# -- the question set in pandas ------------------------------------------------------------------------
def _row_metrics(g: pd.DataFrame) -> pd.DataFrame:
    out = g.rename(columns={"api_requests": "requests"})
    out["success_rate"] = g["successful_requests"] * 100.0 / g["api_requests"].where(g["api_requests"] != 0)
    out["avg_latency_ms"] = g["total_response_time_ms"] / g["timed_requests"].where(g["timed_requests"] != 0)
    return out


class PandasUsage:
    """usage_page_queries answered with pandas over the stored rows (same plan: lib.usage.queries._plan)."""

    def __init__(self, frame: pd.DataFrame):
        self.df = frame
        self.dates = frame["date"].to_numpy()

    def _rows(self, base: str, f: Filters, a: date, b: date) -> pd.DataFrame:
        i = np.searchsorted(self.dates, np.datetime64(a, "ns"), "left")
        j = np.searchsorted(self.dates, np.datetime64(b, "ns"), "right")
        part = self.df.iloc[i:j]
        m = (part["dim"] == base).to_numpy()
        for values, col in ((f.models, "value"), (f.providers, "value" if base == "provider" else "provider"),
                            (f.users, "value" if base == "user" else "key_user_id"), (f.api_keys, "api_key"),
                            (f.teams, "team_id")):
            if values:
                m = m & part[col].isin(values).to_numpy()
        return part[m]

    def _overviews(self, periods: list[tuple[date, date]], f: Filters) -> list[dict]:
        base, note = _plan(None, f)
        lo, hi = min(p[0] for p in periods), max(p[1] for p in periods)
        rows, mrows = self._rows(base, f, lo, hi), self._rows("model", f, lo, hi)
        user = "value" if base == "user" else "key_user_id"
        out = []
        for a, b in periods:
            sel = rows[(rows["date"] >= pd.Timestamp(a)) & (rows["date"] <= pd.Timestamp(b))]
            msel = mrows[(mrows["date"] >= pd.Timestamp(a)) & (mrows["date"] <= pd.Timestamp(b))]
            s = _row_metrics(sel[SUMS].sum().to_frame().T).iloc[0]
            o = {m: (None if pd.isna(s[m]) else s[m].item()) for m in ROW_METRICS}
            for m in ROW_METRICS:
                if m not in ("spend", "success_rate", "avg_latency_ms"):
                    o[m] = int(o[m])
            active = sel[sel["api_requests"] > 0]
            o["active_users"] = int(active[user].nunique())
            o["active_keys"] = int(active["api_key"].nunique())
            o["active_models"] = int(msel.loc[msel["api_requests"] > 0, "value"].nunique())
            out.append(o)
        return out

    def trends(self, start: date, end: date, f: Filters) -> pd.DataFrame:
        cur, prev = self._overviews([(start, end), previous_period(start, end)], f)
        return pd.DataFrame([{"metric": m, "current": cur[m], "previous": prev[m],
                              "change_pct": trend(cur[m], prev[m])[0], "direction": trend(cur[m], prev[m])[1]}
                             for m in TREND_METRICS])

    @staticmethod
    def _key(rows: pd.DataFrame, by: str, base: str) -> tuple[pd.Series, str]:
        if by in ("model", "model_group"):
            return rows["value"], ""
        if by == "provider":
            return (rows["value"], "") if base == "provider" else (rows["provider"], UNATTRIBUTED)
        if by == "user":
            return rows["value" if base == "user" else "key_user_id"], NO_USER
        if by == "api_key":
            return rows["api_key"], UNKNOWN_KEY
        return rows["team_id"], NO_TEAM

    def breakdown(self, start: date, end: date, f: Filters, by: str, top_n: int = 10) -> pd.DataFrame:
        base, _ = _plan(by, f)
        rows = self._rows(base, f, start, end)
        key, missing = self._key(rows, by, base)
        name = KEY_COLUMNS[by][0]
        grouped = rows.groupby(key.rename(name), observed=True, dropna=False)
        df = _row_metrics(grouped[SUMS].sum())
        if by == "user":
            df["user_email"] = grouped["user_email"].first()
        elif by == "api_key":
            df["key_alias"] = grouped["key_alias"].first()
            df["owner"] = grouped["key_user_id"].first()
            df["team"] = grouped["team_id"].first()
            active = rows["api_requests"] > 0
            df["last_active"] = rows.loc[active, "date"].groupby(key[active].rename(name), observed=True,
                                                                 dropna=False).max().dt.date
        df = df.reset_index()
        df[name] = df[name].astype(object).where(df[name].notna(), missing)
        df = df.sort_values(["spend", name], ascending=[False, True]).head(top_n)
        return df[KEY_COLUMNS[by] + ROW_METRICS].reset_index(drop=True)

    def daily_series(self, start: date, end: date, f: Filters, split_by: str | None = None) -> pd.DataFrame:
        base, _ = _plan(split_by or "daily", f)
        rows = self._rows(base, f, start, end)
        if split_by is None:
            df = _row_metrics(rows.groupby("date")[SUMS].sum())
            df = df.reindex(pd.date_range(start, end, freq="D")).rename_axis("date")
            df[[m for m in ROW_METRICS if m not in ("success_rate", "avg_latency_ms")]] = \
                df[[m for m in ROW_METRICS if m not in ("success_rate", "avg_latency_ms")]].fillna(0)
            df = df.reset_index()
        else:
            key, missing = self._key(rows, split_by, base)
            df = _row_metrics(rows.groupby([rows["date"], key.rename(split_by)], observed=True,
                                           dropna=False)[SUMS].sum()).reset_index()
            df[split_by] = df[split_by].astype(object).where(df[split_by].notna(), missing)
        df["date"] = df["date"].dt.date
        return df[["date"] + ([split_by] if split_by else []) + ROW_METRICS]

    def page(self, start: date, end: date, f: Filters) -> dict:
        out: dict = {"trends": self.trends(start, end, f)}
        for by in BREAKDOWN_BYS:
            try:
                out[by] = self.breakdown(start, end, f, by)
            except QueryError as exc:
                out[by] = exc
        out["daily"] = self.daily_series(start, end, f)
        out["daily_by_model"] = self.daily_series(start, end, f, "model")
        out["daily_by_provider"] = self.daily_series(start, end, f, "provider")
        out["heatmap"] = weekday_grid(out["daily"])
        return out


# -- the question set in PostgreSQL, on LiteLLM's own layout ------------------------------------------------
# LiteLLM_DailyUserSpend as LiteLLM 1.108's migrations leave it (schema.prisma), plus the key and user
# tables the console's alias / owner / team / e-mail columns come from.
PG_DDL = """
CREATE TABLE "LiteLLM_DailyUserSpend" (
  id TEXT PRIMARY KEY, user_id TEXT, date TEXT NOT NULL, api_key TEXT NOT NULL, model TEXT, model_group TEXT,
  custom_llm_provider TEXT, mcp_namespaced_tool_name TEXT, endpoint TEXT,
  prompt_tokens BIGINT NOT NULL DEFAULT 0, completion_tokens BIGINT NOT NULL DEFAULT 0,
  cache_read_input_tokens BIGINT NOT NULL DEFAULT 0, cache_creation_input_tokens BIGINT NOT NULL DEFAULT 0,
  compression_saved_tokens BIGINT NOT NULL DEFAULT 0, compression_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  prompt_caching_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  gateway_injected_caching_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  autorouter_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0, spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  api_requests BIGINT NOT NULL DEFAULT 0, successful_requests BIGINT NOT NULL DEFAULT 0,
  failed_requests BIGINT NOT NULL DEFAULT 0, total_response_time_ms BIGINT NOT NULL DEFAULT 0,
  timed_requests BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "LiteLLM_VerificationToken" (token TEXT PRIMARY KEY, key_alias TEXT, user_id TEXT, team_id TEXT);
CREATE TABLE "LiteLLM_UserTable" (user_id TEXT PRIMARY KEY, user_email TEXT);
"""
PG_INDEXES = [
    'CREATE UNIQUE INDEX "LiteLLM_DailyUserSpend_user_id_date_api_key_model_custom_ll_key" ON "LiteLLM_DailyUserSpend"'
    '(user_id, date, api_key, model, custom_llm_provider, mcp_namespaced_tool_name, endpoint)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_date_idx" ON "LiteLLM_DailyUserSpend"(date)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_user_id_date_idx" ON "LiteLLM_DailyUserSpend"(user_id, date)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_api_key_idx" ON "LiteLLM_DailyUserSpend"(api_key)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_model_idx" ON "LiteLLM_DailyUserSpend"(model)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_mcp_namespaced_tool_name_idx" ON "LiteLLM_DailyUserSpend"(mcp_namespaced_tool_name)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_endpoint_idx" ON "LiteLLM_DailyUserSpend"(endpoint)',
]
PG_COPY_COLUMNS = ["id", "user_id", "date", "api_key", "model", "model_group", "custom_llm_provider", "endpoint",
                   "prompt_tokens", "completion_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                   "spend", "api_requests", "successful_requests", "failed_requests", "total_response_time_ms",
                   "timed_requests"]
T = '"LiteLLM_DailyUserSpend"'


def _pg_agg(flt: str = "", total_tokens: str = "prompt_tokens + completion_tokens", prefix: str = "") -> str:
    f = f" FILTER (WHERE {flt})" if flt else ""
    cols = [f"coalesce(sum({src}){f}, 0) AS {prefix}{name}" for name, src in (
        ("requests", "api_requests"), ("successful_requests", "successful_requests"),
        ("failed_requests", "failed_requests"), ("prompt_tokens", "prompt_tokens"),
        ("completion_tokens", "completion_tokens"), ("total_tokens", total_tokens),
        ("cache_read_input_tokens", "cache_read_input_tokens"),
        ("cache_creation_input_tokens", "cache_creation_input_tokens"), ("spend", "spend"))]
    return ", ".join(cols + [
        f"sum(successful_requests){f} * 100.0 / nullif(sum(api_requests){f}, 0) AS {prefix}success_rate",
        f"sum(total_response_time_ms){f}::float8 / nullif(sum(timed_requests){f}, 0) AS {prefix}avg_latency_ms"])


class PostgresUsage:
    """The same questions as SQL GROUP BYs over LiteLLM_DailyUserSpend (+ key and user tables)."""

    def __init__(self, conn):
        self.conn = conn

    @staticmethod
    def _where(f: Filters) -> str:
        cond = ["date BETWEEN %(a)s AND %(b)s"]
        for values, sql in ((f.models, "model = ANY(%(models)s)"), (f.providers, "custom_llm_provider = ANY(%(providers)s)"),
                            (f.users, "user_id = ANY(%(users)s)"), (f.api_keys, "api_key = ANY(%(api_keys)s)"),
                            (f.teams, 'api_key IN (SELECT token FROM "LiteLLM_VerificationToken" '
                                      'WHERE team_id = ANY(%(teams)s))')):
            if values:
                cond.append(sql)
        return " AND ".join(cond)

    def page(self, start: date, end: date, f: Filters) -> dict:
        ps, pe = previous_period(start, end)
        p = {"a": start.isoformat(), "b": end.isoformat(), "pa": ps.isoformat(), "pb": pe.isoformat(),
             **{k: list(v) for k, v in f.as_dict().items()}}
        where = self._where(f)
        cur_p, prev_p = "date BETWEEN %(a)s AND %(b)s", "date BETWEEN %(pa)s AND %(pb)s"
        distinct = ", ".join(f"count(DISTINCT {col}) FILTER (WHERE {cond} AND api_requests > 0) AS {pre}active_{name}"
                             for pre, cond in (("c_", cur_p), ("p_", prev_p))
                             for name, col in (("users", "user_id"), ("keys", "api_key"), ("models", "model")))
        out: dict = {}
        with self.conn.cursor() as cur:
            def q(sql: str) -> list[dict]:
                cur.execute(sql, p)
                return cur.fetchall()
            out["overview"] = q(f"SELECT {_pg_agg(cur_p, prefix='c_')}, {_pg_agg(prev_p, prefix='p_')}, {distinct} "
                                f"FROM {T} WHERE {where.replace('%(a)s', '%(pa)s')}")[0]
            for by, col in (("model", "model"), ("model_group", "model_group"), ("provider", "custom_llm_provider")):
                if by == "model_group" and f.models:
                    out[by] = QueryError("no model x model-group split in the console's store")   # same question set
                    continue
                out[by] = q(f"SELECT coalesce({col}, '{UNATTRIBUTED}') AS {by}, {_pg_agg()} FROM {T} WHERE {where} "
                            f"GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10")
            out["user"] = q(f"WITH a AS (SELECT coalesce(user_id, '{NO_USER}') AS user_id, {_pg_agg()} FROM {T} "
                            f"WHERE {where} GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10) SELECT a.*, u.user_email "
                            f'FROM a LEFT JOIN "LiteLLM_UserTable" u USING (user_id) ORDER BY spend DESC, user_id')
            out["api_key"] = q(f"WITH a AS (SELECT api_key, {_pg_agg()}, max(date) FILTER (WHERE api_requests > 0) "
                               f"AS last_active FROM {T} WHERE {where} GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10) "
                               f"SELECT a.*, k.key_alias, k.user_id AS owner, k.team_id AS team FROM a "
                               f'LEFT JOIN "LiteLLM_VerificationToken" k ON k.token = a.api_key ORDER BY spend DESC, api_key')
            per_key = ", ".join(f"sum({c}) AS {c}" for c in (
                "api_requests", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens",
                "cache_read_input_tokens", "cache_creation_input_tokens", "spend", "total_response_time_ms",
                "timed_requests"))
            out["team"] = q(f"WITH a AS (SELECT api_key, {per_key}, sum(prompt_tokens + completion_tokens) AS total_tokens "
                            f"FROM {T} WHERE {where} GROUP BY api_key) SELECT coalesce(k.team_id, '{NO_TEAM}') AS team, "
                            f"{_pg_agg(total_tokens='total_tokens')} FROM a LEFT JOIN \"LiteLLM_VerificationToken\" k "
                            f"ON k.token = a.api_key GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10")
            out["daily"] = q(f"SELECT date, {_pg_agg()} FROM {T} WHERE {where} GROUP BY date ORDER BY date")
            out["daily_by_model"] = q(f"SELECT date, model, {_pg_agg()} FROM {T} WHERE {where} "
                                      f"GROUP BY date, model ORDER BY date")
            out["daily_by_provider"] = q(f"SELECT date, coalesce(custom_llm_provider, '{UNATTRIBUTED}') AS provider, "
                                         f"{_pg_agg()} FROM {T} WHERE {where} GROUP BY 1, 2 ORDER BY date")
        return out


class ThrowawayPostgres:
    """A PostgreSQL server in a temp dir on a free loopback port (as root: run as the postgres user, like
    ../shared/litellm/up.sh). Durability is off (fsync, WAL) to load fast; query settings are generous."""

    SETTINGS = ("-c shared_buffers=2GB -c work_mem=256MB -c maintenance_work_mem=1GB -c effective_cache_size=8GB "
                "-c max_parallel_workers_per_gather=2 -c max_parallel_maintenance_workers=2 -c random_page_cost=1.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal "
                "-c max_wal_senders=0 -c max_wal_size=16GB -c checkpoint_timeout=1h -c autovacuum=off")

    def __init__(self, jit: bool = False):
        self.jit = jit
        self.dir: str | None = None
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)) \
            if Path("/usr/lib/postgresql").exists() else []
        found = shutil.which("initdb")
        self.bin = str(versions[-1]) if versions else (str(Path(found).resolve().parent) if found else None)

    def _as_pg(self, *cmd: str) -> None:
        if os.geteuid() == 0:
            cmd = ("runuser", "-u", "postgres", "--") + cmd
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)

    def start(self) -> str | None:
        if not self.bin:
            return None
        if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "-r", "-M", "postgres"], check=True)
        self.dir = tempfile.mkdtemp(prefix="bench-pg-")
        os.chmod(self.dir, 0o777)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self._as_pg(f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._as_pg(f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/pg.log", "-w", "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {self.SETTINGS} "
                    f"-c jit={'on' if self.jit else 'off'}", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.dir:
            try:
                self._as_pg(f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "stop")
            except Exception:
                pass
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _hex_ids(n: int, rng: np.random.Generator) -> pa.Array:
    """n random 32-hex-digit ids (LiteLLM uses uuid4 text ids), built without a Python loop."""
    data = binascii.hexlify(rng.bytes(16 * n))
    offsets = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def daily_table(w: World, daily: Daily, rng: np.random.Generator | None = None) -> pa.Table:
    """The daily rows in LiteLLM_DailyUserSpend's columns (for COPY), strings dictionary-encoded."""
    rng = rng or np.random.default_rng(11)
    m = w.route_model[daily.route]
    endpoints = ["/chat/completions", "/embeddings"]
    cols = {"id": _hex_ids(len(daily), rng), "user_id": _dict_col(w.key_user[daily.key], w.users),
            "date": pa.array(daily.day + np.int32(daily.first_epoch)).view(pa.date32()).cast(pa.string()),
            "api_key": _dict_col(daily.key, w.keys), "model": _dict_col(m, w.models),
            "model_group": _dict_col(daily.route, w.groups),
            "custom_llm_provider": _dict_col(w.model_provider[m], PROVIDERS),
            "endpoint": _dict_col(w.embedding[m].astype(np.int32), endpoints)}
    for c in PG_COPY_COLUMNS[8:]:
        x = daily.metrics[c]
        cols[c] = pa.array(x.astype(np.int64) if c == "total_response_time_ms" else x)
    return pa.table(cols)


def load_postgres(url: str, w: World, daily: Daily, log=print):
    import psycopg
    from psycopg.rows import dict_row
    import pyarrow.csv as pacsv
    conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None)
    t0 = time.perf_counter()
    table = daily_table(w, daily)
    with conn.transaction():     # created and filled in one transaction: wal_level=minimal skips the WAL
        conn.execute(PG_DDL)
        with conn.cursor() as cur:
            with cur.copy(f"COPY {T} ({', '.join(PG_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
                for a in range(0, table.num_rows, 250_000):
                    part = table.slice(a, 250_000)
                    part = part.cast(pa.schema([(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
                                                for f in part.schema]))
                    buf = io.BytesIO()
                    pacsv.write_csv(part, buf, pacsv.WriteOptions(include_header=False))
                    copy.write(buf.getvalue())
            with cur.copy('COPY "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id) FROM STDIN') as copy:
                for i, h in enumerate(w.keys):
                    team = w.teams[w.key_team[i]] if w.key_team[i] >= 0 else None
                    copy.write_row((h, w.aliases[i], w.users[w.key_user[i]], team))
            with cur.copy('COPY "LiteLLM_UserTable" (user_id, user_email) FROM STDIN') as copy:
                for u, e in zip(w.users, w.emails):
                    copy.write_row((u, e))
    t_copy = time.perf_counter() - t0
    del table
    t0 = time.perf_counter()
    for sql in PG_INDEXES:
        conn.execute(sql)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    t_vacuum = time.perf_counter() - t0
    size = conn.execute(f"SELECT pg_total_relation_size('{T}') AS n").fetchone()["n"]
    log(f"PostgreSQL {conn.info.server_version // 10000}: loaded {len(daily):,} LiteLLM_DailyUserSpend rows "
        f"(COPY {t_copy:.1f}s, LiteLLM's 7 indexes {t_index:.1f}s, VACUUM ANALYZE {t_vacuum:.1f}s; "
        f"{size / 2**20:,.0f} MB with indexes)")
    return conn


# -- cross-checking answers --------------------------------------------------------------------------------
OVERVIEW_CHECK = ["requests", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens",
                  "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "spend",
                  "active_users", "active_keys", "active_models"]
VALUE_CHECK = ["requests", "successful_requests", "prompt_tokens", "completion_tokens", "spend"]


def _vals(row) -> tuple:
    return tuple(float(row[m]) for m in VALUE_CHECK)


def canon(out: dict) -> dict:
    """Answers of usage_page_queries (or PandasUsage.page) reduced to comparable dicts."""
    c: dict = {}
    t = out["trends"].set_index("metric")
    c["overview"] = {m: (t.at[m, "current"], t.at[m, "previous"]) for m in OVERVIEW_CHECK}
    for by in BREAKDOWN_BYS:
        df = out[by]
        c[by] = "error" if isinstance(df, Exception) else \
            {str(k): _vals(r) for k, r in zip(df[KEY_COLUMNS[by][0]], df.to_dict("records"))}
    for name, key in (("daily", None), ("daily_by_model", "model"), ("daily_by_provider", "provider")):
        df = out[name]
        c[name] = {(str(r["date"]), r[key]) if key else str(r["date"]): _vals(r)
                   for r in df.to_dict("records") if r["requests"]}
    return c


def canon_pg(out: dict) -> dict:
    o = out["overview"]
    c: dict = {"overview": {m: (o["c_" + m], o["p_" + m]) for m in OVERVIEW_CHECK}}
    for by in BREAKDOWN_BYS:
        c[by] = "error" if isinstance(out[by], Exception) else {str(r[KEY_COLUMNS[by][0]]): _vals(r) for r in out[by]}
    for name, key in (("daily", None), ("daily_by_model", "model"), ("daily_by_provider", "provider")):
        c[name] = {(r["date"], r[key]) if key else r["date"]: _vals(r) for r in out[name] if r["requests"]}
    return c


def _close(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and np.isnan(a)) or (isinstance(b, float) and np.isnan(b)):
        return (a is None or a != a) and (b is None or b != b)
    a, b = float(a), float(b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def compare(a: dict, b: dict, skip: tuple = ()) -> list[str]:
    problems = []
    for section in a:
        if section in skip:
            continue
        x, y = a[section], b[section]
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                problems.append(f"{section}: {x if isinstance(x, str) else 'answer'} vs {y if isinstance(y, str) else 'answer'}")
            continue
        if set(x) != set(y):
            only_a, only_b = sorted(set(x) - set(y), key=str)[:3], sorted(set(y) - set(x), key=str)[:3]
            problems.append(f"{section}: different keys (only first: {only_a}; only second: {only_b})")
            continue
        for k in x:
            xa, ya = (x[k], y[k]) if isinstance(x[k], tuple) else ((x[k],), (y[k],))
            if not all(_close(p, q) for p, q in zip(xa, ya)):
                problems.append(f"{section}[{k}]: {xa} vs {ya}")
                break
    return problems


def check_ingest_equivalence(bench: UsageStore, ingested: UsageStore, lo: date, hi: date) -> list[str]:
    """The generated stored rows must be what ingest stores from the same daily-table rows."""
    sql = ("SELECT date, dim, count(*) AS n, count(DISTINCT value) AS nv, count(DISTINCT api_key) AS nk, "
           "count(*) FILTER (WHERE provider IS NULL) AS no_provider, count(DISTINCT provider) AS np, "
           "count(DISTINCT team_id) AS nt, count(DISTINCT user_email) AS ne, sum(api_requests) AS req, "
           "sum(total_tokens) AS tok, sum(spend) AS spend, sum(total_response_time_ms) AS ms "
           "FROM activity WHERE date BETWEEN ? AND ? GROUP BY 1, 2 ORDER BY 1, 2")
    a, b = bench.query(sql, [lo, hi]), ingested.query(sql, [lo, hi])
    if len(a) != len(b) or not (a[["date", "dim"]].values == b[["date", "dim"]].values).all():
        return [f"generated vs ingested: different (date, breakdown) sets ({len(a)} vs {len(b)})"]
    bad = [f"generated vs ingested {r.date} {r.dim} {col}: {getattr(r, col)} vs {b.at[i, col]}"
           for i, r in enumerate(a.itertuples()) for col in ("n", "nv", "nk", "no_provider", "np", "nt", "ne", "req",
                                                             "tok", "spend", "ms")
           if not _close(getattr(r, col), b.at[i, col])]
    return bad[:5]


# -- ingest ----------------------------------------------------------------------------------------------------
class ReplayClient:
    """Stands in for LiteLLMClient.daily_activity_body: pre-built response bodies instead of HTTP."""

    def __init__(self, bodies: dict[tuple[date, date], list[bytes]]):
        self.bodies = bodies

    def daily_activity_body(self, start: date, end: date, page: int = 1, page_size: int = 1000) -> bytes:
        return self.bodies[(start, end)][page - 1]


ENDPOINTS = ["/chat/completions", "/embeddings"]


def daily_rows(w: World, daily: Daily, idx: np.ndarray) -> list[dict]:
    """Daily-table rows as the dicts lib.litellm.demo.aggregate takes (LiteLLM's column names)."""
    m = w.route_model[daily.route[idx]]
    cols = {"date": [(EPOCH + timedelta(days=int(x))).isoformat() for x in daily.day[idx] + daily.first_epoch],
            "user_id": [w.users[u] for u in w.key_user[daily.key[idx]]], "api_key": [w.keys[k] for k in daily.key[idx]],
            "model": [w.models[i] for i in m], "model_group": [w.groups[r] for r in daily.route[idx]],
            "custom_llm_provider": [PROVIDERS[p] for p in w.model_provider[m]],
            "endpoint": [ENDPOINTS[int(e)] for e in w.embedding[m]]}
    for name, x in daily.metrics.items():
        cols[name] = x[idx].tolist()
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def key_metadata(w: World) -> list[dict]:
    return [{"key_alias": w.aliases[i], "team_id": w.teams[w.key_team[i]] if w.key_team[i] >= 0 else None,
             "user_id": w.users[w.key_user[i]], "user_email": w.emails[w.key_user[i]], "key_exists": True}
            for i in range(len(w.keys))]


def _metric_dicts(sums: np.ndarray) -> list[dict]:
    from lib.litellm.demo import EXTRA_METRICS
    from lib.usage.store import METRICS
    cols = [sums[:, i].tolist() if m in FLOAT_METRICS else sums[:, i].round().astype(np.int64).tolist()
            for i, m in enumerate(METRICS)]
    return [dict(zip(METRICS, vals)) | EXTRA_METRICS for vals in zip(*cols)]


def _group_sums(inv: np.ndarray, n: int, x: np.ndarray) -> np.ndarray:
    return np.stack([np.bincount(inv, weights=x[:, i], minlength=n) for i in range(x.shape[1])], axis=1)


def page_body(w: World, daily: Daily, idx: np.ndarray, key_meta: list[dict]) -> dict:
    """LiteLLM 1.108's /user/daily/activity response for these daily-table rows: the same document
    lib.litellm.demo.aggregate builds (tests check it), vectorised so that building 200k rows' pages is quick."""
    from lib.usage.store import METRICS
    n_keys = len(w.keys)
    day, key, route = daily.day[idx], daily.key[idx].astype(np.int64), daily.route[idx]
    model = w.route_model[route]
    dims = {"models": (model, w.models, None), "model_groups": (route, w.groups, None),
            "providers": (w.model_provider[model], PROVIDERS, None),
            "endpoints": (w.embedding[model].astype(np.int64), ENDPOINTS, None),
            "entities": (w.key_user[key], w.users, w.emails)}
    x = np.column_stack([daily.metrics[m][idx].astype(np.float64) for m in METRICS])
    results = []
    for d in np.unique(day).tolist():
        sel = np.flatnonzero(day == d)
        xd, kd = x[sel], key[sel]
        bd: dict = {"mcp_servers": {}, "models": {}, "model_groups": {}, "providers": {}, "endpoints": {},
                    "api_keys": {}, "entities": {}}
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
        bd["api_keys"] = {w.keys[k]: {"metrics": met, "metadata": key_meta[k]}
                          for k, met in zip(uk.tolist(), _metric_dicts(_group_sums(inv, len(uk), xd)))}
        results.append({"date": (EPOCH + timedelta(days=daily.first_epoch + d)).isoformat(),
                        "metrics": _metric_dicts(xd.sum(axis=0, keepdims=True))[0], "breakdown": bd})
    t = _metric_dicts(x.sum(axis=0, keepdims=True))[0]
    metadata = {"total_spend": t["spend"], "total_prompt_tokens": t["prompt_tokens"],
                "total_completion_tokens": t["completion_tokens"], "total_tokens": t["total_tokens"],
                "total_api_requests": t["api_requests"], "total_successful_requests": t["successful_requests"],
                "total_failed_requests": t["failed_requests"], "total_cache_read_input_tokens": t["cache_read_input_tokens"],
                "total_cache_creation_input_tokens": t["cache_creation_input_tokens"],
                "total_response_time_ms": t["total_response_time_ms"], "total_timed_requests": t["timed_requests"],
                "page": 1, "total_pages": 1, "has_more": False, "api_key_limit": None, "total_api_keys": None,
                "entity_total_api_keys": None}
    return {"results": results, "metadata": metadata}


def build_pages(w: World, daily: Daily, n_rows: int, max_days: int = 42,
                page_size: int = 1000) -> tuple[list[date], dict]:
    """LiteLLM /user/daily/activity bodies for the most recent days holding >= n_rows daily-table rows (at
    most max_days days), per 7-day chunk as ingest_days asks for them, 1,000 table rows per page."""
    from lib.usage.ingest import _chunks
    cum = np.cumsum(np.bincount(daily.day, minlength=daily.days)[::-1])
    n_days = min(int(np.searchsorted(cum, min(n_rows, int(cum[-1])))) + 1, max_days, daily.days)
    first = daily.days - n_days
    days = [EPOCH + timedelta(days=daily.first_epoch + d) for d in range(first, daily.days)]
    key_meta = key_metadata(w)
    bodies: dict = {}
    for a, b in _chunks(days, 7):
        lo, hi = (a - EPOCH).days - daily.first_epoch, (b - EPOCH).days - daily.first_epoch
        idx = np.flatnonzero((daily.day >= lo) & (daily.day <= hi))
        pages = max(1, -(-len(idx) // page_size))
        bodies[(a, b)] = []
        for p in range(pages):
            body = page_body(w, daily, idx[p * page_size:(p + 1) * page_size], key_meta)
            body["metadata"].update({"page": p + 1, "total_pages": pages, "has_more": p + 1 < pages})
            bodies[(a, b)].append(json.dumps(body).encode())
    return days, bodies


def time_ingest(w: World, daily: Daily, bench_store: UsageStore, n_rows: int, tmp: Path, log=print,
                split_rows: int = 60_000, rounds: int = 3) -> dict:
    from lib.usage.activity_sql import merge_pages
    from lib.usage.ingest import ingest_days
    t0 = time.perf_counter()
    days, bodies = build_pages(w, daily, n_rows)
    all_bodies = [b for bs in bodies.values() for b in bs]
    n_daily = int(np.count_nonzero(daily.day >= (days[0] - EPOCH).days - daily.first_epoch))
    log(f"ingest sample: {n_daily:,} daily-table rows of the last {len(days)} days as {len(all_bodies)} pages "
        f"({sum(map(len, all_bodies)) / 2**20:,.0f} MB of JSON), built in {time.perf_counter() - t0:.1f}s")
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
            summary = ingest_days(ReplayClient(bodies), store, days)
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
    fetched = utcnow()
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
    return {"daily_rows": n_daily, "stored_rows": summary.rows_written, "pages": summary.pages,
            "seconds": write_only_s, "rows_per_s": summary.rows_written / write_only_s,
            "daily_rows_per_s": n_daily / write_only_s, "serving_rows_per_s": summary.rows_written / serving_s,
            "rounds": rounds, "split": split, "serial_s": serial, "split_stored_rows": split_stored,
            "split_daily_rows": split_daily, "problems": problems}


# -- driver --------------------------------------------------------------------------------------------------
def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time in ms over `repeat` runs, and the first run's answer."""
    times, first = [], None
    for i in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
        if i == 0:
            first = out
    return statistics.median(times), first


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:       # pragma: no cover
        return 0.0


def profile_page(store: UsageStore, start: date, end: date, f: Filters, repeat: int) -> list[tuple[str, float]]:
    """Median ms of each query of usage_page_queries."""
    steps = [("trends (overview, 2 periods)", lambda: trends(store, start, end, f))]
    steps += [(f"breakdown {by}", lambda by=by: breakdown(store, start, end, f, by=by, top_n=10))
              for by in BREAKDOWN_BYS if not (by == "model_group" and f.models)]
    steps += [("daily series", lambda: daily_series(store, start, end, f)),
              ("daily series by model", lambda: daily_series(store, start, end, f, split_by="model")),
              ("daily series by provider", lambda: daily_series(store, start, end, f, split_by="provider")),
              ("store.query('SELECT 1') (fixed cost per query)", lambda: store.query("SELECT 1 AS x"))]
    return [(name, timed(fn, repeat)[0]) for name, fn in steps]


def what_if(store: UsageStore, start: date, end: date, filter_sets, repeat: int, log=print) -> None:
    """Re-time the query set after re-clustering the in-memory table: (dim, date) order, dim an ENUM."""
    try:
        con = store._con
        t0 = time.perf_counter()
        con.execute(f"CREATE TYPE bench_dim AS ENUM ({', '.join(repr(d) for d in DIM_ORDER)})")
        con.execute("CREATE TABLE bench_activity AS SELECT * REPLACE (dim::bench_dim AS dim) FROM activity "
                    "ORDER BY dim, date")
        con.execute("DROP TABLE activity")
        con.execute("ALTER TABLE bench_activity RENAME TO activity")
        took = time.perf_counter() - t0
    except Exception as exc:
        log(f"what-if skipped ({type(exc).__name__}: {exc})")
        return
    log(f"what-if: table re-clustered by (dim, date) with dim an ENUM in {took:.1f}s:")
    for label, f in filter_sets:
        ms = timed(lambda: usage_page_queries(store, start, end, f), repeat)[0]
        prof = profile_page(store, start, end, f, repeat)
        log(f"  filters {label}: query set {ms:.1f} ms; " + "; ".join(f"{n} {t:.1f}" for n, t in prof[:-1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="stored rows to generate (up to 10 million)")
    ap.add_argument("--days", type=int, default=730, help="days of history, ending today (default ~2 years)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per configuration for DuckDB")
    ap.add_argument("--baseline-repeat", type=int, default=3,
                    help="timed runs per configuration for pandas and PostgreSQL (at most --repeat)")
    ap.add_argument("--pg-rows", type=int, default=2_000_000,
                    help="cap of the PostgreSQL dataset in stored-row equivalents; below --rows, DuckDB is "
                         "also timed on that smaller dataset so the ratio is like for like")
    ap.add_argument("--pg-jit", action="store_true",
                    help="turn PostgreSQL's JIT on (default off; it made no difference to these queries here)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--ingest-rows", type=int, default=200_000,
                    help="daily-table rows in the ingest sample (the most recent days, at most 6 weeks)")
    ap.add_argument("--what-if", action="store_true",
                    help="also time the 90-day set with the in-memory table re-clustered by (dim, date) and dim "
                         "as an ENUM (a layout experiment on the store's connection, not the shipped code)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the 90-day figures")
    a = ap.parse_args(argv)
    base_repeat = max(1, min(a.baseline_repeat, a.repeat))
    t_start = time.perf_counter()

    def log(*x):
        print(*x, flush=True)

    today = utcnow().date()
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    pg = ThrowawayPostgres(jit=a.pg_jit)
    problems: list[str] = []
    try:
        log(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
            f"DuckDB {__import__('duckdb').__version__}, pandas {pd.__version__}")
        w = make_world(a.seed)
        main_ds = build_dataset(w, a.rows, a.days, today, a.seed, tmp / "store", with_frame=True, log=log)
        s = main_ds.seconds
        log(f"data: {main_ds.rows:,} stored rows from {len(main_ds.daily):,} daily-table rows over {a.days} days "
            f"({len(w.keys):,} keys, {len(w.users)} users, {len(w.teams)} teams, {len(w.models)} models, "
            f"{len(w.groups)} model groups, {len(PROVIDERS)} providers); generated in {s['generate']:.1f}s, "
            f"written with replace_days in {s['write']:.1f}s ({main_ds.rows / s['write']:,.0f} rows/s); "
            f"bench process peak RSS so far {peak_rss_mb():,.0f} MB")
        log(f"DuckDB: fresh UsageStore loaded (sync) in {s['load']:.1f}s; its in-memory tables take "
            f"{s['store_mb']:,.0f} MB (DuckDB's duckdb_memory())")
        store, daily = main_ds.store, main_ds.daily
        pand = PandasUsage(main_ds.frame)

        # filters: openai + anthropic and the 3 busiest users; the busiest model
        req = daily.metrics["api_requests"]
        top_users = np.argsort(-np.bincount(w.key_user[daily.key], weights=req, minlength=len(w.users)))[:3]
        top_model = int(np.argmax(np.bincount(w.route_model[daily.route], weights=req, minlength=len(w.models))))
        filter_sets = [("none", Filters()),
                       ("2 prov + 3 users", Filters.of(providers=["openai", "anthropic"],
                                                       users=[w.users[u] for u in top_users])),
                       ("1 model", Filters.of(models=[w.models[top_model]]))]

        # PostgreSQL on the same data (or a capped dataset, then DuckDB too)
        conn, pg_ds = None, None
        if not a.no_postgres:
            try:
                url = pg.start()
                if url is None:
                    log("PostgreSQL: initdb not found; postgres_ms will be null")
                else:
                    if a.pg_rows < main_ds.rows:
                        pg_ds = build_dataset(w, a.pg_rows, a.days, today, a.seed, tmp / "store-pg", with_frame=False,
                                              log=log)
                        log(f"PostgreSQL dataset capped (--pg-rows): {pg_ds.rows:,} stored rows = "
                            f"{len(pg_ds.daily):,} daily-table rows; DuckDB is timed on it as well")
                    conn = load_postgres(url, w, (pg_ds or main_ds).daily, log)
            except Exception as exc:  # no usable PostgreSQL here: report null, not a failure
                log(f"PostgreSQL unavailable ({type(exc).__name__}: {str(exc)[:300]}); postgres_ms will be null")
                conn, pg_ds = None, None
        pg_engine = PostgresUsage(conn) if conn else None
        pg_store = (pg_ds or main_ds).store

        # warm-up (first-run costs: imports, caches, PostgreSQL buffers)
        warm = (today - timedelta(days=364), today)
        usage_page_queries(store, *warm)
        pand.page(*warm, Filters())
        if pg_engine:
            pg_engine.page(*warm, Filters())
            if pg_ds:
                usage_page_queries(pg_store, *warm)

        # Rounds: each round runs every configuration once per engine (back to back, so the engines of one
        # configuration see the same machine load); a configuration's figure is the median over rounds.
        # Round 0's answers are cross-checked.
        configs = [(days, label, f) for days in RANGES for label, f in filter_sets]
        engines = [("duckdb", lambda s_, e_, f_: usage_page_queries(store, s_, e_, f_), a.repeat),
                   ("pandas", pand.page, base_repeat)]
        if pg_engine:
            if pg_ds:
                engines.append(("duckdb_pg", lambda s_, e_, f_: usage_page_queries(pg_store, s_, e_, f_), a.repeat))
            engines.append(("postgres", pg_engine.page, base_repeat))
        times: dict = {(e[0], c[:2]): [] for e in engines for c in configs}
        log("")
        log(f"timing {len(configs)} configurations x {len(engines)} engines in {a.repeat} rounds ...")
        for rnd in range(a.repeat):
            t_round = time.perf_counter()
            for days, label, f in configs:
                start, end = today - timedelta(days=days - 1), today
                answers = {}
                for name, fn, reps in engines:
                    if rnd >= reps:
                        continue
                    t0 = time.perf_counter()
                    out = fn(start, end, f)
                    times[(name, (days, label))].append((time.perf_counter() - t0) * 1000)
                    if rnd == 0:
                        answers[name] = out
                if rnd == 0:
                    duck_c = canon(answers["duckdb"])
                    problems += [f"pandas {days}d {label}: {p}" for p in compare(duck_c, canon(answers["pandas"]))]
                    if "postgres" in answers:
                        ref_c = canon(answers["duckdb_pg"]) if pg_ds else duck_c
                        # a provider filter on model groups is answered by attribution in the store, exactly in PG
                        skip = ("model_group",) if f.providers else ()
                        problems += [f"PostgreSQL {days}d {label}: {p}"
                                     for p in compare(ref_c, canon_pg(answers["postgres"]), skip)]
            log(f"  round {rnd + 1}/{a.repeat}: {time.perf_counter() - t_round:.0f}s; RSS {rss_mb():,.0f} MB, "
                f"peak {peak_rss_mb():,.0f} MB; load average {os.getloadavg()[0]:.1f}")
        results: dict = {}
        for days, label, _f in configs:
            r = {name: statistics.median(times[(name, (days, label))]) for name, _fn, _r in engines}
            r["duckdb_min"] = min(times[("duckdb", (days, label))])
            results[(days, label)] = {"duckdb": r["duckdb"], "duckdb_min": r["duckdb_min"], "pandas": r["pandas"],
                                      "postgres": r.get("postgres"), "duckdb_pg": r.get("duckdb_pg")}
        log("")
        log(f"Usage page query set (overview + trends + 6 breakdowns + 3 daily series + heatmap), ms: medians of "
            f"{a.repeat} runs (pandas, PostgreSQL: {base_repeat}); DuckDB and pandas on {main_ds.rows:,} stored rows"
            + (f"; PostgreSQL on {len((pg_ds or main_ds).daily):,} LiteLLM_DailyUserSpend rows, the same data as "
               f"{(pg_ds or main_ds).rows:,} stored rows" + (" (DuckDB@PG data)" if pg_ds else "") if pg_engine else ""))
        head = f"{'range':>6}  {'filters':<17}{'DuckDB':>9}{'(min)':>8}{'pandas':>10}{'pandas/DuckDB':>15}"
        if pg_engine:
            head += (f"{'DuckDB@PG data':>16}" if pg_ds else "") + f"{'PostgreSQL':>12}{'PG/DuckDB':>11}"
        log(head)
        for days, label, _f in configs:
            r = results[(days, label)]
            line = (f"{days:>5}d  {label:<17}{r['duckdb']:>9.1f}{r['duckdb_min']:>8.1f}{r['pandas']:>10.1f}"
                    f"{r['pandas'] / r['duckdb']:>14.1f}x")
            if pg_engine:
                ref = r["duckdb_pg"] if pg_ds else r["duckdb"]
                line += (f"{r['duckdb_pg']:>16.1f}" if pg_ds else "") + f"{r['postgres']:>12.1f}{r['postgres'] / ref:>10.1f}x"
            log(line)

        start90 = today - timedelta(days=HEADLINE_DAYS - 1)
        log("")
        log(f"DuckDB, {HEADLINE_DAYS}-day query set split by query (medians, ms):")
        for label, f in filter_sets[:2]:
            prof = profile_page(store, start90, today, f, a.repeat)
            log(f"  filters {label}: " + "; ".join(f"{n} {ms:.1f}" for n, ms in prof))
        if a.what_if:
            what_if(store, start90, today, filter_sets[:2], a.repeat, log)
        main_ds.frame = pand = None
        if pg_ds:
            pg_ds.store.close()
        gc.collect()

        if conn:
            conn.close()
            conn = None
        pg.stop()

        log("")
        ing = time_ingest(w, daily, store, a.ingest_rows, tmp, log)
        problems += ing["problems"]
        sp = ing["split"]
        log(f"ingest (ingest_days, no HTTP; medians of {ing['rounds']}): {ing['stored_rows']:,} stored rows from "
            f"{ing['daily_rows']:,} daily-table rows ({ing['pages']} pages) parsed, merged and written in "
            f"{ing['seconds']:.2f}s = {ing['rows_per_s']:,.0f} stored rows/s ({ing['daily_rows_per_s']:,.0f} daily-table "
            f"rows/s), as the CLI's backfill does; {ing['serving_rows_per_s']:,.0f} stored rows/s when the same run also "
            f"loads the new days into this process's in-memory query tables, as the app does")
        log(f"  serial split on {ing['split_daily_rows']:,} daily-table rows = {ing['split_stored_rows']:,} stored rows "
            f"({ing['split_stored_rows'] / ing['serial_s']:,.0f} rows/s): "
            + ", ".join(f"{k} {v:.2f}s ({v / ing['serial_s']:.0%})" for k, v in sp.items()))

        r90 = results[(HEADLINE_DAYS, "none")]
        ref90 = r90["duckdb_pg"] if pg_ds else r90["duckdb"]
        summary = {"rows": main_ds.rows, "range_days": HEADLINE_DAYS, "duckdb_ms": round(r90["duckdb"], 1),
                   "pandas_ms": round(r90["pandas"], 1),
                   "postgres_ms": None if r90["postgres"] is None else round(r90["postgres"], 1),
                   "ingest_rows_per_s": round(ing["rows_per_s"]), "peak_rss_mb": round(peak_rss_mb()),
                   "daily_table_rows": len(daily), "pg_rows": (pg_ds or main_ds).rows if r90["postgres"] else None,
                   "duckdb_ms_on_pg_rows": round(ref90, 1) if r90["postgres"] else None,
                   "duckdb_min_ms": round(r90["duckdb_min"], 1),
                   "duckdb_filtered_ms": round(results[(HEADLINE_DAYS, filter_sets[1][0])]["duckdb"], 1),
                   "store_mb": round(s["store_mb"]),
                   "load_s": round(s["load"], 1), "ingest_daily_rows_per_s": round(ing["daily_rows_per_s"]),
                   "ingest_serving_rows_per_s": round(ing["serving_rows_per_s"]),
                   "answers_agree": not problems}
        log("")
        log(f"{HEADLINE_DAYS}-day query set at {main_ds.rows:,} rows: DuckDB {r90['duckdb']:.1f} ms median, "
            f"{r90['duckdb_min']:.1f} ms best (target < 300 ms); pandas {r90['pandas']:.1f} ms "
            f"(pandas/DuckDB = {r90['pandas'] / r90['duckdb']:.1f}x)"
            + (f"; PostgreSQL {r90['postgres']:.1f} ms vs DuckDB {ref90:.1f} ms on the same "
               f"{(pg_ds or main_ds).rows:,} rows (PostgreSQL/DuckDB = {r90['postgres'] / ref90:.1f}x, target >= 10x)"
               if r90["postgres"] else "; PostgreSQL not measured"))
        log(f"ingest (parse + write) {ing['rows_per_s']:,.0f} stored rows/s (target > 100,000; "
            f"{ing['serving_rows_per_s']:,.0f} with the app's in-memory load); peak RSS of the bench process "
            f"{peak_rss_mb():,.0f} MB (generator, pandas copy, PostgreSQL load and ingest included; the DuckDB "
            f"store's tables {s['store_mb']:,.0f} MB); "
            f"total {time.perf_counter() - t_start:.0f}s; load average now "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if problems:
            log(f"ERROR: {len(problems)} answers disagree:")
            for p in problems[:20]:
                log(f"  {p}")
        else:
            log("answers agree: DuckDB = pandas on every configuration"
                + (", = PostgreSQL on LiteLLM's table" if r90["postgres"] else "")
                + ", generated rows = what ingest stores")
        if a.json:
            print(json.dumps(summary), flush=True)
        return 1 if problems else 0
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
