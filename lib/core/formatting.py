"""Number formatting for KPI cards and tables (currency, compact counts, percentages)."""

from __future__ import annotations

import math


def compact(n: float | None) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:,.0f}"


def kpi_value(metric: str, v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if metric == "spend":
        return f"${v:,.2f}" if v >= 1 else f"${v:,.4f}"
    if metric == "success_rate":
        return f"{v:.1f}%"
    if metric == "avg_latency_ms":
        return f"{v:,.0f} ms"
    return compact(v)


def kpi_delta(change_pct, direction: str) -> str | None:
    """Text for st.metric's delta: '+12.3%', '-4.0%', 'stable', 'new'."""
    if direction == "stable":
        return "stable"
    if direction == "new":
        return "new"
    if change_pct is None or (isinstance(change_pct, float) and math.isnan(change_pct)):
        return None
    return f"{change_pct:+.1f}%"
