"""What the Request logs page asks LiteLLM: a time window and filters, validated, as `/spend/logs/v2` parameters.

Times. LiteLLM reads `start_date`/`end_date` as UTC, either `YYYY-MM-DD` (midnight) or `YYYY-MM-DD HH:MM:SS`
(nothing finer: a fraction of a second is refused), and keeps rows with start <= startTime <= end. A window is
therefore whole seconds, both ends included: a day ends at 23:59:59 (a bare end date would stop at that day's
midnight and drop the day), and a request that started in the last second's later milliseconds (23:59:59.5) is
outside it; LiteLLM accepts no finer end.

Filters are LiteLLM's own, sent as they are: model (the deployment's model, e.g. `openai/gpt-4o`), model group
(the public name asked for), key (its SHA-256 hash, which the page picks by alias: LiteLLM's own `key_alias`
filter matches any alias containing the text), user, team, status, cache hit, minimum spend (`min_spend`,
spend >= the value) and request id (LiteLLM matches its request id or its call id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone

from lib.core.errors import ConsoleError
from lib.litellm.logs_api import MAX_PAGE_SIZE

# sort choice -> LiteLLM's sort_by column
SORTS = {"time": "startTime", "spend": "spend", "tokens": "total_tokens", "duration": "request_duration_ms"}
SORT_LABELS = {"time": "Time", "spend": "Spend", "tokens": "Tokens", "duration": "Duration"}
ORDERS = ("desc", "asc")
PAGE_SIZES = (50, 100, 500)
STATUSES = ("success", "failure")
CACHE_STATES = ("hit", "miss")
PRESETS = {  # name -> minutes back from now
    "Last 15 minutes": 15,
    "Last hour": 60,
    "Last 24 hours": 24 * 60,
    "Last 7 days": 7 * 24 * 60,
}
DEFAULT_PRESET = "Last hour"
MAX_TEXT = 256  # longer filter values are typing accidents, not ids
LITELLM_TIME = "%Y-%m-%d %H:%M:%S"


class LogQueryError(ConsoleError, ValueError):
    """A window or filter the page cannot ask LiteLLM for; the message says which and why."""


@dataclass(frozen=True)
class LogWindow:
    """UTC, whole seconds, both ends included (as LiteLLM compares)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise LogQueryError(f"the window's {name} must be a UTC date and time")
            object.__setattr__(self, name, value.astimezone(timezone.utc).replace(microsecond=0))
        if self.start > self.end:
            raise LogQueryError(
                f"the window starts after it ends ({self.start:{LITELLM_TIME}} > {self.end:{LITELLM_TIME}} UTC)"
            )

    @classmethod
    def last(cls, minutes: int, now: datetime) -> LogWindow:
        end = now.astimezone(timezone.utc).replace(microsecond=0)
        return cls(end - timedelta(minutes=minutes), end)

    @classmethod
    def days(cls, first: date, last: date) -> LogWindow:
        """Whole UTC days: first 00:00:00 to last 23:59:59."""
        return cls(
            datetime.combine(first, time(0, 0, 0), timezone.utc), datetime.combine(last, time(23, 59, 59), timezone.utc)
        )

    @classmethod
    def between(cls, first: date, start: time, last: date, end: time) -> LogWindow:
        """From `first` at `start` to `last` at `end`, the end minute included when it is given to the minute."""
        end_at = datetime.combine(last, end, timezone.utc)
        if end.second == 0 and end.microsecond == 0:
            end_at += timedelta(seconds=59)  # "until 10:30" means the whole 10:30 minute
        return cls(datetime.combine(first, start, timezone.utc), end_at)

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds()) + 1

    def as_params(self) -> dict[str, str]:
        return {"start_date": f"{self.start:{LITELLM_TIME}}", "end_date": f"{self.end:{LITELLM_TIME}}"}

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M:%S} – {self.end:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class LogQuery:
    window: LogWindow
    model: str | None = None
    model_group: str | None = None
    api_key: str | None = None  # the key's hash (or LiteLLM's name for the master key)
    user_id: str | None = None
    team_id: str | None = None
    status: str | None = None  # "success" | "failure"
    cache_hit: str | None = None  # "hit" | "miss"
    min_spend: float | None = None
    request_id: str | None = None
    sort: str = "time"
    order: str = "desc"
    page: int = 1
    page_size: int = PAGE_SIZES[0]

    def __post_init__(self) -> None:
        for name in ("model", "model_group", "api_key", "user_id", "team_id", "request_id"):
            object.__setattr__(self, name, _text(name, getattr(self, name)))
        if self.status not in (None, *STATUSES):
            raise LogQueryError(f"status must be one of {', '.join(STATUSES)} (got {self.status!r})")
        if self.cache_hit not in (None, *CACHE_STATES):
            raise LogQueryError(f"cache hit must be one of {', '.join(CACHE_STATES)} (got {self.cache_hit!r})")
        if self.min_spend is not None:
            try:
                spend = float(self.min_spend)
            except (TypeError, ValueError):
                raise LogQueryError(f"minimum spend must be a number (got {self.min_spend!r})") from None
            if not math.isfinite(spend) or spend < 0:
                raise LogQueryError(f"minimum spend must be a number of dollars, 0 or more (got {self.min_spend!r})")
            object.__setattr__(self, "min_spend", spend if spend > 0 else None)  # >= 0 is every request
        if self.sort not in SORTS:
            raise LogQueryError(f"sort must be one of {', '.join(SORTS)} (got {self.sort!r})")
        if self.order not in ORDERS:
            raise LogQueryError(f"sort order must be asc or desc (got {self.order!r})")
        if not isinstance(self.page, int) or self.page < 1:
            raise LogQueryError(f"page must be 1 or more (got {self.page!r})")
        if not isinstance(self.page_size, int) or not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise LogQueryError(f"page size must be between 1 and {MAX_PAGE_SIZE} (got {self.page_size!r})")

    def but(self, **changes) -> LogQuery:
        return replace(self, **changes)

    def filters(self) -> dict:
        """The filters that are set (what an export and its audit row record)."""
        names = ("model", "model_group", "api_key", "user_id", "team_id", "status", "cache_hit", "min_spend")
        return {n: getattr(self, n) for n in (*names, "request_id") if getattr(self, n) is not None}

    def has_filters(self) -> bool:
        return bool(self.filters())

    def params(self) -> dict[str, str | int | float]:
        """`/spend/logs/v2` query parameters of this page."""
        p: dict[str, str | int | float] = self.window.as_params()
        for ours, theirs in (
            ("model", "model"),
            ("model_group", "model_group"),
            ("api_key", "api_key"),
            ("user_id", "user_id"),
            ("team_id", "team_id"),
            ("status", "status_filter"),
            ("cache_hit", "cache_hit_filter"),
            ("min_spend", "min_spend"),
            ("request_id", "request_id"),
        ):
            value = getattr(self, ours)
            if value is not None:
                p[theirs] = value
        p.update(sort_by=SORTS[self.sort], sort_order=self.order, page=self.page, page_size=self.page_size)
        return p


def _text(name: str, value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if len(value) > MAX_TEXT or any(c in value for c in "\r\n\t\x00"):
        raise LogQueryError(f"{name.replace('_', ' ')} is not a name LiteLLM could have stored: {value[:40]!r}…")
    return value
