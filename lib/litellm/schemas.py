"""Pydantic models of LiteLLM responses, tolerant of versions 1.74 to 1.108.

Per-row fields that newer LiteLLM versions added default to zero (or empty); unknown fields are ignored,
so a newer proxy adding metrics never breaks ingest. The top-level fields every version sends (`results`
and `metadata` with `total_pages` of an activity page, `data` of /model/info) are required and may not be
null: a 200 reply without them (`{"error": "..."}`) is a bad response, never "no data".
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Required

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator
from pydantic_core import PydanticUndefined
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before 3.12


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# The daily activity rows are described as TypedDicts: pydantic checks a page against them (and names
# where a malformed page is wrong), and lib/usage/activity_sql.py derives from them the DuckDB structure that
# ingest reads pages with. Missing metrics (fields newer LiteLLM added) and nulls count as zero; unknown
# fields are dropped.
Count = Annotated[int, Field(ge=-(2**63), lt=2**63)]  # DuckDB's BIGINT: a larger count would read as NULL (zero)


class SpendMetrics(TypedDict, total=False):
    spend: float | None
    prompt_tokens: Count | None
    completion_tokens: Count | None
    total_tokens: Count | None
    cache_read_input_tokens: Count | None
    cache_creation_input_tokens: Count | None
    api_requests: Count | None
    successful_requests: Count | None
    failed_requests: Count | None
    total_response_time_ms: float | None  # absent before ~1.76
    timed_requests: Count | None  # absent before ~1.76


METRIC_NAMES = tuple(SpendMetrics.__annotations__)


class KeyMetadata(TypedDict, total=False):
    key_alias: str | None
    team_id: str | None
    user_id: str | None
    user_email: str | None


class KeyBreakdown(TypedDict, total=False):
    metrics: SpendMetrics
    metadata: KeyMetadata


class DimensionEntry(TypedDict, total=False):
    metrics: SpendMetrics
    api_key_breakdown: dict[str, KeyBreakdown] | None


class Breakdown(TypedDict, total=False):
    models: dict[str, DimensionEntry] | None
    model_groups: dict[str, DimensionEntry] | None  # newer versions only
    providers: dict[str, DimensionEntry] | None
    api_keys: dict[str, KeyBreakdown] | None
    entities: dict[str, DimensionEntry] | None  # newer versions only


class DailyResult(TypedDict, total=False):
    date: Required[Annotated[date, Strict()]]  # an ISO date string, as DuckDB reads it (not a number)
    metrics: SpendMetrics
    breakdown: Breakdown


MAX_PAGES = 100_000  # of one range (at most a week): 100 M table rows at LiteLLM's 1000 a page; far beyond any proxy


class ActivityMetadata(_Lenient):
    """LiteLLM sends all of these on every page; ingest relies only on `total_pages` (how many pages to
    fetch), so only it is required: without it a range would silently be cut to its first page. LiteLLM
    sends 0 for a range without rows; an absurd count (1e30) would have ingest fetch pages forever."""

    total_pages: int = Field(ge=0, le=MAX_PAGES)
    total_spend: float = 0.0
    total_api_requests: int = 0
    total_successful_requests: int = 0
    total_failed_requests: int = 0
    total_tokens: int = 0
    page: int = 1
    has_more: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _none_default(cls, v, info):
        default = cls.model_fields[info.field_name].default
        if v is None and default is not PydanticUndefined:  # a null total counts as its default, a null
            return default  # total_pages is refused
        return v


class ActivityHead(_Lenient):
    """A page's metadata only (how many pages there are), read without building its rows."""

    metadata: ActivityMetadata


class ActivityPage(ActivityHead):
    results: list[DailyResult]


class ModelInfoEntry(_Lenient):
    model_name: str
    litellm_params: dict = Field(default_factory=dict)
    model_info: dict = Field(default_factory=dict)

    @field_validator("litellm_params", "model_info", mode="before")
    @classmethod
    def _none_is_empty(cls, v):
        return {} if v is None else v


class ModelInfoResponse(_Lenient):
    data: list[ModelInfoEntry]
