"""Pydantic models of LiteLLM responses, tolerant of versions 1.74 to 1.108.

Fields that newer LiteLLM versions added default to zero (or empty); unknown fields are ignored,
so a newer proxy adding metrics never breaks ingest.
"""
from __future__ import annotations

from datetime import date
from typing import Required

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before 3.12


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# The daily activity rows are described as TypedDicts: pydantic checks a page against them (and names
# where a malformed page is wrong), and lib/usage/activity_sql.py derives from them the DuckDB structure that
# ingest reads pages with. Missing metrics (fields newer LiteLLM added) and nulls count as zero; unknown
# fields are dropped.
class SpendMetrics(TypedDict, total=False):
    spend: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cache_read_input_tokens: int | None
    cache_creation_input_tokens: int | None
    api_requests: int | None
    successful_requests: int | None
    failed_requests: int | None
    total_response_time_ms: float | None   # absent before ~1.76
    timed_requests: int | None             # absent before ~1.76


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
    model_groups: dict[str, DimensionEntry] | None   # newer versions only
    providers: dict[str, DimensionEntry] | None
    api_keys: dict[str, KeyBreakdown] | None
    entities: dict[str, DimensionEntry] | None       # newer versions only


class DailyResult(TypedDict, total=False):
    date: Required[date]
    metrics: SpendMetrics
    breakdown: Breakdown


class ActivityMetadata(_Lenient):
    total_spend: float = 0.0
    total_api_requests: int = 0
    total_successful_requests: int = 0
    total_failed_requests: int = 0
    total_tokens: int = 0
    page: int = 1
    total_pages: int = 1
    has_more: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _none_default(cls, v, info):
        if v is None:
            return cls.model_fields[info.field_name].default
        return v


class ActivityHead(_Lenient):
    """A page's metadata only (how many pages there are), read without building its rows."""
    metadata: ActivityMetadata = Field(default_factory=ActivityMetadata)


class ActivityPage(ActivityHead):
    results: list[DailyResult] = Field(default_factory=list)


class ModelInfoEntry(_Lenient):
    model_name: str
    litellm_params: dict = Field(default_factory=dict)
    model_info: dict = Field(default_factory=dict)

    @field_validator("litellm_params", "model_info", mode="before")
    @classmethod
    def _none_is_empty(cls, v):
        return {} if v is None else v


class ModelInfoResponse(_Lenient):
    data: list[ModelInfoEntry] = Field(default_factory=list)
