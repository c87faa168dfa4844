"""WCAG colour arithmetic for the tests' checks of what is drawn (independent of lib.usage.charts' own)."""

from __future__ import annotations

import re


def luminance(css: str) -> float:
    """Relative luminance (0 black .. 1 white) of a CSS colour as written or as browsers report it: #rrggbb,
    rgb() or rgba() (alpha ignored)."""
    if css.startswith("#"):
        rgb = [int(css[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        rgb = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb)]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """Contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
