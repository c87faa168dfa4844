"""One check's answer: green (fine), amber (works, needs a look) or red (broken), and why, in words."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["green", "amber", "red"]
ORDER: dict[str, int] = {"green": 0, "amber": 1, "red": 2}


@dataclass(frozen=True)
class Check:
    name: str  # what was checked, e.g. "LiteLLM liveness"
    status: Status
    reason: str  # why this status, for a person (may quote LiteLLM: show it as plain text)


def worst(statuses: Iterable[str]) -> Status:
    """The most severe of `statuses` (green when there are none)."""
    return max(statuses, key=ORDER.__getitem__, default="green")


def short_error(text: str | None, limit: int = 300) -> str:
    """The first line of an error (LiteLLM's carry a stack trace after "stack trace:"), bounded."""
    if not text:
        return ""
    head = text.split("stack trace:", 1)[0].strip().splitlines()
    first = " ".join(head[0].split()) if head else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
