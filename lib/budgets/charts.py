"""The Budgets page's month view: spend per day (bars), spend so far (line) against the budget (a flat line), and
the projection cone to the period's end (expected line and the range, shaded). No Streamlit."""

from __future__ import annotations

import plotly.graph_objects as go

from lib.budgets.status import BudgetStatus
from lib.core.text_safety import plotly_label

SPEND, CUMULATIVE, BUDGET, CONE = "#4c78a8", "#2a6f97", "#d62728", "#f58518"


def month_view(s: BudgetStatus) -> go.Figure:
    days = sorted(s.daily)
    so_far, total = [], 0.0
    for d in days:
        total += s.daily[d]
        so_far.append(total)
    fig = go.Figure()
    fig.add_bar(x=days, y=[s.daily[d] for d in days], name="Spend per day", marker_color=SPEND)
    fig.add_scatter(x=days, y=so_far, name="Spent so far", mode="lines+markers", line={"color": CUMULATIVE})
    cone = list(s.projection.days)
    if cone:
        x = [f.day for f in cone]
        fig.add_scatter(
            x=x,
            y=[f.high for f in cone],
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
            name="high",
        )
        fig.add_scatter(
            x=x,
            y=[f.low for f in cone],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(245,133,24,0.2)",
            name="Projection range",
        )
        fig.add_scatter(
            x=x, y=[f.expected for f in cone], mode="lines", line={"color": CONE, "dash": "dash"}, name="Projection"
        )
    fig.add_scatter(
        x=[s.period_start, s.period_end],
        y=[s.budget.amount] * 2,
        mode="lines",
        line={"color": BUDGET},
        name=f"Budget {plotly_label(f'${s.budget.amount:,.2f}')}",
    )
    fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title="USD",
        xaxis={"range": [s.period_start, s.period_end]},
        legend={"orientation": "h"},
        title=plotly_label(s.budget.label),
    )
    return fig
