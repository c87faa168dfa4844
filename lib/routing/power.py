"""Power levels' figures: each level's price per 1M tokens and its use over the last 30 days. Pure: LiteLLM's
deployments (their prices) and the usage store's sums in, numbers out (lib.routing.service reads them).

Price per 1M tokens. A candidate model group's price per token is LiteLLM's for the deployment the level copies
(the group's first-serving deployment: `model_info.input_cost_per_token` / `output_cost_per_token`, else the same
keys of its `litellm_params`). A candidate's price per 1M tokens weighs those by the **token mix of recent traffic**:
the prompt and completion tokens of every request in the usage store over the last 30 days (UTC days, today
included):

    per_1m = (prompt × input price + completion × output price) / (prompt + completion) × 1,000,000

Without any tokens in those 30 days the mix is the default `DEFAULT_MIX` (3 input tokens per output token, the
usual blend of chat traffic) and the figures say so. A level's price is its first candidate's (the one LiteLLM
sends the level's requests to while it is healthy; the next ones take over only when it fails); a candidate
LiteLLM knows no price for has none, and then the level's price is unknown (never a guess).

30-day use: the requests and spend of the level's public model group (its name, e.g. `eco`) in the usage store over
the same 30 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from lib.routing.plan import RoutingActual
from lib.routing.state import POWER_LEVELS, RoutingState

WINDOW_DAYS = 30
DEFAULT_MIX = (3, 1)  # input : output tokens when there was no traffic


@dataclass(frozen=True)
class TokenMix:
    """The input/output weighting of a price: tokens of recent traffic, or the default mix."""

    prompt_tokens: int
    completion_tokens: int
    from_traffic: bool

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> TokenMix:
        if prompt_tokens + completion_tokens > 0:
            return cls(int(prompt_tokens), int(completion_tokens), True)
        return cls(DEFAULT_MIX[0], DEFAULT_MIX[1], False)

    @property
    def input_share(self) -> float:
        return self.prompt_tokens / (self.prompt_tokens + self.completion_tokens)

    def describe(self) -> str:
        pct = round(self.input_share * 100)
        if self.from_traffic:
            return (
                f"weighted by the last {WINDOW_DAYS} days' traffic: {self.prompt_tokens:,} input and "
                f"{self.completion_tokens:,} output tokens ({pct}% input)"
            )
        return (
            f"no traffic in the last {WINDOW_DAYS} days: weighted by the default mix of {DEFAULT_MIX[0]} input "
            f"tokens per {DEFAULT_MIX[1]} output token ({pct}% input)"
        )


@dataclass(frozen=True)
class GroupUse:
    requests: int = 0
    spend: float = 0.0


@dataclass(frozen=True)
class CandidatePrice:
    group: str
    litellm_model: str | None  # the deployment whose price it is; None: the group has no deployment in LiteLLM
    input_cost_per_token: float | None
    output_cost_per_token: float | None
    per_1m: float | None


@dataclass(frozen=True)
class LevelFigures:
    level: str
    candidates: tuple[CandidatePrice, ...]
    per_1m: float | None  # the first candidate's: see the module docstring
    requests: int
    spend: float

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "per_1m": self.per_1m,
            "requests": self.requests,
            "spend": self.spend,
            "candidates": [c.__dict__ for c in self.candidates],
        }


def window(today: date) -> tuple[date, date]:
    """The last WINDOW_DAYS UTC days, today included."""
    return today - timedelta(days=WINDOW_DAYS - 1), today


def _cost(d, key: str) -> float | None:
    value = d.info.get(key)
    if value is None:
        value = d.params.get(key)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def price_per_1m(input_cost: float | None, output_cost: float | None, mix: TokenMix) -> float | None:
    """$ per 1M tokens of that mix; None when LiteLLM knows neither price (one unknown side counts as free)."""
    if input_cost is None and output_cost is None:
        return None
    share = mix.input_share
    return (share * (input_cost or 0.0) + (1 - share) * (output_cost or 0.0)) * 1e6


def candidate_price(actual: RoutingActual, group: str, mix: TokenMix) -> CandidatePrice:
    serving = actual.group(group)
    if not serving:
        return CandidatePrice(group, None, None, None, None)
    d = serving[0]
    pin, pout = _cost(d, "input_cost_per_token"), _cost(d, "output_cost_per_token")
    return CandidatePrice(group, d.params.get("model"), pin, pout, price_per_1m(pin, pout, mix))


def level_figures(
    state: RoutingState, actual: RoutingActual, use: Mapping[str, GroupUse], mix: TokenMix
) -> list[LevelFigures]:
    """The figures of each power level the state has, in POWER_LEVELS' order. `use`: model group -> 30-day use."""
    out = []
    for level in POWER_LEVELS:
        candidates = state.power_levels.get(level)
        if not candidates:
            continue
        prices = tuple(candidate_price(actual, g, mix) for g in candidates)
        used = use.get(level, GroupUse())
        out.append(LevelFigures(level, prices, prices[0].per_1m, used.requests, used.spend))
    return out
