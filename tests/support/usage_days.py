"""Days of usage written straight into a usage store, as LiteLLM's /user/daily/activity/aggregated would give them:
a test states each key's spend per day (with the key's team, owner and model group) and gets exactly that."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone

from lib.usage.activity_sql import merge_pages
from lib.usage.store import UsageStore


@dataclass(frozen=True)
class KeySpend:
    key: str  # the key's hash
    spend: float
    team: str | None = None
    user: str | None = None
    model_group: str = "gpt-4o"
    requests: int = 1


def activity_page(day: date, spends: list[KeySpend]) -> dict:
    def metrics(rows):
        return {
            "spend": sum(r.spend for r in rows),
            "api_requests": sum(r.requests for r in rows),
            "successful_requests": sum(r.requests for r in rows),
            "total_tokens": 10 * sum(r.requests for r in rows),
        }

    def key_entry(r: KeySpend) -> dict:
        meta = {"key_alias": f"alias-{r.key[:6]}", "team_id": r.team, "user_id": r.user, "user_email": None}
        return {"metrics": metrics([r]), "metadata": meta}

    def grouped(attr) -> dict:
        out: dict = {}
        for r in spends:
            out.setdefault(attr(r), []).append(r)
        return {
            name: {"metrics": metrics(rows), "api_key_breakdown": {r.key: key_entry(r) for r in rows}}
            for name, rows in out.items()
        }

    return {
        "results": [
            {
                "date": day.isoformat(),
                "metrics": metrics(spends),
                "breakdown": {
                    "models": grouped(lambda r: f"openai/{r.model_group}"),
                    "model_groups": grouped(lambda r: r.model_group),
                    "providers": grouped(lambda r: "openai"),
                    "api_keys": {r.key: key_entry(r) for r in spends},
                    "entities": grouped(lambda r: r.user or "Unassigned"),
                },
            }
        ],
        "metadata": {"page": 1, "total_pages": 1, "has_more": False},
    }


def write_days(store: UsageStore, days: dict[date, list[KeySpend]]) -> None:
    """Replace these days of the store with the given spends (each day marked complete)."""
    tables = merge_pages([json.dumps(activity_page(d, rows)).encode() for d, rows in days.items() if rows])
    store.replace_days(tables, {d: "complete" for d in tables}, datetime.now(timezone.utc))
