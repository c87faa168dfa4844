"""Pydantic models of LiteLLM responses, tolerant of versions 1.74 to 1.108.

Fields that newer LiteLLM versions added default to zero (or empty); unknown fields are ignored,
so a newer proxy adding metrics never breaks ingest.
"""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SpendMetrics(_Lenient):
    # Optional with a zero default, no Python validators: parsing stays in pydantic's Rust core (ingest
    # speed); readers treat None as zero.
    spend: float | None = 0.0
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    total_tokens: int | None = 0
    cache_read_input_tokens: int | None = 0
    cache_creation_input_tokens: int | None = 0
    api_requests: int | None = 0
    successful_requests: int | None = 0
    failed_requests: int | None = 0
    total_response_time_ms: float | None = 0.0   # absent before ~1.76
    timed_requests: int | None = 0               # absent before ~1.76


class KeyMetadata(_Lenient):
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    user_email: str | None = None


class KeyBreakdown(_Lenient):
    metrics: SpendMetrics = Field(default_factory=SpendMetrics)
    metadata: KeyMetadata = Field(default_factory=KeyMetadata)


class DimensionEntry(_Lenient):
    metrics: SpendMetrics = Field(default_factory=SpendMetrics)
    metadata: dict | None = None
    api_key_breakdown: dict[str, KeyBreakdown] | None = None


class Breakdown(_Lenient):
    models: dict[str, DimensionEntry] = Field(default_factory=dict)
    model_groups: dict[str, DimensionEntry] = Field(default_factory=dict)  # newer versions only
    providers: dict[str, DimensionEntry] = Field(default_factory=dict)
    api_keys: dict[str, KeyBreakdown] = Field(default_factory=dict)
    entities: dict[str, DimensionEntry] = Field(default_factory=dict)      # newer versions only

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_empty(cls, v):
        return {} if v is None else v


class DailyResult(_Lenient):
    date: date
    metrics: SpendMetrics = Field(default_factory=SpendMetrics)
    breakdown: Breakdown = Field(default_factory=Breakdown)


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


class ActivityPage(_Lenient):
    results: list[DailyResult] = Field(default_factory=list)
    metadata: ActivityMetadata = Field(default_factory=ActivityMetadata)


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
