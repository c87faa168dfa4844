"""Text from outside the console (LiteLLM, URLs, typed usernames) shown or written as plain text.

Three outputs interpret text: Streamlit's markdown (st.markdown, captions, toasts, alerts, labels), plotly's
HTML-like labels (legends, pie labels, hover, ticks) and spreadsheets opening a CSV export (formulas).
"""

from __future__ import annotations

import csv
import html
import io
import re
import string

import pandas as pd

# Invisible and unbreakable: it splits the patterns Streamlit's markdown matches in text that backslash escapes
# cannot reach (it runs them on the text after escapes are decoded).
WORD_JOINER = "\u2060"
_ASCII_PUNCTUATION = frozenset(string.punctuation)  # CommonMark lets a backslash make each of these literal
_TEXT_PATTERNS = re.compile(
    r"(?<=:)(?=\S)"  # :emoji:, :material/icon:, :streamlit:, https:// links
    r"|(?<=www)(?=\.)"  # www.example.com links (any case)
    r"|(?<=@)(?=\S)",  # name@example.com mail links
    re.IGNORECASE,
)
_TYPOGRAPHY = re.compile(r"(?<!\S)(<->|->|<-|--|>=|<=|~=)(?!\S)")  # Streamlit turns these into ↔ → ← — ≥ ≤ ≈
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP: a cell starting so is a formula to a spreadsheet


def markdown_literal(text: object) -> str:
    """`text` as Streamlit markdown that displays exactly that text: no link, image, HTML, emphasis, emoji,
    icon, colour, maths or list. Visible characters are unchanged (a few invisible word joiners are added)."""
    text = _TYPOGRAPHY.sub(lambda m: WORD_JOINER.join(m[1]), str(text))
    text = _TEXT_PATTERNS.sub(WORD_JOINER, text)
    return "".join("\\" + c if c in _ASCII_PUNCTUATION else c for c in text)


def plotly_label(text: object) -> str:
    """`text` for a plotly legend, label, hover or tick: plotly reads tags such as <a>, <b>, <br> and entities
    there. Quotes stay as they are (plotly would show `&quot;` as written)."""
    return html.escape(str(text), quote=False)


def spreadsheet_csv(df: pd.DataFrame, date_format: str | None = None) -> str:
    """CSV of `df` that a spreadsheet opens as data, for every CSV the console writes.

    A text cell a spreadsheet would run as a formula starts with `'` (OWASP's rule), and text cells are quoted,
    so a CR or a `;` (the separator of some locales) inside one cannot start a new cell. Only text is touched:
    a negative number stays a number."""
    out = df.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_formula_safe)
    buf = io.StringIO()
    out.to_csv(buf, index=False, date_format=date_format, quoting=csv.QUOTE_NONNUMERIC)
    return buf.getvalue()


def _formula_safe(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value
