"""Cross-checks of the engines' answers: DuckDB = pandas, DuckDB = PostgreSQL where LiteLLM's table answers the
same way, and the generated stored rows = what ingest stores. Differences are returned as lines to print."""

from __future__ import annotations

from datetime import date

import numpy as np

from lib.usage.queries import KEY_COLUMNS, PAGE_BREAKDOWNS
from lib.usage.store import UsageStore

OVERVIEW_CHECK = [
    "requests",
    "successful_requests",
    "failed_requests",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "spend",
    "active_users",
    "active_keys",
    "active_models",
]
VALUE_CHECK = ["requests", "successful_requests", "prompt_tokens", "completion_tokens", "spend"]


def _vals(row) -> tuple:
    return tuple(float(row[m]) for m in VALUE_CHECK)


def canon(out: dict) -> dict:
    """Answers of usage_page_queries (or PandasUsage.page) reduced to comparable dicts."""
    c: dict = {}
    t = out["trends"].set_index("metric")
    c["overview"] = {m: (t.at[m, "current"], t.at[m, "previous"]) for m in OVERVIEW_CHECK}
    for by in PAGE_BREAKDOWNS:
        df = out[by]
        c[by] = (
            "error"
            if isinstance(df, Exception)
            else {str(k): _vals(r) for k, r in zip(df[KEY_COLUMNS[by][0]], df.to_dict("records"))}
        )
    for name, key in (("daily", None), ("daily_by_model", "model"), ("daily_by_provider", "provider")):
        df = out[name]
        c[name] = {
            (str(r["date"]), r[key]) if key else str(r["date"]): _vals(r)
            for r in df.to_dict("records")
            if r["requests"]
        }
    return c


def canon_pg(out: dict) -> dict:
    o = out["overview"]
    c: dict = {"overview": {m: (o["c_" + m], o["p_" + m]) for m in OVERVIEW_CHECK}}
    for by in PAGE_BREAKDOWNS:
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
                shown = [v if isinstance(v, str) else "answer" for v in (x, y)]
                problems.append(f"{section}: {shown[0]} vs {shown[1]}")
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
    sql = (
        "SELECT date, dim, count(*) AS n, count(DISTINCT value) AS nv, count(DISTINCT api_key) AS nk, "
        "count(*) FILTER (WHERE provider IS NULL) AS no_provider, count(DISTINCT provider) AS np, "
        "count(DISTINCT team_id) AS nt, count(DISTINCT user_email) AS ne, sum(api_requests) AS req, "
        "sum(total_tokens) AS tok, sum(spend) AS spend, sum(total_response_time_ms) AS ms "
        "FROM activity WHERE date BETWEEN ? AND ? GROUP BY 1, 2 ORDER BY 1, 2"
    )
    a, b = bench.query(sql, [lo, hi]), ingested.query(sql, [lo, hi])
    if len(a) != len(b) or not (a[["date", "dim"]].values == b[["date", "dim"]].values).all():
        return [f"generated vs ingested: different (date, breakdown) sets ({len(a)} vs {len(b)})"]
    bad = [
        f"generated vs ingested {r.date} {r.dim} {col}: {getattr(r, col)} vs {b.at[i, col]}"
        for i, r in enumerate(a.itertuples())
        for col in ("n", "nv", "nk", "no_provider", "np", "nt", "ne", "req", "tok", "spend", "ms")
        if not _close(getattr(r, col), b.at[i, col])
    ]
    return bad[:5]
