"""Date range presets (UTC days, as LiteLLM buckets them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PRESETS = ("Today", "7d", "30d", "90d", "All time")
DEFAULT_PRESET = "7d"


def preset_range(preset: str, today: date, first_day: date | None = None) -> tuple[date, date]:
    """Inclusive range for a preset ending today; "All time" starts at the first stored day."""
    if preset == "Today":
        return today, today
    if preset == "All time":
        return (first_day or today), today
    if preset.endswith("d") and preset[:-1].isdigit():
        return today - timedelta(days=int(preset[:-1]) - 1), today
    raise ValueError(f"unknown range preset {preset!r}; choose one of {', '.join(PRESETS)}")


def has_stored_previous(start: date, first_stored: date) -> bool:
    """Whether the period a range is compared with (the days of equal number just before it) holds any stored day.
    "All time" never does: against nothing stored there is no trend, not a "new" one."""
    return start > first_stored


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _span(a: date, b: date) -> str:
    return f"{a:%-d %b}" if a == b else f"{a:%-d %b} – {b:%-d %b}"


@dataclass(frozen=True)
class Comparison:
    """What a range's trend badges compare: its whole days (`whole`) with as many days just before them
    (`previous`), or nothing (`previous` None, `reason` says why). The store is daily: today is partial (its
    hours so far), so it is never compared with whole days; the KPI values still include it."""

    start: date
    end: date
    whole: tuple[date, date] | None
    previous: tuple[date, date] | None
    partial_today: bool
    reason: str = ""

    @property
    def compared(self) -> bool:
        return self.previous is not None

    def caption(self) -> str:
        """One line for under the range: which comparison the trend badges show."""
        if not self.compared:
            return self.reason
        a, b = self.whole
        n = (b - a).days + 1
        if self.partial_today:
            whole = "the whole day" if n == 1 else f"the {n} whole days"
            return (
                f"trends compare {whole} {_span(a, b)} with the {_days(n)} before; "
                "today is partial and not in the trend"
            )
        return f"trends compare these {_days(n)} with the {_days(n)} before ({_span(*self.previous)})"


def comparison(start: date, end: date, today: date, first_stored: date) -> Comparison:
    """The like-with-like comparison of the range [start, end]: its whole days (today, partial, left out) against
    the same number of days just before them, if any of those is stored."""
    partial = start <= today <= end
    last_whole = min(end, today - timedelta(days=1))
    if last_whole < start:
        return Comparison(
            start, end, None, None, partial, "today is partial (the store keeps whole days): no trend until it ends"
        )
    whole = (start, last_whole)
    if not has_stored_previous(start, first_stored):
        return Comparison(start, end, whole, None, partial, "nothing stored before it to compare with")
    n = (last_whole - start).days + 1
    return Comparison(start, end, whole, (start - timedelta(days=n), start - timedelta(days=1)), partial)
