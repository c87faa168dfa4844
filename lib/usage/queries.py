"""Analytics over the usage store: overview, trends, breakdowns, daily series, heatmap.

Every function takes a date range (UTC days, inclusive, unlimited) and `Filters`, and returns a
DataFrame (or a dict for the overview). Filters on API keys, users and teams are exact on every view,
because every stored row carries its API key and the key's owner and team. Filters and views that
cross breakdowns (a provider filter on a model-group view) use the attribution rule in lib/usage/ingest.py,
and the result says so in `.attrs["note"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from lib.core.errors import ConsoleError
from lib.usage.ingest import PROVIDER_RULE
from lib.usage.store import METRICS, ROLLUP_DIMS, UsageStore, metric_sums, metric_type, total_of

BREAKDOWNS = ("daily", "model", "model_group", "provider", "user", "api_key", "team")
PAGE_BREAKDOWNS = BREAKDOWNS[1:]  # the Usage page's breakdown tables (usage_page_queries)
# Metric columns every breakdown and export row carries, in this order.
ROW_METRICS = [
    "requests",
    "successful_requests",
    "failed_requests",
    "success_rate",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "spend",
    "avg_latency_ms",
]
TREND_METRICS = ROW_METRICS + ["active_users", "active_keys", "active_models"]
STABLE_PCT = 1.0
NO_TEAM = "(no team)"
NO_USER = "Unassigned"  # LiteLLM's own user (entity) for traffic of a key that has no owner
UNATTRIBUTED = "unattributed"
UNKNOWN_KEY = "(unattributed)"


class QueryError(ConsoleError, ValueError):
    """The question cannot be answered exactly from LiteLLM's data, or is malformed; message says why."""


@dataclass(frozen=True)
class Filters:
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()  # hashes (resolve aliases with resolve_api_keys)
    teams: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "models": list(self.models),
            "providers": list(self.providers),
            "users": list(self.users),
            "api_keys": list(self.api_keys),
            "teams": list(self.teams),
        }

    @classmethod
    def of(cls, **kw) -> Filters:
        return cls(**{k: tuple(sorted(set(v or ()))) for k, v in kw.items()})


# -- planning -------------------------------------------------------------------------------------
_NATURAL_BASE = {
    None: "api_key",
    "daily": "api_key",
    "model": "model",
    "model_group": "model_group",
    "provider": "provider",
    "user": "user",
    "api_key": "api_key",
    "team": "api_key",
}


def plan(by: str | None, f: Filters) -> tuple[str, str | None]:
    """Which stored breakdown (`dim`) answers breakdown `by` (None: the overview) under filters `f` exactly,
    and a note when only by attribution. Raises QueryError when no stored breakdown can (the benchmark's
    pandas and PostgreSQL answers follow the same plan)."""
    if by is not None and by not in BREAKDOWNS:
        raise QueryError(f"unknown breakdown {by!r}; choose one of {', '.join(BREAKDOWNS)}")
    if f.models:
        if by == "model_group":
            raise QueryError(
                "A model-group view cannot be filtered by underlying model: LiteLLM reports no "
                "model x model-group split. Clear the model filter to see model groups."
            )
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
    plan(by, f)


def _source(base: str, f: Filters, keys: bool = False) -> str:
    """The in-memory table holding `base` rows: its per-day rollup unless the question needs the API-key
    columns (a user, key or team filter, or key-level results)."""
    if base in ROLLUP_DIMS and not keys and not (f.users or f.api_keys or f.teams):
        return f"rollup_{base}"
    return f"activity_{base}"


def _where(base: str, f: Filters, start: date, end: date) -> tuple[str, list]:
    sql = ["date BETWEEN ? AND ?"]
    params: list = [start, end]

    def cond(column: str, values: tuple) -> None:
        sql.append(f"{column} IN ({', '.join('?' * len(values))})")  # an IN list is hashed, list_contains is not
        params.extend(values)

    if f.models:
        cond("value", f.models)
    if f.providers:
        cond("value" if base == "provider" else "provider", f.providers)
    if f.users:
        cond(_user_expr(base), f.users)
    if f.api_keys:
        cond("api_key", f.api_keys)
    if f.teams:
        cond("team_id", f.teams)
    return " AND ".join(sql), params


def _user_expr(base: str) -> str:
    """The user of a row: LiteLLM's entity on the user view; elsewhere the key's owner, named as LiteLLM names it
    when the key has none, so that counts and filters agree whichever view answers them."""
    return "value" if base == "user" else f"coalesce(key_user_id, '{NO_USER}')"


def _agg(cond: str = "") -> str:
    """SQL of every metric (sums, success rate, average latency), optionally over `FILTER (WHERE cond)` rows."""

    def total(m: str) -> str:
        return total_of(m, where=cond)

    sums = [f"coalesce({total(m)}, 0)::{metric_type(m)} AS {'requests' if m == 'api_requests' else m}" for m in METRICS]
    return ", ".join(
        sums
        + [
            f"({total('successful_requests')} * 100.0 / nullif({total('api_requests')}, 0))::DOUBLE AS success_rate",
            f"({total('total_response_time_ms')} / nullif({total('timed_requests')}, 0))::DOUBLE AS avg_latency_ms",
        ]
    )


_AGG = _agg()


# -- overview and trends ----------------------------------------------------------------------------
def _overviews(store: UsageStore, periods: list[tuple[date, date]], f: Filters) -> list[dict]:
    """Overview of several periods: the sums in one scan (of a rollup where possible), the distinct
    active users, keys and models in one more scan each."""
    base, note = plan(None, f)
    lo, hi = min(p[0] for p in periods), max(p[1] for p in periods)
    where, params = _where(base, f, lo, hi)
    mwhere, mparams = _where("model", f, lo, hi)
    within = [f"date BETWEEN DATE '{a.isoformat()}' AND DATE '{b.isoformat()}'" for a, b in periods]
    sums = ", ".join(_agg(w).replace(" AS ", f" AS p{i}_") for i, w in enumerate(within))
    row = store.query(f"SELECT {sums} FROM {_source(base, f)} WHERE {where}", params).iloc[0]
    # distinct counts: one row per (period, user, key) first, so each count is over a small set
    period = "CASE " + " ".join(f"WHEN {w} THEN {i}" for i, w in enumerate(within)) + " END"
    active = store.query(
        f"SELECT p, count(DISTINCT u) AS users, count(DISTINCT k) AS keys FROM (SELECT DISTINCT {period} AS p, "
        f"{_user_expr(base)} AS u, api_key AS k FROM activity_{base} WHERE {where} AND api_requests > 0) "
        "WHERE p IS NOT NULL GROUP BY p",
        params,
    ).set_index("p")
    models = store.query(
        f"SELECT p, count(DISTINCT value) AS n FROM (SELECT {period} AS p, value FROM {_source('model', f)} "
        f"WHERE {mwhere} AND api_requests > 0) WHERE p IS NOT NULL GROUP BY p",
        mparams,
    ).set_index("p")
    out = []
    for i in range(len(periods)):
        o = {m: _scalar(row[f"p{i}_{m}"]) for m in ROW_METRICS}
        o["active_users"] = int(active["users"].get(i, 0))
        o["active_keys"] = int(active["keys"].get(i, 0))
        o["active_models"] = int(models["n"].get(i, 0))
        o["total_response_time_ms"] = float(row[f"p{i}_total_response_time_ms"])
        o["timed_requests"] = int(row[f"p{i}_timed_requests"])
        if note:
            o["note"] = note
        out.append(o)
    return out


def overview(store: UsageStore, start: date, end: date, f: Filters = Filters()) -> dict:
    return _overviews(store, [(start, end)], f)[0]


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


def trends(
    store: UsageStore, start: date, end: date, f: Filters = Filters(), whole: tuple[date, date] | None = None
) -> pd.DataFrame:
    """Each metric over [start, end] (`current`) and its trend: `whole` (default: the range itself; the page
    passes the range's whole days, lib.usage.periods.comparison) against as many days just before it: `compared`
    and `previous` are the metric over those two, `change_pct` and `direction` the change between them."""
    whole = tuple(whole) if whole else (start, end)
    pstart, pend = previous_period(*whole)
    if whole == (start, end):
        cur, prev = _overviews(store, [(start, end), (pstart, pend)], f)
        now = cur
    else:
        cur, now, prev = _overviews(store, [(start, end), whole, (pstart, pend)], f)
    rows = []
    for m in TREND_METRICS:
        pct, direction = trend(now[m], prev[m])
        rows.append(
            {
                "metric": m,
                "current": cur[m],
                "compared": now[m],
                "previous": prev[m],
                "change_pct": pct,
                "direction": direction,
            }
        )
    df = pd.DataFrame(rows)
    df.attrs["previous_period"] = (pstart, pend)
    df.attrs["compared_period"] = whole
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
        expr = _user_expr(base)
        return [f"{expr} AS user_id", "max(user_email) AS user_email"], [expr]
    if by == "api_key":
        expr = f"coalesce(api_key, '{UNKNOWN_KEY}')"
        return [
            f"{expr} AS api_key",
            "max(key_alias) AS key_alias",
            "max(key_user_id) AS owner",
            "max(team_id) AS team",
            "max(date) FILTER (WHERE api_requests > 0) AS last_active",
        ], [expr]
    if by == "team":
        expr = f"coalesce(team_id, '{NO_TEAM}')"
        return [f"{expr} AS team"], [expr]
    raise QueryError(f"unknown breakdown {by!r}")


_KEY_LEVEL = ("user", "api_key", "team")  # breakdowns whose key columns come from the API-key columns
KEY_COLUMNS = {
    "daily": ["date"],
    "model": ["model"],
    "model_group": ["model_group"],
    "provider": ["provider"],
    "user": ["user_id", "user_email"],
    "api_key": ["api_key", "key_alias", "owner", "team", "last_active"],
    "team": ["team"],
}


def breakdown(
    store: UsageStore,
    start: date,
    end: date,
    f: Filters = Filters(),
    by: str = "model",
    top_n: int | None = None,
    sort_by: str = "spend",
) -> pd.DataFrame:
    """One row per value of `by`, with ROW_METRICS; sorted by `sort_by` (daily: by date)."""
    base, note = plan(by, f)
    where, params = _where(base, f, start, end)
    select, group = _key_columns(by, base)
    df = store.query(
        f"SELECT {', '.join(select)}, {_AGG} FROM {_source(base, f, by in _KEY_LEVEL)} "
        f"WHERE {where} GROUP BY {', '.join(group)}",
        params,
    )
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


def breakdown_sums(store: UsageStore, start: date, end: date, f: Filters = Filters(), by: str = "model_group"):
    """One row per value of `by` with the stored sums of every metric (lib.usage.store.METRICS: api_requests, ...,
    total_response_time_ms, timed_requests), sorted by its key: what several rows combine from exactly (the success
    rate or average latency of several rows is a ratio of their sums, not an average of theirs)."""
    base, note = plan(by, f)
    where, params = _where(base, f, start, end)
    select, group = _key_columns(by, base)
    df = store.query(
        f"SELECT {', '.join(select)}, {metric_sums()} FROM {_source(base, f, by in _KEY_LEVEL)} "
        f"WHERE {where} GROUP BY {', '.join(group)} ORDER BY 1",
        params,
    )
    if note:
        df.attrs["note"] = note
    return df


def totals(store: UsageStore, start: date, end: date, f: Filters = Filters(), by: str = "daily") -> dict:
    """ROW_METRICS over exactly the stored rows that `breakdown(..., by=by)` groups."""
    base, _ = plan(by, f)
    where, params = _where(base, f, start, end)
    df = store.query(f"SELECT {_AGG} FROM {_source(base, f, by in _KEY_LEVEL)} WHERE {where}", params)
    return {m: _scalar(df[m].iloc[0]) for m in ROW_METRICS}


def _scalar(v):
    if pd.isna(v):
        return None
    return v.item() if hasattr(v, "item") else v


def daily_series(
    store: UsageStore, start: date, end: date, f: Filters = Filters(), split_by: str | None = None
) -> pd.DataFrame:
    """Per-day metrics, optionally per model or per provider (long format); unsplit, every day is present."""
    if split_by not in (None, "model", "provider", "model_group"):
        raise QueryError(f"daily series can be split by model, model_group or provider, not {split_by!r}")
    base, note = plan(split_by or "daily", f)
    where, params = _where(base, f, start, end)
    if split_by:
        select, group = _key_columns(split_by, base)
        df = store.query(
            f"SELECT date, {select[0]}, {_AGG} FROM {_source(base, f)} WHERE {where} "
            f"GROUP BY date, {group[0]} ORDER BY date",
            params,
        )
    else:
        # a calendar of the range left-joined, so days without traffic show as zero
        df = store.query(
            f"WITH days AS (SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY))::DATE "
            f"AS date), agg AS (SELECT date, {_AGG} FROM {_source(base, f)} WHERE {where} GROUP BY date) "
            f"SELECT days.date, agg.* EXCLUDE (date) FROM days LEFT JOIN agg USING (date) ORDER BY 1",
            [start, end] + params,
        )
        for m in ROW_METRICS:
            if m not in ("success_rate", "avg_latency_ms"):
                df[m] = df[m].fillna(0)
        df = df.astype({m: "int64" for m in ROW_METRICS if m not in ("spend", "success_rate", "avg_latency_ms")})
    df["date"] = pd.to_datetime(df["date"]).dt.date
    keys = ["date"] + ([split_by] if split_by else [])
    df = df[keys + ROW_METRICS].reset_index(drop=True)
    if note:
        df.attrs["note"] = note
    return df


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def weekday_grid(daily: pd.DataFrame, metric: str = "requests") -> pd.DataFrame:
    """Grid of weekday (rows, Monday first) x week start (columns) for one metric of a daily series."""
    if metric not in ROW_METRICS:
        raise QueryError(f"unknown metric {metric!r}")
    if daily.empty:
        return pd.DataFrame()
    d = pd.to_datetime(daily["date"])
    daily = daily.assign(week=(d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.date, weekday=d.dt.day_name())
    grid = daily.pivot_table(index="weekday", columns="week", values=metric, aggfunc="sum")
    return grid.reindex([w for w in WEEKDAYS if w in grid.index])


def weekday_heatmap(
    store: UsageStore, start: date, end: date, f: Filters = Filters(), metric: str = "requests"
) -> pd.DataFrame:
    return weekday_grid(daily_series(store, start, end, f), metric)


# -- filter options ----------------------------------------------------------------------------------
def filter_options(
    store: UsageStore, start: date | None = None, end: date | None = None, owner: str | None = None
) -> dict[str, pd.DataFrame | list[str]]:
    """Values to offer in filter widgets; with `owner`, only what that LiteLLM user's keys touched.
    Computed once per version of the stored data."""
    return dict(store.cached(("filter_options", start, end, owner), lambda: _filter_options(store, start, end, owner)))


def _filter_options(store: UsageStore, start: date | None, end: date | None, owner: str | None) -> dict:
    cond, params = [], []
    if start and end:
        cond.append("date BETWEEN ? AND ?")
        params += [start, end]
    if owner is not None:
        cond.append("key_user_id = ?")
        params.append(owner)
    extra = "".join(f" AND {c}" for c in cond)

    def values(dim: str) -> list[str]:
        df = store.query(f"SELECT DISTINCT value FROM activity_{dim} WHERE value IS NOT NULL{extra} ORDER BY 1", params)
        return df["value"].tolist()

    keys = store.query(
        "SELECT api_key, max(key_alias) AS key_alias, max(key_user_id) AS owner FROM activity_api_key "
        f"WHERE api_key IS NOT NULL{extra} "
        "GROUP BY api_key ORDER BY coalesce(max(key_alias), api_key)",
        params,
    )
    teams = store.query(
        f"SELECT DISTINCT team_id FROM activity_api_key WHERE team_id IS NOT NULL{extra} ORDER BY 1", params
    )
    return {
        "models": values("model"),
        "model_groups": values("model_group"),
        "providers": values("provider"),
        "users": values("user"),
        "teams": teams["team_id"].tolist(),
        "api_keys": keys,
    }


# The filters that narrow one another (Filters' fields), in the order the pages draw them.
CASCADE = ("models", "providers", "teams", "users", "api_keys")


def filter_combinations(store: UsageStore, start: date, end: date, owner: str | None = None) -> pd.DataFrame:
    """The distinct (model, provider, team, user, API key) combinations with traffic in [start, end] (with `owner`,
    of that LiteLLM user's keys): one DuckDB query, kept until the stored data changes. Users and teams are the
    keys' owners and teams, as the filters read them (lib.usage.queries._where)."""

    def compute() -> pd.DataFrame:
        cond, params = "date BETWEEN ? AND ? AND api_requests > 0", [start, end]
        if owner is not None:
            cond += " AND key_user_id = ?"
            params.append(owner)
        return store.query(
            f"SELECT DISTINCT value AS models, provider AS providers, team_id AS teams, "
            f"{_user_expr('model')} AS users, api_key AS api_keys FROM activity_model WHERE {cond}",
            params,
        )

    return store.cached(("filter_combinations", start, end, owner), compute)


def cascade_choices(combos: pd.DataFrame, picks: dict[str, list[str]]) -> dict[str, list[str]]:
    """For each filter of CASCADE, the values that occur together with the other filters' picks (an empty pick
    is no constraint) in `combos` (filter_combinations). Pure."""
    masks = {
        name: combos[name].isin(list(values)) for name in CASCADE if (values := picks.get(name)) and name in combos
    }
    out = {}
    for name in CASCADE:
        keep = pd.Series(True, index=combos.index)
        for other, mask in masks.items():
            if other != name:
                keep &= mask
        out[name] = sorted(combos.loc[keep, name].dropna().unique().tolist())
    return out


def prune_picks(combos: pd.DataFrame, picks: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, list]]:
    """The picks with every value that no longer occurs together with the other filters' picks dropped (filters
    checked in CASCADE order, each against the others' picks as left so far), and what was dropped per filter."""
    kept = {name: list(picks.get(name) or []) for name in CASCADE}
    dropped: dict[str, list] = {}
    for name in CASCADE:
        if not kept[name]:
            continue
        possible = set(cascade_choices(combos, kept)[name])
        gone = [v for v in kept[name] if v not in possible]
        if gone:
            dropped[name] = gone
            kept[name] = [v for v in kept[name] if v in possible]
    return kept, dropped


def user_has_usage(store: UsageStore, user_id: str) -> bool:
    """Whether the store holds usage of API keys this LiteLLM user id owns: what My usage shows a login linked
    to it. False for a mistyped id, and for a LiteLLM user whose keys have no traffic yet."""
    return user_id in set(filter_options(store)["api_keys"]["owner"].dropna())


def resolve_api_keys(store: UsageStore, keys_or_aliases: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Map aliases to hashes (a hash passes through). Unknown names raise QueryError."""
    if not keys_or_aliases:
        return ()
    known = store.query("SELECT DISTINCT api_key, key_alias FROM activity_api_key WHERE api_key IS NOT NULL")
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


def usage_page_queries(
    store: UsageStore, start: date, end: date, f: Filters = Filters(), whole: tuple[date, date] | None = None
) -> dict:
    """The whole Usage page's question set (also what the benchmark times); `whole`: the days the trends compare
    (see trends).

    The queries run side by side (DuckDB works outside the GIL; each thread has its own cursor): most
    of them are small, and their fixed costs overlap instead of adding up."""
    store.sync()
    jobs = {"trends": (trends, {"whole": whole})}
    for by in PAGE_BREAKDOWNS:
        jobs[by] = (breakdown, {"by": by, "top_n": 10})
    jobs["daily"] = (daily_series, {})
    jobs["daily_by_model"] = (daily_series, {"split_by": "model"})
    jobs["daily_by_provider"] = (daily_series, {"split_by": "provider"})
    futures = {name: store.run_side_by_side(fn, store, start, end, f, **kw) for name, (fn, kw) in jobs.items()}
    out: dict = {}
    for name, fut in futures.items():
        try:
            out[name] = fut.result()
        except QueryError as exc:
            if name not in BREAKDOWNS:
                raise
            out[name] = exc  # this breakdown cannot be answered under these filters; the page says why
    out["heatmap"] = weekday_grid(out["daily"])
    return out


# -- per API key, for the virtual keys page ---------------------------------------------------------------------
def api_key_daily_requests(store: UsageStore, start: date, end: date) -> pd.DataFrame:
    """Requests per API key and day over [start, end] (a day without requests has no row)."""
    df = store.query(
        "SELECT api_key, date, sum(api_requests)::BIGINT AS requests FROM activity_api_key "
        "WHERE date BETWEEN ? AND ? AND api_key IS NOT NULL GROUP BY api_key, date",
        [start, end],
    )
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df


def api_key_last_active(store: UsageStore) -> pd.DataFrame:
    """Each API key's last day with requests, over all stored history (kept until the stored data changes)."""

    def compute() -> pd.DataFrame:
        df = store.query(
            "SELECT api_key, max(date) AS last_active FROM activity_api_key "
            "WHERE api_requests > 0 AND api_key IS NOT NULL GROUP BY api_key"
        )
        df["last_active"] = pd.to_datetime(df["last_active"]).dt.date
        return df

    return store.cached(("api_key_last_active",), compute).copy()
