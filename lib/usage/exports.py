"""CSV and JSON exports of a breakdown: one code path for the CLI and the pages' download buttons."""

from __future__ import annotations

import json
import math
from datetime import date, datetime

import pandas as pd

from lib.core.clock import utcnow
from lib.core.text_safety import spreadsheet_csv
from lib.usage.queries import BREAKDOWNS, KEY_COLUMNS, Filters, breakdown, totals
from lib.usage.store import UsageStore

FORMATS = ("csv", "json")


def export_filename(start: date, end: date, fmt: str, prefix: str = "admin-usage-export") -> str:
    return f"{prefix}-{start.isoformat()}-to-{end.isoformat()}.{fmt}"


def export_frame(store: UsageStore, start: date, end: date, by: str, f: Filters) -> tuple[pd.DataFrame, dict]:
    """Rows of the breakdown (every key column + ROW_METRICS) and totals over the same stored rows."""
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}; choose one of {', '.join(BREAKDOWNS)}")
    df = breakdown(store, start, end, f, by=by)
    if by != "daily":
        df = df.sort_values(["spend", KEY_COLUMNS[by][0]], ascending=[False, True]).reset_index(drop=True)
    total = totals(store, start, end, f, by=by)
    if "note" in df.attrs:
        total["note"] = df.attrs["note"]
    return df, total


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if hasattr(v, "item"):
        return _clean(v.item())
    if v is pd.NaT:
        return None
    return v


def to_csv(df: pd.DataFrame) -> str:
    return spreadsheet_csv(df, date_format="%Y-%m-%d")


def to_json(
    df: pd.DataFrame, totals: dict, start: date, end: date, by: str, f: Filters, exported_at: datetime | None = None
) -> str:
    records = [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
    meta = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "breakdown": by,
        "filters": f.as_dict(),
        "exported_at": (exported_at or utcnow()).isoformat(),
        "record_count": len(records),
        "totals": {k: _clean(v) for k, v in totals.items()},
    }
    return json.dumps({"metadata": meta, "data": records}, indent=2)


def render_export(store: UsageStore, start: date, end: date, by: str, f: Filters, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose csv or json")
    df, totals = export_frame(store, start, end, by, f)
    return to_csv(df) if fmt == "csv" else to_json(df, totals, start, end, by, f)
