"""LiteLLM's keys as one frame: a row per key with its settings, spend against budget, and status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from lib.litellm.keys_api import LiteLLMKey

STATUSES = ("active", "expired", "blocked", "deleted")
COLUMNS = [
    "token",  # sha256 of the key = the usage store's api_key
    "key_name",  # LiteLLM's masked name, e.g. sk-...H6EQ
    "alias",
    "user_id",
    "user_email",
    "team_id",
    "models",  # [] = every model
    "spend",  # LiteLLM's spend of the key (since its budget last reset)
    "max_budget",
    "budget_used_pct",
    "soft_budget",
    "budget_duration",
    "budget_reset_at",
    "rpm_limit",
    "tpm_limit",
    "expires",
    "blocked",
    "status",
    "created_at",
    "deleted_at",
]
_TIMES = ("budget_reset_at", "expires", "created_at", "deleted_at")
_TEXTS = ("token", "key_name", "alias", "user_id", "user_email", "team_id", "budget_duration", "status")


def key_status(k: LiteLLMKey, now: datetime) -> str:
    if k.deleted_at is not None:
        return "deleted"
    if k.blocked:
        return "blocked"
    if k.expires is not None and k.expires <= now:
        return "expired"
    return "active"


def current_status(df: pd.DataFrame, now: datetime) -> pd.Series:
    """Each row's status at `now` (a kept snapshot's "active" key may have expired since it was read)."""
    expired = df["expires"].notna() & (df["expires"] <= pd.Timestamp(now))
    out = pd.Series("active", index=df.index, dtype=object)
    out[expired] = "expired"
    out[df["blocked"]] = "blocked"
    out[df["deleted_at"].notna()] = "deleted"
    return out


def key_row(k: LiteLLMKey, now: datetime) -> dict:
    used = k.spend / k.max_budget * 100 if k.max_budget else None
    return {
        "token": k.token,
        "key_name": k.key_name or f"…{k.token[-6:]}",
        "alias": k.key_alias,
        "user_id": k.user_id,
        "user_email": k.owner_email,
        "team_id": k.team_id,
        "models": list(k.models),
        "spend": float(k.spend),
        "max_budget": k.max_budget,
        "budget_used_pct": used,
        "soft_budget": k.soft_budget_value,
        "budget_duration": k.budget_duration,
        "budget_reset_at": k.budget_reset_at,
        "rpm_limit": k.rpm_limit,
        "tpm_limit": k.tpm_limit,
        "expires": k.expires,
        "blocked": bool(k.blocked),
        "status": key_status(k, now),
        "created_at": k.created_at,
        "deleted_at": k.deleted_at,
    }


def keys_frame(keys: Iterable[LiteLLMKey], now: datetime) -> pd.DataFrame:
    """One row per key (the last listing of a hash wins: a key deleted while it was being listed appears in both
    listings, the archive read last), oldest first."""
    rows = {k.token: key_row(k, now) for k in keys}
    return typed(pd.DataFrame(list(rows.values()), columns=COLUMNS))


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """Column types that survive an empty frame and a row replaced (times UTC, limits nullable integers)."""
    df = df.copy()
    for c in _TIMES:
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601") if len(df) else pd.Series(dtype="datetime64[ns, UTC]")
    for c in ("rpm_limit", "tpm_limit"):
        df[c] = df[c].astype("Int64")
    for c in ("spend", "max_budget", "budget_used_pct", "soft_budget"):
        df[c] = df[c].astype("float64")
    df["blocked"] = df["blocked"].astype(bool)
    for c in _TEXTS:  # pandas' text type, missing = NaN, whether a column was all None or not
        df[c] = df[c].astype(pd.StringDtype(na_value=float("nan")))
    return df.reset_index(drop=True)


def label(alias, key_name) -> str:
    """How a key is named to people (audit targets, messages): its alias and LiteLLM's masked name."""
    alias = alias if isinstance(alias, str) and alias else None
    name = key_name if isinstance(key_name, str) and key_name else None
    return f"{alias} ({name})" if alias and name else (alias or name or "a key")
