"""Plotly figure builders: data frames in, figures out (no Streamlit).

Built with graph_objects rather than plotly.express: express costs 50-100 ms per figure, which a page
with six charts pays on every filter change. Names from LiteLLM go through plotly_label: plotly reads HTML
tags in legends, labels and hover text.
"""

from __future__ import annotations

import colorsys
import hashlib

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from lib.core.formatting import compact, kpi_value, money
from lib.core.text_safety import plotly_label

# The app follows the browser's light or dark preference (Streamlit's themes; st.plotly_chart's theme="streamlit"
# gives the figures the page's background and text colours): every colour drawn must stand out on both.
THEME_BACKGROUNDS = ("#ffffff", "#171614")  # Streamlit's light and dark backgroundColor
MIN_CONTRAST = 1.8


def _luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _readable(colour: str) -> str:
    """The colour, or the same hue moved towards mid lightness until it stands out on both backgrounds."""
    h, light, sat = colorsys.rgb_to_hls(*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)))
    for _ in range(25):  # bounded: mid lightness is within 25 steps of any lightness
        if min(_contrast(colour, bg) for bg in THEME_BACKGROUNDS) >= MIN_CONTRAST:
            break
        light += 0.02 if light < 0.5 else -0.02
        colour = "#" + "".join(f"{round(c * 255):02x}" for c in colorsys.hls_to_rgb(h, light, sat))
    return colour


# Same length and order as the palettes it comes from (a name's colour is its hash modulo the length).
PALETTE = [_readable(c) for c in qualitative.Plotly + qualitative.D3[1:] + qualitative.Dark24]
OTHER_COLOUR = "#9ca3af"
# Legends go under the chart: the plotly toolbar (shown on hover, top right) has the top strip to itself.
LEGEND_BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0, x=0)

METRIC_LABELS = {
    "requests": "Requests",
    "total_tokens": "Tokens",
    "spend": "Spend (USD)",
    "avg_latency_ms": "Avg latency (ms)",
    "failed_requests": "Failed requests",
    "success_rate": "Success rate (%)",
}


def _texts(metric: str, values) -> list[str]:
    """Hover texts of a metric's values, formatted as the KPI cards and tables show them (lib.core.formatting)."""
    return [kpi_value(metric, v) for v in values]


def _value_axis(fig: go.Figure, metric: str, label: str | None = None, axis: str = "y") -> go.Figure:
    """A metric's value axis in the same style as its numbers elsewhere: counts compact (20k), money with $,
    latency with thousands separators and ms."""
    style = {"title_text": label if label is not None else METRIC_LABELS.get(metric, metric)}
    if metric == "spend":
        style |= dict(tickprefix="$", separatethousands=True)
    elif metric == "avg_latency_ms":
        style |= dict(ticksuffix=" ms", separatethousands=True, tickformat=",.0f")
    elif metric == "success_rate":
        style |= dict(ticksuffix="%")
    else:
        style |= dict(tickformat="~s")  # 20k, 1.5M, as compact() writes them
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(**style)
    return fig


def _layout(fig: go.Figure, height: int = 320) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="", hovermode="x unified")
    return fig


def _day_axis(fig: go.Figure, dates) -> go.Figure:
    """An x axis of UTC days: dates as dates (a lone day is not drawn as a time of day), with a day's width
    of room around a single one."""
    days = pd.to_datetime(pd.Series(list(dates))).drop_duplicates()
    fig.update_xaxes(type="date", tickformat="%d %b %Y" if len(days) <= 1 else "%d %b")
    if len(days) == 1:
        day = days.iloc[0]
        fig.update_xaxes(range=[day - pd.Timedelta(days=1), day + pd.Timedelta(days=1)], dtick=86_400_000)
    return fig


def daily_metric(df: pd.DataFrame, metric: str = "requests") -> go.Figure:
    """The metric per day: a line over several days, a bar for a single one."""
    label = METRIC_LABELS.get(metric, metric)
    hover = dict(customdata=_texts(metric, df[metric]), hovertemplate="%{customdata}<extra></extra>")
    if len(df) == 1:
        trace = go.Bar(x=df["date"], y=df[metric], name=label, **hover)
    else:
        trace = go.Scatter(x=df["date"], y=df[metric], mode="lines+markers", name=label, **hover)
    fig = go.Figure(trace)
    fig.update_yaxes(rangemode="tozero")
    return _layout(_day_axis(_value_axis(fig, metric), df["date"]))


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig)


# The providers' own colours where they have one; any other name gets one from its hash.
PROVIDER_COLOURS = {
    "openai": "#10a37f",
    "azure": "#0078d4",
    "anthropic": "#d97757",
    "ollama": "#4b5563",
    "together_ai": "#0f6fff",
    "openrouter": "#6467f2",
    "nvidia_nim": "#76b900",
    "huggingface": "#ffb000",
    "cohere": "#39594d",
    "groq": "#f55036",
    "mistral": "#fa520f",
    "gemini": "#8e75b2",
    "vertex_ai": "#4285f4",
    "bedrock": "#ff9900",
}


def colour_of(name: str) -> str:
    """A name's colour, the same in every chart, view, role and process: it depends on the name alone."""
    if name in PROVIDER_COLOURS:
        return PROVIDER_COLOURS[name]
    return PALETTE[int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(PALETTE)]


def colour_map(names) -> dict[str, str]:
    """Colours of the names a view shows (and of "other"): each its own colour_of, unless another name of the view
    already has it (two names' hashes can meet), then the next free one of the palette."""
    out: dict[str, str] = {}
    for name in sorted({n for n in names if n is not None}):
        colour = colour_of(name)
        if colour in out.values() and colour in PALETTE:
            start = PALETTE.index(colour)
            colour = next(
                (c for i in range(1, len(PALETTE)) if (c := PALETTE[(start + i) % len(PALETTE)]) not in out.values()),
                colour,
            )
        out[name] = colour
    return out | {"other": OTHER_COLOUR}


def stacked_daily(
    df: pd.DataFrame, split_col: str, metric: str = "requests", top: int = 8, colours: dict[str, str] | None = None
) -> go.Figure:
    """Stacked bars per day, one colour per model/provider; beyond `top` folded into "other"."""
    totals = df.groupby(split_col)[metric].sum().sort_values(ascending=False)
    keep = set(totals.head(top).index)
    df = df.assign(**{split_col: df[split_col].where(df[split_col].isin(keep), "other")})
    df = df.groupby(["date", split_col], as_index=False)[metric].sum()
    fig = go.Figure()
    for name in list(totals.index[:top]) + (["other"] if len(totals) > top else []):
        part = df[df[split_col] == name]
        fig.add_bar(
            x=part["date"],
            y=part[metric],
            name=plotly_label(name),
            marker_color=(colours or {}).get(name),
            customdata=_texts(metric, part[metric]),
            hovertemplate="%{customdata}",
        )
    fig.update_layout(barmode="stack", legend=LEGEND_BELOW)
    return _layout(_day_axis(_value_axis(fig, metric), df["date"]), 360)


def daily_lines(
    df: pd.DataFrame, split_col: str, metric: str = "requests", colours: dict[str, str] | None = None
) -> go.Figure:
    """One line per model/provider of a metric per day (long frame: date, split_col, metric); a missing day is 0."""
    days = sorted(set(df["date"]))
    fig = go.Figure()
    for name in sorted(set(df[split_col])):
        part = df[df[split_col] == name].groupby("date")[metric].sum().reindex(days, fill_value=0)
        fig.add_scatter(
            x=part.index,
            y=part.values,
            mode="lines+markers" if len(days) <= 31 else "lines",
            name=plotly_label(name),
            line=dict(color=(colours or {}).get(name)),
            customdata=_texts(metric, part.values),
            hovertemplate="%{customdata}<extra>" + plotly_label(name) + "</extra>",
        )
    fig.update_yaxes(rangemode="tozero")
    _value_axis(fig, metric)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return _layout(_day_axis(fig, days), 360)


def cost_share(df: pd.DataFrame, label_col: str, top: int = 8, colours: dict[str, str] | None = None) -> go.Figure:
    """Donut of spend by model or provider (top N, the rest as "other")."""
    df = _top_spend(df, label_col, top)
    marker = dict(colors=[colours.get(n, OTHER_COLOUR) for n in df[label_col]]) if colours else None
    fig = go.Figure(
        go.Pie(
            labels=[plotly_label(n) for n in df[label_col]], values=df["spend"], hole=0.55, sort=False, marker=marker
        )
    )
    fig.update_traces(
        textposition="inside",
        textinfo="percent",
        customdata=[money(v) for v in df["spend"]],
        hovertemplate="%{label}<br>%{customdata}<extra></extra>",
    )
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.05, x=0))
    return _layout(fig, 360)


def _top_spend(df: pd.DataFrame, label_col: str, top: int) -> pd.DataFrame:
    """Rows with spend, largest first; beyond `top` summed into one "other" row."""
    df = df[df["spend"] > 0].sort_values("spend", ascending=False)[[label_col, "spend"]]
    if len(df) > top:
        rest = pd.DataFrame({label_col: ["other"], "spend": [df["spend"].iloc[top:].sum()]})
        df = pd.concat([df.head(top), rest])
    return df


def cost_bars(df: pd.DataFrame, label_col: str, top: int = 8, colours: dict[str, str] | None = None) -> go.Figure:
    """Spend by model or provider as horizontal bars, largest on top (the rest as "other"), each bar its name's
    colour, labelled with its amount and share. Bars, not a donut: a click on a bar is a point selection that
    st.plotly_chart(on_select=...) receives (a pie's slices send none)."""
    df = _top_spend(df, label_col, top)
    total = df["spend"].sum()
    names = [plotly_label(n) for n in df[label_col]]
    amounts = [money(v) for v in df["spend"]]
    fig = go.Figure(
        go.Bar(
            x=df["spend"],
            y=names,
            orientation="h",
            marker_color=[(colours or {}).get(n, OTHER_COLOUR) for n in df[label_col]],
            customdata=amounts,
            text=[f"{a} · {v / total:.0%}" for a, v in zip(amounts, df["spend"])],
            textposition="auto",
            hovertemplate="%{y}: %{customdata}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    _value_axis(fig, "spend", label="", axis="x")
    fig.update_layout(hovermode="closest", clickmode="event+select", showlegend=False)
    return _layout(fig, max(160, 60 + 34 * len(df)))


def weekday_heatmap(grid: pd.DataFrame, metric: str = "requests") -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[f"{w:%d %b}" for w in grid.columns],
            y=list(grid.index),
            colorscale="Blues",
            customdata=[[compact(v) for v in row] for row in grid.values],
            hovertemplate="week of %{x}, %{y}: %{customdata}<extra></extra>",
            # the title along the bar, not above it where the plotly toolbar shows
            colorbar=dict(title=dict(text=METRIC_LABELS.get(metric, metric), side="right")),
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(hovermode="closest")
    return _layout(fig, 300)


def success_failure(daily: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for column, name, colour in (
        ("successful_requests", "Successful", "#16a34a"),
        ("failed_requests", "Failed", "#dc2626"),
    ):
        fig.add_bar(
            x=daily["date"],
            y=daily[column],
            name=name,
            marker_color=colour,
            customdata=_texts("requests", daily[column]),
            hovertemplate="%{customdata}",
        )
    fig.update_layout(barmode="stack", legend=LEGEND_BELOW)
    return _layout(_day_axis(_value_axis(fig, "requests"), daily["date"]), 320)
