"""Text from LiteLLM, URLs and usernames shows as typed: in Streamlit's markdown, in plotly labels, in CSV files.

The markdown oracle is CommonMark's rule (a backslash makes any ASCII punctuation literal; unescaped punctuation
may start markup) plus the rewrites Streamlit 1.67's markdown applies to text after escapes are decoded (copied
from its frontend, StreamlitMarkdown: GFM autolinks, emoji and icon shortcodes, typographic arrows).
"""

from __future__ import annotations

import csv
import html
import io
import re
import string

import pandas as pd
import pytest

from lib.core.text_safety import WORD_JOINER, markdown_literal, plotly_label, spreadsheet_csv

STREAMLIT_TEXT_REWRITES = {
    "autolink": re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE),
    "mail link": re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
    "emoji": re.compile(r":\+1:|:-1:|:[-\w]+:"),
    "icon": re.compile(r":material_(\w+):|:streamlit:"),
    "arrow": re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),
}


def live_markup(md: str) -> set[str]:
    """ASCII punctuation in `md` that no backslash makes literal: each may start markup."""
    live, i = set(), 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md) and md[i + 1] in string.punctuation:
            i += 2
            continue
        if md[i] in string.punctuation:
            live.add(md[i])
        i += 1
    return live


def decoded(md: str) -> str:
    """The text of `md` once its backslash escapes are read (what Streamlit's text rewrites then see)."""
    return re.sub(rf"\\([{re.escape(string.punctuation)}])", r"\1", md)


def displayed(md: str) -> str:
    """What a reader sees of `md` (word joiners are invisible)."""
    return decoded(md).replace(WORD_JOINER, "")


def rewrites(md: str) -> list[str]:
    """Streamlit's rewrites that would change the text of `md` (it turns `:material/` into `:material_` first)."""
    text = decoded(md.replace(":material/", ":material_"))
    return [name for name, pattern in STREAMLIT_TEXT_REWRITES.items() if pattern.search(text)]


NASTY = [
    "[click](https://evil.example)![x](https://evil.example/i.png)",
    "<b>bold</b><a href=x>",
    "<img src=x onerror=alert(1)>",
    "<https://evil.example>",
    "https://evil.example/login and WWW.evil.example",
    "support@evil.example",
    ":red[alert] :blue-background[x] :material/warning: :smile: :+1: :streamlit:",
    "**bold** __bold__ *it* _it_ ~~gone~~ `code`",
    "$x^2$ and $$y$$",
    "# heading\n- item\n1. first\n> quote\n---\n===",
    "| a | b |\n|---|---|",
    "[ref]: https://evil.example\n[ref]",
    "back\\slash \\*still not bold\\* \\",
    "&lt;b&gt; &amp; &#x41; &copy",
    "a -> b <- c <-> d -- e >= f <= g ~= h",
    "openai/gpt-4o-mini",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "",
]


@pytest.mark.parametrize("text", NASTY)
def test_markdown_literal_shows_the_text_and_no_markup(text):
    md = markdown_literal(text)
    assert live_markup(md) == set()
    assert rewrites(md) == []
    assert displayed(md) == text


@pytest.mark.parametrize("value", [42, -1.5, None, ValueError("LiteLLM said <b>no</b>")])
def test_markdown_literal_takes_any_value_as_its_text(value):
    assert displayed(markdown_literal(value)) == str(value)
    assert live_markup(markdown_literal(value)) == set()


@pytest.mark.parametrize(
    "text, label",
    [
        ("<b>bold</b><a href=x>", "&lt;b&gt;bold&lt;/b&gt;&lt;a href=x&gt;"),
        ("a<br>b", "a&lt;br&gt;b"),
        ("AT&T", "AT&amp;T"),
        ("&lt;already&gt;", "&amp;lt;already&amp;gt;"),
        ("say \"hi\" 'there'", "say \"hi\" 'there'"),
        ("[click](https://evil.example)", "[click](https://evil.example)"),
        ("openai/gpt-4o", "openai/gpt-4o"),
    ],
)
def test_plotly_label_escapes_tags_and_entities_only(text, label):
    assert plotly_label(text) == label
    assert html.unescape(plotly_label(text)) == text


def test_spreadsheet_csv_prefixes_text_formulas_and_keeps_numbers():
    formulas = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    harmless = ["team-data", "alice.martin", " =1", "a;=1+1", "", None]
    df = pd.DataFrame(
        {
            "key_alias": formulas + harmless,
            "spend": [-0.25, 1.5, -3.0, 0.0, 2.0, -1e-6] + [1.0] * 6,
            "requests": list(range(-6, 6)),
        }
    )
    rows = list(csv.DictReader(io.StringIO(spreadsheet_csv(df), newline="")))
    assert [r["key_alias"] for r in rows] == ["'" + f for f in formulas] + harmless[:5] + [""]
    assert [float(r["spend"]) for r in rows] == df["spend"].tolist()  # negative numbers stay numbers
    assert [int(r["requests"]) for r in rows] == df["requests"].tolist()
    assert df["key_alias"].tolist()[:6] == formulas  # the caller's frame is unchanged


def test_spreadsheet_csv_keeps_a_carriage_return_or_separator_inside_its_cell():
    """A bare CR ends a row in a spreadsheet, and some locales split cells at `;`: unquoted, either would start a
    cell with `=1+1`."""
    text = spreadsheet_csv(pd.DataFrame({"team": ["x\r=1+1", "a;=1+1"], "requests": [1, 2]}))
    assert text == '"team","requests"\n"x\r=1+1",1\n"a;=1+1",2\n'
