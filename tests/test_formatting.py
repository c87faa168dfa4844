"""One rule per kind of number, wherever it is shown (KPI cards, tables, chart hovers)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.core.formatting import (
    MISSING,
    compact,
    duration,
    exact,
    kpi_value,
    latency,
    money,
    percent,
    styled,
    text,
    unit_money,
)


@pytest.mark.parametrize(
    "n, shown",
    [(0, "0"), (999, "999"), (1_000, "1.0k"), (20_000, "20.0k"), (47_213, "47.2k"), (999_960, "1.0M"),
     (1_500_000, "1.5M"), (2_100_000_000, "2.1B")],
)  # fmt: skip
def test_counts_are_compact_one_way(n, shown):
    assert compact(n) == shown == kpi_value("requests", n) == kpi_value("total_tokens", n)


@pytest.mark.parametrize(
    "v, shown",
    [(0, "$0.00"), (0.0, "$0.00"), (0.5, "$0.50"), (0.5895, "$0.5895"), (0.01234, "$0.0123"), (0.00001, "<$0.0001"),
     (0.99999, "$1.00"), (1, "$1.00"), (50.5895, "$50.59"), (115.84, "$115.84"), (1234.567, "$1,234.57")],
)  # fmt: skip
def test_money_has_one_rule(v, shown):
    assert money(v) == shown == kpi_value("spend", v)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_money_never_shows_more_than_four_decimals_nor_two_at_or_above_a_dollar(v):
    shown = money(v)
    assert shown.startswith(("$", "<$"))
    decimals = shown.split(".")[1]
    assert 2 <= len(decimals) <= 4
    if v >= 1:
        assert len(decimals) == 2
    if 0 < v < 1 and not shown.startswith("<"):
        assert math.isclose(float(shown[1:]), v, abs_tol=0.00005 if len(decimals) == 4 else 0.005)


def test_latency_percent_text_and_nothing():
    assert latency(1327.4) == "1,327 ms" == kpi_value("avg_latency_ms", 1327.4)
    assert percent(98.456) == "98.5%" == kpi_value("success_rate", 98.456)
    for nothing in (None, float("nan")):
        assert {compact(nothing), money(nothing), latency(nothing), percent(nothing), text(nothing)} == {MISSING}
    assert text("") == MISSING and text("alice") == "alice"


@pytest.mark.parametrize(
    "v, shown",
    [(0, "$0.00"), (0.00001234, "$0.00001234"), (0.000012345678, "$0.00001235"), (3e-7, "$0.0000003"),
     (0.075, "$0.075"), (0.15, "$0.15"), (0.5, "$0.50"), (0.999999, "$1.00"), (2.5, "$2.50"), (1234.567, "$1,234.57")],
)  # fmt: skip
def test_unit_money_keeps_small_costs_and_prices_visible(v, shown):
    assert unit_money(v) == shown


@given(st.floats(min_value=1e-12, max_value=0.99, allow_nan=False))
def test_unit_money_below_a_dollar_keeps_four_significant_digits(v):
    shown = unit_money(v)
    if shown == "$1.00":
        return  # 0.99999... rounds up to a dollar
    assert math.isclose(float(shown[1:]), v, rel_tol=5.01e-4)  # four significant digits, never "<$0.0001"
    digits = shown[1:].replace(".", "").lstrip("0")
    assert len(digits) <= 4


def _drawn_text(styler) -> pd.DataFrame:
    """The text Streamlit sends the browser for a Styler (its own marshalling)."""
    from streamlit import dataframe_util
    from streamlit.elements.lib.pandas_styler_utils import marshall_styler
    from streamlit.proto.ArrowData_pb2 import ArrowData

    proto = ArrowData()
    marshall_styler(proto, styler, "t")
    return dataframe_util.convert_arrow_bytes_to_pandas_df(proto.styler.display_values)


def test_exact_counts_and_styled_tables():
    assert exact(12_000) == "12,000" and exact(7) == "7" and exact(None) == MISSING
    frame = pd.DataFrame({"spend": [50.5895, None, 0.5], "requests": [47_213, 3, None], "owner": ["bob", None, "al"]})
    frame.index = [7, 3, 9]
    text = _drawn_text(styled(frame, {"spend": money, "requests": compact}))
    assert text[["spend", "requests"]].values.tolist() == [["$50.59", "47.2k"], [MISSING, "3"], ["$0.50", MISSING]]
    assert styled(frame, {}).data["spend"].tolist()[0] == 50.5895  # the numbers stay underneath, for sorting
    # styled further, pandas renders the same text (and its CSS)
    further = _drawn_text(styled(frame, {"spend": money, "requests": compact}).map(lambda v: "color: red"))
    assert further[["spend", "requests"]].values.tolist() == text[["spend", "requests"]].values.tolist()


def test_durations_of_work():
    assert [duration(s) for s in (4.24, 185, 7800, None)] == ["4.2 s", "3 min 5 s", "2 h 10 min", MISSING]


def test_a_count_reads_the_same_from_python_and_numpy():
    import numpy as np

    for n in (42_450, 1_050, 2_250_000):
        assert compact(np.int64(n)) == compact(n) == compact(np.float64(n)) == compact(float(n))
    assert compact(42_450) == "42.5k"
