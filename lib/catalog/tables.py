"""The models catalogue's table: one row per public model name (what clients send as `model`, what LiteLLM reports
as a model group). Its sync runs are job runs (lib.core.jobs, job "model_sync"); its lease is lib.core.leases'."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Integer, String, Table

from lib.core.db import metadata

model_catalog = Table(
    "model_catalog",
    metadata,
    Column("name", String(256), primary_key=True),  # public model name (model group)
    Column("underlying_model", String(512)),  # litellm_params.model, e.g. openai/gpt-4o
    Column("provider", String(64), index=True),
    Column("api_base", String(1024)),  # without credentials or query string
    Column("mode", String(32)),
    Column("input_cost_per_token", Float),
    Column("output_cost_per_token", Float),
    Column("max_input_tokens", Integer),
    Column("max_output_tokens", Integer),
    Column("capabilities", JSON),  # sorted list of CAPABILITIES keys
    Column("tpm", Integer),
    Column("rpm", Integer),
    Column("litellm_model_ids", JSON),  # sorted model_info.id of its deployments
    Column("deployments", Integer),
    Column("alias_of", String(256)),
    Column("issues", JSON),  # validation problems found by the last sync
    Column("available", Boolean, nullable=False, default=True),
    Column("unavailable_since", DateTime(timezone=True)),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True)),  # last time a tracked field changed
    Column("last_sync_id", Integer),  # the job run (job_runs.id) of the sync that wrote it
)
