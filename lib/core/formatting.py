"""Number formatting, one rule per kind of number, for every place a number is shown: KPI cards, tables, chart
hovers (as preformatted customdata) and exports meant for reading.

- counts: compact, `999`, `47.2k`, `1.5M`, `2.1B` (one decimal from a thousand on), where a count is a summary;
  exact, `12,000`, where a person needs the number itself (a limit such as an rpm limit, a request's tokens);
- money: `$0.00` for zero, two decimals from $1 on (`$1,234.57`), below $1 up to four decimals without trailing
  zeros beyond the second (`$0.50`, `$0.0123`), and `<$0.0001` for a positive amount that would round to zero;
- unit money, for exactly two kinds of small figures that `money` would hide as `<$0.0001`: the cost of one
  request (Request logs) and a unit price ($ per 1M tokens: Models, Providers, Routing): four significant digits
  below $1 (`$0.00001234`, `$0.075`), two decimals from $1 on (`$2.50`);
- latency: whole milliseconds with thousands separators (`1,471 ms`);
- durations of work (a sync, a job): `4.2 s`, `3 min 5 s`, `2 h 10 min`;
- percentages: one decimal (`98.5%`);
- nothing (None, NaN): `—`.
"""

from __future__ import annotations

import math
from datetime import date, datetime

MISSING = "—"
_UNITS = (("B", 1e9), ("M", 1e6), ("k", 1e3))


def is_missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(math.isnan(v))
    except (TypeError, ValueError):
        return str(v) in ("NaT", "<NA>")


def compact(n) -> str:
    """A count: `999`, `47.2k`, `1.5M`, `2.1B`."""
    if is_missing(n):
        return MISSING
    n = float(n)  # numpy's round halves to even on its own scalars (42,450 would be 42.4k there, 42.5k here)
    for i, (unit, size) in enumerate(_UNITS):
        if abs(n) >= size:
            scaled = round(n / size, 1)
            if abs(scaled) >= 1000 and i:  # 999,960 is 1.0M, not 1000.0k (the units run from the largest)
                unit, size = _UNITS[i - 1]
                scaled = round(n / size, 1)
            return f"{scaled:.1f}{unit}"
    return f"{n:,.0f}"


def _dollars(v, below_one) -> str:
    """The rules all dollar figures share: `—`, `$0.00`, two decimals from $1 on; `below_one(amount)` writes the
    rest (without the sign)."""
    if is_missing(v):
        return MISSING
    sign, a = ("-" if v < 0 else ""), abs(float(v))
    if a == 0:
        return "$0.00"
    if round(a, 2) >= 1:
        return f"{sign}${a:,.2f}"
    return sign + below_one(a)


def _at_least_two_decimals(text: str, a: float) -> str:
    return text if len(text.split(".")[1]) >= 2 else f"{a:.2f}"


def money(v) -> str:
    """US dollars: `$0.00`, `$0.0123`, `$0.50`, `$115.84`, `$1,234.57`; `<$0.0001` for a crumb."""

    def below_one(a: float) -> str:
        if round(a, 4) == 0:
            return "<$0.0001"
        return "$" + _at_least_two_decimals(f"{a:.4f}".rstrip("0"), a)

    return _dollars(v, below_one)


def exact(n) -> str:
    """A count a person needs exactly (a limit, a request's tokens): `12,000`."""
    return MISSING if is_missing(n) else f"{n:,.0f}"


def unit_money(v) -> str:
    """The cost of one request or a price per 1M tokens (and nothing else: amounts spent or budgeted are `money`):
    `$0.00`, `$0.00001234`, `$0.075`, `$0.50`, `$2.50`, `$1,234.57`."""

    def below_one(a: float) -> str:
        decimals = max(2, 3 - math.floor(math.log10(a)))  # four significant digits
        return "$" + _at_least_two_decimals(f"{a:.{decimals}f}".rstrip("0"), a)

    return _dollars(v, below_one)


def styled(frame, formats: dict):
    """A pandas Styler for st.dataframe that shows each column of `formats` written by its rule while the browser
    still sorts by the numbers underneath (Streamlit draws a Styler's text in a NumberColumn given no `format`).
    Pass `placeholder=MISSING` to st.dataframe too: Streamlit draws its own "None" for a missing value whatever
    the Styler says.

    Streamlit reads the text from the Styler's `_translate`; pandas' own builds a dict of CSS classes for every
    cell of the table (1.6 s a run for 5,000 keys x 23 columns), so this Styler's writes only the columns of
    `formats`, in one pass. Styled further (`.map(...)`), it renders as pandas does."""
    styler = frame.reset_index(drop=True).style.format(formats, na_rep=MISSING)
    pandas_translate = styler._translate

    def translate(sparse_index: bool, sparse_cols: bool, *args, **kwargs):
        if styler._todo or styler.ctx:  # styled further: pandas renders it
            return pandas_translate(sparse_index, sparse_cols, *args, **kwargs)
        data = styler.data
        body: list[list[dict]] = [[] for _ in range(len(data))]
        for j, column in enumerate(data.columns):
            write = formats.get(column)
            if write is not None:
                for r, v in enumerate(data[column].tolist()):
                    body[r].append({"id": f"row{r}_col{j}", "display_value": MISSING if is_missing(v) else write(v)})
        return {"body": body, "table_styles": [], "cellstyle": [], "uuid": styler.uuid, "caption": styler.caption}

    styler._translate = translate
    return styler


def latency(ms) -> str:
    return MISSING if is_missing(ms) else f"{ms:,.0f} ms"


def duration(seconds) -> str:
    """How long a piece of work took: `4.2 s`, `3 min 5 s`, `2 h 10 min`."""
    if is_missing(seconds):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def percent(v) -> str:
    return MISSING if is_missing(v) else f"{v:.1f}%"


def text(v) -> str:
    """A text or date cell: as it is, `—` when there is nothing."""
    if is_missing(v) or v == "":
        return MISSING
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


MONEY_METRICS = frozenset({"spend"})
PERCENT_METRICS = frozenset({"success_rate"})
LATENCY_METRICS = frozenset({"avg_latency_ms"})


def kpi_value(metric: str, v) -> str:
    """A metric's value as every view shows it (lib.usage.queries' metric names; anything else is a count)."""
    if metric in MONEY_METRICS:
        return money(v)
    if metric in PERCENT_METRICS:
        return percent(v)
    if metric in LATENCY_METRICS:
        return latency(v)
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
