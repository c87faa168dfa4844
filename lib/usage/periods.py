"""Date range presets (UTC days, as LiteLLM buckets them)."""

from __future__ import annotations

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
