"""Demo mode's request logs: `/spend/logs/v2` and `/spend/logs/ui/{request_id}` as LiteLLM 1.108 answers them,
over requests generated from the demo's own daily table (lib/litellm/demo.py).

Each of the demo's daily rows (a day, a key, a model group: N requests, F failed) becomes N requests on that day,
F of them failures, so the logs count exactly what the Usage page counts per day, key, model group and status.
Times follow a working-day profile; tokens, spend, latency, streaming (time to first token), cache hits and
error kinds are drawn per request from the demo's model table. Today's rows end when the demo was generated;
after that a live tail at today's pace keeps the last hour populated (the tail is not in the daily table:
today is partial there anyway). Prompts and responses are stored for the last `PROMPT_DAYS` days only, as if
`store_prompts_in_spend_logs` had been turned on then.

Everything is deterministic from the demo seed; a day is generated (vectorised) when first asked for and kept.
Filters, sorting, paging, the count cap and the errors are LiteLLM's (lib/litellm/logs_api.py), except that
equal sort values keep one order here (LiteLLM's may change between pages).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone

import httpx
import numpy as np
import pandas as pd

from lib.core.clock import utcnow
from lib.litellm.logs_api import COUNT_CAP, MAX_PAGE_SIZE, SPEND_LOGS_PATH

PROMPT_DAYS = 3
CACHED_DAYS = 40
# relative traffic per UTC hour (a working day in Europe and the Americas)
HOUR_PROFILE = np.array(
    [0.25, 0.2, 0.2, 0.2, 0.25, 0.35, 0.6, 0.9, 1.3, 1.5, 1.5, 1.4, 1.1, 1.4, 1.6, 1.6, 1.5, 1.3, 1.0, 0.8, 0.6,
     0.5, 0.4, 0.3]
)  # fmt: skip
SORT_COLUMNS = {
    "startTime": "t",
    "endTime": "end_t",
    "spend": "spend",
    "total_tokens": "total_tokens",
    "request_duration_ms": "duration_ms",
    "model": "model",
    "ttft_ms": "ttft_ms",
}
CACHE_HIT_RATE = 0.06  # of successful chat requests to OpenAI and Anthropic models
STREAM_RATE = 0.4
# error kinds of failures: (class, code, message template, duration factor of the model's latency)
ERRORS = (
    ("RateLimitError", "429", "{p}Exception - Rate limit reached for requests. Please retry after 20s.", 0.1),
    ("InternalServerError", "500", "{p}Exception - The server had an error while processing your request.", 0.6),
    ("ServiceUnavailableError", "503", "{p}Exception - The model is overloaded. Please try again later.", 0.3),
    ("Timeout", "408", "{p}Exception - Request timed out. Timeout passed=30.0, time taken=30.0 seconds", None),
    ("BadRequestError", "400", "{p}Exception - This model's maximum context length was exceeded.", 0.05),
)
PROVIDER_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "vertex_ai": "VertexAI", "mistral": "Mistral"}
PROMPTS = (
    "Summarise the attached meeting notes in five bullet points.",
    "Write a SQL query that lists customers with no order in the last 90 days.",
    "Translate this paragraph into German, keeping the formal tone.",
    "Explain the difference between a mutex and a semaphore.",
    "Draft a polite reply declining the vendor's proposal.",
    "Classify this support ticket: 'My invoice shows the wrong VAT number'.",
    "Generate three test cases for a password strength checker.",
    "What are the main risks in this contract clause?",
)


def _json(status: int, body) -> httpx.Response:
    import json

    return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def _litellm_error(message: str, param: str | None, code: int = 400) -> httpx.Response:
    return _json(code, {"error": {"message": message, "type": "bad_request", "param": param, "code": str(code)}})


class DemoSpendLogs:
    def __init__(self, demo, models: dict, elapsed: float, now=utcnow):
        """`demo`: the DemoLiteLLM (its seed, keys, days and daily rows); `models`: its model table; `elapsed`: the
        fraction of today its daily rows cover (when it was generated)."""
        self.seed = demo.seed
        self.today = demo.today
        self.first_day = demo.today - timedelta(days=demo.days - 1)
        self._now = now
        self._by_date = demo._by_date
        self.keys = list(demo.keys)
        self._key_index = {k["hash"]: i for i, k in enumerate(self.keys)}
        self.groups = list(models)
        self.model_table = models
        self._group_index = {g: i for i, g in enumerate(self.groups)}
        self.generated_at = datetime.combine(demo.today, time(0), timezone.utc) + timedelta(days=elapsed)
        self._days: OrderedDict[date, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    # -- generation ---------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The fake's present: requests after it do not exist yet (and the demo's history ends with its today)."""
        end_of_today = datetime.combine(self.today, time(23, 59, 59, 999000), timezone.utc)
        return min(self._now(), end_of_today)

    def day(self, day: date) -> pd.DataFrame:
        """Every request of a UTC day (today's live tail included, future ones too: `frame` cuts at now)."""
        with self._lock:
            if day in self._days:
                self._days.move_to_end(day)
                return self._days[day]
        df = self._generate(day)
        with self._lock:
            self._days[day] = df
            while len(self._days) > CACHED_DAYS:
                self._days.popitem(last=False)
        return df

    def _blocks(self, day: date) -> list[tuple[int, int, int, int, float, float]]:
        """(key, group, requests, failed, from, to) with from/to as fractions of the day."""
        rows = self._by_date.get(day.isoformat(), []) if self.first_day <= day <= self.today else []
        cut = 1.0
        if day == self.today:
            cut = (self.generated_at - datetime.combine(day, time(0), timezone.utc)).total_seconds() / 86400
        blocks = [
            (self._key_index[r["api_key"]], self._group_index[r["model_group"]], r["api_requests"],
             r["failed_requests"], 0.0, cut)
            for r in rows
        ]  # fmt: skip
        if day == self.today and cut < 1.0 and blocks:
            # the live tail: today's mix at today's pace for the rest of the day
            rng = np.random.default_rng([self.seed, day.toordinal(), 2])
            weight = np.cumsum(np.repeat(HOUR_PROFILE, 60))  # the profile's weight up to each minute
            done = np.interp(cut * 1440, np.arange(1, 1441), weight)
            pace = (weight[-1] - done) / max(done, 1.0)  # the rest of the day's weight per weight done
            for key, group, n, failed, _, _ in list(blocks):
                more = int(rng.poisson(n * pace))
                fail_rate = failed / n if n else 0.0
                blocks.append((key, group, more, int(rng.binomial(more, fail_rate)), cut, 1.0))
        return blocks

    def _generate(self, day: date) -> pd.DataFrame:
        blocks = [b for b in self._blocks(day) if b[2] > 0]
        rng = np.random.default_rng([self.seed, day.toordinal(), 1])
        if not blocks:
            return _empty_day()
        key = np.repeat([b[0] for b in blocks], [b[2] for b in blocks]).astype(np.int32)
        group = np.repeat([b[1] for b in blocks], [b[2] for b in blocks]).astype(np.int16)
        n = len(key)
        # failures: the first `failed` requests of each block
        pos = np.arange(n) - np.repeat(np.cumsum([0] + [b[2] for b in blocks[:-1]]), [b[2] for b in blocks])
        failed = pos < np.repeat([b[3] for b in blocks], [b[2] for b in blocks])
        # times: a minute drawn by the hour profile within the block's span, then a moment within it
        lo = np.repeat([b[4] for b in blocks], [b[2] for b in blocks]) * 1440
        hi = np.repeat([b[5] for b in blocks], [b[2] for b in blocks]) * 1440
        minute_weights = np.repeat(HOUR_PROFILE, 60)
        cdf = np.concatenate([[0.0], np.cumsum(minute_weights)])
        u = rng.random(n)
        lo_c, hi_c = np.interp(lo, np.arange(1441), cdf), np.interp(hi, np.arange(1441), cdf)
        minute_f = np.interp(lo_c + u * (hi_c - lo_c), cdf, np.arange(1441))
        day_ms = int(datetime.combine(day, time(0), timezone.utc).timestamp() * 1000)
        t = day_ms + np.minimum(minute_f * 60_000, 86_400_000 - 1).astype(np.int64)

        latency = np.array([self.model_table[g][4] for g in self.groups], dtype=float)[group]
        pin = np.array([self.model_table[g][2] for g in self.groups])[group]
        pout = np.array([self.model_table[g][3] for g in self.groups])[group]
        provider = np.array([self.model_table[g][1] for g in self.groups], dtype=object)[group]
        embedding = np.array([self.model_table[g][6] == "embedding" for g in self.groups])[group]
        prompt = rng.integers(80, 2400, n)
        completion = np.where(embedding | failed, 0, (prompt * rng.uniform(0.1, 0.5, n)).astype(np.int64))
        cacheable = (~failed) & (~embedding) & np.isin(provider, ["openai", "anthropic"])
        cache_hit = cacheable & (rng.random(n) < CACHE_HIT_RATE)
        spend = np.where(failed | cache_hit, 0.0, np.round((prompt * pin + completion * pout) / 1e6, 10))
        duration = latency * rng.lognormal(0.0, 0.4, n)
        err = np.where(failed, rng.integers(0, len(ERRORS), n), -1).astype(np.int8)
        for i, (_cls, _code, _msg, factor) in enumerate(ERRORS):
            mask = err == i
            duration[mask] = 30_000.0 if factor is None else latency[mask] * factor * rng.uniform(0.5, 1.5, mask.sum())
        duration[cache_hit] = rng.uniform(3, 30, cache_hit.sum())
        duration = np.round(duration).astype(np.int64)
        streamed = (~failed) & (~embedding) & (~cache_hit) & (rng.random(n) < STREAM_RATE)
        ttft = np.where(streamed, np.round(duration * rng.uniform(0.15, 0.45, n)), np.nan)
        prompt_pick = rng.integers(0, len(PROMPTS), n).astype(np.int8)
        order = np.argsort(t, kind="stable")
        df = pd.DataFrame(
            {
                "t": t,
                "key": key,
                "group": group,
                "failed": failed,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "spend": spend,
                "duration_ms": duration,
                "ttft_ms": ttft,
                "cache_hit": cache_hit,
                "error": err,
                "prompt": prompt_pick,
            }
        ).iloc[order]
        df = df.reset_index(drop=True)
        df["index"] = np.arange(len(df), dtype=np.int64)
        df["end_t"] = df["t"] + df["duration_ms"]
        df["total_tokens"] = df["prompt_tokens"] + df["completion_tokens"]
        df["model"] = np.array([self.model_table[g][0] for g in self.groups], dtype=object)[df["group"].to_numpy()]
        ordinal = day.toordinal()
        ids = _hex(rng, len(df), 10)
        suffix = np.char.add(f"{ordinal:06x}", np.char.zfill(np.char.lower(np.char.mod("%x", df["index"])), 6))
        df["request_id"] = np.char.add(np.char.add("chatcmpl-", ids), suffix).astype(object)
        df["call_id"] = _uuid_like(_hex(rng, len(df), 16))
        return df

    def frame(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Requests with start <= time <= end (and not after now)."""
        end = min(end, self.now())
        first, last = max(start.date(), self.first_day), min(end.date(), self.today)
        if first > last:
            return _empty_day()
        parts = [self.day(first + timedelta(days=i)) for i in range((last - first).days + 1)]
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        return df[(df["t"] >= lo) & (df["t"] <= hi)]

    # -- serving --------------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if path == SPEND_LOGS_PATH:
            return self._list(request)
        return self._payload(path.removeprefix("/spend/logs/ui/"))

    def _list(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        sort_by, sort_order = q.get("sort_by", "startTime"), q.get("sort_order", "desc")
        if sort_by not in SORT_COLUMNS:
            return _litellm_error(
                f"Invalid sort_by: {sort_by}. Must be one of: {', '.join(sorted(SORT_COLUMNS))}", "sort_by"
            )
        if sort_order.lower() not in ("asc", "desc"):
            return _litellm_error(f"Invalid sort_order: {sort_order}. Must be one of: asc, desc", "sort_order")
        cache = q.get("cache_hit_filter")
        if cache is not None and cache not in ("hit", "miss"):
            return _litellm_error(f"Invalid cache_hit_filter: {cache}. Must be one of: hit, miss", "cache_hit_filter")
        try:
            page, page_size = int(q.get("page", 1)), int(q.get("page_size", 50))
        except ValueError:
            return _json(422, {"detail": [{"type": "int_parsing", "loc": ["query", "page"], "msg": "not an int"}]})
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            return _json(
                422, {"detail": [{"type": "less_than_equal", "loc": ["query", "page_size"], "msg": "out of range"}]}
            )
        if "start_date" not in q or "end_date" not in q:
            return _litellm_error("Start date and end date are required", "None")
        try:
            start, end = _litellm_date(q["start_date"]), _litellm_date(q["end_date"])
            min_spend = float(q["min_spend"]) if "min_spend" in q else None
            max_spend = float(q["max_spend"]) if "max_spend" in q else None
        except ValueError as exc:
            return _litellm_error(str(exc), None)
        df = self.frame(start, end)
        df = df[self._mask(df, q, min_spend, max_spend)]
        total = len(df)
        column = SORT_COLUMNS[sort_by]
        asc = sort_order.lower() == "asc"
        df = df.sort_values([column, "t", "index"], ascending=[asc, asc, asc], kind="stable", na_position="last")
        rows = df.iloc[(page - 1) * page_size : page * page_size]
        shown_total = min(total, COUNT_CAP)
        return _json(
            200,
            {
                "data": [self._row(r) for r in rows.itertuples(index=False)],
                "total": shown_total,
                "page": page,
                "page_size": page_size,
                "total_pages": math.ceil(shown_total / page_size),
                "total_is_capped": total > COUNT_CAP,
            },
        )

    def _mask(self, df: pd.DataFrame, q, min_spend, max_spend) -> np.ndarray:
        mask = np.ones(len(df), dtype=bool)

        def keys_where(test) -> list[int]:
            return [i for i, k in enumerate(self.keys) if test(k)]

        if "api_key" in q:
            mask &= df["key"].isin(keys_where(lambda k: k["hash"] == q["api_key"])).to_numpy()
        if "user_id" in q:
            mask &= df["key"].isin(keys_where(lambda k: (k["user_id"] or "") == q["user_id"])).to_numpy()
        if "team_id" in q:
            mask &= df["key"].isin(keys_where(lambda k: (k["team_id"] or "") == q["team_id"])).to_numpy()
        if "key_alias" in q:  # LiteLLM: alias LIKE %text%
            mask &= df["key"].isin(keys_where(lambda k: q["key_alias"] in (k["alias"] or ""))).to_numpy()
        if "model_group" in q:
            mask &= (df["group"] == self._group_index.get(q["model_group"], -1)).to_numpy()
        if "model" in q:
            mask &= (df["model"] == q["model"]).to_numpy()
        status = q.get("status_filter")
        if status == "success":
            mask &= ~df["failed"].to_numpy()
        elif status is not None:
            mask &= df["failed"].to_numpy() if status == "failure" else False
        cache = q.get("cache_hit_filter")
        if cache == "hit":
            mask &= df["cache_hit"].to_numpy()
        elif cache == "miss":
            mask &= ~df["cache_hit"].to_numpy()
        if min_spend is not None:
            mask &= (df["spend"] >= min_spend).to_numpy()
        if max_spend is not None:
            mask &= (df["spend"] <= max_spend).to_numpy()
        if "request_id" in q:  # LiteLLM: its request id or its call id
            rid = q["request_id"]
            mask &= ((df["request_id"] == rid) | (df["call_id"] == rid)).to_numpy()
        return mask

    def _row(self, r) -> dict:
        key = self.keys[r.key]
        group = self.groups[r.group]
        model, provider = self.model_table[group][0], self.model_table[group][1]
        start = datetime.fromtimestamp(r.t / 1000, timezone.utc)
        end = datetime.fromtimestamp(r.end_t / 1000, timezone.utc)
        first_token = end if math.isnan(r.ttft_ms) else start + timedelta(milliseconds=r.ttft_ms)
        error = None
        if r.failed:
            cls, code, message, _ = ERRORS[r.error]
            name = PROVIDER_NAMES.get(provider, provider.capitalize())
            error = {
                "error_class": cls,
                "error_code": code,
                "error_message": f"litellm.{cls}: {cls}: " + message.format(p=name),
                "llm_provider": provider,
                "traceback": f'  File "litellm/main.py", line 765, in acompletion\n    raise exception_type(\n{cls}\n',
            }
        metadata = {
            "status": "failure" if r.failed else None,
            "user_api_key": key["hash"],
            "user_api_key_alias": key["alias"],
            "user_api_key_user_id": key["user_id"],
            "user_api_key_team_id": key["team_id"],
            "error_information": error,
            "usage_object": None
            if r.failed
            else {
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.total_tokens,
            },
            "requester_ip_address": f"10.0.{r.key % 250}.{10 + r.key % 200}",
            "model_map_information": {"model_map_key": model, "model_map_value": {"litellm_provider": provider}},
        }
        return {
            "request_id": r.request_id,
            "call_type": "aembedding" if self.model_table[group][6] == "embedding" else "acompletion",
            "api_key": key["hash"],
            "spend": r.spend,
            "total_tokens": int(r.total_tokens),
            "prompt_tokens": int(r.prompt_tokens),
            "completion_tokens": int(r.completion_tokens),
            "startTime": _iso(start),
            "endTime": _iso(end),
            "completionStartTime": _iso(first_token),
            "model": model,
            "model_id": hashlib.sha256(group.encode()).hexdigest()[:32],
            "model_group": group,
            "custom_llm_provider": provider,
            "api_base": "http://ollama.internal:11434" if provider == "ollama" else "",
            "user": key["user_id"] or "",
            "metadata": metadata,
            "cache_hit": "True" if r.cache_hit else "False",
            "cache_key": "Cache OFF",
            "request_tags": [],
            "team_id": key["team_id"] or "",
            "organization_id": "",
            "end_user": "",
            "requester_ip_address": metadata["requester_ip_address"],
            "session_id": None,
            "status": "failure" if r.failed else "success",
            "litellm_call_id": r.call_id,
            "request_duration_ms": int(r.duration_ms),
        }

    def _payload(self, request_id: str) -> httpx.Response:
        found = self._find(request_id)
        if found is None:
            return _json(200, None)
        day, r = found
        if day <= self.today - timedelta(days=PROMPT_DAYS):
            return _json(200, {"messages": {}, "response": {}, "proxy_server_request": {}})
        group = self.groups[r["group"]]
        prompt = PROMPTS[r["prompt"]]
        messages = [{"role": "user", "content": prompt}]
        response = (
            {}  # a failure has no response: LiteLLM stores {}
            if r["failed"]
            else {
                "id": request_id,
                "model": self.model_table[group][0],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": _answer(prompt)}}],
                "usage": {"prompt_tokens": int(r["prompt_tokens"]), "completion_tokens": int(r["completion_tokens"])},
            }
        )
        # as LiteLLM 1.108 stores them: the prompt inside the request as sent, its `messages` column left empty
        return _json(
            200,
            {"messages": {}, "response": response, "proxy_server_request": {"model": group, "messages": messages}},
        )

    def _find(self, request_id: str):
        if not request_id.startswith("chatcmpl-") or len(request_id) != 41:
            return None
        try:
            ordinal, i = int(request_id[-12:-6], 16), int(request_id[-6:], 16)
            day = date.fromordinal(ordinal)
        except ValueError:
            return None
        if not self.first_day <= day <= self.today:
            return None
        df = self.day(day)
        if i >= len(df) or df["request_id"].iat[i] != request_id:
            return None
        row = df.iloc[i]
        if row["t"] > self.now().timestamp() * 1000:
            return None
        return day, row


def _empty_day() -> pd.DataFrame:
    columns = {
        "t": "int64", "key": "int32", "group": "int16", "failed": "bool", "prompt_tokens": "int64",
        "completion_tokens": "int64", "spend": "float64", "duration_ms": "int64", "ttft_ms": "float64",
        "cache_hit": "bool", "error": "int8", "prompt": "int8", "index": "int64", "end_t": "int64",
        "total_tokens": "int64", "model": "object", "request_id": "object", "call_id": "object",
    }  # fmt: skip
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


def _litellm_date(text: str) -> datetime:
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"Invalid date format: {text}. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'")


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds")


_HEX = np.array(list("0123456789abcdef"), dtype="U1")


def _hex(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    """`n` random texts of 2 * `nbytes` hex digits (vectorised: a day has thousands of ids)."""
    raw = np.frombuffer(rng.bytes(n * nbytes), dtype=np.uint8).reshape(n, nbytes)
    digits = np.stack([_HEX[raw >> 4], _HEX[raw & 15]], axis=2).reshape(n, 2 * nbytes)
    return digits.view(f"U{2 * nbytes}").reshape(n)


def _uuid_like(h: np.ndarray) -> np.ndarray:
    """32 hex digits as 8-4-4-4-12, like LiteLLM's call ids."""
    chars = h.view("U1").reshape(len(h), 32)
    spans = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
    pieces = [chars[:, a:b].copy().view(f"U{b - a}").reshape(len(h)) for a, b in spans]
    out = pieces[0]
    for piece in pieces[1:]:
        out = np.char.add(np.char.add(out, "-"), piece)
    return out.astype(object)


def _answer(prompt: str) -> str:
    return f"Here is what you asked for ({prompt[:40].rstrip('.')}…): a demo answer generated by the console."
