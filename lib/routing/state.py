"""The console's desired routing: what an admin sets on the Routing page (or in routing.yaml), validated.

`RoutingState` is the whole of it: the strategy (a preset or LiteLLM's own strategy by name), fallback chains,
aliases, use cases, power levels and smart routing. It is pure data (pydantic); lib.routing.plan turns it into
changes to LiteLLM and lib.routing.store keeps it in the app database. Every invalid input raises
`RoutingInputError` with a message that names the field ("fallbacks[0].fallbacks: …").

Names of model groups are checked in two places: here, what the state alone can tell (a chain that cycles, an
alias pointing at itself, two things claiming one public name); in `check_groups`, against the groups that
exist (LiteLLM's public names plus the ones routing itself makes), which needs LiteLLM's answer.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lib.core.errors import ConsoleError

# LiteLLM's strategies (litellm.types.router.RoutingStrategy plus the default). LiteLLM stores any string without
# complaint and then fails at every router reload, so the console checks the name before sending it.
VALID_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
)
PRESETS = ("cost", "balanced", "quality")
# What each preset sets in LiteLLM (the page's cards say this; lib.routing.plan does it).
PRESET_STRATEGY = {"cost": "cost-based-routing", "balanced": "simple-shuffle", "quality": "simple-shuffle"}
PRESET_LABEL = {"cost": "Cost optimized", "balanced": "Balanced", "quality": "Quality optimized"}
PRESET_DOES = {
    "cost": "Sends each request to the cheapest deployment of its model group.",
    "balanced": "Spreads requests over a group's deployments, more to the providers you prefer.",
    "quality": "Sends each request to the best deployment of its group, by your quality rank.",
}
PRESET_SUMMARY = {
    "cost": "cost-based-routing; within each group, deployments ordered cheapest first (model prices)",
    "balanced": "simple-shuffle; one order per group, each deployment weighted by its provider's priority",
    "quality": "simple-shuffle; within each group, deployments ordered by the admin's quality rank, best first",
}
FALLBACK_TYPES = ("general", "context_window", "content_policy")
POWER_LEVELS = ("eco", "balanced", "precision")
TIERS = ("simple", "medium", "complex", "reasoning")
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}")


class RoutingInputError(ConsoleError, ValueError):
    """The routing asked for cannot be used; the message names the field and says why. `loc`: the field's path
    (e.g. ("use_cases", 0, "temperature")) when known, so a YAML reader can name its line."""

    def __init__(self, message: str, loc: tuple = ()):
        super().__init__(message)
        self.loc = tuple(loc)


def _group(value: str, what: str = "model group") -> str:
    value = (value or "").strip()
    if not GROUP_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {what} name (letters, digits and . _ : / @ -)")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdvancedSettings(_Model):
    """LiteLLM's own router settings, used as they are when the strategy is "advanced"; the retry/timeout ones
    also apply to the presets when set."""

    routing_strategy: str = "simple-shuffle"
    routing_strategy_args: dict = Field(default_factory=dict)
    num_retries: int | None = Field(default=None, ge=0, le=20)
    timeout: float | None = Field(default=None, gt=0, le=86400)
    allowed_fails: int | None = Field(default=None, ge=0, le=1000)
    cooldown_time: float | None = Field(default=None, ge=0, le=86400)

    @field_validator("routing_strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v not in VALID_STRATEGIES:
            raise ValueError(f"{v!r} is not one of LiteLLM's routing strategies ({', '.join(VALID_STRATEGIES)})")
        return v


class FallbackChain(_Model):
    """When `group` fails (for `type`'s reason), LiteLLM tries `fallbacks` in order."""

    group: str
    type: Literal["general", "context_window", "content_policy"] = "general"
    fallbacks: tuple[str, ...]

    @field_validator("group")
    @classmethod
    def _group_name(cls, v: str) -> str:
        return _group(v)

    @field_validator("fallbacks")
    @classmethod
    def _chain(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(_group(x) for x in v)
        if not names:
            raise ValueError("a chain needs at least one fallback group")
        if len(set(names)) != len(names):
            raise ValueError("a group appears twice in the chain")
        return names


class UseCase(_Model):
    """A public name (e.g. sql-generation) served by `model` with these default parameters."""

    name: str
    model: str
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    top_p: float | None = Field(default=None, ge=0, le=1)

    @field_validator("name", "model")
    @classmethod
    def _names(cls, v: str) -> str:
        return _group(v)

    def params(self) -> dict:
        return {k: getattr(self, k) for k in ("temperature", "max_tokens", "top_p") if getattr(self, k) is not None}


class SmartRouting(_Model):
    """One public name routed by LiteLLM's complexity router: each tier to a model group, else `fallback`."""

    enabled: bool = False
    public_name: str = "smart"
    simple: str | None = None
    medium: str | None = None
    complex: str | None = None
    reasoning: str | None = None
    fallback: str | None = None
    prefer_local: bool = False

    @field_validator("public_name", "simple", "medium", "complex", "reasoning", "fallback")
    @classmethod
    def _names(cls, v: str | None) -> str | None:
        return None if v in (None, "") else _group(v)

    @model_validator(mode="after")
    def _complete(self) -> SmartRouting:
        if self.enabled:
            if not self.fallback:
                raise ValueError("fallback: smart routing needs a fallback model")
            if not (self.simple and self.complex):
                raise ValueError("simple and complex: smart routing needs both models")
        return self

    def tiers(self) -> dict[str, str]:
        """LiteLLM's tier names -> model group; an unset tier takes the next harder one's (medium: complex)."""
        medium = self.medium or self.complex
        reasoning = self.reasoning or self.complex
        return {"SIMPLE": self.simple, "MEDIUM": medium, "COMPLEX": self.complex, "REASONING": reasoning}


class RoutingState(_Model):
    strategy: Literal["cost", "balanced", "quality", "advanced"] = "balanced"
    advanced: AdvancedSettings = Field(default_factory=AdvancedSettings)
    quality_rank: dict[str, int] = Field(default_factory=dict)  # "<prefix>/<model>" -> rank, 1 is best
    fallbacks: tuple[FallbackChain, ...] = ()
    aliases: dict[str, str] = Field(default_factory=dict)  # public name -> model group
    use_cases: tuple[UseCase, ...] = ()
    power_levels: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # eco|balanced|precision -> candidates
    smart: SmartRouting = Field(default_factory=SmartRouting)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: dict[str, str]) -> dict[str, str]:
        out = {_group(k, "alias"): _group(t) for k, t in v.items()}
        for alias, target in out.items():
            if alias == target:
                raise ValueError(f"{alias}: an alias cannot point at itself")
            if target in out:
                raise ValueError(f"{alias}: points at {target}, itself an alias (point at a model group)")
        return out

    @field_validator("power_levels")
    @classmethod
    def _levels(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        out = {}
        for level, models in v.items():
            if level not in POWER_LEVELS:
                raise ValueError(f"{level!r} is not a power level ({', '.join(POWER_LEVELS)})")
            names = tuple(_group(m) for m in models)
            if not names:
                raise ValueError(f"{level}: a power level needs at least one candidate model")
            if len(set(names)) != len(names):
                raise ValueError(f"{level}: a candidate appears twice")
            out[level] = names
        return out

    @field_validator("quality_rank")
    @classmethod
    def _ranks(cls, v: dict[str, int]) -> dict[str, int]:
        for model, rank in v.items():
            if rank < 1:
                raise ValueError(f"{model}: a quality rank is 1 (best) or more")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RoutingState:
        seen: dict[tuple[str, str], int] = {}
        for i, chain in enumerate(self.fallbacks):
            key = (chain.group, chain.type)
            if key in seen:
                raise ValueError(
                    f"fallbacks[{i}]: {chain.group} already has a {chain.type} chain (fallbacks[{seen[key]}])"
                )
            seen[key] = i
        for kind in FALLBACK_TYPES:
            cycle = _cycle({c.group: c.fallbacks for c in self.fallbacks if c.type == kind})
            if cycle:
                raise ValueError(f"fallbacks ({kind}): the chains make a cycle: {' → '.join(cycle)}")
        owners: dict[str, str] = {}
        for name, owner in self.routing_names():
            if name in owners:
                raise ValueError(f"{owner}: the public name {name!r} is already used by {owners[name]}")
            owners[name] = owner
        return self

    def routing_names(self) -> list[tuple[str, str]]:
        """(public name, the field that makes it) of every name routing adds to LiteLLM."""
        names = [(a, f"aliases.{a}") for a in self.aliases]
        names += [(u.name, f"use_cases[{i}].name") for i, u in enumerate(self.use_cases)]
        names += [(level, f"power_levels.{level}") for level in self.power_levels]
        if self.smart.enabled:
            names.append((self.smart.public_name, "smart.public_name"))
        return names

    def referenced_groups(self) -> list[tuple[str, str]]:
        """(model group, the field naming it) of every group the state refers to."""
        refs = [(c.group, f"fallbacks[{i}].group") for i, c in enumerate(self.fallbacks)]
        refs += [(g, f"fallbacks[{i}].fallbacks") for i, c in enumerate(self.fallbacks) for g in c.fallbacks]
        refs += [(t, f"aliases.{a}") for a, t in self.aliases.items()]
        refs += [(u.model, f"use_cases[{i}].model") for i, u in enumerate(self.use_cases)]
        refs += [(m, f"power_levels.{lv}") for lv, ms in self.power_levels.items() for m in ms]
        if self.smart.enabled:
            refs += [(getattr(self.smart, t), f"smart.{t}") for t in (*TIERS, "fallback") if getattr(self.smart, t)]
        return refs

    def router_strategy(self) -> str:
        return self.advanced.routing_strategy if self.strategy == "advanced" else PRESET_STRATEGY[self.strategy]


def _cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle in group -> fallbacks, as the path that closes it, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if state.get(nxt) is None and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None and (found := visit(start, [start])):
            return found
    return None


def _where(error: dict) -> str:
    loc = ""
    for part in error.get("loc", ()):
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    return loc


def parse_state(data: dict | None) -> RoutingState:
    """A RoutingState from plain data (YAML, JSON, the page), or RoutingInputError naming the first bad field."""
    if data is None:
        return RoutingState()
    if not isinstance(data, dict):
        raise RoutingInputError("routing: expected a mapping of settings")
    try:
        return RoutingState.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        where = _where(err)
        raise RoutingInputError(f"{where}: {msg}" if where else msg, tuple(err.get("loc", ()))) from None


def check_groups(state: RoutingState, known: set[str]) -> None:
    """Refuse a reference to a model group that neither LiteLLM nor routing itself serves."""
    available = set(known) | {name for name, _ in state.routing_names()}
    for group, where in state.referenced_groups():
        if group not in available:
            raise RoutingInputError(f"{where}: no model group named {group!r} (not in LiteLLM or in routing)")


def state_json(state: RoutingState) -> dict:
    """Plain JSON data of a state (what the store keeps and export writes)."""
    return state.model_dump(mode="json")
