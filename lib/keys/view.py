"""The keys page's view: search, filters and sort as pure functions over the keys frame, and its CSV export.

The frame is lib.keys.records' with lib.keys.usage's columns; nothing here reads LiteLLM or the store, so the
same view can be recomputed on every rerun of the page from the kept snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from lib.core.text_safety import spreadsheet_csv
from lib.keys.records import STATUSES, current_status

BUDGET_ALERT_PCT = 80.0
EXPIRING_DAYS = 7
IDLE_DAYS = 30
SORTS = {
    "spend": "Spend (LiteLLM)",
    "budget_used_pct": "Budget used",
    "max_budget": "Max budget",
    "requests": "Requests in range",
    "range_spend": "Spend in range",
    "success_rate": "Success rate",
    "alias": "Alias",
    "user_id": "Owner",
    "team_id": "Team",
    "expires": "Expiry",
    "created_at": "Created",
    "last_active": "Last active",
}
SEARCHED = ("alias", "key_name", "token", "user_id", "user_email", "team_id")
NO_TEAM = "(no team)"
NO_OWNER = "(no owner)"
EXPORT_COLUMNS = {
    "alias": "alias",
    "key_name": "key_name",
    "token": "key_hash",
    "user_id": "owner",
    "user_email": "owner_email",
    "team_id": "team",
    "status": "status",
    "models": "models",
    "spend": "spend",
    "max_budget": "max_budget",
    "budget_used_pct": "budget_used_pct",
    "soft_budget": "soft_budget",
    "budget_duration": "budget_period",
    "budget_reset_at": "budget_reset_at",
    "rpm_limit": "rpm_limit",
    "tpm_limit": "tpm_limit",
    "expires": "expires",
    "created_at": "created_at",
    "last_active": "last_active",
    "requests": "requests_in_range",
    "range_spend": "spend_in_range",
    "success_rate": "success_rate_in_range",
}


@dataclass(frozen=True)
class KeyView:
    search: str = ""
    teams: tuple[str, ...] = ()  # NO_TEAM for keys without one
    owners: tuple[str, ...] = ()  # NO_OWNER for keys without one
    statuses: tuple[str, ...] = ()  # of records.STATUSES; none chosen = all but deleted
    over_budget: bool = False  # spend at BUDGET_ALERT_PCT % of the max budget or more
    expiring: bool = False  # expires within EXPIRING_DAYS (not yet expired)
    idle: bool = False  # no request in IDLE_DAYS days (and older than that)
    sort_by: str = "spend"
    descending: bool = True


def facets(keys: pd.DataFrame) -> dict[str, list[str]]:
    """Choices of the team and owner filters (those of the keys there are)."""
    return {
        "teams": sorted(keys["team_id"].dropna().unique()) + ([NO_TEAM] if keys["team_id"].isna().any() else []),
        "owners": sorted(keys["user_id"].dropna().unique()) + ([NO_OWNER] if keys["user_id"].isna().any() else []),
        "statuses": list(STATUSES),
    }


def filter_keys(keys: pd.DataFrame, view: KeyView, now: datetime) -> pd.DataFrame:
    df = keys.assign(status=current_status(keys, now))
    keep = pd.Series(True, index=df.index)
    text = view.search.strip().lower()
    if text:
        found = pd.Series(False, index=df.index)
        for column in SEARCHED:
            found |= df[column].fillna("").astype(str).str.lower().str.contains(text, regex=False)
        keep &= found
    if view.teams:
        keep &= df["team_id"].fillna(NO_TEAM).isin(view.teams)
    if view.owners:
        keep &= df["user_id"].fillna(NO_OWNER).isin(view.owners)
    keep &= df["status"].isin(view.statuses) if view.statuses else df["status"] != "deleted"
    if view.over_budget:
        keep &= df["max_budget"].gt(0) & (df["spend"] >= df["max_budget"] * BUDGET_ALERT_PCT / 100)
    if view.expiring:
        ts = pd.Timestamp(now)
        keep &= df["expires"].gt(ts) & df["expires"].le(ts + pd.Timedelta(days=EXPIRING_DAYS))
    if view.idle:
        keep &= idle_mask(df, now)
    return df[keep]


def idle_mask(df: pd.DataFrame, now: datetime) -> pd.Series:
    """No request in the last IDLE_DAYS UTC days (today included), for keys created before them: a key made
    yesterday is new, not idle."""
    first: date = now.date() - timedelta(days=IDLE_DAYS - 1)
    used = df["last_active"].map(lambda d: pd.notna(d) and d >= first)
    young = df["created_at"].notna() & (df["created_at"] >= pd.Timestamp(first, tz="UTC"))
    return ~used.astype(bool) & ~young


def sort_keys(keys: pd.DataFrame, by: str, descending: bool = True) -> pd.DataFrame:
    """Sorted on `by` (SORTS), missing values last either way, then by alias and hash (a stable order)."""
    if by not in SORTS:
        raise ValueError(f"unknown sort {by!r}; choose one of {', '.join(SORTS)}")
    column = keys[by]
    if by == "last_active":
        column = pd.to_datetime(column)
    if pd.api.types.is_string_dtype(column):
        column = column.str.lower()
    order = keys.assign(_by=column).sort_values(
        ["_by", "alias", "token"], ascending=[not descending, True, True], na_position="last", kind="stable"
    )
    return order.drop(columns="_by").reset_index(drop=True)


def apply_view(keys: pd.DataFrame, view: KeyView, now: datetime) -> pd.DataFrame:
    return sort_keys(filter_keys(keys, view, now), view.sort_by, view.descending)


def keys_csv(view: pd.DataFrame) -> str:
    """The shown keys as CSV, in the shown order (spreadsheet-safe like every CSV the console writes)."""
    out = view[[c for c in EXPORT_COLUMNS if c in view.columns]].rename(columns=EXPORT_COLUMNS)
    out["models"] = [", ".join(m) if len(m) else "all models" for m in out["models"]]
    for c in ("budget_reset_at", "expires", "created_at", "last_active"):
        if c in out.columns:
            out[c] = out[c].map(lambda t: t.isoformat() if pd.notna(t) else None)
    return spreadsheet_csv(out)
