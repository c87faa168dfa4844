"""Keys joined with their usage from the usage store (requests, spend, success rate, daily trend, last active).

The store knows a key by its hash, which is LiteLLM's `token`, so the join is exact; a key with no stored usage
gets zero requests and spend, no success rate, and a flat trend.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from lib.usage.queries import Filters, api_key_daily_requests, api_key_last_active, breakdown
from lib.usage.store import UsageStore

USAGE_COLUMNS = ["requests", "range_spend", "success_rate", "trend", "last_active"]


def key_usage(store: UsageStore, start: date, end: date) -> pd.DataFrame:
    """Per API key hash (the index): requests, spend and success rate over [start, end], requests per day of the
    range (a list, zeros included, oldest first) and the last day with requests in all stored history. Kept
    until the stored data changes (the page asks again on every rerun)."""
    return store.cached(("key_usage", start, end), lambda: _key_usage(store, start, end))


def _key_usage(store: UsageStore, start: date, end: date) -> pd.DataFrame:
    totals = breakdown(store, start, end, Filters(), by="api_key")[["api_key", "requests", "spend", "success_rate"]]
    totals = totals.rename(columns={"spend": "range_spend"}).set_index("api_key")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    daily = api_key_daily_requests(store, start, end)
    if len(daily):
        grid = daily.pivot_table(index="api_key", columns="date", values="requests", aggfunc="sum", fill_value=0)
        grid = grid.reindex(columns=days, fill_value=0)
        trend = pd.Series([[int(x) for x in row] for row in grid.to_numpy()], index=grid.index, dtype=object)
    else:
        trend = pd.Series(dtype=object)
    out = totals.join(trend.rename("trend"), how="outer")
    out = out.join(api_key_last_active(store).set_index("api_key"), how="outer")
    out.attrs["days"] = len(days)
    return out


def with_usage(keys: pd.DataFrame, usage: pd.DataFrame) -> pd.DataFrame:
    """`keys` (lib.keys.records.COLUMNS) with USAGE_COLUMNS from `key_usage`."""
    joined = keys.join(usage[USAGE_COLUMNS], on="token")
    flat = [0] * usage.attrs.get("days", 0)
    joined["requests"] = joined["requests"].fillna(0).astype("int64")
    joined["range_spend"] = joined["range_spend"].fillna(0.0).astype("float64")
    joined["success_rate"] = joined["success_rate"].astype("float64")
    joined["trend"] = [t if isinstance(t, list) else list(flat) for t in joined["trend"]]
    joined["last_active"] = pd.to_datetime(joined["last_active"]).dt.date
    return joined
