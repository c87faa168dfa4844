"""Queries over the models catalogue and its sync runs (the Models page draws these)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from lib.catalog.parse import PRICES
from lib.catalog.sync import JOB_NAME, SyncResult
from lib.catalog.tables import model_catalog
from lib.core import leases
from lib.core.clock import as_aware
from lib.core.formatting import compact, duration, exact, money, styled, unit_money
from lib.core.jobs import job_runs
from lib.usage.queries import Filters, breakdown

log = logging.getLogger(__name__)

CATALOGUE_COLUMNS = [
    "name",
    "provider",
    "underlying_model",
    "mode",
    "available",
    "input_cost_per_1m",
    "output_cost_per_1m",
    "max_input_tokens",
    "max_output_tokens",
    "capabilities",
    "tpm",
    "rpm",
    "api_base",
    "alias_of",
    "deployments",
    "litellm_model_id",
    "issues",
    "first_seen",
    "last_seen",
    "unavailable_since",
    "changed_at",
    "input_cost_per_token",
    "output_cost_per_token",
]


def catalogue(engine: Engine) -> pd.DataFrame:
    """Every model ever seen, available ones first, with prices per 1M tokens."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(model_catalog).order_by(model_catalog.c.name)).mappings()]
    for r in rows:
        r["capabilities"] = list(r["capabilities"] or [])
        r["issues"] = list(r["issues"] or [])
        ids = r.pop("litellm_model_ids") or []
        r["litellm_model_id"] = ", ".join(ids) if ids else None
        r["available"] = bool(r["available"])
        for p in PRICES:
            v = r[p]
            r[p.replace("_per_token", "_per_1m")] = None if v is None else v * 1_000_000
        for t in ("first_seen", "last_seen", "unavailable_since", "changed_at"):
            r[t] = as_aware(r[t])
    df = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    if not df.empty:
        df = df.sort_values(["available", "name"], ascending=[False, True]).reset_index(drop=True)
    for c in ("max_input_tokens", "max_output_tokens", "tpm", "rpm", "deployments"):
        df[c] = df[c].astype("Int64")
    return df


def with_usage(df: pd.DataFrame, store, today: date, days: int = 30) -> pd.DataFrame:
    """Adds requests/spend over the last `days` UTC days (public model name = LiteLLM model group)."""
    start = today - timedelta(days=days - 1)
    out = df.copy()
    try:
        usage = breakdown(store, start, today, Filters(), by="model_group")
    except Exception as exc:  # an empty or unreadable store: usage unknown, not zero
        log.warning("model usage unavailable: %s", exc)
        out["requests_30d"], out["spend_30d"] = pd.Series(dtype="Int64"), pd.Series(dtype="float64")
        out.attrs["usage_error"] = str(exc)
        return out
    usage = usage.set_index("model_group")
    out["requests_30d"] = out["name"].map(usage["requests"]).fillna(0).astype("Int64")
    out["spend_30d"] = out["name"].map(usage["spend"]).fillna(0.0).astype(float)
    out.attrs["usage_days"] = days
    return out


def facets(df: pd.DataFrame) -> dict[str, list[str]]:
    """Filter choices present in the catalogue."""
    caps = sorted({c for cs in df["capabilities"] for c in cs}) if not df.empty else []
    return {
        "providers": sorted({p for v in df["provider"].dropna() for p in str(v).split(", ")}),
        "modes": sorted({m for v in df["mode"].dropna() for m in str(v).split(", ")}),
        "capabilities": caps,
    }


def filter_catalogue(
    df: pd.DataFrame,
    search: str = "",
    providers: Iterable[str] = (),
    modes: Iterable[str] = (),
    capabilities: Iterable[str] = (),
    availability: str = "all",
) -> pd.DataFrame:
    """Search (name, underlying model, provider, API base; case-insensitive) and filters. A model must have
    every selected capability; availability is "all", "available" or "unavailable"."""
    mask = pd.Series(True, index=df.index)
    text = (search or "").strip().lower()
    if text:
        hay = (
            df["name"].fillna("")
            + " "
            + df["underlying_model"].fillna("")
            + " "
            + df["provider"].fillna("")
            + " "
            + df["api_base"].fillna("")
            + " "
            + df["alias_of"].fillna("")
        ).str.lower()
        for word in text.split():
            mask &= hay.str.contains(word, regex=False)
    providers, modes, capabilities = set(providers), set(modes), set(capabilities)
    if providers:
        mask &= df["provider"].fillna("").map(lambda v: bool(providers & set(v.split(", "))))
    if modes:
        mask &= df["mode"].fillna("").map(lambda v: bool(modes & set(v.split(", "))))
    if capabilities:
        mask &= df["capabilities"].map(lambda cs: capabilities <= set(cs))
    if availability == "available":
        mask &= df["available"]
    elif availability == "unavailable":
        mask &= ~df["available"]
    return df[mask].reset_index(drop=True)


HISTORY_COLUMNS = [
    "id",
    "started_at",
    "finished_at",
    "trigger",
    "status",
    "total",
    "new",
    "updated",
    "unavailable",
    "error_count",
    "error",
    "errors",
    "details",
]


def _sync_runs(engine: Engine, limit: int, statuses: Iterable[str] | None = None) -> list[SyncResult]:
    """The latest recorded syncs, newest first: the model_sync job runs whose details hold a sync's outcome
    (a run refused its lease, or cut short before it got that far, has none); `statuses`: of these outcomes."""
    outcome = job_runs.c.details["status"].as_string()
    q = select(job_runs.c.details).where(job_runs.c.job == JOB_NAME, outcome.is_not(None))
    if statuses is not None:
        q = q.where(outcome.in_(tuple(statuses)))
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(limit)).scalars()
        return [SyncResult.from_dict(details) for details in rows]


def sync_history(engine: Engine, limit: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": r.run_id,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "trigger": r.trigger,
                "status": r.status,
                "total": r.total,
                "new": r.new,
                "updated": r.updated,
                "unavailable": r.unavailable,
                "error_count": len(r.errors),
                "error": r.error,
                "errors": r.errors,
                "details": {
                    "new": r.new_models,
                    "updated": r.updated_models,
                    "unavailable": r.unavailable_models,
                    "restored": r.restored_models,
                },
            }
            for r in _sync_runs(engine, limit)
        ],
        columns=HISTORY_COLUMNS,
    )


def last_sync(engine: Engine, succeeded: bool = False) -> SyncResult | None:
    """The latest recorded sync (or the latest that changed the catalogue: success or partial)."""
    latest = _sync_runs(engine, 1, ("success", "partial") if succeeded else None)
    return latest[0] if latest else None


def sync_running(engine: Engine) -> str | None:
    """'alice' (the trigger) while a sync holds an unexpired lease, else None."""
    holder = leases.holder(engine, JOB_NAME)
    return holder.owner if holder else None


def models_with_backend(engine: Engine, backend_model: str) -> list[str] | None:
    """Available catalogue models one of whose deployments calls `backend_model` (`openai/gpt-4o` or `gpt-4o`
    for `gpt-4o`); None while the catalogue is empty (nothing synced yet: unknown, not "none")."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(model_catalog.c.name, model_catalog.c.underlying_model, model_catalog.c.available)
        ).all()
    if not rows:
        return None
    return sorted(
        name
        for name, underlying, available in rows
        if available
        and any(m == backend_model or m.split("/", 1)[-1] == backend_model for m in (underlying or "").split(", "))
    )


# -- how the Models page writes the numbers (lib.core.formatting) ------------------------------------------------
BROWSER_COLUMNS = [
    "name",
    "available",
    "provider",
    "mode",
    "input_cost_per_1m",
    "output_cost_per_1m",
    "max_input_tokens",
    "max_output_tokens",
    "requests_30d",
    "spend_30d",
    "capabilities",
    "underlying_model",
    "api_base",
    "alias_of",
    "tpm",
    "rpm",
    "deployments",
    "first_seen",
    "last_seen",
    "unavailable_since",
    "issues",
    "litellm_model_id",
]
BROWSER_FORMATS = {
    "input_cost_per_1m": unit_money,  # a price per 1M tokens keeps its small figure
    "output_cost_per_1m": unit_money,
    "max_input_tokens": exact,  # limits: the number itself
    "max_output_tokens": exact,
    "tpm": exact,
    "rpm": exact,
    "requests_30d": compact,  # a summary
    "spend_30d": money,
}
HISTORY_TABLE_COLUMNS = [
    "started_at",
    "trigger",
    "status",
    "total",
    "new",
    "updated",
    "unavailable",
    "error_count",
    "duration_s",
    "error",
]
HISTORY_FORMATS = {"duration_s": duration}


def browser_table(shown: pd.DataFrame):
    """The model browser's rows for st.dataframe: numbers written by BROWSER_FORMATS, still sorted as numbers."""
    return styled(shown[BROWSER_COLUMNS], BROWSER_FORMATS)


def history_table(history: pd.DataFrame):
    """The sync runs for st.dataframe, each with how long it took."""
    runs = history.assign(duration_s=(history["finished_at"] - history["started_at"]).dt.total_seconds())
    return styled(runs[HISTORY_TABLE_COLUMNS], HISTORY_FORMATS)
