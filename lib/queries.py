"""Analytics over the usage store: overview, trends, breakdowns, daily series, heatmap.

Every function takes a date range (UTC days, inclusive, unlimited) and `Filters`, and returns a
DataFrame (or a dict for the overview). Filters on API keys, users and teams are exact on every view,
because every stored row carries its API key and the key's owner and team. Filters and views that
cross breakdowns (a provider filter on a model-group view) use the attribution rule in lib/ingest.py,
and the result says so in `.attrs["note"]`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pandas as pd

from lib.ingest import PROVIDER_RULE
from lib.store import UsageStore

BREAKDOWNS = ("daily", "model", "model_group", "provider", "user", "api_key", "team")
SUM_METRICS = ["api_requests", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens",
               "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "spend"]
# Metric columns every breakdown and export row carries, in this order.
ROW_METRICS = ["requests", "successful_requests", "failed_requests", "success_rate", "prompt_tokens",
               "completion_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
               "spend", "avg_latency_ms"]
TREND_METRICS = ROW_METRICS + ["active_users", "active_keys", "active_models"]
STABLE_PCT = 1.0
NO_TEAM = "(no team)"
NO_USER = "(no user)"
UNATTRIBUTED = "unattributed"
UNKNOWN_KEY = "(unattributed)"


class QueryError(ValueError):
    """The question cannot be answered exactly from LiteLLM's data, or is malformed; message says why."""


@dataclass(frozen=True)
class Filters:
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()     # hashes (resolve aliases with resolve_api_keys)
    teams: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"models": list(self.models), "providers": list(self.providers), "users": list(self.users),
                "api_keys": list(self.api_keys), "teams": list(self.teams)}

    @classmethod
    def of(cls, **kw) -> "Filters":
        return cls(**{k: tuple(sorted(set(v or ()))) for k, v in kw.items()})


# -- planning -------------------------------------------------------------------------------------
_NATURAL_BASE = {None: "api_key", "daily": "api_key", "model": "model", "model_group": "model_group",
                 "provider": "provider", "user": "user", "api_key": "api_key", "team": "api_key"}


def _plan(by: str | None, f: Filters) -> tuple[str, str | None]:
    """Which stored breakdown answers the question exactly, and a note if only by attribution."""
    if by is not None and by not in BREAKDOWNS:
        raise QueryError(f"unknown breakdown {by!r}; choose one of {', '.join(BREAKDOWNS)}")
    if f.models:
        if by == "model_group":
            raise QueryError("A model-group view cannot be filtered by underlying model: LiteLLM reports no "
                             "model x model-group split. Clear the model filter to see model groups.")
        return "model", None
    if f.providers:
        if by == "model_group":
            return "model_group", PROVIDER_RULE
        return ("model", None) if by == "model" else ("provider", None)
    if f.users and by in (None, "daily", "user", "api_key", "team"):
        return "user", None
    return _NATURAL_BASE[by], None


def check_breakdown(by: str, f: Filters) -> None:
    """Raise QueryError if this breakdown cannot be answered under these filters."""
    _plan(by, f)


def _where(base: str, f: Filters, start: date, end: date) -> tuple[str, list]:
    sql = ["date BETWEEN ? AND ?", "dim = ?"]
    params: list = [start, end, base]

    def cond(column: str, values: tuple) -> None:
        sql.append(f"list_contains(?::VARCHAR[], {column})")
        params.append(list(values))

    if f.models:
        cond("value", f.models)
    if f.providers:
        cond("value" if base == "provider" else "provider", f.providers)
    if f.users:
        cond("value" if base == "user" else "key_user_id", f.users)
    if f.api_keys:
        cond("api_key", f.api_keys)
    if f.teams:
        cond("team_id", f.teams)
    return " AND ".join(sql), params


def _user_expr(base: str) -> str:
    return "value" if base == "user" else "key_user_id"


_AGG = ", ".join(f"sum({m})::{'DOUBLE' if m == 'spend' else 'BIGINT'} AS {m}" for m in SUM_METRICS) + \
    ", sum(total_response_time_ms)::DOUBLE AS total_response_time_ms, sum(timed_requests)::BIGINT AS timed_requests"


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Derived metrics, in the export column order after the key columns."""
    df = df.rename(columns={"api_requests": "requests"})
    for m in ["requests", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens",
              "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "timed_requests"]:
        df[m] = df[m].fillna(0).astype("int64")
    df["spend"] = df["spend"].fillna(0.0).astype(float)
    req = df["requests"].where(df["requests"] > 0)
    df["success_rate"] = (df["successful_requests"] / req * 100).astype(float)
    timed = df["timed_requests"].where(df["timed_requests"] > 0)
    df["avg_latency_ms"] = (df["total_response_time_ms"].astype(float) / timed).astype(float)
    return df


# -- overview and trends ----------------------------------------------------------------------------
def overview(store: UsageStore, start: date, end: date, f: Filters = Filters()) -> dict:
    base, note = _plan(None, f)
    where, params = _where(base, f, start, end)
    user = _user_expr(base)
    df = store.query(
        f"SELECT {_AGG}, count(DISTINCT {user}) FILTER (WHERE api_requests > 0) AS active_users, "
        f"count(DISTINCT api_key) FILTER (WHERE api_requests > 0) AS active_keys FROM activity WHERE {where}", params)
    mwhere, mparams = _where("model", f, start, end)
    models = store.query(f"SELECT count(DISTINCT value) AS n FROM activity WHERE {mwhere} AND api_requests > 0",
                         mparams)
    df = _finish(df)
    row = {c: _scalar(df[c].iloc[0]) for c in df.columns}
    out = {m: row[m] for m in ROW_METRICS}
    out["active_users"] = int(row["active_users"] or 0)
    out["active_keys"] = int(row["active_keys"] or 0)
    out["active_models"] = int(models.iloc[0]["n"] or 0)
    out["total_response_time_ms"] = float(row["total_response_time_ms"] or 0)
    out["timed_requests"] = int(row["timed_requests"])
    if note:
        out["note"] = note
    return out


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length ending the day before `start`."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def trend(current: float | None, previous: float | None) -> tuple[float | None, str]:
    """Percentage change and direction: up, down, stable (within ±1 %), or new / none."""
    if current is None or previous is None or pd.isna(current) or pd.isna(previous):
        return None, "none"
    if previous == 0:
        return (None, "stable") if current == 0 else (None, "new")
    pct = (current - previous) / abs(previous) * 100
    if abs(pct) <= STABLE_PCT:
        return pct, "stable"
    return pct, "up" if pct > 0 else "down"


def trends(store: UsageStore, start: date, end: date, f: Filters = Filters()) -> pd.DataFrame:
    cur = overview(store, start, end, f)
    pstart, pend = previous_period(start, end)
    prev = overview(store, pstart, pend, f)
    rows = []
    for m in TREND_METRICS:
        pct, direction = trend(cur[m], prev[m])
        rows.append({"metric": m, "current": cur[m], "previous": prev[m], "change_pct": pct, "direction": direction})
    df = pd.DataFrame(rows)
    df.attrs["previous_period"] = (pstart, pend)
    return df


# -- breakdowns ---------------------------------------------------------------------------------------
def _key_columns(by: str, base: str) -> tuple[list[str], list[str]]:
    """(SELECT expressions of the breakdown's key columns, their GROUP BY expressions)."""
    if by == "daily":
        return ["date"], ["date"]
    if by in ("model", "model_group"):
        return [f"value AS {by}"], ["value"]
    if by == "provider":
        expr = "value" if base == "provider" else f"coalesce(provider, '{UNATTRIBUTED}')"
        return [f"{expr} AS provider"], [expr]
    if by == "user":
        expr = f"coalesce({_user_expr(base)}, '{NO_USER}')"
        return [f"{expr} AS user_id", "max(user_email) AS user_email"], [expr]
    if by == "api_key":
        expr = f"coalesce(api_key, '{UNKNOWN_KEY}')"
        return [f"{expr} AS api_key", "max(key_alias) AS key_alias", "max(key_user_id) AS owner",
                "max(team_id) AS team", "max(date) FILTER (WHERE api_requests > 0) AS last_active"], [expr]
    if by == "team":
        expr = f"coalesce(team_id, '{NO_TEAM}')"
        return [f"{expr} AS team"], [expr]
    raise QueryError(f"unknown breakdown {by!r}")


KEY_COLUMNS = {"daily": ["date"], "model": ["model"], "model_group": ["model_group"], "provider": ["provider"],
               "user": ["user_id", "user_email"], "api_key": ["api_key", "key_alias", "owner", "team", "last_active"],
               "team": ["team"]}


def breakdown(store: UsageStore, start: date, end: date, f: Filters = Filters(), by: str = "model",
              top_n: int | None = None, sort_by: str = "spend") -> pd.DataFrame:
    """One row per value of `by`, with ROW_METRICS; sorted by `sort_by` (daily: by date)."""
    base, note = _plan(by, f)
    where, params = _where(base, f, start, end)
    select, group = _key_columns(by, base)
    df = store.query(f"SELECT {', '.join(select)}, {_AGG} FROM activity WHERE {where} "
                     f"GROUP BY {', '.join(group)}", params)
    df = _finish(df)
    if by == "daily":
        df["date"] = pd.to_datetime(df["date"]).dt.date
        df = df.sort_values("date")
    else:
        if by == "api_key":
            df["last_active"] = pd.to_datetime(df["last_active"]).dt.date
        order = "requests" if sort_by not in df.columns else sort_by
        df = df.sort_values([order, KEY_COLUMNS[by][0]], ascending=[False, True])
        if top_n:
            df = df.head(top_n)
    df = df[KEY_COLUMNS[by] + ROW_METRICS].reset_index(drop=True)
    if note:
        df.attrs["note"] = note
    return df


def totals(store: UsageStore, start: date, end: date, f: Filters = Filters(), by: str = "daily") -> dict:
    """ROW_METRICS over exactly the stored rows that `breakdown(..., by=by)` groups."""
    base, _ = _plan(by, f)
    where, params = _where(base, f, start, end)
    df = _finish(store.query(f"SELECT {_AGG} FROM activity WHERE {where}", params))
    return {m: _scalar(df[m].iloc[0]) for m in ROW_METRICS}


def _scalar(v):
    if pd.isna(v):
        return None
    return v.item() if hasattr(v, "item") else v


def daily_series(store: UsageStore, start: date, end: date, f: Filters = Filters(),
                 split_by: str | None = None) -> pd.DataFrame:
    """Per-day metrics, optionally per model or per provider (long format), every day of the range present."""
    if split_by not in (None, "model", "provider", "model_group"):
        raise QueryError(f"daily series can be split by model, model_group or provider, not {split_by!r}")
    base, note = _plan(split_by or "daily", f)
    where, params = _where(base, f, start, end)
    if split_by:
        select, group = _key_columns(split_by, base)
        df = store.query(f"SELECT date, {select[0]}, {_AGG} FROM activity WHERE {where} "
                         f"GROUP BY date, {group[0]} ORDER BY date", params)
    else:
        df = store.query(f"SELECT date, {_AGG} FROM activity WHERE {where} GROUP BY date ORDER BY date", params)
        days = pd.DataFrame({"date": pd.date_range(start, end, freq="D").date})
        df["date"] = pd.to_datetime(df["date"]).dt.date
        df = days.merge(df, on="date", how="left")
    df = _finish(df)
    df["date"] = pd.to_datetime(df["date"]).dt.date
    keys = ["date"] + ([split_by] if split_by else [])
    df = df[keys + ROW_METRICS].reset_index(drop=True)
    if note:
        df.attrs["note"] = note
    return df


def weekday_heatmap(store: UsageStore, start: date, end: date, f: Filters = Filters(),
                    metric: str = "requests") -> pd.DataFrame:
    """Grid of weekday (rows, Monday first) x ISO week start (columns) for one metric."""
    if metric not in ROW_METRICS:
        raise QueryError(f"unknown metric {metric!r}")
    daily = daily_series(store, start, end, f)
    if daily.empty:
        return pd.DataFrame()
    d = pd.to_datetime(daily["date"])
    daily = daily.assign(week=(d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.date, weekday=d.dt.day_name())
    grid = daily.pivot_table(index="weekday", columns="week", values=metric, aggfunc="sum")
    order = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return grid.reindex([w for w in order if w in grid.index])


# -- filter options ----------------------------------------------------------------------------------
def filter_options(store: UsageStore, start: date | None = None, end: date | None = None,
                   owner: str | None = None) -> dict[str, pd.DataFrame | list[str]]:
    """Values to offer in filter widgets; with `owner`, only what that LiteLLM user's keys touched."""
    cond, params = [], []
    if start and end:
        cond.append("date BETWEEN ? AND ?")
        params += [start, end]
    if owner is not None:
        cond.append("key_user_id = ?")
        params.append(owner)
    extra = "".join(f" AND {c}" for c in cond)

    def values(dim: str) -> list[str]:
        df = store.query(f"SELECT DISTINCT value FROM activity WHERE dim = ? AND value IS NOT NULL{extra} ORDER BY 1",
                         [dim] + params)
        return df["value"].tolist()
    keys = store.query("SELECT api_key, max(key_alias) AS key_alias, max(key_user_id) AS owner FROM activity "
                       f"WHERE dim = 'api_key' AND api_key IS NOT NULL{extra} "
                       "GROUP BY api_key ORDER BY coalesce(max(key_alias), api_key)", params)
    teams = store.query(f"SELECT DISTINCT team_id FROM activity WHERE team_id IS NOT NULL{extra} ORDER BY 1", params)
    return {"models": values("model"), "model_groups": values("model_group"), "providers": values("provider"),
            "users": values("user"), "teams": teams["team_id"].tolist(), "api_keys": keys}


def resolve_api_keys(store: UsageStore, keys_or_aliases: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Map aliases to hashes (a hash passes through). Unknown names raise QueryError."""
    if not keys_or_aliases:
        return ()
    known = store.query("SELECT DISTINCT api_key, key_alias FROM activity WHERE dim = 'api_key' AND api_key IS NOT NULL")
    hashes = set(known["api_key"])
    by_alias: dict[str, set] = {}
    for h, a in zip(known["api_key"], known["key_alias"]):
        if a is not None:
            by_alias.setdefault(a, set()).add(h)
    out: set[str] = set()
    for k in keys_or_aliases:
        if k in hashes:
            out.add(k)
        elif k in by_alias:
            out |= by_alias[k]
        else:
            raise QueryError(f"unknown API key or alias {k!r}")
    return tuple(sorted(out))


def usage_page_queries(store: UsageStore, start: date, end: date, f: Filters = Filters()) -> dict:
    """The whole Usage page's question set (also what the benchmark times)."""
    out: dict = {"trends": trends(store, start, end, f)}
    for by in ("model", "model_group", "provider", "user", "api_key", "team"):
        try:
            out[by] = breakdown(store, start, end, f, by=by, top_n=10)
        except QueryError as exc:
            out[by] = exc
    out["daily"] = daily_series(store, start, end, f)
    out["daily_by_model"] = daily_series(store, start, end, f, split_by="model")
    out["daily_by_provider"] = daily_series(store, start, end, f, split_by="provider")
    out["heatmap"] = weekday_heatmap(store, start, end, f)
    return out
