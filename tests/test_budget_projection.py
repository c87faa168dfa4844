"""Month-end projection against an oracle: generated history with a known trend and weekly pattern, whose
future is generated too, so the true month total is known."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from lib.budgets.projection import period_bounds, project

WEEKLY = (1.2, 1.25, 1.2, 1.15, 1.0, 0.55, 0.45)  # Monday..Sunday: quiet weekends


def _history(start: date, end: date, seed: int, base: float, slope: float, noise: float) -> dict[date, float]:
    rnd = random.Random(seed)
    out = {}
    d = start
    while d <= end:
        level = base + slope * (d - start).days
        out[d] = max(level * WEEKLY[d.weekday()] * (1 + rnd.gauss(0, noise)), 0.0)
        d += timedelta(1)
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("today", [date(2026, 12, 8), date(2026, 12, 17), date(2026, 12, 26)])
def test_month_end_projection_within_5_percent_and_range_contains_truth(seed, today):
    series = _history(date(2026, 10, 1), date(2026, 12, 31), seed, base=100.0, slope=1.5, noise=0.06)
    start, end = period_bounds("month", today)
    truth = sum(v for d, v in series.items() if start <= d <= end)
    known = {d: v for d, v in series.items() if d < today}

    p = project(known, start, end, today)

    assert p.method == "trend+weekday"
    assert p.spent == pytest.approx(sum(v for d, v in known.items() if d >= start))
    assert abs(p.expected - truth) / truth < 0.05
    assert p.low <= truth <= p.high
    assert p.low < p.expected < p.high
    # the cone: one cumulative forecast per remaining day, ending at the projection, widening as it goes
    assert [f.day for f in p.days] == [today + timedelta(n) for n in range((end - today).days + 1)]
    assert p.days[-1].expected == pytest.approx(p.expected)
    widths = [f.high - f.low for f in p.days]
    assert widths == sorted(widths)


def test_trend_and_weekday_pattern_beat_a_flat_run_rate():
    """A growing series with quiet weekends: the flat average of the last weeks underestimates the month, the
    projection does not (the oracle is the generated future without noise)."""
    series = _history(date(2026, 10, 1), date(2026, 12, 31), 0, base=50.0, slope=3.0, noise=0.0)
    today = date(2026, 12, 10)
    start, end = period_bounds("month", today)
    truth = sum(v for d, v in series.items() if start <= d <= end)
    known = {d: v for d, v in series.items() if d < today}
    flat = sum(v for d, v in known.items() if d >= start) + sum(
        v for d, v in known.items() if d >= today - timedelta(28)
    ) / 28 * ((end - today).days + 1)

    p = project(known, start, end, today)

    assert abs(p.expected - truth) / truth < 0.005
    assert abs(flat - truth) / truth > 0.03


def test_short_history_uses_the_run_rate_with_a_wide_range():
    series = {date(2026, 12, 1) + timedelta(n): 100.0 + (10 if n % 2 else -10) for n in range(6)}
    p = project(series, date(2026, 12, 1), date(2026, 12, 31), date(2026, 12, 7))
    assert p.method == "run-rate"
    assert p.spent == pytest.approx(600.0)
    assert p.expected == pytest.approx(600.0 + 25 * 100.0)
    assert p.low < 3100 - 200 and p.high > 3100 + 200


def test_no_history_projects_what_is_spent_and_past_periods_are_exact():
    assert project({}, date(2026, 12, 1), date(2026, 12, 31), date(2026, 12, 6)).expected == 0.0
    series = {date(2026, 11, 1) + timedelta(n): 10.0 for n in range(30)}
    p = project(series, date(2026, 11, 1), date(2026, 11, 30), date(2026, 12, 6))
    assert p.expected == p.low == p.high == pytest.approx(300.0)


def test_period_bounds():
    assert period_bounds("day", date(2026, 12, 2)) == (date(2026, 12, 2), date(2026, 12, 2))
    assert period_bounds("week", date(2026, 12, 2)) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period_bounds("month", date(2026, 12, 2)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_bounds("month", date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
