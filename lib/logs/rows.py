"""Spend-log rows as the page shows and exports them: one flat frame, and a row's detail.

LiteLLM's conventions are read here once: no status means success (its own status filter says so), "" means no
team or user, the cache state is the text "True", a failure's error is in `metadata.error_information`, and the
time to first token is `completionStartTime - startTime`, unknown when there is no completion start or it equals
the end (LiteLLM's own rule when it sorts by it: a non-streamed answer arrives whole).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from lib.litellm.logs_api import SpendLogRow
from lib.usage.view_state import api_key_label

# column -> heading; the order of the table, the CSV and the JSON
COLUMNS = {
    "time": "Time (UTC)",
    "status": "Status",
    "route": "Model group → model (provider)",
    "key": "Key",
    "user": "User",
    "prompt_tokens": "Prompt tokens",
    "completion_tokens": "Completion tokens",
    "spend": "Spend (USD)",
    "duration_ms": "Duration (ms)",
    "ttft_ms": "Time to first token (ms)",
    "cache_hit": "Cache hit",
    "error_class": "Error class",
    "error_message": "Error message",
    "model_group": "Model group",
    "model": "Model",
    "provider": "Provider",
    "key_alias": "Key alias",
    "api_key": "Key hash",
    "team": "Team",
    "total_tokens": "Total tokens",
    "error_code": "Error code",
    "request_id": "Request id",
}
TABLE_COLUMNS = list(COLUMNS)[:13] + ["request_id"]
# the sort choices' columns in the frame (lib.logs.query.SORTS)
SORT_COLUMNS = {"time": "time", "spend": "spend", "tokens": "total_tokens", "duration": "duration_ms"}
LEFT_OUT = ("model_map_information",)  # LiteLLM's copy of the model's price-map entry: static, and most of a row
_DTYPES = {
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "total_tokens": "Int64",
    "spend": "float64",
    "duration_ms": "float64",
    "ttft_ms": "float64",
    "cache_hit": "bool",
}


def _blank(v: str | None) -> str | None:
    return v if v else None


def error_information(row: SpendLogRow) -> dict[str, Any]:
    info = (row.metadata or {}).get("error_information")
    return info if isinstance(info, dict) else {}


def is_failure(row: SpendLogRow) -> bool:
    return row.status == "failure"


def record(row: SpendLogRow) -> dict[str, Any]:
    """One row of the frame."""
    meta = row.metadata or {}
    alias = meta.get("user_api_key_alias") if isinstance(meta.get("user_api_key_alias"), str) else None
    group, model, provider = _blank(row.model_group), _blank(row.model), _blank(row.custom_llm_provider)
    duration = row.request_duration_ms
    if duration is None and row.endTime is not None:
        duration = (row.endTime - row.startTime).total_seconds() * 1000
    ttft = None
    if row.completionStartTime is not None and row.completionStartTime != row.endTime:
        ttft = (row.completionStartTime - row.startTime).total_seconds() * 1000
    err = error_information(row) if is_failure(row) else {}
    prompt, completion = row.prompt_tokens, row.completion_tokens
    total = row.total_tokens if row.total_tokens is not None else (prompt or 0) + (completion or 0)
    return {
        "time": row.startTime,
        "status": row.status or "success",
        "route": route(group, model, provider),
        "key": api_key_label(row.api_key, alias, None) if row.api_key else None,
        "user": _blank(row.user),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "spend": row.spend if row.spend is not None else 0.0,
        "duration_ms": duration,
        "ttft_ms": ttft,
        "cache_hit": (row.cache_hit or "").lower() == "true",
        "error_class": _text_or_none(err.get("error_class")),
        "error_message": _text_or_none(err.get("error_message")),
        "model_group": group,
        "model": model,
        "provider": provider,
        "key_alias": alias,
        "api_key": _blank(row.api_key),
        "team": _blank(row.team_id),
        "total_tokens": total,
        "error_code": _text_or_none(err.get("error_code")),
        "request_id": row.request_id,
    }


def route(group: str | None, model: str | None, provider: str | None) -> str:
    """'fast-chat → openai/gpt-4o-mini (openai)': what was asked for, what served it, and whose it is."""
    text = group or "?"
    if model and model != group:
        text += f" → {model}"
    return text + (f" ({provider})" if provider else "")


def to_frame(rows: list[SpendLogRow]) -> pd.DataFrame:
    return frame_of([record(r) for r in rows])


def frame_of(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame of rows already made records (an export keeps only those, not LiteLLM's whole rows)."""
    columns = {}
    for name in COLUMNS:
        values = [r[name] for r in records]
        if name == "time":
            columns[name] = pd.to_datetime(pd.Series(values, dtype="object"), utc=True)
        else:
            columns[name] = pd.Series(values, dtype=_DTYPES.get(name, "object"))
    return pd.DataFrame(columns)


def sort_frame(df: pd.DataFrame, sort: str, order: str) -> pd.DataFrame:
    """In the order LiteLLM sorts by, equal values by request id (LiteLLM leaves their order open)."""
    column = SORT_COLUMNS[sort]
    return df.sort_values(
        [column, "request_id"], ascending=[order == "asc", True], kind="stable", na_position="last"
    ).reset_index(drop=True)


def detail(row: SpendLogRow) -> dict[str, Any]:
    """What a row's detail shows beyond the table: LiteLLM's metadata (empty values and the price-map copy left
    out) and its ids."""
    meta = {k: v for k, v in (row.metadata or {}).items() if k not in LEFT_OUT and v not in (None, "", [], {})}
    return {
        "request_id": row.request_id,
        "session_id": row.session_id,
        "call_type": row.call_type,
        "model_id": row.model_id,
        "api_base": row.api_base,
        "end_user": _blank(row.end_user),
        "ended": row.endTime,
        "metadata": meta,
    }


def _text_or_none(v) -> str | None:
    return None if v is None else str(v)


def prompt_and_response(payload) -> tuple[Any, Any] | None:
    """The prompt and the response LiteLLM stored for a request (`RequestPayload`), or None when it stored neither.

    LiteLLM 1.108 leaves its `messages` column `{}` even with `store_prompts_in_spend_logs` on, and keeps the
    request as sent in `proxy_server_request`: the prompt is read from there (its messages, or an embedding's
    input) when `messages` is empty."""
    if payload is None:
        return None
    prompt = payload.messages if stored(payload.messages) else None
    request = payload.proxy_server_request
    if prompt is None and isinstance(request, dict):
        prompt = next((request[k] for k in ("messages", "input", "prompt") if stored(request.get(k))), None)
    response = payload.response if stored(payload.response) else None
    if prompt is None and response is None:
        return None
    return prompt, response


def stored(part: Any) -> bool:
    """Whether a part of LiteLLM's payload holds content (it stores `{}` or "" when prompts are not kept)."""
    if part is None:
        return False
    if isinstance(part, str):
        return part.strip() not in ("", "{}", "[]", "null")
    if isinstance(part, (list, dict)):
        return len(part) > 0
    return True
