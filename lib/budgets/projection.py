"""Projection of a period's spend to its end from daily spend: a linear trend times a weekday pattern, with a
range. Pure (no I/O): callers pass the daily series they read from the usage store.

The fit alternates two steps a few times: the trend is a least-squares line through the spend with the weekday
pattern divided out; the weekday factors are the mean of spend / trend per weekday (normalised to average 1).
The range widens the expected remainder by the day-to-day scatter around the fit and by the slope's standard
error, both at about 95%, so a steady trend gives a narrow cone and noisy or short history a wide one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

HISTORY_DAYS = 56  # eight weeks: enough weekdays for the pattern, recent enough for the trend
MIN_TREND_DAYS = 14  # below two weeks a slope is noise: use the mean run-rate
MIN_WEEKDAY_DAYS = 14  # each weekday seen at least twice before it gets its own factor
Z = 1.96
_ITERATIONS = 6


@dataclass(frozen=True)
class DayForecast:
    day: date
    expected: float
    low: float
    high: float


@dataclass(frozen=True)
class Projection:
    period_start: date
    period_end: date  # last day of the period, inclusive
    spent: float  # spend from period_start up to the as-of day (exclusive)
    expected: float  # projected total for the whole period
    low: float
    high: float
    days: tuple[DayForecast, ...]  # the remaining days, cumulative totals for the cone
    method: str  # "trend+weekday", "run-rate+weekday", "run-rate" or "none"


def _fit(y: np.ndarray, t: np.ndarray, weekdays: np.ndarray, use_trend: bool, use_weekday: bool):
    factors = np.ones(7)
    a, b = float(y.mean()), 0.0
    for _ in range(_ITERATIONS):
        deseason = y / factors[weekdays]
        if use_trend:
            b, a = np.polyfit(t, deseason, 1)
        else:
            a, b = float(deseason.mean()), 0.0
        if not use_weekday:
            break
        level = np.maximum(a + b * t, 1e-9)
        ratio = y / level
        new = np.array([ratio[weekdays == d].mean() if (weekdays == d).any() else 1.0 for d in range(7)])
        mean = new.mean()
        factors = new / mean if mean > 0 else np.ones(7)
    return float(a), float(b), factors


def project(
    daily: Mapping[date, float], period_start: date, period_end: date, today: date, history_days: int = HISTORY_DAYS
) -> Projection:
    """Project the total spend of [period_start, period_end] as seen on `today` (today's spend is still coming
    in, so it counts as a forecast day). Days missing from `daily` spent nothing."""
    spent = float(sum(v for d, v in daily.items() if period_start <= d < today and d <= period_end))
    remaining = [period_start + timedelta(n) for n in range((period_end - period_start).days + 1)]
    remaining = [d for d in remaining if d >= today]
    if not remaining:
        return Projection(period_start, period_end, spent, spent, spent, spent, (), "none")

    history_start = today - timedelta(history_days)
    first = min((d for d, v in daily.items() if v and history_start <= d < today), default=None)
    if first is None:
        days = tuple(DayForecast(d, spent, spent, spent) for d in remaining)
        return Projection(period_start, period_end, spent, spent, spent, spent, days, "none")
    hist = [first + timedelta(n) for n in range((today - first).days)]
    y = np.array([float(daily.get(d, 0.0)) for d in hist])
    t = np.array([(d - today).days for d in hist], dtype=float)
    weekdays = np.array([d.weekday() for d in hist])
    use_trend = len(hist) >= MIN_TREND_DAYS
    use_weekday = len(hist) >= MIN_WEEKDAY_DAYS
    a, b, factors = _fit(y, t, weekdays, use_trend, use_weekday)

    fitted = np.maximum(a + b * t, 0.0) * factors[weekdays]
    resid = y - fitted
    dof = max(len(hist) - (2 if use_trend else 1) - (6 if use_weekday else 0), 1)
    sigma = float(np.sqrt((resid**2).sum() / dof))
    if use_trend:
        sxx = float(((t - t.mean()) ** 2).sum())
        se_b = sigma / np.sqrt(sxx) if sxx > 0 else 0.0
        se_a = sigma * np.sqrt(1 / len(t) + t.mean() ** 2 / sxx) if sxx > 0 else sigma
    else:
        se_b, se_a = 0.0, sigma / np.sqrt(len(t))

    forecasts = []
    expected = spent
    level_err = 0.0  # error of the fitted level, shared by all future days (so it adds up linearly)
    noise_var = 0.0  # day-to-day scatter, independent per day (adds up in quadrature)
    for d in remaining:
        td = float((d - today).days)
        f = float(factors[d.weekday()])
        expected += max(a + b * td, 0.0) * f
        level_err += (se_a + abs(td) * se_b) * f
        noise_var += sigma**2
        half = Z * (level_err + np.sqrt(noise_var))
        forecasts.append(DayForecast(d, expected, max(expected - half, spent), expected + half))
    last = forecasts[-1]
    method = ("trend" if use_trend else "run-rate") + ("+weekday" if use_weekday else "")
    return Projection(period_start, period_end, spent, last.expected, last.low, last.high, tuple(forecasts), method)


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The calendar period (day, week from Monday, month) containing `day`, as [first, last] inclusive."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(day.weekday())
        return start, start + timedelta(6)
    if period == "month":
        start = day.replace(day=1)
        nxt = (start + timedelta(32)).replace(day=1)
        return start, nxt - timedelta(1)
    raise ValueError(f"unknown period {period!r}")
