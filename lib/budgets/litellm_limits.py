"""LiteLLM's own limits beside the console's budgets: keys with a `max_budget` (spend / max, reset time), those
near their limit and those over it; and pushing a console budget of an API key to LiteLLM as the key's
`max_budget` + `budget_duration`, so LiteLLM enforces it (refuses the key's requests once its spend passes).

Keys come from the process's snapshot of LiteLLM's keys (lib.keys.snapshot), patched with the key as LiteLLM
answers after a push."""

from __future__ import annotations

import pandas as pd

from lib.auth.gate import perform
from lib.budgets.records import Budget, BudgetInputError
from lib.keys.snapshot import KeySnapshots
from lib.litellm.client import LiteLLMClient
from lib.litellm.keys_api import key_info, update_key

# a console period as LiteLLM's budget_duration (LiteLLM resets a key's spend every such duration)
DURATIONS = {"day": "1d", "week": "7d", "month": "30d"}
LIMIT_COLUMNS = [
    "token",
    "alias",
    "user_id",
    "team_id",
    "spend",
    "max_budget",
    "used_pct",
    "budget_duration",
    "budget_reset_at",
    "limit_state",
]


def key_limits(keys: pd.DataFrame, near: float = 0.8) -> pd.DataFrame:
    """The live keys that have a max_budget, most used first, with `limit_state`: over (spend >= max), near
    (spend >= near x max) or ok."""
    df = keys[keys["max_budget"].notna() & (keys["status"] != "deleted")].copy()
    df["used_pct"] = df["spend"] / df["max_budget"] * 100
    df["limit_state"] = "ok"
    df.loc[df["spend"] >= near * df["max_budget"], "limit_state"] = "near"
    df.loc[df["spend"] >= df["max_budget"], "limit_state"] = "over"
    return df.sort_values(["used_pct", "token"], ascending=[False, True])[LIMIT_COLUMNS].reset_index(drop=True)


def push_key_budget(engine, client: LiteLLMClient, actor, budget: Budget, snapshots: KeySnapshots | None = None):
    """Set an API-key budget in LiteLLM: the key's max_budget = the amount, budget_duration = the period (audited
    as budgets.push_to_litellm). Returns the key as LiteLLM then describes it."""
    if budget.scope != "api_key":
        raise BudgetInputError("Only an API key's budget can be pushed to LiteLLM.")
    changes = {"max_budget": budget.amount, "budget_duration": DURATIONS[budget.period]}

    def change():
        update_key(client, budget.target, changes)
        return key_info(client, budget.target)

    key = perform(
        engine,
        actor,
        "budgets.push_to_litellm",
        budget.label,
        change,
        transaction=False,
        context={"hash": budget.target, "budget_id": budget.id},
        details={"changes": changes},
    )
    if snapshots is not None:
        snapshots.patch(key)
    return key
