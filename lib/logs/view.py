"""What the Request logs page shows for a query: one page of rows, the total, and the rows its charts are drawn
from; with as few LiteLLM calls as it takes and never the whole table.

Every view first asks for the newest `sample_rows` matching requests (one call, sorted by time). When that is all
of them (the total says so), the table's pages are cut from it here, sorted with equal values ordered by request
id: LiteLLM's own paging orders equal values (a spend of 0, equal token counts) arbitrarily, differently from
one page to the next, so its pages can repeat one row and miss another (seen on 1.108 with every sort but time).
When there are more, the page is LiteLLM's, server-side (a page of the newest rows by time is cut from the sample
instead, without a second call), and the charts cover the newest `sample_rows` requests: the view says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from lib.litellm.logs_api import COUNT_CAP, MAX_PAGE_SIZE
from lib.logs.query import LogQuery, LogWindow
from lib.logs.rows import detail, sort_frame, to_frame

CHART_SAMPLE_ROWS = MAX_PAGE_SIZE  # one call


@dataclass
class LogsView:
    query: LogQuery
    rows: pd.DataFrame  # this page, in the query's order
    details: dict[str, dict]  # request id -> the row's detail, for this page's rows
    total: int  # matching requests (at most LiteLLM's count cap)
    total_is_capped: bool  # more than `total` match
    sample: pd.DataFrame  # the rows the charts are computed from: the newest matching requests
    sample_complete: bool  # the sample is every matching request
    paged_here: bool  # the page was cut from the complete sample (exact order of ties); else LiteLLM's page
    calls: int = 0  # LiteLLM calls made
    notes: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.page_size))

    def total_text(self) -> str:
        if self.total_is_capped:
            return f"more than {self.total:,} requests (LiteLLM counts up to {COUNT_CAP:,})"
        return f"{self.total:,} request{'' if self.total == 1 else 's'}"

    def chart_span(self) -> tuple[datetime, datetime]:
        """The time the charts cover: the window, or from the oldest sampled request when the sample is not all."""
        start, end = self.query.window.start, self.query.window.end
        if not self.sample_complete and not self.sample.empty:
            start = max(start, self.sample["time"].min().to_pydatetime())
        return start, end

    def sample_text(self) -> str:
        """What the charts cover."""
        if self.sample_complete:
            return f"all {len(self.sample):,} matching requests of the window"
        if self.sample.empty:
            return "no requests"
        oldest = self.sample["time"].min()
        return (
            f"the newest {len(self.sample):,} of {self.total_text()}, from {oldest:%Y-%m-%d %H:%M:%S} UTC to the "
            "window's end"
        )


def load_view(client, query: LogQuery, sample_rows: int = CHART_SAMPLE_ROWS) -> LogsView:
    newest = query.but(sort="time", order="desc", page=1, page_size=sample_rows)
    first = client.spend_logs(newest.params())
    calls = 1
    sample_rows_ = first.data
    sample = to_frame(sample_rows_)
    complete = not first.total_is_capped and first.total <= len(sample_rows_)
    by_id = {r.request_id: r for r in sample_rows_}
    start = (query.page - 1) * query.page_size
    if complete:
        page = sort_frame(sample, query.sort, query.order).iloc[start : start + query.page_size]
        total, capped, here = len(sample), False, True
    elif query.sort == "time" and query.order == "desc" and start + query.page_size <= len(sample):
        page = sample.iloc[start : start + query.page_size]  # LiteLLM's order: already what it would answer
        total, capped, here = first.total, first.total_is_capped, False
    else:
        answer = client.spend_logs(query.params())
        calls += 1
        page = to_frame(answer.data)
        by_id.update({r.request_id: r for r in answer.data})
        total, capped, here = answer.total, answer.total_is_capped, False
    page = page.reset_index(drop=True)
    view = LogsView(
        query=query,
        rows=page,
        details={rid: detail(by_id[rid]) for rid in page["request_id"]},
        total=total,
        total_is_capped=capped,
        sample=sample,
        sample_complete=complete,
        paged_here=here,
        calls=calls,
    )
    if not here and query.sort != "time":
        view.notes.append(
            "LiteLLM orders requests with equal values in any order, and may do so differently from one page to "
            "the next: a request can then show on two pages and another on none. Sort by time, or narrow the "
            "filters to a thousand requests or fewer (then the console orders them itself), to page through "
            "every one exactly once."
        )
    return view


def empty_reason(client, daily_requests, query: LogQuery) -> str | None:
    """Why a view without filters found nothing, when the daily activity knows better: LiteLLM counted requests on
    those days but keeps no spend log of them (spend logs disabled, or deleted by their retention period).

    `daily_requests(first_day, last_day)` is the usage store's count of requests over those UTC days."""
    if query.has_filters():
        return None
    first, last = query.window.start.date(), query.window.end.date()
    counted = daily_requests(first, last)
    if not counted:
        return None
    whole_days = LogQuery(LogWindow.days(first, last), page_size=1)
    if client.spend_logs(whole_days.params()).total:
        return None  # LiteLLM has logs on those days, just not in this window
    return (
        f"LiteLLM counted {counted:,} requests on {_days(first, last)} in its daily activity but has no spend log "
        "of any of them: its spend logs are turned off (general_settings.disable_spend_logs) or were deleted by "
        "their retention period (maximum_spend_logs_retention_period)."
    )


def _days(first: date, last: date) -> str:
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"
