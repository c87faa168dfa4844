"""Text from outside the console (LiteLLM, URLs, typed usernames) shown or written as plain text.

Two outputs interpret text: Streamlit's markdown (st.markdown, captions, toasts, alerts, labels) and plotly's
HTML-like labels (legends, pie labels, hover, ticks).
"""
from __future__ import annotations

import html
import re
import string

# Invisible and unbreakable: it splits the patterns Streamlit's markdown matches in text that backslash escapes
# cannot reach (it runs them on the text after escapes are decoded).
WORD_JOINER = "\u2060"
_ASCII_PUNCTUATION = frozenset(string.punctuation)      # CommonMark lets a backslash make each of these literal
_TEXT_PATTERNS = re.compile(
    r"(?<=:)(?=\S)"                        # :emoji:, :material/icon:, :streamlit:, https:// links
    r"|(?<=www)(?=\.)"                     # www.example.com links (any case)
    r"|(?<=@)(?=\S)",                      # name@example.com mail links
    re.IGNORECASE)
_TYPOGRAPHY = re.compile(r"(?<!\S)(<->|->|<-|--|>=|<=|~=)(?!\S)")      # Streamlit turns these into ↔ → ← — ≥ ≤ ≈


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

