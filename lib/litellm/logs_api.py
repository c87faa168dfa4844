"""LiteLLM's request logs: `GET /spend/logs/v2` (one page of spend-log rows) and `GET /spend/logs/ui/{id}` (a
request's stored prompt and response), and the pydantic shape of their answers (untrusted input).

Facts of LiteLLM 1.108 these models follow (checked against the real proxy):
- a row's `metadata` is a JSON object (older proxies sent it as a JSON string; both are read);
- `startTime`/`endTime`/`completionStartTime` are UTC with an offset (older proxies: naive UTC);
- `team_id`, `user`, `end_user` are "" when unset; `status` is "success", "failure" or null (= success);
  `cache_hit` is the text "True", "False" or "None";
- `total` counts at most 10,000 matching rows (`total_is_capped` says when there are more); `total_pages` follows
  the capped total, while pages beyond it are still served;
- the payload endpoint answers `null` for an unknown id and `{}` placeholders when prompts are not stored.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, field_validator

SPEND_LOGS_PATH = "/spend/logs/v2"
MAX_PAGE_SIZE = 1000  # LiteLLM refuses larger pages (422)
COUNT_CAP = 10_000  # LiteLLM's SPEND_LOGS_PAGINATION_COUNT_CAP: `total` stops there


def payload_path(request_id: str) -> str:
    return f"/spend/logs/ui/{quote(request_id, safe='')}"


class SpendLogRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request_id: str
    startTime: datetime
    endTime: datetime | None = None
    completionStartTime: datetime | None = None
    call_type: str | None = None
    api_key: str | None = None
    spend: float | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    model_id: str | None = None
    model_group: str | None = None
    custom_llm_provider: str | None = None
    api_base: str | None = None
    user: str | None = None
    team_id: str | None = None
    end_user: str | None = None
    cache_hit: str | None = None
    status: str | None = None
    session_id: str | None = None
    request_duration_ms: float | None = None  # computed by LiteLLM from the times when the column is empty
    metadata: dict[str, Any] | None = None

    @field_validator("startTime", "endTime", "completionStartTime")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_object(cls, v):
        if isinstance(v, str):  # LiteLLM before 1.80 sent the JSONB column as its text
            try:
                v = json.loads(v)
            except ValueError:
                return {}
        return v if isinstance(v, dict) or v is None else {}

    @field_validator("cache_hit", "status", mode="before")
    @classmethod
    def _text(cls, v):
        return None if v is None else str(v)


class SpendLogsPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: list[SpendLogRow]
    total: int
    page: int = 1
    page_size: int | None = None
    total_pages: int | None = None
    total_is_capped: bool = False  # absent before LiteLLM 1.100: then `total` was exact


class RequestPayload(BaseModel):
    """What LiteLLM stored of a request: each part is `{}` (or empty) when it stores no prompts."""

    model_config = ConfigDict(extra="ignore")

    messages: Any = None
    response: Any = None
    proxy_server_request: Any = None
