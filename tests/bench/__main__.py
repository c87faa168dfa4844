"""The benchmark's command line: `python -m tests.bench --rows N [--json]` (see tests/bench/__init__.py)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from lib.usage.queries import Filters, usage_page_queries
from tests.bench import __doc__ as BENCH_DOC
from tests.bench.data import PROVIDERS, Dataset, World, build_dataset, make_world
from tests.bench.ingest_timing import time_ingest
from tests.bench.memory import peak_rss_mb
from tests.bench.pandas_usage import PandasUsage
from tests.bench.postgres_usage import PostgresUsage, load_postgres, server_options
from tests.bench.query_timing import HEADLINE_DAYS, RANGES, filter_sets, medians, profile_page, run_rounds
from tests.support.postgres import PostgresServer, PostgresUnavailable


def parse_args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tests.bench", description=BENCH_DOC.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="stored rows to generate (up to 10 million)")
    ap.add_argument("--days", type=int, default=730, help="days of history, ending today (default ~2 years)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per configuration for DuckDB")
    ap.add_argument(
        "--baseline-repeat",
        type=int,
        default=3,
        help="timed runs per configuration for pandas and PostgreSQL (at most --repeat)",
    )
    ap.add_argument(
        "--pg-rows",
        type=int,
        default=2_000_000,
        help="cap of the PostgreSQL dataset in stored-row equivalents; below --rows, DuckDB is "
        "also timed on that smaller dataset so the ratio is like for like",
    )
    ap.add_argument(
        "--pg-jit",
        action="store_true",
        help="turn PostgreSQL's JIT on (default off; it made no difference to these queries here)",
    )
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument(
        "--ingest-rows",
        type=int,
        default=200_000,
        help="daily-table rows in the ingest sample (the most recent days, at most 6 weeks)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the 90-day figures")
    return ap.parse_args(argv)


def baseline_repeat(a) -> int:
    """Rounds of pandas and PostgreSQL: --baseline-repeat, at most --repeat."""
    return max(1, min(a.baseline_repeat, a.repeat))


def log(*x) -> None:
    print(*x, flush=True)


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def describe_data(w: World, ds: Dataset, days: int) -> None:
    s = ds.seconds
    log(
        f"data: {ds.rows:,} stored rows from {len(ds.daily):,} daily-table rows over {days} days "
        f"({len(w.keys):,} keys, {len(w.users)} users, {len(w.teams)} teams, {len(w.models)} models, "
        f"{len(w.groups)} model groups, {len(PROVIDERS)} providers); generated in {s['generate']:.1f}s, "
        f"written with replace_days in {s['write']:.1f}s ({ds.rows / s['write']:,.0f} rows/s); "
        f"bench process peak RSS so far {peak_rss_mb():,.0f} MB"
    )
    log(
        f"DuckDB: fresh UsageStore loaded (sync) in {s['load']:.1f}s; its in-memory tables take "
        f"{s['store_mb']:,.0f} MB (DuckDB's duckdb_memory())"
    )


@dataclass
class PostgresSide:
    """PostgreSQL on LiteLLM's layout: its connection, and the capped dataset it holds (None: the main one)."""

    conn: object
    dataset: Dataset | None


def start_postgres(a, server: PostgresServer, w: World, main_ds: Dataset, today: date, tmp: Path) -> PostgresSide:
    """The same data (or a capped dataset, then DuckDB is timed on it too) in a throwaway PostgreSQL; a connection
    of None when there is none to be had here."""
    try:
        server.start()
    except PostgresUnavailable as exc:
        log(f"PostgreSQL: {exc}; postgres_ms will be null")
        return PostgresSide(None, None)
    pg_ds = None
    try:
        if a.pg_rows < main_ds.rows:
            pg_ds = build_dataset(w, a.pg_rows, a.days, today, a.seed, tmp / "store-pg", with_frame=False, log=log)
            log(
                f"PostgreSQL dataset capped (--pg-rows): {pg_ds.rows:,} stored rows = "
                f"{len(pg_ds.daily):,} daily-table rows; DuckDB is timed on it as well"
            )
        return PostgresSide(load_postgres(server.url() + "/postgres", w, (pg_ds or main_ds).daily, log), pg_ds)
    except Exception as exc:  # no usable PostgreSQL here: report null, not a failure
        log(f"PostgreSQL unavailable ({type(exc).__name__}: {str(exc)[:300]}); postgres_ms will be null")
        return PostgresSide(None, None)


def engines_of(a, store, pand: PandasUsage, pg: PostgresSide) -> list:
    """The engines timed, with their rounds: DuckDB, pandas, and PostgreSQL (+ DuckDB on its capped data)."""
    base_repeat = baseline_repeat(a)
    engines = [
        ("duckdb", lambda s_, e_, f_: usage_page_queries(store, s_, e_, f_), a.repeat),
        ("pandas", pand.page, base_repeat),
    ]
    if pg.conn:
        if pg.dataset:
            engines.append(("duckdb_pg", lambda s_, e_, f_: usage_page_queries(pg.dataset.store, s_, e_, f_), a.repeat))
        engines.append(("postgres", PostgresUsage(pg.conn).page, base_repeat))
    return engines


def warm_up(engines: list, today: date) -> None:
    """First-run costs (imports, caches, PostgreSQL buffers) out of the timed rounds."""
    for _name, fn, _reps in engines:
        fn(today - timedelta(days=364), today, Filters())


def print_query_table(a, results: dict, configs: list, main_ds: Dataset, pg: PostgresSide) -> None:
    pg_data = pg.dataset or main_ds
    log("")
    log(
        f"Usage page query set (overview + trends + 6 breakdowns + 3 daily series + heatmap), ms: medians of "
        f"{a.repeat} runs (pandas, PostgreSQL: {baseline_repeat(a)}); DuckDB and pandas on {main_ds.rows:,} stored rows"
        + (
            f"; PostgreSQL on {len(pg_data.daily):,} LiteLLM_DailyUserSpend rows, the same data as "
            f"{pg_data.rows:,} stored rows" + (" (DuckDB@PG data)" if pg.dataset else "")
            if pg.conn
            else ""
        )
    )
    head = f"{'range':>6}  {'filters':<17}{'DuckDB':>9}{'(min)':>8}{'pandas':>10}{'pandas/DuckDB':>15}"
    if pg.conn:
        head += (f"{'DuckDB@PG data':>16}" if pg.dataset else "") + f"{'PostgreSQL':>12}{'PG/DuckDB':>11}"
    log(head)
    for days, label, _f in configs:
        r = results[(days, label)]
        line = (
            f"{days:>5}d  {label:<17}{r['duckdb']:>9.1f}{r['duckdb_min']:>8.1f}{r['pandas']:>10.1f}"
            f"{r['pandas'] / r['duckdb']:>14.1f}x"
        )
        if pg.conn:
            ref = r["duckdb_pg"] if pg.dataset else r["duckdb"]
            line += (
                f"{r['duckdb_pg']:>16.1f}" if pg.dataset else ""
            ) + f"{r['postgres']:>12.1f}{r['postgres'] / ref:>10.1f}x"
        log(line)


def print_profile(store, filters: list, today: date, repeat: int) -> None:
    log("")
    log(f"DuckDB, {HEADLINE_DAYS}-day query set split by query (medians, ms):")
    for label, f in filters[:2]:
        prof = profile_page(store, today - timedelta(days=HEADLINE_DAYS - 1), today, f, repeat)
        log(f"  filters {label}: " + "; ".join(f"{n} {ms:.1f}" for n, ms in prof))


def print_ingest(ing: dict) -> None:
    log(
        f"ingest (ingest_days, no HTTP; medians of {ing['rounds']}): {ing['stored_rows']:,} stored rows from "
        f"{ing['daily_rows']:,} daily-table rows ({ing['pages']} pages) parsed, merged and written in "
        f"{ing['seconds']:.2f}s = {ing['rows_per_s']:,.0f} stored rows/s ({ing['daily_rows_per_s']:,.0f} "
        f"daily-table rows/s), as the CLI's backfill does; {ing['serving_rows_per_s']:,.0f} stored rows/s when the "
        f"same run also loads the new days into this process's in-memory query tables, as the app does"
    )
    log(
        f"  serial split on {ing['split_daily_rows']:,} daily-table rows = {ing['split_stored_rows']:,} stored rows "
        f"({ing['split_stored_rows'] / ing['serial_s']:,.0f} rows/s): "
        + ", ".join(f"{k} {v:.2f}s ({v / ing['serial_s']:.0%})" for k, v in ing["split"].items())
    )


def summary(results: dict, filters: list, main_ds: Dataset, pg: PostgresSide, ing: dict, ok: bool) -> dict:
    """The JSON line's figures (90 days)."""
    r90 = results[(HEADLINE_DAYS, "none")]
    ref90 = r90["duckdb_pg"] if pg.dataset else r90["duckdb"]
    s = main_ds.seconds
    return {
        "rows": main_ds.rows,
        "range_days": HEADLINE_DAYS,
        "duckdb_ms": round(r90["duckdb"], 1),
        "pandas_ms": round(r90["pandas"], 1),
        "postgres_ms": None if r90["postgres"] is None else round(r90["postgres"], 1),
        "ingest_rows_per_s": round(ing["rows_per_s"]),
        "peak_rss_mb": round(peak_rss_mb()),
        "daily_table_rows": len(main_ds.daily),
        "pg_rows": (pg.dataset or main_ds).rows if r90["postgres"] else None,
        "duckdb_ms_on_pg_rows": round(ref90, 1) if r90["postgres"] else None,
        "duckdb_min_ms": round(r90["duckdb_min"], 1),
        "duckdb_filtered_ms": round(results[(HEADLINE_DAYS, filters[1][0])]["duckdb"], 1),
        "store_mb": round(s["store_mb"]),
        "load_s": round(s["load"], 1),
        "ingest_daily_rows_per_s": round(ing["daily_rows_per_s"]),
        "ingest_serving_rows_per_s": round(ing["serving_rows_per_s"]),
        "answers_agree": ok,
    }


def print_verdict(
    results: dict, main_ds: Dataset, pg: PostgresSide, ing: dict, problems: list[str], t_start: float
) -> None:
    r90 = results[(HEADLINE_DAYS, "none")]
    ref90 = r90["duckdb_pg"] if pg.dataset else r90["duckdb"]
    log("")
    log(
        f"{HEADLINE_DAYS}-day query set at {main_ds.rows:,} rows: DuckDB {r90['duckdb']:.1f} ms median, "
        f"{r90['duckdb_min']:.1f} ms best (target < 300 ms); pandas {r90['pandas']:.1f} ms "
        f"(pandas/DuckDB = {r90['pandas'] / r90['duckdb']:.1f}x)"
        + (
            f"; PostgreSQL {r90['postgres']:.1f} ms vs DuckDB {ref90:.1f} ms on the same "
            f"{(pg.dataset or main_ds).rows:,} rows (PostgreSQL/DuckDB = {r90['postgres'] / ref90:.1f}x, "
            f"target >= 10x)"
            if r90["postgres"]
            else "; PostgreSQL not measured"
        )
    )
    log(
        f"ingest (parse + write) {ing['rows_per_s']:,.0f} stored rows/s (target > 100,000; "
        f"{ing['serving_rows_per_s']:,.0f} with the app's in-memory load); peak RSS of the bench process "
        f"{peak_rss_mb():,.0f} MB (generator, pandas copy, PostgreSQL load and ingest included; the DuckDB "
        f"store's tables {main_ds.seconds['store_mb']:,.0f} MB); "
        f"total {time.perf_counter() - t_start:.0f}s; load average now {load_average()}"
    )
    if problems:
        log(f"ERROR: {len(problems)} answers disagree:")
        for p in problems[:20]:
            log(f"  {p}")
    else:
        log(
            "answers agree: DuckDB = pandas on every configuration"
            + (", = PostgreSQL on LiteLLM's table" if r90["postgres"] else "")
            + ", generated rows = what ingest stores"
        )


def main(argv=None) -> int:
    a = parse_args(argv)
    t_start = time.perf_counter()
    today = datetime.now(timezone.utc).date()
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    server = PostgresServer(tmp / "pg", options=server_options(a.pg_jit))
    try:
        log(
            f"machine: {os.cpu_count()} CPUs, load average {load_average()}; "
            f"DuckDB {duckdb.__version__}, pandas {pd.__version__}"
        )
        w = make_world(a.seed)
        main_ds = build_dataset(w, a.rows, a.days, today, a.seed, tmp / "store", with_frame=True, log=log)
        describe_data(w, main_ds, a.days)
        store, daily = main_ds.store, main_ds.daily
        filters = filter_sets(w, daily)
        pg = PostgresSide(None, None) if a.no_postgres else start_postgres(a, server, w, main_ds, today, tmp)
        engines = engines_of(a, store, PandasUsage(main_ds.frame), pg)
        warm_up(engines, today)

        configs = [(days, label, f) for days in RANGES for label, f in filters]
        log("")
        log(f"timing {len(configs)} configurations x {len(engines)} engines in {a.repeat} rounds ...")
        times, problems = run_rounds(engines, configs, a.repeat, today, log)
        results = medians(times, engines, configs)
        print_query_table(a, results, configs, main_ds, pg)
        print_profile(store, filters, today, a.repeat)

        # free the baselines' memory before timing ingest
        main_ds.frame = engines = None
        if pg.dataset:
            pg.dataset.store.close()
        gc.collect()
        if pg.conn:
            pg.conn.close()
        server.stop()

        log("")
        ing = time_ingest(w, daily, store, a.ingest_rows, tmp, log)
        problems += ing["problems"]
        print_ingest(ing)
        print_verdict(results, main_ds, pg, ing, problems, t_start)
        if a.json:
            print(json.dumps(summary(results, filters, main_ds, pg, ing, not problems)), flush=True)
        return 1 if problems else 0
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
