"""The Usage page's query set answered with pandas over a DataFrame of the stored rows (the baseline DuckDB is
compared with; the same plan as lib.usage.queries)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from lib.usage.queries import (
    KEY_COLUMNS,
    NO_TEAM,
    NO_USER,
    PAGE_BREAKDOWNS,
    ROW_METRICS,
    TREND_METRICS,
    UNATTRIBUTED,
    UNKNOWN_KEY,
    Filters,
    QueryError,
    plan,
    previous_period,
    trend,
    weekday_grid,
)
from lib.usage.store import METRICS


def _row_metrics(g: pd.DataFrame) -> pd.DataFrame:
    out = g.rename(columns={"api_requests": "requests"})
    out["success_rate"] = g["successful_requests"] * 100.0 / g["api_requests"].where(g["api_requests"] != 0)
    out["avg_latency_ms"] = g["total_response_time_ms"] / g["timed_requests"].where(g["timed_requests"] != 0)
    return out


class PandasUsage:
    """usage_page_queries answered with pandas over the stored rows (the same plan: lib.usage.queries.plan)."""

    def __init__(self, frame: pd.DataFrame):
        self.df = frame
        self.dates = frame["date"].to_numpy()

    def _rows(self, base: str, f: Filters, a: date, b: date) -> pd.DataFrame:
        i = np.searchsorted(self.dates, np.datetime64(a, "ns"), "left")
        j = np.searchsorted(self.dates, np.datetime64(b, "ns"), "right")
        part = self.df.iloc[i:j]
        m = (part["dim"] == base).to_numpy()
        for values, col in (
            (f.models, "value"),
            (f.providers, "value" if base == "provider" else "provider"),
            (f.users, "value" if base == "user" else "key_user_id"),
            (f.api_keys, "api_key"),
            (f.teams, "team_id"),
        ):
            if values:
                m = m & part[col].isin(values).to_numpy()
        return part[m]

    def _overviews(self, periods: list[tuple[date, date]], f: Filters) -> list[dict]:
        base, note = plan(None, f)
        lo, hi = min(p[0] for p in periods), max(p[1] for p in periods)
        rows, mrows = self._rows(base, f, lo, hi), self._rows("model", f, lo, hi)
        user = "value" if base == "user" else "key_user_id"
        out = []
        for a, b in periods:
            sel = rows[(rows["date"] >= pd.Timestamp(a)) & (rows["date"] <= pd.Timestamp(b))]
            msel = mrows[(mrows["date"] >= pd.Timestamp(a)) & (mrows["date"] <= pd.Timestamp(b))]
            s = _row_metrics(sel[METRICS].sum().to_frame().T).iloc[0]
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
        return pd.DataFrame(
            [
                {
                    "metric": m,
                    "current": cur[m],
                    "previous": prev[m],
                    "change_pct": trend(cur[m], prev[m])[0],
                    "direction": trend(cur[m], prev[m])[1],
                }
                for m in TREND_METRICS
            ]
        )

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
        base, _ = plan(by, f)
        rows = self._rows(base, f, start, end)
        key, missing = self._key(rows, by, base)
        name = KEY_COLUMNS[by][0]
        grouped = rows.groupby(key.rename(name), observed=True, dropna=False)
        df = _row_metrics(grouped[METRICS].sum())
        if by == "user":
            df["user_email"] = grouped["user_email"].first()
        elif by == "api_key":
            df["key_alias"] = grouped["key_alias"].first()
            df["owner"] = grouped["key_user_id"].first()
            df["team"] = grouped["team_id"].first()
            active = rows["api_requests"] > 0
            df["last_active"] = (
                rows.loc[active, "date"].groupby(key[active].rename(name), observed=True, dropna=False).max().dt.date
            )
        df = df.reset_index()
        df[name] = df[name].astype(object).where(df[name].notna(), missing)
        df = df.sort_values(["spend", name], ascending=[False, True]).head(top_n)
        return df[KEY_COLUMNS[by] + ROW_METRICS].reset_index(drop=True)

    def daily_series(self, start: date, end: date, f: Filters, split_by: str | None = None) -> pd.DataFrame:
        base, _ = plan(split_by or "daily", f)
        rows = self._rows(base, f, start, end)
        if split_by is None:
            df = _row_metrics(rows.groupby("date")[METRICS].sum())
            df = df.reindex(pd.date_range(start, end, freq="D")).rename_axis("date")
            df[[m for m in ROW_METRICS if m not in ("success_rate", "avg_latency_ms")]] = df[
                [m for m in ROW_METRICS if m not in ("success_rate", "avg_latency_ms")]
            ].fillna(0)
            df = df.reset_index()
        else:
            key, missing = self._key(rows, split_by, base)
            df = _row_metrics(
                rows.groupby([rows["date"], key.rename(split_by)], observed=True, dropna=False)[METRICS].sum()
            ).reset_index()
            df[split_by] = df[split_by].astype(object).where(df[split_by].notna(), missing)
        df["date"] = df["date"].dt.date
        return df[["date"] + ([split_by] if split_by else []) + ROW_METRICS]

    def page(self, start: date, end: date, f: Filters) -> dict:
        out: dict = {"trends": self.trends(start, end, f)}
        for by in PAGE_BREAKDOWNS:
            try:
                out[by] = self.breakdown(start, end, f, by)
            except QueryError as exc:
                out[by] = exc
        out["daily"] = self.daily_series(start, end, f)
        out["daily_by_model"] = self.daily_series(start, end, f, "model")
        out["daily_by_provider"] = self.daily_series(start, end, f, "provider")
        out["heatmap"] = weekday_grid(out["daily"])
        return out
