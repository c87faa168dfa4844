"""A lazy fake of LiteLLM's `/spend/logs/v2` holding any number of rows (a million and more) without making them:
row i (0 = the newest) is computed from i alone, so a page costs the same whatever the table's size. Served over
HTTP on loopback (`serve`), with each request recorded (`calls`), for the Request logs page's scale benchmark
(tests/bench/logs_page.py) and its test (tests/test_logs_scale.py).

Its rows are as large as LiteLLM 1.108's (about 11 kB: most of it the model's price-map entry that LiteLLM copies
into every row's metadata). It sorts by time only and filters by status only; anything else is answered 400, so a
page that asked for more would fail the benchmark rather than time something else. `total` stops at LiteLLM's
count cap (`total_is_capped`), like LiteLLM.
"""

from __future__ import annotations

import json
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from lib.litellm.logs_api import COUNT_CAP, MAX_PAGE_SIZE, SPEND_LOGS_PATH

FAILURE_EVERY = 25  # row i failed when i % 25 == 0 (4 %)
SPAN = timedelta(days=7)
# LiteLLM copies the model's price-map entry (about 8 kB of fields) into each row's metadata
PRICE_MAP_COPY = {
    "model_map_key": "openai/gpt-4o-mini",
    "model_map_value": {f"field_{k:03d}": None for k in range(330)},
}
MODELS = [
    ("gpt-4o-mini", "openai/gpt-4o-mini", "openai"),
    ("claude-3-5-haiku", "anthropic/claude-3-5-haiku", "anthropic"),
]


@dataclass
class Call:
    params: dict
    rows: int
    bytes: int


@dataclass
class LazySpendLogs:
    rows: int
    end: datetime  # the newest row's time (+ half a step)
    span: timedelta = SPAN  # the rows are spread evenly over the span before `end`
    calls: list[Call] = field(default_factory=list)

    @property
    def step(self) -> float:
        return self.span.total_seconds() / self.rows

    def time_of(self, i: int) -> datetime:
        return self.end - timedelta(seconds=(i + 0.5) * self.step)

    def index_range(self, start: datetime, end: datetime) -> tuple[int, int]:
        """The rows with start <= time <= end: indexes lo..hi (empty when lo > hi)."""
        lo = max(0, math.ceil((self.end - end).total_seconds() / self.step - 0.5))
        hi = min(self.rows - 1, math.floor((self.end - start).total_seconds() / self.step - 0.5))
        return lo, hi

    # the rows of a status filter between lo and hi, newest first, counted and indexed without listing them
    @staticmethod
    def _failures(a: int, b: int) -> int:
        return 0 if b < a else b // FAILURE_EVERY - (a - 1) // FAILURE_EVERY

    def count(self, lo: int, hi: int, status: str | None) -> int:
        n = max(0, hi - lo + 1)
        if status == "failure":
            return self._failures(lo, hi)
        return n - self._failures(lo, hi) if status == "success" else n

    def nth(self, lo: int, hi: int, status: str | None, k: int) -> int:
        """The index of the k-th matching row (0-based) from lo."""
        if status is None:
            return lo + k
        if status == "failure":
            return (math.ceil(lo / FAILURE_EVERY) + k) * FAILURE_EVERY
        a, b = lo, hi  # success: the smallest b with count(lo, b) > k
        while a < b:
            mid = (a + b) // 2
            if self.count(lo, mid, "success") > k:
                b = mid
            else:
                a = mid + 1
        return a

    def row(self, i: int) -> dict:
        """Row i as LiteLLM sends it (its numbers are arbitrary but fixed by i)."""
        group, model, provider = MODELS[i % len(MODELS)]
        failed = i % FAILURE_EVERY == 0
        start = self.time_of(i)
        duration = 300 + (i * 7919) % 2500
        prompt, completion = 50 + (i * 31) % 2000, 0 if failed else 20 + (i * 17) % 800
        key = f"{(i % 40):064x}"
        return {
            "request_id": f"chatcmpl-bench-{i:012d}",
            "call_type": "acompletion",
            "api_key": key,
            "spend": 0.0 if failed else round((prompt * 0.15 + completion * 0.6) / 1e6, 10),
            "total_tokens": prompt + completion,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "startTime": start.isoformat(timespec="milliseconds"),
            "endTime": (start + timedelta(milliseconds=duration)).isoformat(timespec="milliseconds"),
            "completionStartTime": (start + timedelta(milliseconds=duration)).isoformat(timespec="milliseconds"),
            "model": model,
            "model_group": group,
            "custom_llm_provider": provider,
            "api_base": "",
            "user": f"user-{i % 40}",
            "metadata": {
                "status": "failure" if failed else None,
                "user_api_key": key,
                "user_api_key_alias": f"bench-key-{i % 40}",
                "user_api_key_user_id": f"user-{i % 40}",
                "error_information": {
                    "error_class": "RateLimitError",
                    "error_code": "429",
                    "error_message": "slow down",
                }
                if failed
                else None,
                "model_map_information": PRICE_MAP_COPY,
            },
            "cache_hit": "False",
            "cache_key": "Cache OFF",
            "request_tags": [],
            "team_id": "",
            "end_user": "",
            "status": "failure" if failed else "success",
            "litellm_call_id": f"bench-call-{i:012d}",
            "request_duration_ms": duration,
        }

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict | None]:
        if path.rstrip("/") != SPEND_LOGS_PATH:
            return 404, {"detail": "Not Found"}
        known = {"start_date", "end_date", "page", "page_size", "sort_by", "sort_order", "status_filter"}
        if set(params) - known or params.get("sort_by", "startTime") != "startTime":
            return 400, {"error": {"message": f"the benchmark's fake cannot answer {sorted(set(params) - known)}"}}
        start = datetime.strptime(params["start_date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        end = datetime.strptime(params["end_date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        page, size = int(params.get("page", 1)), int(params.get("page_size", 50))
        if not 1 <= size <= MAX_PAGE_SIZE:
            return 422, {"detail": "page_size out of range"}
        status = params.get("status_filter")
        lo, hi = self.index_range(start, end)
        total = self.count(lo, hi, status)
        first = (page - 1) * size
        ks = range(first, min(first + size, total))
        if params.get("sort_order", "desc") == "asc":
            ks = [total - 1 - k for k in ks]
        data = [self.row(self.nth(lo, hi, status, k)) for k in ks]
        shown = min(total, COUNT_CAP)
        body = {
            "data": data,
            "total": shown,
            "page": page,
            "page_size": size,
            "total_pages": math.ceil(shown / size),
            "total_is_capped": total > COUNT_CAP,
        }
        return 200, body


@contextmanager
def serve(fake: LazySpendLogs):
    """The fake on http://127.0.0.1:PORT (any bearer key), recording each request in `fake.calls`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                code, body = 401, {"error": {"message": "Authentication Error, No api key passed in."}}
            else:
                code, body = fake.answer(url.path, params)
            raw = json.dumps(body).encode()
            fake.calls.append(Call(params, len(body.get("data", [])) if isinstance(body, dict) else 0, len(raw)))
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
