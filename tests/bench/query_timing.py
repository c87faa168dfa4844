"""Timing the Usage page's query set: every range with and without filters, engine after engine in rounds, the
answers of the first round cross-checked; and DuckDB's time split by query."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from lib.usage.queries import PAGE_BREAKDOWNS, Filters, breakdown, daily_series, trends
from lib.usage.store import UsageStore
from tests.bench.answers import canon, canon_pg, compare
from tests.bench.data import Daily, World
from tests.bench.memory import peak_rss_mb, rss_mb

RANGES = (7, 30, 90, 365)
HEADLINE_DAYS = 90


def filter_sets(w: World, daily: Daily) -> list[tuple[str, Filters]]:
    """No filter; openai + anthropic and the 3 busiest users; the busiest model."""
    req = daily.metrics["api_requests"]
    top_users = np.argsort(-np.bincount(w.key_user[daily.key], weights=req, minlength=len(w.users)))[:3]
    top_model = int(np.argmax(np.bincount(w.route_model[daily.route], weights=req, minlength=len(w.models))))
    return [
        ("none", Filters()),
        ("2 prov + 3 users", Filters.of(providers=["openai", "anthropic"], users=[w.users[u] for u in top_users])),
        ("1 model", Filters.of(models=[w.models[top_model]])),
    ]


# An engine: its name, the query set as a function of (start, end, filters), and how many rounds it runs.
Engine = tuple[str, Callable[[date, date, Filters], dict], int]


def run_rounds(
    engines: list[Engine], configs: list[tuple[int, str, Filters]], rounds: int, today: date, log=print
) -> tuple[dict, list[str]]:
    """Each round runs every configuration once per engine, back to back, so the engines of one configuration
    see the same machine load. Returns the times (ms) per (engine, (days, label)) and the differences found
    between the engines' answers of round 0."""
    times: dict = {(e[0], c[:2]): [] for e in engines for c in configs}
    problems: list[str] = []
    for rnd in range(rounds):
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
                problems += cross_check(answers, days, label, f)
        log(
            f"  round {rnd + 1}/{rounds}: {time.perf_counter() - t_round:.0f}s; RSS {rss_mb():,.0f} MB, "
            f"peak {peak_rss_mb():,.0f} MB; load average {os.getloadavg()[0]:.1f}"
        )
    return times, problems


def cross_check(answers: dict, days: int, label: str, f: Filters) -> list[str]:
    """pandas against DuckDB; PostgreSQL against DuckDB on PostgreSQL's dataset ("duckdb_pg" when it is capped)."""
    duck_c = canon(answers["duckdb"])
    problems = [f"pandas {days}d {label}: {p}" for p in compare(duck_c, canon(answers["pandas"]))]
    if "postgres" in answers:
        ref_c = canon(answers["duckdb_pg"]) if "duckdb_pg" in answers else duck_c
        # a provider filter on model groups is answered by attribution in the store, exactly in PostgreSQL
        skip = ("model_group",) if f.providers else ()
        problems += [f"PostgreSQL {days}d {label}: {p}" for p in compare(ref_c, canon_pg(answers["postgres"]), skip)]
    return problems


def medians(times: dict, engines: list[Engine], configs: list[tuple[int, str, Filters]]) -> dict:
    """Per (days, label): each engine's median ms, and DuckDB's best run."""
    results: dict = {}
    for days, label, _f in configs:
        r = {name: statistics.median(times[(name, (days, label))]) for name, _fn, _r in engines}
        results[(days, label)] = {
            "duckdb": r["duckdb"],
            "duckdb_min": min(times[("duckdb", (days, label))]),
            "pandas": r["pandas"],
            "postgres": r.get("postgres"),
            "duckdb_pg": r.get("duckdb_pg"),
        }
    return results


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


def profile_page(store: UsageStore, start: date, end: date, f: Filters, repeat: int) -> list[tuple[str, float]]:
    """Median ms of each query of usage_page_queries."""
    steps = [("trends (overview, 2 periods)", lambda: trends(store, start, end, f))]
    steps += [
        (f"breakdown {by}", lambda by=by: breakdown(store, start, end, f, by=by, top_n=10))
        for by in PAGE_BREAKDOWNS
        if not (by == "model_group" and f.models)
    ]
    steps += [
        ("daily series", lambda: daily_series(store, start, end, f)),
        ("daily series by model", lambda: daily_series(store, start, end, f, split_by="model")),
        ("daily series by provider", lambda: daily_series(store, start, end, f, split_by="provider")),
        ("store.query('SELECT 1') (fixed cost per query)", lambda: store.query("SELECT 1 AS x")),
    ]
    return [(name, timed(fn, repeat)[0]) for name, fn in steps]
