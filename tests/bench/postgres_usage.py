"""The Usage page's query set as SQL GROUP BYs on PostgreSQL, over LiteLLM's own `LiteLLM_DailyUserSpend` layout
(with LiteLLM's indexes, and the key and user tables for aliases, owners, teams and e-mails)."""

from __future__ import annotations

import binascii
import io
import time
from datetime import date

import numpy as np
import pyarrow as pa

from lib.usage.queries import NO_TEAM, NO_USER, UNATTRIBUTED, Filters, QueryError, previous_period
from tests.bench.data import ENDPOINTS, PROVIDERS, Daily, World, dict_column

# Load fast (durability is already off on the throwaway server) and query with generous memory; JIT is off
# unless asked for (it made no difference to these queries).
SERVER_OPTIONS = (
    "-c shared_buffers=2GB -c work_mem=256MB -c maintenance_work_mem=1GB -c effective_cache_size=8GB "
    "-c max_parallel_workers_per_gather=2 -c max_parallel_maintenance_workers=2 -c random_page_cost=1.1 "
    "-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=16GB -c checkpoint_timeout=1h "
    "-c autovacuum=off"
)


def server_options(jit: bool) -> str:
    return f"{SERVER_OPTIONS} -c jit={'on' if jit else 'off'}"


# LiteLLM_DailyUserSpend as LiteLLM 1.108's migrations leave it (schema.prisma), plus the key and user
# tables the console's alias / owner / team / e-mail columns come from.
PG_DDL = """
CREATE TABLE "LiteLLM_DailyUserSpend" (
  id TEXT PRIMARY KEY, user_id TEXT, date TEXT NOT NULL, api_key TEXT NOT NULL, model TEXT, model_group TEXT,
  custom_llm_provider TEXT, mcp_namespaced_tool_name TEXT, endpoint TEXT,
  prompt_tokens BIGINT NOT NULL DEFAULT 0, completion_tokens BIGINT NOT NULL DEFAULT 0,
  cache_read_input_tokens BIGINT NOT NULL DEFAULT 0, cache_creation_input_tokens BIGINT NOT NULL DEFAULT 0,
  compression_saved_tokens BIGINT NOT NULL DEFAULT 0, compression_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  prompt_caching_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  gateway_injected_caching_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  autorouter_savings_spend DOUBLE PRECISION NOT NULL DEFAULT 0, spend DOUBLE PRECISION NOT NULL DEFAULT 0,
  api_requests BIGINT NOT NULL DEFAULT 0, successful_requests BIGINT NOT NULL DEFAULT 0,
  failed_requests BIGINT NOT NULL DEFAULT 0, total_response_time_ms BIGINT NOT NULL DEFAULT 0,
  timed_requests BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "LiteLLM_VerificationToken" (token TEXT PRIMARY KEY, key_alias TEXT, user_id TEXT, team_id TEXT);
CREATE TABLE "LiteLLM_UserTable" (user_id TEXT PRIMARY KEY, user_email TEXT);
"""
PG_INDEXES = [
    'CREATE UNIQUE INDEX "LiteLLM_DailyUserSpend_user_id_date_api_key_model_custom_ll_key" ON "LiteLLM_DailyUserSpend"'
    "(user_id, date, api_key, model, custom_llm_provider, mcp_namespaced_tool_name, endpoint)",
    'CREATE INDEX "LiteLLM_DailyUserSpend_date_idx" ON "LiteLLM_DailyUserSpend"(date)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_user_id_date_idx" ON "LiteLLM_DailyUserSpend"(user_id, date)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_api_key_idx" ON "LiteLLM_DailyUserSpend"(api_key)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_model_idx" ON "LiteLLM_DailyUserSpend"(model)',
    'CREATE INDEX "LiteLLM_DailyUserSpend_mcp_namespaced_tool_name_idx" ON "LiteLLM_DailyUserSpend"'
    "(mcp_namespaced_tool_name)",
    'CREATE INDEX "LiteLLM_DailyUserSpend_endpoint_idx" ON "LiteLLM_DailyUserSpend"(endpoint)',
]
PG_COPY_COLUMNS = [
    "id",
    "user_id",
    "date",
    "api_key",
    "model",
    "model_group",
    "custom_llm_provider",
    "endpoint",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "spend",
    "api_requests",
    "successful_requests",
    "failed_requests",
    "total_response_time_ms",
    "timed_requests",
]
T = '"LiteLLM_DailyUserSpend"'


def _pg_agg(flt: str = "", total_tokens: str = "prompt_tokens + completion_tokens", prefix: str = "") -> str:
    f = f" FILTER (WHERE {flt})" if flt else ""
    cols = [
        f"coalesce(sum({src}){f}, 0) AS {prefix}{name}"
        for name, src in (
            ("requests", "api_requests"),
            ("successful_requests", "successful_requests"),
            ("failed_requests", "failed_requests"),
            ("prompt_tokens", "prompt_tokens"),
            ("completion_tokens", "completion_tokens"),
            ("total_tokens", total_tokens),
            ("cache_read_input_tokens", "cache_read_input_tokens"),
            ("cache_creation_input_tokens", "cache_creation_input_tokens"),
            ("spend", "spend"),
        )
    ]
    return ", ".join(
        cols
        + [
            f"sum(successful_requests){f} * 100.0 / nullif(sum(api_requests){f}, 0) AS {prefix}success_rate",
            f"sum(total_response_time_ms){f}::float8 / nullif(sum(timed_requests){f}, 0) AS {prefix}avg_latency_ms",
        ]
    )


class PostgresUsage:
    """The same questions as SQL GROUP BYs over LiteLLM_DailyUserSpend (+ key and user tables)."""

    def __init__(self, conn):
        self.conn = conn

    @staticmethod
    def _where(f: Filters) -> str:
        cond = ["date BETWEEN %(a)s AND %(b)s"]
        for values, sql in (
            (f.models, "model = ANY(%(models)s)"),
            (f.providers, "custom_llm_provider = ANY(%(providers)s)"),
            (f.users, "user_id = ANY(%(users)s)"),
            (f.api_keys, "api_key = ANY(%(api_keys)s)"),
            (f.teams, 'api_key IN (SELECT token FROM "LiteLLM_VerificationToken" WHERE team_id = ANY(%(teams)s))'),
        ):
            if values:
                cond.append(sql)
        return " AND ".join(cond)

    def page(self, start: date, end: date, f: Filters) -> dict:
        ps, pe = previous_period(start, end)
        p = {
            "a": start.isoformat(),
            "b": end.isoformat(),
            "pa": ps.isoformat(),
            "pb": pe.isoformat(),
            **{k: list(v) for k, v in f.as_dict().items()},
        }
        where = self._where(f)
        cur_p, prev_p = "date BETWEEN %(a)s AND %(b)s", "date BETWEEN %(pa)s AND %(pb)s"
        distinct = ", ".join(
            f"count(DISTINCT {col}) FILTER (WHERE {cond} AND api_requests > 0) AS {pre}active_{name}"
            for pre, cond in (("c_", cur_p), ("p_", prev_p))
            for name, col in (("users", "user_id"), ("keys", "api_key"), ("models", "model"))
        )
        out: dict = {}
        with self.conn.cursor() as cur:

            def q(sql: str) -> list[dict]:
                cur.execute(sql, p)
                return cur.fetchall()

            out["overview"] = q(
                f"SELECT {_pg_agg(cur_p, prefix='c_')}, {_pg_agg(prev_p, prefix='p_')}, {distinct} "
                f"FROM {T} WHERE {where.replace('%(a)s', '%(pa)s')}"
            )[0]
            for by, col in (("model", "model"), ("model_group", "model_group"), ("provider", "custom_llm_provider")):
                if by == "model_group" and f.models:
                    out[by] = QueryError("no model x model-group split in the console's store")  # same question set
                    continue
                out[by] = q(
                    f"SELECT coalesce({col}, '{UNATTRIBUTED}') AS {by}, {_pg_agg()} FROM {T} WHERE {where} "
                    f"GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10"
                )
            out["user"] = q(
                f"WITH a AS (SELECT coalesce(user_id, '{NO_USER}') AS user_id, {_pg_agg()} FROM {T} "
                f"WHERE {where} GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10) SELECT a.*, u.user_email "
                f'FROM a LEFT JOIN "LiteLLM_UserTable" u USING (user_id) ORDER BY spend DESC, user_id'
            )
            out["api_key"] = q(
                f"WITH a AS (SELECT api_key, {_pg_agg()}, max(date) FILTER (WHERE api_requests > 0) "
                f"AS last_active FROM {T} WHERE {where} GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10) "
                f"SELECT a.*, k.key_alias, k.user_id AS owner, k.team_id AS team FROM a "
                f'LEFT JOIN "LiteLLM_VerificationToken" k ON k.token = a.api_key '
                f"ORDER BY spend DESC, api_key"
            )
            per_key = ", ".join(
                f"sum({c}) AS {c}"
                for c in (
                    "api_requests",
                    "successful_requests",
                    "failed_requests",
                    "prompt_tokens",
                    "completion_tokens",
                    "cache_read_input_tokens",
                    "cache_creation_input_tokens",
                    "spend",
                    "total_response_time_ms",
                    "timed_requests",
                )
            )
            out["team"] = q(
                f"WITH a AS (SELECT api_key, {per_key}, sum(prompt_tokens + completion_tokens) AS "
                f"total_tokens FROM {T} WHERE {where} GROUP BY api_key) "
                f"SELECT coalesce(k.team_id, '{NO_TEAM}') AS team, "
                f'{_pg_agg(total_tokens="total_tokens")} FROM a LEFT JOIN "LiteLLM_VerificationToken" k '
                f"ON k.token = a.api_key GROUP BY 1 ORDER BY spend DESC, 1 LIMIT 10"
            )
            out["daily"] = q(f"SELECT date, {_pg_agg()} FROM {T} WHERE {where} GROUP BY date ORDER BY date")
            out["daily_by_model"] = q(
                f"SELECT date, model, {_pg_agg()} FROM {T} WHERE {where} GROUP BY date, model ORDER BY date"
            )
            out["daily_by_provider"] = q(
                f"SELECT date, coalesce(custom_llm_provider, '{UNATTRIBUTED}') AS provider, "
                f"{_pg_agg()} FROM {T} WHERE {where} GROUP BY 1, 2 ORDER BY date"
            )
        return out


def _hex_ids(n: int, rng: np.random.Generator) -> pa.Array:
    """n random 32-hex-digit ids (LiteLLM uses uuid4 text ids), built without a Python loop."""
    data = binascii.hexlify(rng.bytes(16 * n))
    offsets = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def daily_table(w: World, daily: Daily, rng: np.random.Generator | None = None) -> pa.Table:
    """The daily rows in LiteLLM_DailyUserSpend's columns (for COPY), strings dictionary-encoded."""
    rng = rng or np.random.default_rng(11)
    m = w.route_model[daily.route]
    cols = {
        "id": _hex_ids(len(daily), rng),
        "user_id": dict_column(w.key_user[daily.key], w.users),
        "date": pa.array(daily.day + np.int32(daily.first_epoch)).view(pa.date32()).cast(pa.string()),
        "api_key": dict_column(daily.key, w.keys),
        "model": dict_column(m, w.models),
        "model_group": dict_column(daily.route, w.groups),
        "custom_llm_provider": dict_column(w.model_provider[m], PROVIDERS),
        "endpoint": dict_column(w.embedding[m].astype(np.int32), ENDPOINTS),
    }
    for c in PG_COPY_COLUMNS[8:]:
        x = daily.metrics[c]
        cols[c] = pa.array(x.astype(np.int64) if c == "total_response_time_ms" else x)
    return pa.table(cols)


def load_postgres(url: str, w: World, daily: Daily, log=print):
    import psycopg
    import pyarrow.csv as pacsv
    from psycopg.rows import dict_row

    conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None)
    t0 = time.perf_counter()
    table = daily_table(w, daily)
    with conn.transaction():  # created and filled in one transaction: wal_level=minimal skips the WAL
        conn.execute(PG_DDL)
        with conn.cursor() as cur:
            with cur.copy(f"COPY {T} ({', '.join(PG_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
                for a in range(0, table.num_rows, 250_000):
                    part = table.slice(a, 250_000)
                    part = part.cast(
                        pa.schema([(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in part.schema])
                    )
                    buf = io.BytesIO()
                    pacsv.write_csv(part, buf, pacsv.WriteOptions(include_header=False))
                    copy.write(buf.getvalue())
            with cur.copy('COPY "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id) FROM STDIN') as copy:
                for i, h in enumerate(w.keys):
                    team = w.teams[w.key_team[i]] if w.key_team[i] >= 0 else None
                    copy.write_row((h, w.aliases[i], w.users[w.key_user[i]], team))
            with cur.copy('COPY "LiteLLM_UserTable" (user_id, user_email) FROM STDIN') as copy:
                for u, e in zip(w.users, w.emails):
                    copy.write_row((u, e))
    t_copy = time.perf_counter() - t0
    del table
    t0 = time.perf_counter()
    for sql in PG_INDEXES:
        conn.execute(sql)
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    t_vacuum = time.perf_counter() - t0
    size = conn.execute(f"SELECT pg_total_relation_size('{T}') AS n").fetchone()["n"]
    log(
        f"PostgreSQL {conn.info.server_version // 10000}: loaded {len(daily):,} LiteLLM_DailyUserSpend rows "
        f"(COPY {t_copy:.1f}s, LiteLLM's 7 indexes {t_index:.1f}s, VACUUM ANALYZE {t_vacuum:.1f}s; "
        f"{size / 2**20:,.0f} MB with indexes)"
    )
    return conn
