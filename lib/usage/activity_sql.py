"""LiteLLM activity pages -> stored rows, merged in DuckDB.

The pages of a range are parsed by DuckDB's JSON reader into typed nested columns (the structure is
derived from the pydantic schema in lib/litellm/schemas.py, so there is one description of a page) and merged
in SQL: no Python object per row, and DuckDB releases the GIL, so chunks fetched by several threads are
merged on every core. A page DuckDB cannot read is checked again by pydantic, whose message says where
the response is wrong.

Merge rules (see lib/usage/ingest.py's docstring for the provider attribution shown in the UI):
  * a cell (date, breakdown, value, api key) may repeat across pages: its metrics are summed;
  * an entry's own metrics minus its key split, where not zero, is a row with api_key NULL;
  * key metadata: per field, the first non-null value of the day in page order.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
from pydantic import ValidationError
from typing_extensions import is_typeddict

from lib.litellm.client import ACTIVITY_PATH, LiteLLMBadResponse, bad_response
from lib.litellm.schemas import ActivityPage, DailyResult
from lib.usage.store import FLOAT_LIMIT, FLOAT_METRICS, METRICS, SCHEMA, metric_type

_BREAKDOWNS = (("models", "model"), ("model_groups", "model_group"), ("providers", "provider"), ("entities", "user"))
_EPS = 1e-9  # a remainder below this (float noise of LiteLLM's own sums) is not a row
_KEYS_PER_ENTRY = 1_000_000  # ordering: entry number * this + key position (a page has <= 1000 table rows)
_REST_ORDER = 1 << 62  # remainder rows come after every key-level cell


def sql_type(tp) -> str:
    """DuckDB type of a schema annotation (TypedDicts become STRUCTs, dict[str, X] a MAP)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return sql_type(inner)
    if origin is dict:
        return f"MAP(VARCHAR, {sql_type(args[1])})"
    if origin is list:
        return f"{sql_type(args[0])}[]"
    if is_typeddict(tp):
        fields = typing.get_type_hints(tp)
        return "STRUCT(" + ", ".join(f'"{name}" {sql_type(t)}' for name, t in fields.items()) + ")"
    return {float: "DOUBLE", int: "BIGINT", str: "VARCHAR", date: "DATE"}[tp]


# metadata: only the field a page must have (lib/litellm/schemas.py ActivityMetadata); LiteLLM's totals are not read
PAGE_STRUCTURE = json.dumps({"results": sql_type(list[DailyResult]), "metadata": 'STRUCT("total_pages" BIGINT)'})
# DuckDB reads a null where a page has one, or lacks a field (lenient reader): a page whose required fields
# read as null is not an activity page, and pydantic says why
_INCOMPLETE_PAGES_SQL = """
SELECT DISTINCT page FROM parsed
WHERE p IS NULL OR p.results IS NULL OR p.metadata.total_pages IS NULL
   OR list_bool_or(list_transform(p.results, lambda r: r IS NULL OR r.date IS NULL))
ORDER BY page
"""


def _sums(alias: str) -> str:
    # A cell split across pages has a few parts: fsum (compensated) keeps LiteLLM's floats as sent, where the
    # store's exact totals (store.total_of) would round each to 1e-12 units; a one-page cell is stored unchanged.
    return ", ".join(
        f"fsum({alias}.{m}) AS {m}" if m in FLOAT_METRICS else f"sum({alias}.{m})::{metric_type(m)} AS {m}"
        for m in METRICS
    )


def _merge_sql() -> str:
    per_breakdown = [
        f"""SELECT page, ri, {i} AS di, date, '{dim}' AS dim, e.key AS value, e.value.metrics AS m,
                   e.value.api_key_breakdown AS kb, ei
            FROM (SELECT page, ri, r.date AS date, unnest(map_entries(r.breakdown.{attr})) AS e,
                         generate_subscripts(map_entries(r.breakdown.{attr}), 1) AS ei FROM results)"""
        for i, (attr, dim) in enumerate(_BREAKDOWNS)
    ]
    # the api_key breakdown is the key split of the day's own total
    per_breakdown.append(f"""SELECT page, ri, {len(_BREAKDOWNS)} AS di, r.date AS date, 'api_key' AS dim,
                                    NULL AS value, r.metrics AS m, r.breakdown.api_keys AS kb, 0 AS ei FROM results""")
    entry_metrics = ", ".join(f"coalesce(m.{m}, 0) AS {m}" for m in METRICS)
    key_metrics = ", ".join(f"coalesce(k.value.metrics.{m}, 0) AS {m}" for m in METRICS)
    first = {"key_alias": "key_alias", "key_user_id": "user_id", "user_email": "user_email", "team_id": "team_id"}
    return f"""
CREATE TEMP TABLE results AS
  SELECT page, unnest(p.results) AS r, generate_subscripts(p.results, 1) AS ri FROM parsed;
CREATE TEMP TABLE entries AS
  SELECT row_number() OVER (ORDER BY page, ri, di, ei) AS eo, * FROM ({" UNION ALL ".join(per_breakdown)});
CREATE TEMP TABLE key_parts AS
  SELECT date, dim, CASE WHEN dim = 'api_key' THEN k.key ELSE value END AS value, k.key AS api_key,
         eo * {_KEYS_PER_ENTRY} + ko AS o, k.value.metadata AS meta, {key_metrics}
  FROM (SELECT eo, date, dim, value, unnest(map_entries(kb)) AS k, generate_subscripts(map_entries(kb), 1) AS ko
        FROM entries);
CREATE TEMP TABLE cells AS
  SELECT date, dim, value, api_key, min(o) AS o, {_sums("key_parts")} FROM key_parts GROUP BY ALL;
CREATE TEMP TABLE own AS                          -- each entry's own metrics
  SELECT date, dim, value, min(eo) AS eo, {_sums("e")}
  FROM (SELECT date, dim, value, eo, {entry_metrics} FROM entries) e GROUP BY ALL;
CREATE TEMP TABLE key_meta AS
  SELECT date, api_key,
         {", ".join(f"arg_min(meta.{f}, o) FILTER (WHERE meta.{f} IS NOT NULL) AS {col}" for col, f in first.items())}
  FROM key_parts GROUP BY ALL;
"""


# From tables `cells` (date, dim, value, api_key, o, metrics: the key-level cells; for dim api_key the value is the
# key), `own` (date, dim, value, eo, metrics: each entry's own total; NULL value for the api_key dim, the day's
# total) and `key_meta` (date, api_key, key_alias, key_user_id, user_email, team_id): the remainder rows and the
# provider attribution. Shared by both sources (this module's pages, lib/usage/daily_table_sql.py's table rows).
_TAIL_SQL = f"""
CREATE TEMP TABLE rests AS
  WITH split AS (SELECT date, dim, CASE WHEN dim = 'api_key' THEN NULL ELSE value END AS value, {_sums("cells")}
                 FROM cells GROUP BY ALL)
  SELECT own.date, own.dim, own.value, NULL::VARCHAR AS api_key, {_REST_ORDER} + own.eo AS o,
         {", ".join(f"own.{m} - coalesce(split.{m}, 0) AS {m}" for m in METRICS)}
  FROM own LEFT JOIN split ON own.date = split.date AND own.dim = split.dim
                          AND own.value IS NOT DISTINCT FROM split.value;
DELETE FROM rests WHERE NOT ({" OR ".join(f"abs({m}) > {_EPS}" for m in METRICS)});
CREATE TEMP TABLE all_cells AS SELECT * FROM cells UNION ALL BY NAME SELECT * FROM rests;
-- provider attribution
CREATE TEMP TABLE key_provider AS                 -- the key's only provider that day
  SELECT date, api_key, min(value) AS provider FROM all_cells WHERE dim = 'provider' AND api_requests > 0
  GROUP BY ALL HAVING count(DISTINCT value) = 1;
CREATE TEMP TABLE model_provider AS               -- `provider/name` models whose prefix is a provider that day
  SELECT DISTINCT c.date, c.value AS model, split_part(c.value, '/', 1) AS provider,
         substr(c.value, length(split_part(c.value, '/', 1)) + 2) AS short_name
  FROM all_cells c JOIN (SELECT DISTINCT date, value FROM all_cells WHERE dim = 'provider') known
    ON known.date = c.date AND known.value = split_part(c.value, '/', 1)
  WHERE c.dim = 'model' AND contains(c.value, '/');
CREATE TEMP TABLE short_name_provider AS          -- the first such model with that short name
  SELECT c.date, mp.short_name, arg_min(mp.provider, c.o) AS provider
  FROM all_cells c JOIN model_provider mp ON c.dim = 'model' AND c.date = mp.date AND c.value = mp.model
  GROUP BY ALL;
"""


_RESULT_SQL = f"""
SELECT c.date, c.dim, c.value, c.api_key, km.key_alias, km.key_user_id, km.user_email, km.team_id,
       CASE WHEN c.dim = 'provider' THEN c.value
            WHEN c.dim NOT IN ('model', 'model_group') THEN NULL
            ELSE coalesce(mp.provider, kp.provider, sp.provider) END AS provider,
       {", ".join("c." + m for m in METRICS)}
FROM all_cells c
LEFT JOIN key_meta km ON km.date = c.date AND km.api_key IS NOT DISTINCT FROM c.api_key
LEFT JOIN key_provider kp ON kp.date = c.date AND kp.api_key IS NOT DISTINCT FROM c.api_key
LEFT JOIN model_provider mp ON c.dim = 'model' AND mp.date = c.date AND mp.model = c.value
LEFT JOIN short_name_provider sp ON c.dim = 'model_group' AND sp.date = c.date AND sp.short_name = c.value
ORDER BY c.date, c.o
"""
_MERGE_SQL = _merge_sql()


def merge_pages(bodies: list[bytes]) -> dict[date, pa.Table]:
    """The response bodies of every page of a range -> one table of stored rows per date.
    Raises LiteLLMBadResponse (saying where) if a page is not an activity page."""
    texts = _texts(bodies)
    con = duckdb.connect(config={"threads": 1})  # one core per chunk; chunks run in parallel threads
    try:
        con.register("pages", pa.table({"page": pa.array(range(len(bodies)), pa.int32()), "body": texts}))
        _parse(con, bodies)
        con.execute(_MERGE_SQL)
        return stored_rows(con, f"LiteLLM's {ACTIVITY_PATH} response")
    finally:
        con.close()


def stored_rows(con: duckdb.DuckDBPyConnection, source: str) -> dict[date, pa.Table]:
    """The stored rows per date, once a source has built the tables `cells`, `own` and `key_meta` in `con` (see
    _TAIL_SQL). `source` names where the numbers came from when one is refused."""
    con.execute(_TAIL_SQL)
    _refuse_non_finite(con, source)
    return split_by_date(con.sql(_RESULT_SQL).to_arrow_table().cast(SCHEMA))


def _refuse_non_finite(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """A spend or response time that is not a number, or absurdly large (1e400 is valid JSON and reads as
    infinity), would make every total it enters meaningless: the whole response is refused, saying where."""
    floats = sorted(FLOAT_METRICS)
    bad = " OR ".join(f"NOT (abs({m}) <= {FLOAT_LIMIT})" for m in floats)  # NOT (... <=) also catches NaN
    found = con.sql(
        f"SELECT date, dim, value, {', '.join(floats)} FROM all_cells WHERE {bad} ORDER BY o LIMIT 1"
    ).fetchall()
    if found:
        day, dim, value, *numbers = found[0]
        what = ", ".join(f"{m} {n}" for m, n in zip(floats, numbers))
        where = f"{dim} {value!r}" if value is not None else "the day's total"
        raise LiteLLMBadResponse(f"{source} has a number out of range on {day} ({where}: {what})")


def _texts(bodies: list[bytes]) -> pa.ChunkedArray:
    """The bodies as Arrow strings, without copying them: a chunk's pages are tens of MB or more, and a fresh
    copy of them (page faults on new memory) costs as much as parsing them. Arrow checks the UTF-8."""
    texts = pa.chunked_array(
        [
            pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, len(b)], np.int64)), pa.py_buffer(b))
            for b in bodies
        ],
        pa.large_string(),
    )
    try:
        for page in texts.chunks:
            page.validate(full=True)
    except pa.ArrowInvalid:
        raise LiteLLMBadResponse(f"LiteLLM's {ACTIVITY_PATH} response is not UTF-8 text") from None
    return texts


def split_by_date(table: pa.Table) -> dict[date, pa.Table]:
    """A table sorted by date -> its slices per date."""
    day_numbers = table.column("date").cast(pa.int32()).to_numpy()
    bounds = [0, *(np.flatnonzero(np.diff(day_numbers)) + 1).tolist(), len(day_numbers)]
    return {table.column("date")[a].as_py(): table.slice(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a}


def _parse(con: duckdb.DuckDBPyConnection, bodies: list[bytes]) -> None:
    """Pages -> table `parsed`. Strictly first: LiteLLM >= 1.76 sends every field, and then DuckDB alone
    checks each value's type. A page that misses fields (older LiteLLM) or is malformed is checked by
    pydantic, which names where a malformed page is wrong; pages it accepts are read with missing
    fields as NULL (counted as zero). Either way, a page whose required fields (lib/litellm/schemas.py) read as
    NULL is refused: both readers take a JSON null, and the lenient one a missing field, as NULL."""

    def sql(reader: str) -> str:
        return f"CREATE OR REPLACE TEMP TABLE parsed AS SELECT page, {reader}(body, '{PAGE_STRUCTURE}') AS p FROM pages"

    try:
        con.execute(sql("from_json_strict"))
    except duckdb.Error as exc:
        strict_error = str(exc).split("\n")[0][:300]
        for body in bodies:
            _check(body)
        try:
            con.execute(sql("from_json"))
        except duckdb.Error:
            raise LiteLLMBadResponse(f"LiteLLM's {ACTIVITY_PATH} response could not be read: {strict_error}") from None
    for (page,) in con.sql(_INCOMPLETE_PAGES_SQL).fetchall():
        _check(bodies[page])
        raise LiteLLMBadResponse(
            f"LiteLLM's {ACTIVITY_PATH} response (page {page + 1}) lacks its results, its "
            "metadata's total_pages or a result's date"
        )


def _check(body: bytes) -> None:
    """Raises LiteLLMBadResponse saying where `body` is not an activity page."""
    try:
        ActivityPage.model_validate_json(body)
    except ValidationError as err:
        raise bad_response(ACTIVITY_PATH, err, body) from None
