"""LiteLLM's own limits beside the console's budgets: keys, users and teams with a `max_budget` (spend / max, reset
time), those near their limit and those over it; and pushing a console budget of an API key, a team or a user to
LiteLLM as its `max_budget` + `budget_duration`, so LiteLLM enforces it (refuses the requests once the spend
passes), not only the console watches it.

Keys come from the process's snapshot of LiteLLM's keys (lib.keys.snapshot), patched with the key as LiteLLM
answers after a push; users and teams likewise from a kept reading of `/user/list` and `/team/list` (OwnerSnapshots:
one request per 100 users, so not on every page load), read again after a team's or user's push. A push is
read back from LiteLLM after the write (`/key/info`, `/team/info`, `/user/info`): what is shown is what LiteLLM
holds, and a refusal is audited as a failure with LiteLLM's reason (nothing pushed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from lib.auth.gate import perform
from lib.budgets.records import SCOPE_LABELS, Budget, BudgetInputError
from lib.core.clock import utcnow
from lib.core.kept import Kept
from lib.keys.snapshot import KeySnapshots
from lib.litellm.budgets_api import (
    LiteLLMTeam,
    LiteLLMUser,
    is_not_found,
    list_teams,
    list_users,
    team_info,
    update_team,
    update_user,
    user_info,
)
from lib.litellm.client import LiteLLMClient
from lib.litellm.keys_api import key_info, update_key

# a console period as LiteLLM's budget_duration (LiteLLM resets the spend every such duration)
DURATIONS = {"day": "1d", "week": "7d", "month": "30d"}
PUSHABLE = ("api_key", "team", "user")  # the scopes LiteLLM keeps a max_budget for
NEAR = 0.8  # "near their limit": this share of the max budget or more
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
# every holder of a limit (keys, users, teams) in one table
ALL_COLUMNS = ["kind", "id", "name", "spend", "max_budget", "used_pct", "budget_duration", "budget_reset_at"]
ALL_COLUMNS += ["limit_state"]
KINDS = {"api_key": "API key", "user": "User", "team": "Team"}


def _with_state(df: pd.DataFrame, near: float) -> pd.DataFrame:
    df = df.copy()
    df["spend"] = df["spend"].astype(float)
    df["max_budget"] = df["max_budget"].astype(float)
    df["used_pct"] = df["spend"] / df["max_budget"] * 100
    df["limit_state"] = "ok"
    df.loc[df["spend"] >= near * df["max_budget"], "limit_state"] = "near"
    df.loc[df["spend"] >= df["max_budget"], "limit_state"] = "over"
    return df


def key_limits(keys: pd.DataFrame, near: float = NEAR) -> pd.DataFrame:
    """The live keys that have a max_budget, most used first, with `limit_state`: over (spend >= max), near
    (spend >= near x max) or ok."""
    df = _with_state(keys[keys["max_budget"].notna() & (keys["status"] != "deleted")], near)
    return df.sort_values(["used_pct", "token"], ascending=[False, True])[LIMIT_COLUMNS].reset_index(drop=True)


def owner_limits(users: list[LiteLLMUser], teams: list[LiteLLMTeam]) -> pd.DataFrame:
    """Users and teams that have a max_budget, in ALL_COLUMNS (before `used_pct` and `limit_state`)."""
    rows = [
        {
            "kind": KINDS["user"],
            "id": u.user_id,
            "name": u.user_email or u.user_alias or u.user_id,
            "spend": u.spend,
            "max_budget": u.max_budget,
            "budget_duration": u.budget_duration,
            "budget_reset_at": u.budget_reset_at,
        }
        for u in users
        if u.max_budget is not None
    ] + [
        {
            "kind": KINDS["team"],
            "id": t.team_id,
            "name": t.team_alias or t.team_id,
            "spend": t.spend,
            "max_budget": t.max_budget,
            "budget_duration": t.budget_duration,
            "budget_reset_at": t.budget_reset_at,
        }
        for t in teams
        if t.max_budget is not None
    ]
    return pd.DataFrame(rows, columns=ALL_COLUMNS[:5] + ALL_COLUMNS[6:8])


def fetch_owners(client: LiteLLMClient) -> tuple[list[LiteLLMUser], list[LiteLLMTeam]]:
    """LiteLLM's users and teams (their spend and own budgets), read now."""
    return list_users(client), list_teams(client)


@dataclass(frozen=True)
class OwnerSnapshot:
    users: list[LiteLLMUser]
    teams: list[LiteLLMTeam]
    fetched_at: datetime

    def age(self) -> timedelta:
        return utcnow() - self.fetched_at


class OwnerSnapshots(Kept[OwnerSnapshot]):
    """The process's reading of LiteLLM's users and teams (one per Runtime; kept KEYS_CACHE_MINUTES, as the keys)."""

    def read(self, client: LiteLLMClient) -> OwnerSnapshot:
        users, teams = fetch_owners(client)
        return OwnerSnapshot(users, teams, utcnow())


def all_limits(
    keys: pd.DataFrame | None, users: list[LiteLLMUser], teams: list[LiteLLMTeam], near: float = NEAR
) -> pd.DataFrame:
    """Keys, users and teams with a max_budget in one table (ALL_COLUMNS), most used first: `limit_state` over,
    near or ok as in key_limits. `keys`: the keys' snapshot frame (None: not read)."""
    parts = []
    if keys is not None:
        k = keys[keys["max_budget"].notna() & (keys["status"] != "deleted")]
        parts.append(
            pd.DataFrame(
                {
                    "kind": KINDS["api_key"],
                    "id": k["token"],
                    "name": k["alias"].fillna(k["token"].str[:12]),
                    "spend": k["spend"],
                    "max_budget": k["max_budget"],
                    "budget_duration": k["budget_duration"],
                    "budget_reset_at": k["budget_reset_at"],
                }
            )
        )
    parts.append(owner_limits(users, teams))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=ALL_COLUMNS)
    df = _with_state(pd.concat(parts, ignore_index=True), near)
    return df.sort_values(["used_pct", "kind", "id"], ascending=[False, True, True])[ALL_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class PushedLimit:
    """A key's, team's or user's budget as LiteLLM holds it, read back after a push."""

    scope: str
    target: str
    max_budget: float | None
    budget_duration: str | None
    budget_reset_at: datetime | None
    spend: float


def push_key_budget(engine, client: LiteLLMClient, actor, budget: Budget, snapshots: KeySnapshots | None = None):
    """Set an API-key budget in LiteLLM: the key's max_budget = the amount, budget_duration = the period (audited
    as budgets.push_to_litellm). Returns the key as LiteLLM then describes it."""
    if budget.scope != "api_key":
        raise BudgetInputError("Only an API key's budget can be pushed to LiteLLM as a key's budget.")
    changes = _changes(budget)

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


def push_budget(
    engine,
    client: LiteLLMClient,
    actor,
    budget: Budget,
    snapshots: KeySnapshots | None = None,
    owners: OwnerSnapshots | None = None,
) -> PushedLimit:
    """Push an API-key, team or user budget to LiteLLM (`/key/update`, `/team/update`, `/user/update` with
    max_budget = the amount and budget_duration = the period), through the gate (budgets.push_to_litellm,
    audited with what LiteLLM holds afterwards), and return that, read back from LiteLLM. A user LiteLLM does
    not know is refused here (its /user/update would create one); LiteLLM's own refusals are raised with its
    reason, audited as failures."""
    if budget.scope not in PUSHABLE:
        raise BudgetInputError(
            f"LiteLLM keeps budgets for API keys, teams and users only, not for {SCOPE_LABELS[budget.scope].lower()}"
            " budgets."
        )
    if budget.scope == "api_key":
        key = push_key_budget(engine, client, actor, budget, snapshots)
        return PushedLimit("api_key", key.token, key.max_budget, key.budget_duration, key.budget_reset_at, key.spend)
    changes = _changes(budget)
    read = user_info if budget.scope == "user" else team_info
    write = update_user if budget.scope == "user" else update_team

    def change() -> PushedLimit:
        if budget.scope == "user":
            try:
                user_info(client, budget.target)
            except Exception as exc:
                if is_not_found(exc):
                    raise BudgetInputError(
                        f"LiteLLM has no user {budget.target!r}: create the user in LiteLLM first (nothing was pushed)."
                    ) from None
                raise
        write(client, budget.target, changes)
        now = read(client, budget.target)
        return PushedLimit(
            budget.scope, budget.target, now.max_budget, now.budget_duration, now.budget_reset_at, now.spend
        )

    pushed = perform(
        engine,
        actor,
        "budgets.push_to_litellm",
        budget.label,
        change,
        transaction=False,
        context={budget.scope: budget.target, "budget_id": budget.id},
        details=lambda pushed: {
            "changes": changes,
            "litellm_now": {"max_budget": pushed.max_budget, "budget_duration": pushed.budget_duration},
        },
    )
    if owners is not None:
        owners.forget()  # the next view reads the users and teams as LiteLLM now holds them
    return pushed


def _changes(budget: Budget) -> dict:
    return {"max_budget": budget.amount, "budget_duration": DURATIONS[budget.period]}
