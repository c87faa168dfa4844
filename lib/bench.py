"""Benchmark: the Usage page's whole query set on DuckDB vs pandas vs PostgreSQL (LiteLLM's own layout).

    python -m lib.bench --rows 10000000 [--json] [--repeat 5]

Generates N stored rows of activity (the store's grain: every breakdown x API key), times the query set
for 7/30/90/365 days with and without filters, and in the same run answers the same questions with
pandas over the daily-table rows and, where `initdb` exists, with PostgreSQL on LiteLLM's
`LiteLLM_DailyUserSpend` layout and indexes. Also times ingest (parse + merge + write) and reports
peak memory. Figures are medians; ratios are against DuckDB in the same run. Exits 1 if the engines
disagree on the totals (a correctness check, not a timing assertion).
"""
from __future__ import annotations

import argparse
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
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from lib.queries import Filters, usage_page_queries
from lib.store import METRICS, SCHEMA, UsageStore

RANGES = (7, 30, 90, 365)
DIMS = ("model", "model_group", "provider", "user", "api_key")


# -- data -------------------------------------------------------------------------------------------
def daily_table(n_rows: int, days: int, today: date, seed: int = 7) -> pd.DataFrame:
    """LiteLLM daily-table rows (date x user x key x model x group) with realistic cardinalities."""
    rng = np.random.default_rng(seed)
    n_keys, n_users = 800, 400
    providers = np.array(["openai", "anthropic", "vertex_ai", "mistral", "ollama", "bedrock"])
    models = [f"{providers[i % 6]}/model-{i}" for i in range(15)]
    groups = [m.split("/")[1] for m in models]
    key_user = rng.integers(0, n_users, n_keys)
    key_team = rng.integers(0, 11, n_keys)                 # 10 teams + "no team"
    day = rng.integers(0, days, n_rows)
    key = (rng.zipf(1.3, n_rows) - 1) % n_keys
    model = rng.integers(0, 15, n_rows)
    requests = rng.integers(1, 60, n_rows)
    failed = rng.binomial(requests, 0.03)
    prompt = requests * rng.integers(50, 3000, n_rows)
    completion = (prompt * rng.uniform(0.05, 0.5, n_rows)).astype(np.int64)
    dates = np.array([today - timedelta(days=int(d)) for d in range(days)], dtype="datetime64[D]")
    return pd.DataFrame({
        "date": dates[day], "user_id": np.char.add("user-", key_user[key].astype(str)),
        "api_key": np.char.add("hash-", key.astype(str)), "key_alias": np.char.add("key-", key.astype(str)),
        "team_id": np.where(key_team[key] == 10, None, np.char.add("team-", key_team[key].astype(str))),
        "model": np.array(models)[model], "model_group": np.array(groups)[model],
        "provider": providers[model % 6], "spend": prompt * 2e-6 + completion * 8e-6,
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "cache_read_input_tokens": (prompt * 0.1).astype(np.int64), "cache_creation_input_tokens": 0,
        "api_requests": requests, "successful_requests": requests - failed, "failed_requests": failed,
        "total_response_time_ms": ((requests - failed) * rng.uniform(200, 3000, n_rows)).round(),
        "timed_requests": requests - failed})


def store_rows(base: pd.DataFrame) -> pa.Table:
    """What ingest would store for these daily-table rows: each breakdown with its per-key split."""
    con = duckdb.connect()
    con.register("base", base)
    sums = ", ".join(f"sum({m}) AS {m}" for m in METRICS)
    parts = []
    for dim, col, prov in (("model", "model", "provider"), ("model_group", "model_group", "provider"),
                           ("provider", "provider", "provider"), ("user", "user_id", "NULL"),
                           ("api_key", "api_key", "NULL")):
        parts.append(f"SELECT date::DATE AS date, '{dim}' AS dim, {col} AS value, api_key, any_value(key_alias) AS key_alias,"
                     f" any_value(user_id) AS key_user_id, any_value(user_id) || '@example.com' AS user_email,"
                     f" any_value(team_id) AS team_id, any_value({prov})::VARCHAR AS provider, {sums}"
                     f" FROM base GROUP BY date, {col}, api_key")
    table = con.execute(" UNION ALL ".join(parts) + " ORDER BY date, dim").to_arrow_table()
    return table.select(SCHEMA.names).cast(SCHEMA)


def fill_store(store: UsageStore, table: pa.Table) -> None:
    days = table.column("date").to_numpy()
    cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(days)]
    fetched = datetime.now(timezone.utc)
    batch: dict = {}
    for a, b in zip(bounds, bounds[1:]):
        d = pd.Timestamp(days[a]).date()
        batch[d] = table.slice(a, b - a)
        if len(batch) >= 64:
            store.replace_days(batch, {k: "complete" for k in batch}, fetched)
            batch = {}
    if batch:
        store.replace_days(batch, {k: "complete" for k in batch}, fetched)


# -- the question set in pandas and PostgreSQL ---------------------------------------------------------
SUMS = ["api_requests", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens",
        "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "spend",
        "total_response_time_ms", "timed_requests"]


def pandas_query_set(df: pd.DataFrame, start: date, end: date, f: dict) -> dict:
    def select(a, b):
        m = (df["date"] >= pd.Timestamp(a)) & (df["date"] <= pd.Timestamp(b))
        if f.get("providers"):
            m &= df["provider"].isin(f["providers"])
        if f.get("users"):
            m &= df["user_id"].isin(f["users"])
        return df[m]
    cur = select(start, end)
    length = (end - start).days + 1
    prev = select(start - timedelta(days=length), start - timedelta(days=1))
    out = {}
    for name, part in (("current", cur), ("previous", prev)):
        s = part[SUMS].sum()
        out[name] = s.to_dict() | {"users": part["user_id"].nunique(), "keys": part["api_key"].nunique(),
                                   "models": part["model"].nunique()}
    for col in ("model", "model_group", "provider", "user_id", "api_key", "team_id"):
        out[col] = cur.groupby(col, dropna=False)[SUMS].sum().nlargest(10, "spend")
    out["daily"] = cur.groupby("date")[SUMS].sum()
    out["daily_model"] = cur.groupby(["date", "model"])[SUMS].sum()
    out["daily_provider"] = cur.groupby(["date", "provider"])[SUMS].sum()
    return out


PG_DDL = """
CREATE TABLE "LiteLLM_DailyUserSpend" (
  id TEXT PRIMARY KEY, user_id TEXT, date TEXT NOT NULL, api_key TEXT NOT NULL, model TEXT, model_group TEXT,
  custom_llm_provider TEXT, mcp_namespaced_tool_name TEXT, endpoint TEXT,
  prompt_tokens BIGINT DEFAULT 0, completion_tokens BIGINT DEFAULT 0, cache_read_input_tokens BIGINT DEFAULT 0,
  cache_creation_input_tokens BIGINT DEFAULT 0, spend DOUBLE PRECISION DEFAULT 0, api_requests BIGINT DEFAULT 0,
  successful_requests BIGINT DEFAULT 0, failed_requests BIGINT DEFAULT 0,
  created_at TIMESTAMP DEFAULT now(), updated_at TIMESTAMP DEFAULT now());
CREATE TABLE "LiteLLM_VerificationToken" (token TEXT PRIMARY KEY, key_alias TEXT, user_id TEXT, team_id TEXT);
"""
# LiteLLM's own indexes (schema.prisma): unique row key, and date / user / api_key / model lookups.
PG_INDEXES = """
CREATE UNIQUE INDEX ON "LiteLLM_DailyUserSpend" (user_id, date, api_key, model, custom_llm_provider, mcp_namespaced_tool_name, endpoint);
CREATE INDEX ON "LiteLLM_DailyUserSpend" (date); CREATE INDEX ON "LiteLLM_DailyUserSpend" (user_id);
CREATE INDEX ON "LiteLLM_DailyUserSpend" (api_key); CREATE INDEX ON "LiteLLM_DailyUserSpend" (model);
ANALYZE;
"""


def pg_query_set(conn, start: date, end: date, f: dict) -> dict:
    t = '"LiteLLM_DailyUserSpend"'
    cond = "date BETWEEN %(a)s AND %(b)s"
    if f.get("providers"):
        cond += " AND custom_llm_provider = ANY(%(providers)s)"
    if f.get("users"):
        cond += " AND user_id = ANY(%(users)s)"
    sums = ", ".join(f"sum({m})" for m in SUMS if m not in ("total_tokens", "total_response_time_ms", "timed_requests"))
    length = (end - start).days + 1
    out = {}
    with conn.cursor() as cur:
        for name, (a, b) in (("current", (start, end)),
                             ("previous", (start - timedelta(days=length), start - timedelta(days=1)))):
            p = {"a": a.isoformat(), "b": b.isoformat(), **f}
            cur.execute(f"SELECT {sums}, count(DISTINCT user_id), count(DISTINCT api_key), count(DISTINCT model) "
                        f"FROM {t} WHERE {cond}", p)
            out[name] = cur.fetchone()
        p = {"a": start.isoformat(), "b": end.isoformat(), **f}
        for col in ("model", "model_group", "custom_llm_provider", "user_id", "api_key"):
            cur.execute(f"SELECT {col}, {sums} FROM {t} WHERE {cond} GROUP BY {col} ORDER BY sum(spend) DESC LIMIT 10", p)
            out[col] = cur.fetchall()
        cur.execute(f"SELECT k.team_id, {sums} FROM {t} s LEFT JOIN \"LiteLLM_VerificationToken\" k ON k.token = s.api_key "
                    f"WHERE {cond.replace('date', 's.date').replace('user_id', 's.user_id')} GROUP BY k.team_id "
                    "ORDER BY sum(spend) DESC LIMIT 10", p)
        out["team"] = cur.fetchall()
        for name, extra in (("daily", ""), ("daily_model", ", model"), ("daily_provider", ", custom_llm_provider")):
            cur.execute(f"SELECT date{extra}, {sums} FROM {t} WHERE {cond} GROUP BY date{extra}", p)
            out[name] = cur.fetchall()
    return out


class ThrowawayPostgres:
    """A PostgreSQL server in a temp dir on a free loopback port (as root: run as the postgres user)."""

    def __init__(self):
        self.bin = next((str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"))[::-1]), None) \
            if Path("/usr/lib/postgresql").exists() else None
        if self.bin is None and shutil.which("initdb"):
            self.bin = str(Path(shutil.which("initdb")).parent)
        self.dir = None

    def _as_pg(self, *cmd):
        if os.geteuid() == 0:
            cmd = ("runuser", "-u", "postgres", "--") + cmd
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

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
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c shared_buffers=1GB "
                    "-c work_mem=256MB -c max_parallel_workers_per_gather=2", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.dir:
            try:
                self._as_pg(f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "stop")
            finally:
                shutil.rmtree(self.dir, ignore_errors=True)


def load_postgres(url: str, base: pd.DataFrame):
    import psycopg
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(PG_DDL)
    cols = ["id", "user_id", "date", "api_key", "model", "model_group", "custom_llm_provider", "endpoint",
            "prompt_tokens", "completion_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "spend",
            "api_requests", "successful_requests", "failed_requests"]
    frame = base.assign(id=np.arange(len(base)).astype(str), date=base["date"].dt.strftime("%Y-%m-%d"),
                        custom_llm_provider=base["provider"], endpoint="/chat/completions")[cols]
    with conn.cursor() as cur:
        with cur.copy(f'COPY "LiteLLM_DailyUserSpend" ({", ".join(cols)}) FROM STDIN') as copy:
            for chunk in range(0, len(frame), 200_000):
                copy.write(frame.iloc[chunk:chunk + 200_000].to_csv(sep="\t", header=False, index=False, na_rep="\\N"))
        keys = base.drop_duplicates("api_key")[["api_key", "key_alias", "user_id", "team_id"]]
        with cur.copy('COPY "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id) FROM STDIN') as copy:
            copy.write(keys.to_csv(sep="\t", header=False, index=False, na_rep="\\N"))
    conn.execute(PG_INDEXES)
    return conn


# -- ingest ---------------------------------------------------------------------------------------------
def time_ingest(base: pd.DataFrame, tmp: Path) -> dict:
    """Parse + merge + write of LiteLLM-shaped pages built from a sample of daily-table rows."""
    from lib.demo import aggregate
    from lib.ingest import merge_results
    from lib.schemas import ActivityPage
    sample = base.sort_values("date").head(min(len(base), 200_000))
    rows = sample.assign(date=sample["date"].dt.strftime("%Y-%m-%d"), custom_llm_provider=sample["provider"],
                         endpoint="/chat/completions").to_dict("records")
    keys = {r["api_key"]: {"alias": r["key_alias"], "user_id": r["user_id"],
                           "team_id": r["team_id"] if isinstance(r["team_id"], str) else None,
                           "user_email": None} for r in rows}
    pages = [json.dumps(aggregate(rows[i:i + 1000], keys)).encode() for i in range(0, len(rows), 1000)]
    store = UsageStore(tmp / "ingest")
    t0 = time.perf_counter()
    results = []
    for body in pages:
        results.extend(ActivityPage.model_validate(json.loads(body)).results)
    t_parse = time.perf_counter() - t0
    tables = merge_results(results)
    t_merge = time.perf_counter() - t0 - t_parse
    written = store.replace_days(tables, {d: "complete" for d in tables}, datetime.now(timezone.utc))
    total = time.perf_counter() - t0
    return {"daily_table_rows": len(rows), "stored_rows": written, "seconds": total, "parse_s": t_parse,
            "merge_s": t_merge, "write_s": total - t_parse - t_merge, "rows_per_s": written / total}


# -- driver -----------------------------------------------------------------------------------------------
def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench")
    ap.add_argument("--rows", type=int, default=1_000_000, help="stored rows to generate (up to 10 million)")
    ap.add_argument("--days", type=int, default=730, help="days of history the rows spread over")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the 90-day figures")
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args(argv)
    log = (lambda *x: print(*x, file=sys.stderr)) if a.json else print
    today = datetime.now(timezone.utc).date()
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    pg = ThrowawayPostgres()
    try:
        t0 = time.perf_counter()
        # ~5 stored rows per daily-table row (one per breakdown), a little less after grouping
        base = daily_table(max(1, a.rows // 5), a.days, today)
        table = store_rows(base)
        while table.num_rows < a.rows * 0.97 and len(base) < a.rows:
            base = daily_table(int(len(base) * a.rows / max(table.num_rows, 1)) + 1, a.days, today)
            table = store_rows(base)
        fill_store(UsageStore(tmp / "store"), table)
        log(f"generated {table.num_rows:,} stored rows ({len(base):,} daily-table rows) over {a.days} days "
            f"in {time.perf_counter() - t0:.1f}s")
        del table
        store = UsageStore(tmp / "store")
        t0 = time.perf_counter()
        store.sync()
        log(f"loaded into DuckDB in {time.perf_counter() - t0:.1f}s")
        users = sorted(base["user_id"].unique())[:3]
        filt = {"providers": ["openai", "anthropic"], "users": users}
        conn, pg_url = None, None
        if not a.no_postgres:
            try:
                pg_url = pg.start()
                if pg_url:
                    t0 = time.perf_counter()
                    conn = load_postgres(pg_url, base)
                    log(f"loaded PostgreSQL (LiteLLM layout + indexes) in {time.perf_counter() - t0:.1f}s")
            except Exception as exc:  # no PostgreSQL here: report null, not a failure
                log(f"PostgreSQL unavailable: {exc}")
                conn = None
        results = {}
        log(f"{'range':>6} {'filters':>8} {'duckdb ms':>10} {'pandas ms':>10} {'postgres ms':>12} {'pd/duck':>8} {'pg/duck':>8}")
        for days in RANGES:
            start, end = today - timedelta(days=days - 1), today
            for name, f in (("none", {}), ("2prov+3u", filt)):
                duck = median_ms(lambda: usage_page_queries(store, start, end, Filters.of(**f)), a.repeat)
                pand = median_ms(lambda: pandas_query_set(base, start, end, f), a.repeat)
                pgms = median_ms(lambda: pg_query_set(conn, start, end, f), max(1, a.repeat // 2)) if conn else None
                results[(days, name)] = (duck, pand, pgms)
                log(f"{days:>5}d {name:>8} {duck:>10.1f} {pand:>10.1f} {pgms if pgms is None else round(pgms, 1)!s:>12} "
                    f"{pand / duck:>7.1f}x {('%.1fx' % (pgms / duck)) if pgms else '-':>8}")
        # correctness: the engines must agree on the 90-day totals
        start = today - timedelta(days=89)
        duck_total = usage_page_queries(store, start, today)["trends"].set_index("metric")["current"]
        pd_total = pandas_query_set(base, start, today, {})["current"]
        ok = duck_total["requests"] == pd_total["api_requests"] and \
            abs(duck_total["spend"] - pd_total["spend"]) <= 1e-6 * max(1.0, pd_total["spend"])
        if conn:
            pg_total = pg_query_set(conn, start, today, {})["current"]
            ok = ok and int(pg_total[0]) == int(duck_total["requests"])
        ingest = time_ingest(base, tmp)
        log(f"ingest: {ingest['stored_rows']:,} stored rows from {ingest['daily_table_rows']:,} daily-table rows in "
            f"{ingest['seconds']:.2f}s = {ingest['rows_per_s']:,.0f} rows/s (parse {ingest['parse_s']:.2f}s, "
            f"merge {ingest['merge_s']:.2f}s, write {ingest['write_s']:.2f}s)")
        duck90, pd90, pg90 = results[(90, "none")]
        summary = {"rows": int(store.query("SELECT count(*) AS n FROM activity")["n"].iloc[0]), "range_days": 90,
                   "duckdb_ms": round(duck90, 1), "pandas_ms": round(pd90, 1),
                   "postgres_ms": None if pg90 is None else round(pg90, 1),
                   "ingest_rows_per_s": round(ingest["rows_per_s"]), "peak_rss_mb": round(peak_rss_mb())}
        if not ok:
            log("ERROR: DuckDB, pandas and PostgreSQL disagree on the 90-day totals")
        log(f"90-day query set: DuckDB {duck90:.1f} ms; pandas {pd90 / duck90:.1f}x slower"
            + (f"; PostgreSQL {pg90 / duck90:.1f}x slower" if pg90 else "; PostgreSQL not measured"))
        if a.json:
            print(json.dumps(summary))
        return 0 if ok else 1
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
