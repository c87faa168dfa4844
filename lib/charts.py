"""Plotly figure builders: data frames in, figures out (no Streamlit)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

METRIC_LABELS = {"requests": "Requests", "total_tokens": "Tokens", "spend": "Spend (USD)",
                 "avg_latency_ms": "Avg latency (ms)", "failed_requests": "Failed requests",
                 "success_rate": "Success rate (%)"}


def _layout(fig: go.Figure, height: int = 320) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="",
                      hovermode="x unified")
    return fig


def daily_metric(df: pd.DataFrame, metric: str = "requests") -> go.Figure:
    fig = px.line(df, x="date", y=metric, markers=True, labels={"date": "", metric: METRIC_LABELS.get(metric, metric)})
    return _layout(fig)


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig)
