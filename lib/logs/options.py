"""The values the Request logs filters offer, from the usage store (what LiteLLM's daily activity has seen), and
a typed key alias turned into the key's hash, which is what `/spend/logs/v2` filters on exactly."""

from __future__ import annotations

import re

import pandas as pd

from lib.logs.query import LogQueryError
from lib.usage.queries import filter_options
from lib.usage.view_state import api_key_labels

_HASH = re.compile(r"[0-9a-f]{64}")


def filter_choices(store) -> dict:
    """models, model_groups, users, teams (lists) and api_keys (api_key, key_alias, owner) over every stored day;
    empty while the store holds nothing."""
    try:
        found = filter_options(store)
    except Exception:  # an empty or missing store: the filters still take typed values
        found = {}
    keys = found.get("api_keys")
    return {
        "models": list(found.get("models", [])),
        "model_groups": list(found.get("model_groups", [])),
        "users": list(found.get("users", [])),
        "teams": list(found.get("teams", [])),
        "api_keys": keys if isinstance(keys, pd.DataFrame) else pd.DataFrame(columns=["api_key", "key_alias", "owner"]),
    }


def key_labels(keys: pd.DataFrame) -> dict[str, str]:
    """hash -> how the picker names the key (alias and owner)."""
    return api_key_labels(keys)


def resolve_key(keys: pd.DataFrame, typed: str | None) -> str | None:
    """A key picked or typed: a known hash as it is, an alias to its key's hash, a 64-digit hash as it is."""
    if typed is None or not str(typed).strip():
        return None
    typed = str(typed).strip()
    if typed in set(keys["api_key"]):
        return typed
    by_alias = keys[keys["key_alias"] == typed]
    if len(by_alias) == 1:
        return str(by_alias["api_key"].iloc[0])
    if len(by_alias) > 1:
        raise LogQueryError(f"{len(by_alias)} keys are named {typed!r}: pick one from the list (they show their owner)")
    labels = {label: h for h, label in key_labels(keys).items()}
    if typed in labels:
        return labels[typed]
    if _HASH.fullmatch(typed.lower()):
        return typed.lower()
    raise LogQueryError(f"no key is named {typed!r}: pick one from the list, or give its SHA-256 hash")
