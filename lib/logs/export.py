"""Export of the filtered logs: every matching request (all pages), as CSV or JSON, through the gate.

The pages are fetched newest first (by time: the one order in which LiteLLM's pages never repeat or skip a row
with an equal value of another sort) until a short page — LiteLLM's total stops counting at 10,000 — then put in
the view's order (equal values by request id), the same order the page shows. A request seen twice (a row that
moved pages as new requests were written) counts once; if the rows still do not add up to the total LiteLLM
counted (a row deleted meanwhile shifts the later pages), the export fails and says so rather than hand over a
file with a gap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime

import pandas as pd

from lib.auth.gate import perform
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.core.text_safety import spreadsheet_csv
from lib.litellm.logs_api import MAX_PAGE_SIZE
from lib.logs.query import LogQuery
from lib.logs.rows import COLUMNS, frame_of, record, sort_frame

FORMATS = ("csv", "json")
EXPORT_ACTION = "logs.export"


class LogsExportError(ConsoleError):
    """An export that cannot be made as asked (too many rows, LiteLLM's answer changed); the message says why."""


def fetch_all(
    client,
    query: LogQuery,
    max_rows: int,
    progress: Callable[[int, int | None], None] | None = None,
    page_size: int = MAX_PAGE_SIZE,
) -> pd.DataFrame:
    """Every request matching `query` (its page and page size aside), in the query's order.
    `progress(rows so far, total or None when LiteLLM's count is capped)` after each page."""
    newest = query.but(sort="time", order="desc", page_size=page_size)
    rows: dict[str, dict] = {}  # request id -> its record (LiteLLM's rows, 11 kB each, are not kept)
    counted, capped, page = None, False, 1
    while True:
        answer = client.spend_logs(newest.but(page=page).params())
        if counted is None:
            counted, capped = answer.total, answer.total_is_capped
            if not capped and counted > max_rows:
                raise _too_many(f"{counted:,}", max_rows)
        for row in answer.data:
            if row.request_id not in rows:
                rows[row.request_id] = record(row)
        if progress is not None:
            progress(len(rows), None if capped else counted)
        if len(rows) > max_rows:
            raise _too_many(f"more than {max_rows:,}", max_rows)
        if len(answer.data) < page_size:
            break
        page += 1
    if not capped and len(rows) != counted:
        raise LogsExportError(
            f"LiteLLM counted {counted:,} matching requests but its pages listed {len(rows):,}: its rows changed "
            "while they were read (written late into the window, or deleted). Export again."
        )
    return sort_frame(frame_of(list(rows.values())), query.sort, query.order)


def _too_many(found: str, max_rows: int) -> LogsExportError:
    return LogsExportError(
        f"{found} requests match: more than an export holds (LOGS_EXPORT_MAX_ROWS = {max_rows:,}). Narrow the "
        "window or the filters."
    )


def export_filename(query: LogQuery, fmt: str) -> str:
    w = query.window
    return f"request-logs-{w.start:%Y%m%dT%H%M%S}-to-{w.end:%Y%m%dT%H%M%S}.{fmt}"


def to_csv(df: pd.DataFrame) -> str:
    return spreadsheet_csv(df.rename(columns=COLUMNS), date_format="%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(df: pd.DataFrame, query: LogQuery, exported_at: datetime | None = None) -> str:
    meta = {
        "start": query.window.start.isoformat(),
        "end": query.window.end.isoformat(),
        "filters": query.filters(),
        "sort": {"by": query.sort, "order": query.order},
        "exported_at": (exported_at or utcnow()).isoformat(),
        "record_count": len(df),
    }
    return json.dumps({"metadata": meta, "data": [_record(r) for r in df.to_dict(orient="records")]}, indent=2)


def _record(row: dict) -> dict:
    return {k: _clean(v) for k, v in row.items()}


def _clean(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def render(df: pd.DataFrame, query: LogQuery, fmt: str) -> str:
    if fmt not in FORMATS:
        raise LogsExportError(f"unknown export format {fmt!r}; choose csv or json")
    return to_csv(df) if fmt == "csv" else to_json(df, query)


def export_logs(
    engine,
    actor,
    client,
    query: LogQuery,
    fmt: str,
    max_rows: int,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[str, str, int]:
    """(file name, file text, rows) of every request matching `query`, checked and audited by the gate
    (`logs.export`: who, the window, the filters, the format, and how many rows, or why it failed)."""
    if fmt not in FORMATS:
        raise LogsExportError(f"unknown export format {fmt!r}; choose csv or json")
    filename = export_filename(query, fmt)

    def build() -> tuple[str, str, int]:
        df = fetch_all(client, query, max_rows, progress)
        return filename, render(df, query, fmt), len(df)

    return perform(
        engine,
        actor,
        EXPORT_ACTION,
        filename,
        build,
        transaction=False,
        context={
            "format": fmt,
            "start": query.window.start.isoformat(),
            "end": query.window.end.isoformat(),
            "filters": query.filters(),
            "sort": f"{query.sort} {query.order}",
        },
        details=lambda result: {"rows": result[2]},
    )
