"""Rows of LiteLLM's daily table (read from its database, lib/litellm/database.py) -> stored rows, in DuckDB.

The same stored rows the API path makes from `/user/daily/activity` (lib/usage/activity_sql.py, whose last steps,
the remainder rows and the provider attribution, this module shares): the cells below are the ones LiteLLM 1.108
builds for that answer (`update_breakdown_metrics` in litellm/proxy/management_endpoints/common_daily_activity.py),
one daily-table row at a time in the order it reads them (a day's rows by id):

  * models: the row's `model` (a flat-cost row, api_key `__ptu_flat_cost__`: its `model_group or model`);
  * model groups: `model_group or model`;
  * providers: `custom_llm_provider or "unknown"` (flat-cost rows are left out);
  * users: `user_id or "Unassigned"`;
  * API keys: the row's `api_key`, the day's split by key.

Every entry counts every row it names; its key split leaves out flat-cost rows (which then show as the entry's
remainder, as on the API path). Empty text counts as missing, as Python's `or` does there. total_tokens is
prompt + completion, as LiteLLM sums it. Spend adds the rows in LiteLLM's order, so it is the same number to the last
bit.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from lib.litellm.database import PTU_SENTINEL_API_KEY
from lib.usage.activity_sql import stored_rows
from lib.usage.store import METRICS, metric_type

# Cells are ordered as LiteLLM's answer lists them (activity_sql orders by the same): by breakdown, then by the first
# row naming the entry, then by the first row naming the key in it. As numbers: (di * 2^28 + the entry's first row)
# * 2^28 + the key's first row; a day of up to 2^28 rows, below activity_sql's remainder order (2^62).
_ROW_BITS = 1 << 28


def _sums() -> str:
    """Each metric summed. Spend adds the rows in LiteLLM's order, as LiteLLM does (a float sum's last bit depends on
    the order); every other metric holds whole numbers (LiteLLM's BIGINT columns), which add exactly in any order."""
    return ", ".join(
        f"sum({m} ORDER BY pos) AS {m}" if m == "spend" else f"sum({m})::{metric_type(m)} AS {m}" for m in METRICS
    )


def _metric(m: str) -> str:
    if m == "total_tokens":
        return "coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) AS total_tokens"
    return f"coalesce({m}, 0)::{metric_type(m)} AS {m}"


_PARTS = [  # (dimension, its value, whether the row is in the entry's key split, which rows count)
    ("model", "CASE WHEN flat THEN coalesce(model_group, model) ELSE model END", "NOT flat", "value IS NOT NULL"),
    ("model_group", "coalesce(model_group, model)", "NOT flat", "value IS NOT NULL"),
    ("provider", "coalesce(provider, 'unknown')", "true", "NOT flat"),
    ("user", "coalesce(user_id, 'Unassigned')", "NOT flat", "true"),
    ("api_key", "NULL::VARCHAR", "NOT flat", "true"),  # the day's total, split by key
]

_CELLS_SQL = f"""
CREATE TEMP TABLE recs AS
  SELECT "date" AS date, row_number() OVER (PARTITION BY "date" ORDER BY id) AS pos, api_key,
         api_key = '{PTU_SENTINEL_API_KEY}' AS flat, nullif(user_id, '') AS user_id, nullif(model, '') AS model,
         nullif(model_group, '') AS model_group, nullif(custom_llm_provider, '') AS provider,
         {", ".join(_metric(m) for m in METRICS)}
  FROM raw;
CREATE TEMP TABLE parts AS {
    " UNION ALL ".join(
        f"SELECT * FROM (SELECT date, pos, {di} AS di, '{dim}' AS dim, {value} AS value, api_key, flat, "
        f"{keyed} AS keyed, {', '.join(METRICS)} FROM recs) WHERE {counts}"
        for di, (dim, value, keyed, counts) in enumerate(_PARTS)
    )
};
CREATE TEMP TABLE own AS
  SELECT date, dim, value, di * {_ROW_BITS} + min(pos) AS eo, {_sums()} FROM parts GROUP BY date, dim, value, di;
CREATE TEMP TABLE cells AS
  SELECT k.date, k.dim, CASE WHEN k.dim = 'api_key' THEN k.api_key ELSE k.value END AS value, k.api_key,
         own.eo * {_ROW_BITS} + k.first AS o, {", ".join("k." + m for m in METRICS)}
  FROM (SELECT date, dim, value, api_key, min(pos) AS first, {_sums()} FROM parts WHERE keyed
        GROUP BY date, dim, value, api_key) k
  JOIN own ON own.date = k.date AND own.dim = k.dim AND own.value IS NOT DISTINCT FROM k.value;
CREATE TEMP TABLE key_meta AS
  SELECT k.date, k.api_key, m.key_alias, m.user_id AS key_user_id, m.user_email, m.team_id
  FROM (SELECT DISTINCT date, api_key FROM parts WHERE keyed) k LEFT JOIN meta m ON m.api_key = k.api_key;
"""


def table_rows_to_stored(raw: pa.Table, meta: pa.Table) -> dict[date, pa.Table]:
    """Daily-table rows (lib.litellm.database.DAILY_SCHEMA) and their keys' metadata (KEY_METADATA_SCHEMA) -> one
    table of stored rows per date."""
    con = duckdb.connect(config={"threads": 1})  # one core per chunk; chunks run in parallel threads
    try:
        con.register("raw", raw)
        con.register("meta", meta)
        con.execute(_CELLS_SQL)
        return stored_rows(con, "LiteLLM's database")
    finally:
        con.close()
