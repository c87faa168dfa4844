"""The small charts above the logs table, computed from the rows fetched for them (lib.logs.view's sample):
requests per minute by status, and the latency percentiles of successful requests.

The time axis is cut into buckets so a chart has at most about `MAX_BUCKETS` of them (a minute for the last
hour, longer ones for days); the request chart still reads per minute (a bucket's count over its minutes).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from lib.core.text_safety import plotly_label

BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440)
MAX_BUCKETS = 120
STATUS_COLOURS = {"success": "#16a34a", "failure": "#dc2626"}
OTHER_STATUS_COLOUR = "#9ca3af"


def bucket_minutes(start: datetime, end: datetime) -> int:
    minutes = max(1.0, (end - start).total_seconds() / 60)
    return next((b for b in BUCKET_MINUTES if minutes / b <= MAX_BUCKETS), BUCKET_MINUTES[-1])


def _buckets(times: pd.Series, minutes: int) -> pd.Series:
    return times.dt.floor(f"{minutes}min")


def requests_per_minute(sample: pd.DataFrame, start: datetime, end: datetime) -> tuple[pd.DataFrame, int]:
    """(bucket, status, requests, per_minute) for every bucket of [start, end] and every status seen (zeros
    included, so a quiet minute shows as zero), and the bucket size in minutes."""
    minutes = bucket_minutes(start, end)
    grid = pd.date_range(
        pd.Timestamp(start).floor(f"{minutes}min"), pd.Timestamp(end).floor(f"{minutes}min"), freq=f"{minutes}min"
    )
    statuses = sorted(set(sample["status"]), key=lambda s: (s not in STATUS_COLOURS, s)) if len(sample) else []
    counts = (
        sample.assign(bucket=_buckets(sample["time"], minutes)).groupby(["bucket", "status"]).size()
        if len(sample)
        else pd.Series(dtype="int64")
    )
    index = pd.MultiIndex.from_product([grid, statuses], names=["bucket", "status"])
    out = counts.reindex(index, fill_value=0).rename("requests").reset_index()
    out["requests"] = out["requests"].astype("int64")
    out["per_minute"] = out["requests"] / minutes
    return out, minutes


def latency_percentiles(sample: pd.DataFrame, start: datetime, end: datetime) -> tuple[pd.DataFrame, int]:
    """(bucket, requests, p50_ms, p95_ms) of successful requests' durations, per bucket that has any."""
    minutes = bucket_minutes(start, end)
    ok = sample[(sample["status"] != "failure") & sample["duration_ms"].notna()]
    if ok.empty:
        return pd.DataFrame({"bucket": [], "requests": [], "p50_ms": [], "p95_ms": []}), minutes
    grouped = ok.assign(bucket=_buckets(ok["time"], minutes)).groupby("bucket")["duration_ms"]
    out = pd.DataFrame(
        {
            "requests": grouped.size(),
            # the same definition as numpy's default (linear interpolation between the closest ranks)
            "p50_ms": grouped.quantile(0.5),
            "p95_ms": grouped.quantile(0.95),
        }
    ).reset_index()
    return out, minutes


def _layout(fig: go.Figure, title: str, start: datetime, end: datetime) -> go.Figure:
    """Both charts span the whole window, so their minutes line up and an empty stretch shows as one."""
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)),
        height=260,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
        hovermode="x unified",
    )
    fig.update_xaxes(type="date", range=[start, end])
    return fig


def requests_figure(per_minute: pd.DataFrame, minutes: int, start: datetime, end: datetime) -> go.Figure:
    fig = go.Figure()
    for status in per_minute["status"].drop_duplicates():
        part = per_minute[per_minute["status"] == status]
        fig.add_bar(
            x=part["bucket"],
            y=part["per_minute"],
            name=plotly_label(status),
            marker_color=STATUS_COLOURS.get(status, OTHER_STATUS_COLOUR),
            customdata=part["requests"],
            hovertemplate="%{y:,.2f}/min (%{customdata:,} requests)<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(barmode="stack", bargap=0.05)
    fig.update_yaxes(title_text="requests / minute", rangemode="tozero")
    title = "Requests per minute by status" + (f" ({minutes}-minute buckets)" if minutes > 1 else "")
    return _layout(fig, title, start, end)


def latency_figure(latency: pd.DataFrame, minutes: int, start: datetime, end: datetime) -> go.Figure:
    fig = go.Figure()
    if latency.empty:
        fig.add_annotation(text="No successful request to time", showarrow=False, xref="paper", yref="paper")
    for column, name, colour in (("p50_ms", "p50", "#2563eb"), ("p95_ms", "p95", "#f59e0b")):
        fig.add_scatter(
            x=latency["bucket"],
            y=latency[column],
            name=name,
            mode="lines+markers",
            line=dict(color=colour),
            hovertemplate="%{y:,.0f} ms<extra>" + name + "</extra>",
        )
    fig.update_yaxes(title_text="ms", rangemode="tozero")
    suffix = f" ({minutes}-minute buckets)" if minutes > 1 else " (per minute)"
    return _layout(fig, "Latency of successful requests, p50 and p95" + suffix, start, end)
