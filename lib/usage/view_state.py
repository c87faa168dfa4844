"""The Usage pages' view state: range and filters, to and from the URL query string.

A link reproduces the view. Anything invalid in the URL is dropped with a message (never an error
page, never data outside what the viewer may see).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from lib.usage.periods import DEFAULT_PRESET, PRESETS, preset_range
from lib.usage.queries import Filters

LIST_PARAMS = ("model", "provider", "user", "key", "team")
_FILTER_FIELD = {"model": "models", "provider": "providers", "user": "users", "key": "api_keys", "team": "teams"}


@dataclass
class ViewState:
    preset: str = DEFAULT_PRESET  # one of PRESETS, or "Custom"
    start: date | None = None  # only for "Custom"
    end: date | None = None
    filters: Filters = field(default_factory=Filters)
    problems: list[str] = field(default_factory=list)

    def range(self, today: date, first_day: date | None) -> tuple[date, date]:
        if self.preset == "Custom" and self.start and self.end:
            return self.start, self.end
        return preset_range(self.preset if self.preset in PRESETS else DEFAULT_PRESET, today, first_day)

    def to_query(self) -> dict[str, str | list[str]]:
        q: dict[str, str | list[str]] = {"range": self.preset}
        if self.preset == "Custom" and self.start and self.end:
            q["start"], q["end"] = self.start.isoformat(), self.end.isoformat()
        for param, name in _FILTER_FIELD.items():
            values = list(getattr(self.filters, name))
            if values:
                q[param] = values
        return q


def parse_query(
    params: dict[str, list[str]], options: dict | None = None, bounds: tuple[date, date] | None = None
) -> ViewState:
    """Read a view from query parameters (each a list of values).

    `options` (from queries.filter_options) lets unknown filter values be dropped with a message; `bounds`
    (first stored day, today) clips a custom range to what can be shown, saying so.
    """
    state = ViewState()
    preset = (params.get("range") or [DEFAULT_PRESET])[0]
    if preset == "Custom":
        try:
            start = date.fromisoformat((params.get("start") or [""])[0])
            end = date.fromisoformat((params.get("end") or [""])[0])
        except ValueError:
            state.problems.append("The custom range in the link is not valid dates; showing the last 7 days.")
        else:
            if start > end:
                state.problems.append("The link's start date is after its end date; showing the last 7 days.")
            else:
                _set_custom(state, start, end, bounds)
    elif preset in PRESETS:
        state.preset = preset
    else:
        state.problems.append(f"Unknown range {preset!r} in the link; showing the last 7 days.")
    chosen = {}
    for param, name in _FILTER_FIELD.items():
        values = [v for v in params.get(param, []) if v]
        if options is not None and values:
            allowed = _allowed(options, name)
            unknown = [v for v in values if v not in allowed]
            if unknown:
                state.problems.append(f"Ignored unknown {param} filter value(s): {', '.join(unknown[:5])}")
            values = [v for v in values if v in allowed]
        chosen[name] = values
    state.filters = Filters.of(**chosen)
    return state


def _set_custom(state: ViewState, start: date, end: date, bounds: tuple[date, date] | None) -> None:
    if bounds is not None:
        first, last = bounds
        if start > last or end < first:
            state.problems.append(
                f"The link's range {start} – {end} has no stored days (they run from {first} to "
                f"{last}); showing the last 7 days."
            )
            return
        if start < first or end > last:
            clipped = max(start, first), min(end, last)
            state.problems.append(
                f"The link's range {start} – {end} was narrowed to {clipped[0]} – {clipped[1]}: "
                "the stored days"
                + (f" start on {first}" if start < first else "")
                + (" and" if start < first and end > last else "")
                + (f" end today ({last})" if end > last else "")
                + "."
            )
            start, end = clipped
    state.preset, state.start, state.end = "Custom", start, end


def _allowed(options: dict, name: str) -> set[str]:
    if name == "api_keys":
        return set(options["api_keys"]["api_key"])
    return set(options[name])


MASTER_KEY_NAME = "litellm_proxy_master_key"  # LiteLLM's name for calls made with its master key (no alias)


def text_or_none(value) -> str | None:
    """A text cell from a query frame: missing text reads as NaN there (pandas 3), which is truthy."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value) or None


def api_key_label(api_key: str, alias, owner) -> str:
    """How a key is named in pickers: its alias (or a recognisable stub) and its owner, when LiteLLM knows them."""
    alias, owner = text_or_none(alias), text_or_none(owner)
    name = alias or ("LiteLLM master key" if api_key == MASTER_KEY_NAME else f"key …{api_key[-6:]}")
    return f"{name} ({owner})" if owner else name


def api_key_labels(keys: pd.DataFrame) -> dict[str, str]:
    return {r.api_key: api_key_label(r.api_key, r.key_alias, r.owner) for r in keys.itertuples()}


def restrict_to_user(f: Filters, litellm_user_id: str, own_keys: set[str]) -> Filters:
    """My-usage views: whatever was asked, only this user's keys and data remain."""
    keys = tuple(k for k in f.api_keys if k in own_keys)
    return Filters.of(models=f.models, providers=f.providers, users=[litellm_user_id], api_keys=keys, teams=f.teams)
