"""The benchmark's data: a synthetic LiteLLM deployment, rows of LiteLLM's daily table for it, and exactly the
rows ingest stores from them (vectorised), written to a UsageStore and, for pandas, kept as a DataFrame."""

from __future__ import annotations

import gc
import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lib.usage.store import METRICS, SCHEMA, UsageStore

DIM_ORDER = ("api_key", "model", "model_group", "provider", "user")  # ingest's row order (sorted names)
EPOCH = date(1970, 1, 1)
ENDPOINTS = ["/chat/completions", "/embeddings"]

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
ALIASES = [
    ("fast-chat", "openai/gpt-4o-mini", 3.0),
    ("smart", "anthropic/claude-3-5-sonnet-20241022", 2.0),
    ("cheap", "vertex_ai/gemini-1.5-flash", 1.5),
]
KEY_NAMES = ["laptop", "ci", "notebook", "prod-service", "staging", "batch", "eval", "agent"]
MAX_ROUTES = 10


@dataclass
class World:
    """Who and what exists: keys, users, teams, models, providers, model groups ("routes")."""

    models: list[str]
    model_provider: np.ndarray  # model -> provider index
    price_in: np.ndarray
    price_out: np.ndarray
    latency: np.ndarray
    fail_rate: np.ndarray
    embedding: np.ndarray
    groups: list[str]  # one model group per route
    route_model: np.ndarray  # route -> model
    group_fallback: np.ndarray  # route -> provider of the model of the same short name, else -1
    users: list[str]
    emails: list[str]
    teams: list[str]
    keys: list[str]  # sha256 hashes, as LiteLLM reports them
    aliases: list[str]
    key_user: np.ndarray
    key_team: np.ndarray  # -1 = no team
    key_weight: np.ndarray
    key_nroutes: np.ndarray
    key_routes: np.ndarray  # keys x MAX_ROUTES, preferred routes first
    key_q: np.ndarray  # chance a key uses each of its routes on an active day
    values: list[str]  # the `value` dictionary: models, groups, providers, users, keys
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
    for dim, names in (
        ("model", models),
        ("model_group", groups),
        ("provider", PROVIDERS),
        ("user", users),
        ("api_key", keys),
    ):
        offsets[dim] = len(values)
        values += names
    assert len(set(values)) == len(values), "value names must be unique across breakdowns"
    return World(
        models=models,
        model_provider=model_provider,
        price_in=np.array([m[1] for m in MODELS]),
        price_out=np.array([m[2] for m in MODELS]),
        latency=np.array([m[3] for m in MODELS], float),
        fail_rate=np.array([m[4] for m in MODELS]),
        embedding=np.array([m[5] for m in MODELS]),
        groups=groups,
        route_model=route_model,
        group_fallback=group_fallback,
        users=users,
        emails=[f"{u}@example.com" for u in users],
        teams=teams,
        keys=keys,
        aliases=aliases,
        key_user=key_user,
        key_team=key_team,
        key_weight=rng.lognormal(0.0, 1.0, n_keys),
        key_nroutes=rng.integers(2, MAX_ROUTES + 1, n_keys),
        key_routes=key_routes,
        key_q=rng.uniform(0.35, 1.0, n_keys),
        values=values,
        offsets=offsets,
    )


@dataclass
class Daily:
    """Rows of LiteLLM's daily table as codes: (day, key, route) unique, plus metrics."""

    first_epoch: int  # days since 1970-01-01 of day index 0
    days: int
    day: np.ndarray  # int32 day index
    key: np.ndarray  # int32
    route: np.ndarray  # int16
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
    total = 2 * n_pairs + len(route)  # api_key + user rows; model groups are unique per route
    for v, n in ((w.route_model[route], len(w.models)), (w.model_provider[w.route_model[route]], len(PROVIDERS))):
        seen = np.zeros(n_pairs * n, dtype=bool)
        seen[pair.astype(np.int64) * n + v] = True
        total += int(seen.sum())
    return total


def generate_daily(w: World, target_rows: int, days: int, today: date, seed: int = 7, log=print) -> Daily:
    """Daily-table rows whose stored rows number about `target_rows` (within ~1 %)."""
    first_epoch = (today - EPOCH).days - (days - 1)
    weekday = (first_epoch + np.arange(days) + 3) % 7  # 1970-01-01 was a Thursday
    growth = (0.35 + 0.65 * np.arange(days) / max(days - 1, 1)) * np.where(weekday >= 5, 0.4, 1.0)
    base = np.outer(growth, w.key_weight)  # relative activity, days x keys
    uniform = np.random.default_rng(seed + 100).random(base.shape)
    capacity = base.size * 16
    per_pair = 12.0  # stored rows per active (day, key); refined below
    for _ in range(6):
        want = min(target_rows / per_pair, base.size)
        lo, hi = 1e-12, 1e12
        for _ in range(45):  # scale s: sum(min(1, s * base)) = want
            mid = (lo * hi) ** 0.5
            lo, hi = (mid, hi) if np.minimum(1.0, mid * base).sum() < want else (lo, mid)
        prob = np.minimum(1.0, hi * base)
        d, k, pair, route, rng = _pairs_and_routes(w, prob, uniform, seed)
        got = _stored_count(w, len(d), pair, route)
        if abs(got - target_rows) <= 0.01 * target_rows or want >= base.size or got == 0:
            break
        per_pair = got / max(len(d), 1)
    if got < 0.97 * target_rows:
        log(
            f"note: {got:,} stored rows, fewer than the {target_rows:,} asked for "
            f"(this deployment's capacity over {days} days is ~{capacity:,})"
        )
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
    metrics = {
        "spend": (prompt * w.price_in[m] + completion * w.price_out[m]) / 1e6,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_creation,
        "api_requests": req,
        "successful_requests": ok,
        "failed_requests": failed,
        "total_response_time_ms": np.round(ok * w.latency[m] * rng.uniform(0.7, 1.4, n)),
        "timed_requests": ok,
    }
    return Daily(first_epoch, days, day, key, route.astype(np.int16), metrics)


def store_columns(w: World, daily: Daily) -> dict[str, np.ndarray]:
    """The stored rows (lib.usage.store.SCHEMA) of these daily-table rows, as codes, sorted by date then breakdown.

    Same grain and attribution as lib.usage.activity_sql.merge_pages: per breakdown value and API key; provider
    of model rows = the model's prefix; of model-group rows = the key's only provider that day, else the
    provider of the same-named model, else NULL; NULL on user and api_key rows.
    """
    n_keys, day64 = len(w.keys), daily.day.astype(np.int64)
    value_of = {
        "api_key": (daily.key, n_keys),
        "model": (w.route_model[daily.route], len(w.models)),
        "model_group": (daily.route.astype(np.int64), len(w.groups)),
        "provider": (w.model_provider[w.route_model[daily.route]], len(PROVIDERS)),
        "user": (w.key_user[daily.key], len(w.users)),
    }
    parts = {}
    for dim in DIM_ORDER:
        v, nv = value_of[dim]
        u, inv = np.unique((day64 * nv + v) * n_keys + daily.key, return_inverse=True)
        cols = {
            "day": (u // (nv * n_keys)).astype(np.int32),
            "v": (u // n_keys) % nv,
            "key": (u % n_keys).astype(np.int32),
        }
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
    out["dim"] = np.concatenate([np.full(len(parts[d]["v"]), i, dtype=np.int8) for i, d in enumerate(DIM_ORDER)])[order]
    out["value"] = np.concatenate([parts[d]["v"] + w.offsets[d] for d in DIM_ORDER]).astype(np.int32)[order]
    for name in ["key", "prov"] + list(daily.metrics):
        out[name] = np.concatenate([parts[d][name] for d in DIM_ORDER])[order]
        for d in DIM_ORDER:
            parts[d].pop(name, None)
    out["prov"] = out["prov"].astype(np.int32)
    out["day"] = out["day"] + np.int32(daily.first_epoch)
    return out


def dict_column(codes: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    """Codes into `names` as an arrow dictionary column (a negative code is null)."""
    codes = codes.astype(np.int32, copy=False)
    mask = codes < 0
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask if mask.any() else None), pa.array(names))


def store_table(w: World, cols: dict[str, np.ndarray]) -> pa.Table:
    """An arrow table in SCHEMA's column order; strings dictionary-encoded (replace_days casts per day)."""
    key = cols["key"]
    arrays = {
        "date": pa.array(cols["day"]).view(pa.date32()),
        "dim": dict_column(cols["dim"], list(DIM_ORDER)),
        "value": dict_column(cols["value"], w.values),
        "api_key": dict_column(key, w.keys),
        "key_alias": dict_column(key, w.aliases),
        "key_user_id": dict_column(w.key_user[key], w.users),
        "user_email": dict_column(w.key_user[key], w.emails),
        "team_id": dict_column(w.key_team[key], w.teams),
        "provider": dict_column(cols["prov"], PROVIDERS),
    }
    arrays |= {m: pa.array(cols[m]) for m in METRICS}
    return pa.table({name: arrays[name] for name in SCHEMA.names})


def store_frame(w: World, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    """The same stored rows as a pandas DataFrame (categoricals for strings), sorted by date."""
    key = cols["key"]
    cat = pd.Categorical.from_codes
    frame = {
        "date": cols["day"].astype("datetime64[D]").astype("datetime64[ns]"),
        "dim": cat(cols["dim"], list(DIM_ORDER)),
        "value": cat(cols["value"], w.values),
        "api_key": cat(key, w.keys),
        "key_alias": cat(key, w.aliases),
        "key_user_id": cat(w.key_user[key], w.users),
        "user_email": cat(w.key_user[key], w.emails),
        "team_id": cat(w.key_team[key], w.teams),
        "provider": cat(cols["prov"], PROVIDERS),
    }
    frame |= {m: cols[m] for m in METRICS}
    return pd.DataFrame(frame)


def fill_store(store: UsageStore, table: pa.Table, days_per_call: int = 64) -> int:
    """replace_days in batches of days (one manifest write per batch)."""
    day = table.column("date").combine_chunks().view(pa.int32()).to_numpy()
    cuts = [0, *(np.flatnonzero(day[1:] != day[:-1]) + 1).tolist(), len(day)]
    fetched, written, batch = datetime.now(timezone.utc), 0, {}
    for a, b in zip(cuts, cuts[1:]):
        batch[EPOCH + timedelta(days=int(day[a]))] = table.slice(a, b - a)
        if len(batch) >= days_per_call or b == len(day):
            written += store.replace_days(batch, {d: "complete" for d in batch}, fetched)
            batch = {}
    return written


@dataclass
class Dataset:
    """Generated daily-table rows, the store holding their stored rows, optionally the same rows for pandas."""

    daily: Daily
    store: UsageStore
    frame: pd.DataFrame | None
    rows: int
    seconds: dict


def build_dataset(
    w: World, target_rows: int, days: int, today: date, seed: int, folder: Path, with_frame: bool, log=print
) -> Dataset:
    """Generate about `target_rows` stored rows over `days` days ending `today`, write them into a store in
    `folder` and load it (seconds taken per step, and the store's memory, in `Dataset.seconds`)."""
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
    return Dataset(
        daily, store, frame, written, {"generate": t_gen, "write": t_write, "load": t_load, "store_mb": store_mb}
    )
