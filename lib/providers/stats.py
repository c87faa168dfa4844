"""The Providers page's figures from the usage store: header cards, each provider's 30 days, its average cost per
1M tokens, and the charts' frames. Pure: the store, the providers' views and prices in; numbers and frames out.

Which traffic is a console provider's. LiteLLM records usage per model group (the public model name clients ask
for) and per LiteLLM provider (`custom_llm_provider`, e.g. "openai"), never per credential. So a console provider's
traffic is the usage store's model-group rows whose model group is one of its public names and whose provider is
its type's LiteLLM provider (OpenAI-compatible endpoints are LiteLLM's "openai"): the Usage page's model-group
breakdown filtered by that provider, with the store's attribution rule (lib.usage.ingest.PROVIDER_RULE). When
several console providers of one LiteLLM provider serve the same public name, LiteLLM's data cannot tell them
apart: that traffic is credited once, to the provider LiteLLM sends those requests to first (enabled before
disabled, then the lowest priority number, ties by name). Each request thus counts for one provider at most, and
the header's calls and cost are the sums of the cards'.

Average cost per 1M tokens of a provider: its models' prices (per token, from LiteLLM's model_info of its
deployments, else the models catalogue's price of the public name), weighted by the input and output tokens each
model had in the last 30 days: sum(prompt x input price + completion x output price) / sum(prompt + completion)
over its priced models with traffic. Without any traffic: the plain mean of its priced models' (input + output) / 2.
None when no model of it has a price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from lib.providers.types import PROVIDER_TYPES
from lib.usage.charts import colour_of
from lib.usage.queries import Filters, breakdown_sums, daily_series, previous_period, trend
from lib.usage.store import UsageStore

WINDOW_DAYS = 30
RANGES = {"7 d": 7, "30 d": 30, "90 d": 90, "All": None}
Price = tuple[float | None, float | None]  # $ per input token, $ per output token


@dataclass(frozen=True)
class ProviderStats:
    requests: int = 0
    successful_requests: int = 0
    spend: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    success_rate: float | None = None  # %; None without requests
    avg_latency_ms: float | None = None  # None without timed requests
    avg_cost_per_1m: float | None = None  # $ per 1M tokens (see the module docstring)
    active_models: int = 0  # its public names with requests


@dataclass(frozen=True)
class Card:
    label: str
    metric: str  # lib.core.formatting.kpi_value's metric name
    current: float  # over the 30 days, today included
    previous: float  # over the days the trend compares `compared` with
    change_pct: float | None
    direction: str  # lib.usage.queries.trend's
    compared: float | None = None  # over the whole days the trend compares (today, partial, is not in it)


def litellm_provider(view) -> str:
    return PROVIDER_TYPES[view.type].litellm_provider


def credited(views: Sequence) -> dict[str, list[tuple[str, str]]]:
    """Provider name -> the (LiteLLM provider, public name) pairs whose traffic is its (module docstring)."""
    claims: dict[tuple[str, str], list] = {}
    for v in views:
        for m in v.models:
            claims.setdefault((litellm_provider(v), m.public_name), []).append(v)
    out: dict[str, list[tuple[str, str]]] = {v.name: [] for v in views}
    for pair, claimants in claims.items():
        first = min(claimants, key=lambda v: (not v.enabled, v.priority, v.name))
        out[first.name].append(pair)
    return out


def provider_colours(views: Sequence) -> dict[str, str]:
    """One colour per provider, the same on its card and in every chart: its type's colour; a second provider of a
    type (by name) takes its name's colour instead, so two providers never share one."""
    out, taken = {}, set()
    for v in sorted(views, key=lambda v: v.name):
        colour = colour_of(v.type)
        if colour in taken:
            colour = colour_of(f"provider:{v.name}")
        taken.add(colour)
        out[v.name] = colour
    return out


def _group_sums(store: UsageStore, providers: set[str], start: date, end: date) -> dict[str, pd.DataFrame]:
    """LiteLLM provider -> its model groups' metric sums in the range (indexed by model group)."""
    return {
        lp: breakdown_sums(store, start, end, Filters(providers=(lp,)), by="model_group").set_index("model_group")
        for lp in sorted(providers)
    }


def _rows(sums: Mapping[str, pd.DataFrame], pairs: list[tuple[str, str]]) -> pd.DataFrame:
    parts = [sums[lp].loc[[g for p, g in pairs if p == lp and g in sums[lp].index]] for lp in sums]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts) if parts else pd.DataFrame()


def avg_cost_per_1m(prices: Mapping[str, Price], tokens: Mapping[str, tuple[int, int]]) -> float | None:
    """$ per 1M tokens: public name -> (input, output $ per token) weighted by public name -> (prompt, completion)
    tokens where there was traffic; the plain mean of (input + output) / 2 when none had any (module docstring)."""
    priced = {n: (pin or 0.0, pout or 0.0) for n, (pin, pout) in prices.items() if pin is not None or pout is not None}
    if not priced:
        return None
    cost = weight = 0.0
    for name, (pin, pout) in priced.items():
        prompt, completion = tokens.get(name, (0, 0))
        cost += prompt * pin + completion * pout
        weight += prompt + completion
    if weight > 0:
        return cost / weight * 1e6
    return sum((pin + pout) / 2 for pin, pout in priced.values()) / len(priced) * 1e6


def model_prices(view, catalogue: Mapping[str, Price] | None = None) -> dict[str, Price]:
    """Public name -> its price per token: LiteLLM's for the provider's deployment, else the catalogue's."""
    out = {}
    for m in view.models:
        pin, pout = m.input_cost_per_token, m.output_cost_per_token
        if pin is None and pout is None and catalogue:
            pin, pout = catalogue.get(m.public_name, (None, None))
        out[m.public_name] = (pin, pout)
    return out


def _stats(rows: pd.DataFrame, prices: Mapping[str, Price]) -> ProviderStats:
    if rows.empty:
        return ProviderStats(avg_cost_per_1m=avg_cost_per_1m(prices, {}))
    total = rows.sum(numeric_only=True)
    requests, timed = int(total["api_requests"]), int(total["timed_requests"])
    tokens = {g: (int(r["prompt_tokens"]), int(r["completion_tokens"])) for g, r in rows.iterrows()}
    return ProviderStats(
        requests=requests,
        successful_requests=int(total["successful_requests"]),
        spend=float(total["spend"]),
        prompt_tokens=int(total["prompt_tokens"]),
        completion_tokens=int(total["completion_tokens"]),
        success_rate=total["successful_requests"] * 100.0 / requests if requests else None,
        avg_latency_ms=float(total["total_response_time_ms"]) / timed if timed else None,
        avg_cost_per_1m=avg_cost_per_1m(prices, tokens),
        active_models=int((rows["api_requests"] > 0).sum()),
    )


def window(today: date, days: int = WINDOW_DAYS) -> tuple[date, date]:
    """The last `days` UTC days, today included."""
    return today - timedelta(days=days - 1), today


def provider_stats(
    store: UsageStore, views: Sequence, start: date, end: date, catalogue: Mapping[str, Price] | None = None
) -> dict[str, ProviderStats]:
    """Each provider's figures over [start, end] (traffic credited as the module docstring says)."""
    pairs = credited(views)
    sums = _group_sums(store, {litellm_provider(v) for v in views}, start, end)
    return {v.name: _stats(_rows(sums, pairs[v.name]), model_prices(v, catalogue)) for v in views}


def header_cards(store: UsageStore, views: Sequence, today: date) -> list[Card]:
    """Providers configured, active models, API calls and cost over the last 30 days; the trend compares like with
    like (lib.usage.periods.comparison): the 29 whole days before today with the 29 days before them (today is
    partial: the store keeps days)."""
    start, end = window(today)
    whole = (start, today - timedelta(days=1))
    pstart, pend = previous_period(*whole)
    now = provider_stats(store, views, start, end)
    now_whole = provider_stats(store, views, *whole)
    before = provider_stats(store, views, pstart, pend)
    existed = sum(1 for v in views if v.created_at is None or v.created_at.date() < start)

    def card(label: str, metric: str, current, compared, previous) -> Card:
        pct, direction = trend(compared, previous)
        return Card(label, metric, current, previous, pct, direction, compared)

    def total(stats: dict, field: str):
        return sum(getattr(s, field) for s in stats.values())

    return [
        card("Providers configured", "providers", len(views), len(views), existed),
        card("Active models", "models", *(total(x, "active_models") for x in (now, now_whole, before))),
        card("API calls (30 d)", "requests", *(total(x, "requests") for x in (now, now_whole, before))),
        card("Cost (30 d)", "spend", *(total(x, "spend") for x in (now, now_whole, before))),
    ]


def chart_range(choice: str, today: date, first_day: date | None) -> tuple[date, date]:
    """The charts' range: the last 7, 30 or 90 days, or All (from the first stored day)."""
    days = RANGES[choice]
    if days is None:
        return (first_day or today), today
    return window(today, days)


def calls_over_time(store: UsageStore, views: Sequence, start: date, end: date) -> pd.DataFrame:
    """date, provider, requests, spend: each provider's credited traffic per day (days without traffic left out)."""
    pairs = credited(views)
    frames = []
    for lp in sorted({litellm_provider(v) for v in views}):
        daily = daily_series(store, start, end, Filters(providers=(lp,)), split_by="model_group")
        for v in views:
            groups = [g for p, g in pairs[v.name] if p == lp]
            mine = daily[daily["model_group"].isin(groups)]
            if not mine.empty:
                frames.append(mine.groupby("date", as_index=False)[["requests", "spend"]].sum().assign(provider=v.name))
    if not frames:
        return pd.DataFrame(columns=["date", "provider", "requests", "spend"])
    return pd.concat(frames)[["date", "provider", "requests", "spend"]].sort_values(["date", "provider"])


def cost_by_provider(calls: pd.DataFrame) -> pd.DataFrame:
    """provider, spend over the range of `calls_over_time`'s frame."""
    return calls.groupby("provider", as_index=False)["spend"].sum()
