"""Changes to keys, in two steps: a plan (the admin's input checked, and exactly what will be sent to LiteLLM and
audited) computed without touching anything, then `apply_plan`, which runs it through the gate
(lib.auth.gate.perform: permission, audit row, one error type) and reads the key back from LiteLLM.

Bad input raises KeyInputError before anything is sent: nothing changes. The plaintext of a new key exists only
in LiteLLM's answer to /key/generate; it is handed back once in `KeyOutcome.plaintext` (a SecretStr) and is in
no plan, audit row or message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from pydantic import SecretStr

from lib.auth.gate import perform
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.keys.records import label
from lib.keys.snapshot import KeySnapshots
from lib.litellm.client import LiteLLMClient, LiteLLMError
from lib.litellm.keys_api import (
    LiteLLMKey,
    block_key,
    delete_key,
    generate_key,
    key_info,
    list_keys_page,
    unblock_key,
    update_key,
)

# LiteLLM's own rule for aliases when it checks them (enable_key_alias_format_validation): kept always, so an
# alias made here is valid on every proxy.
ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-/.@]{0,253}[A-Za-z0-9]$")
ALIAS_RULE = "2-255 characters: letters, digits and _ - / . @, starting and ending with a letter or digit"
BUDGET_PERIODS = {"1d": "Daily", "7d": "Weekly", "30d": "Monthly"}
_PERIOD = re.compile(r"^\d+(s|m|h|d|w|mo)$")  # LiteLLM's durations
MAX_EXPIRY_DAYS = 3650
MAX_LIMIT = 10**12
# name -> (label, highest input price per 1M tokens; None = every model, sent as an empty list)
POWER_LEVELS = {
    "all": ("All models", None),
    "standard": ("Standard: models up to $3 per 1M input tokens", 3.0),
    "economy": ("Economy: models up to $0.50 per 1M input tokens", 0.5),
}
# console name -> LiteLLM's field
FIELDS = {
    "alias": "key_alias",
    "owner": "user_id",
    "team": "team_id",
    "models": "models",
    "max_budget": "max_budget",
    "soft_budget": "soft_budget",
    "budget_period": "budget_duration",
    "rpm_limit": "rpm_limit",
    "tpm_limit": "tpm_limit",
}
EDITABLE = ("alias", "models", "max_budget", "soft_budget", "budget_period", "rpm_limit", "tpm_limit")
KEEP, NEVER = "keep", "never"  # expiry choices of an edit (or a number of days)


class KeyInputError(ConsoleError, ValueError):
    """The admin's input cannot be sent to LiteLLM; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class KeySettings:
    """A key's settings in the console's words; None = not set (no limit, no owner...)."""

    alias: str | None = None
    owner: str | None = None  # LiteLLM user id
    team: str | None = None
    models: tuple[str, ...] = ()  # () = every model
    max_budget: float | None = None
    soft_budget: float | None = None
    budget_period: str | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None

    @classmethod
    def of(cls, known_alias: str | None = None, **raw: Any) -> KeySettings:
        """Checked and normalised from what a form gave (text stripped, empty = None). `known_alias`: the key's
        alias as LiteLLM has it, kept as it is even if made under a looser rule than ALIAS_PATTERN."""
        unknown = set(raw) - set(FIELDS)
        if unknown:
            raise KeyInputError(f"unknown key setting(s): {', '.join(sorted(unknown))}")
        v = {name: _none(raw.get(name)) for name in FIELDS}
        for name in ("alias", "owner", "team", "budget_period"):
            if v[name] is not None:
                v[name] = str(v[name]).strip() or None
        if v["alias"] is not None and v["alias"] != known_alias and not ALIAS_PATTERN.match(v["alias"]):
            raise KeyInputError(f"The alias {v['alias']!r} is not valid: use {ALIAS_RULE}.")
        for name in ("owner", "team"):
            if v[name] is not None and (len(v[name]) > 255 or any(ord(c) < 32 for c in v[name])):
                raise KeyInputError(f"The {name} must be at most 255 characters, without control characters.")
        models = v["models"] or ()
        if isinstance(models, str):
            models = (models,)
        v["models"] = tuple(sorted({str(m).strip() for m in models if str(m).strip()}))
        for name in ("max_budget", "soft_budget"):
            if v[name] is not None:
                v[name] = _number(name, v[name])
        if v["max_budget"] is not None and v["soft_budget"] is not None and v["soft_budget"] > v["max_budget"]:
            raise KeyInputError(
                f"The soft budget (${v['soft_budget']:,.2f}) is above the max budget (${v['max_budget']:,.2f}): "
                "the alert would come after the key is stopped."
            )
        for name in ("rpm_limit", "tpm_limit"):
            if v[name] is not None:
                v[name] = _limit(name, v[name])
        if v["budget_period"] is not None:
            if not _PERIOD.match(v["budget_period"]):
                raise KeyInputError(
                    f"The budget period {v['budget_period']!r} is not one LiteLLM knows (e.g. 1d, 7d, 30d)."
                )
        return cls(**v)

    @classmethod
    def of_key(cls, row) -> KeySettings:
        """The current settings of a key (a row of lib.keys.records' frame)."""
        return cls(
            alias=_none(row["alias"]),
            owner=_none(row["user_id"]),
            team=_none(row["team_id"]),
            models=tuple(sorted(row["models"] or ())),
            max_budget=_none(row["max_budget"]),
            soft_budget=_none(row["soft_budget"]),
            budget_period=_none(row["budget_duration"]),
            rpm_limit=None if _none(row["rpm_limit"]) is None else int(row["rpm_limit"]),
            tpm_limit=None if _none(row["tpm_limit"]) is None else int(row["tpm_limit"]),
        )

    def body(self, names=FIELDS) -> dict[str, Any]:
        """LiteLLM's fields of these settings (JSON values: a frame's numpy numbers become Python ones)."""
        return {FIELDS[n]: list(self.models) if n == "models" else _none(getattr(self, n)) for n in names}


@dataclass(frozen=True)
class KeyPlan:
    action: str  # the gate's action (lib.auth.gate.ACTIONS)
    target: str  # the key as the audit log names it
    token: str | None  # the key acted on (None: a new key)
    body: dict[str, Any] = field(default_factory=dict)  # sent to LiteLLM (generate or update; never a secret)
    changes: dict[str, Any] = field(default_factory=dict)  # audited: setting -> value, or [before, after]
    summary: str = ""


@dataclass(frozen=True)
class KeyOutcome:
    key: LiteLLMKey | None  # the key as LiteLLM now has it (a new key: the new one)
    plaintext: SecretStr | None = None  # a new key's plaintext: shown once, never kept
    replaced: LiteLLMKey | None = None  # replace: the old key, as LiteLLM now has it
    message: str = ""
    warning: str | None = None


# -- plans -----------------------------------------------------------------------------------------------------
def models_for_power_level(level: str, prices: dict[str, float | None]) -> tuple[str, ...]:
    """The models a power level allows among `prices` (model -> input $ per 1M tokens, None when unknown):
    () for "all" (LiteLLM's empty list = every model); models of unknown price are never included."""
    if level not in POWER_LEVELS:
        raise KeyInputError(f"unknown power level {level!r}; choose one of {', '.join(POWER_LEVELS)}")
    cap = POWER_LEVELS[level][1]
    if cap is None:
        return ()
    chosen = tuple(sorted(m for m, p in prices.items() if p is not None and not math.isnan(p) and p <= cap))
    if not chosen:
        raise KeyInputError(
            f"No model in the catalogue fits {POWER_LEVELS[level][0]!r}: sync the models or pick models by name."
        )
    return chosen


def plan_create(settings: KeySettings, expires_in_days: int | None = None, power_level: str | None = None) -> KeyPlan:
    if settings.alias is None:
        raise KeyInputError("Give the new key an alias: it names the key in every list and in the usage data.")
    if settings.budget_period is not None and settings.max_budget is None and settings.soft_budget is None:
        raise KeyInputError("A budget period resets a budget: set a max or soft budget too, or no period.")
    body = {k: v for k, v in settings.body().items() if v is not None and v != []}
    body["models"] = list(settings.models)
    changes = {n: _shown(getattr(settings, n)) for n in FIELDS if getattr(settings, n) not in (None, ())}
    if power_level is not None:
        changes["power_level"] = power_level
    if expires_in_days is not None:
        body["duration"] = f"{_days(expires_in_days)}d"
        changes["expires_in_days"] = expires_in_days
    return KeyPlan(
        "keys.create",
        settings.alias,
        None,
        body,
        changes,
        f"Create key {settings.alias!r}",
    )


def plan_update(row, desired: KeySettings, expiry: str | int = KEEP) -> KeyPlan:
    """Only what differs from the key's current settings is sent (and audited as [before, after])."""
    _live(row, "edit")
    current = KeySettings.of_key(row)
    if current.alias is not None and desired.alias is None:
        raise KeyInputError("A key's alias cannot be removed; give it another one.")
    changed = [n for n in EDITABLE if not _same(getattr(current, n), getattr(desired, n))]
    body = desired.body(changed)
    changes = {n: [_shown(getattr(current, n)), _shown(getattr(desired, n))] for n in changed}
    if expiry == NEVER:
        if _none(row["expires"]) is not None:
            body["duration"] = None  # LiteLLM: no duration = never expires
            changes["expires"] = [_shown(row["expires"]), None]
    elif expiry != KEEP:
        days = _days(expiry)
        body["duration"] = f"{days}d"
        changes["expires"] = [_shown(row["expires"]), f"in {days} days"]
    if not body:
        raise KeyInputError("Nothing to change: the settings are the key's current ones.")
    return KeyPlan("keys.update", _target(row), row["token"], body, changes, f"Update {', '.join(changes)}")


def plan_block(row) -> KeyPlan:
    _live(row, "block")
    if row["blocked"]:
        raise KeyInputError(f"{_target(row)} is already blocked.")
    return KeyPlan("keys.block", _target(row), row["token"], summary=f"Block {_target(row)}")


def plan_unblock(row) -> KeyPlan:
    _live(row, "unblock")
    if not row["blocked"]:
        raise KeyInputError(f"{_target(row)} is not blocked.")
    return KeyPlan("keys.unblock", _target(row), row["token"], summary=f"Unblock {_target(row)}")


def confirmation_word(row) -> str:
    """What an admin types to confirm deleting a key: its alias, or LiteLLM's masked name."""
    return _none(row["alias"]) or row["key_name"]


def plan_delete(row, typed: str) -> KeyPlan:
    _live(row, "delete")
    word = confirmation_word(row)
    if (typed or "").strip() != word.strip():
        raise KeyInputError(f"Type {word!r} exactly to confirm the deletion; nothing was deleted.")
    return KeyPlan("keys.delete", _target(row), row["token"], summary=f"Delete {_target(row)}")


def replacement_alias(row, today: date) -> str:
    """A suggested alias for a key's replacement (aliases are unique in LiteLLM)."""
    base = _none(row["alias"]) or f"key-{row['token'][:8]}"
    return f"{base[:240]}-{today:%Y%m%d}"


def plan_replace(row, new_alias: str, now: datetime | None = None) -> KeyPlan:
    """A copy of the key (the same owner, team, models, budgets, limits and expiry) under `new_alias`, then the
    old key blocked. LiteLLM's own /key/regenerate is enterprise-only."""
    _live(row, "replace")
    now = now or utcnow()
    expires = _none(row["expires"])
    if expires is not None and expires <= now:
        raise KeyInputError(f"{_target(row)} has expired: create a new key instead of copying it.")
    copy = KeySettings.of_key(row)
    settings = KeySettings.of(**{n: getattr(copy, n) for n in FIELDS} | {"alias": new_alias})
    if settings.alias is None:
        raise KeyInputError("Give the replacement key an alias.")
    body = {k: v for k, v in settings.body().items() if v is not None}
    body["metadata"] = {"replaces": row["token"]}
    if expires is not None:  # the same moment of expiry
        body["duration"] = f"{max(1, int((expires - now).total_seconds()))}s"
    return KeyPlan(
        "keys.replace",
        _target(row),
        row["token"],
        body,
        {"new_alias": settings.alias},
        f"Create {settings.alias!r} with the settings of {_target(row)}, then block {_target(row)}",
    )


# -- applying --------------------------------------------------------------------------------------------------
def apply_plan(
    engine, client: LiteLLMClient, actor, plan: KeyPlan, snapshots: KeySnapshots | None = None
) -> KeyOutcome:
    """Run the plan through the gate (refused: nothing is sent; audited either way), read the key back from
    LiteLLM, and patch the process's snapshot of the keys with it."""

    def change() -> KeyOutcome:
        return _RUN[plan.action](client, plan)

    def details(o: KeyOutcome) -> dict:
        out: dict[str, Any] = {"changes": plan.changes} if plan.changes else {}
        if o.key is not None and o.key.token != plan.token:
            out["new_hash"] = o.key.token
        if o.warning:
            out["warning"] = o.warning
        return out

    outcome = perform(
        engine,
        actor,
        plan.action,
        plan.target,
        change,
        transaction=False,
        context={"hash": plan.token} if plan.token else None,
        details=details,
        outcome=lambda o: "partial" if o.warning else "success",
    )
    if snapshots is not None:
        for key in (outcome.key, outcome.replaced):
            if key is not None:
                snapshots.patch(key)
    return outcome


def _create(client: LiteLLMClient, plan: KeyPlan) -> KeyOutcome:
    made = generate_key(client, plan.body)
    key = key_info(client, made.token)
    return KeyOutcome(key, made.key, message=f"Created {label(key.key_alias, key.key_name)}.")


def _update(client: LiteLLMClient, plan: KeyPlan) -> KeyOutcome:
    update_key(client, plan.token, plan.body)
    key = key_info(client, plan.token)
    return KeyOutcome(key, message=f"Updated {plan.target}: {', '.join(plan.changes)}.")


def _block(client: LiteLLMClient, plan: KeyPlan) -> KeyOutcome:
    (block_key if plan.action == "keys.block" else unblock_key)(client, plan.token)
    key = key_info(client, plan.token)
    done = "Blocked" if plan.action == "keys.block" else "Unblocked"
    return KeyOutcome(key, message=f"{done} {plan.target}.")


def _delete(client: LiteLLMClient, plan: KeyPlan) -> KeyOutcome:
    delete_key(client, plan.token)
    # /key/info still answers for a deleted key (LiteLLM 1.108): the archive says it is deleted
    archived = list_keys_page(client, 1, 1, status="deleted", key_hash=plan.token).keys
    if not archived:
        raise ConsoleError(
            f"LiteLLM accepted deleting {plan.target} but does not list it as deleted; reload the keys to check."
        )
    return KeyOutcome(archived[0], message=f"Deleted {plan.target}.")


def _replace(client: LiteLLMClient, plan: KeyPlan) -> KeyOutcome:
    made = generate_key(client, plan.body)
    new = key_info(client, made.token)
    name = label(new.key_alias, new.key_name)
    try:
        block_key(client, plan.token)
        old = key_info(client, plan.token)
    except LiteLLMError as exc:  # the new key exists: its plaintext must still be shown
        return KeyOutcome(
            new,
            made.key,
            message=f"Created {name}.",
            warning=f"{plan.target} could not be blocked ({exc}); block it by hand.",
        )
    return KeyOutcome(new, made.key, replaced=old, message=f"Created {name} and blocked {plan.target}.")


_RUN = {
    "keys.create": _create,
    "keys.update": _update,
    "keys.block": _block,
    "keys.unblock": _block,
    "keys.delete": _delete,
    "keys.replace": _replace,
}


# -- helpers ---------------------------------------------------------------------------------------------------
def _none(v):
    """None for every kind of missing value a frame or a form gives (None, NaN, NaT, pandas NA)."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    return v.item() if hasattr(v, "item") else v  # numpy scalars as Python ones


def _number(name: str, v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise KeyInputError(f"The {name.replace('_', ' ')} must be a number of dollars.") from None
    if not math.isfinite(x) or x < 0 or x > 1e12:
        raise KeyInputError(f"The {name.replace('_', ' ')} must be between $0 and $1,000,000,000,000.")
    return round(x, 6)


def _limit(name: str, v) -> int:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise KeyInputError(f"The {name.replace('_', ' ')} must be a whole number.") from None
    if not x.is_integer() or not 0 <= x <= MAX_LIMIT:  # 0: LiteLLM lets no request through
        raise KeyInputError(f"The {name.replace('_', ' ')} must be a whole number from 0 (empty = no limit).")
    return int(x)


def _days(v) -> int:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise KeyInputError("The expiry must be a number of days.") from None
    if not x.is_integer() or not 1 <= x <= MAX_EXPIRY_DAYS:
        raise KeyInputError(f"The expiry must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}.")
    return int(x)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _shown(v):
    """A setting as the audit log keeps it (JSON)."""
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, (datetime, pd.Timestamp)):
        return v.isoformat()
    return v


def _target(row) -> str:
    return label(row["alias"], row["key_name"])


def _live(row, verb: str) -> None:
    if _none(row["deleted_at"]) is not None or row.get("status") == "deleted":
        raise KeyInputError(f"{_target(row)} is deleted: there is nothing to {verb}.")
