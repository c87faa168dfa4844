"""LiteLLM's own PostgreSQL, read only: the rows of its daily table and its API keys' metadata.

The second way in (LITELLM_DATABASE_URL), beside the admin API: the same rows `/user/daily/activity` is built
from, read with SQL instead of 1,000-row JSON pages. Every statement is a SELECT (or a COPY of one) inside a
READ ONLY, REPEATABLE READ transaction, so one read sees one snapshot and a read-only role or a replica is enough.

Columns are read by name. LiteLLM adds columns across versions (`api_requests`, the success counts, cache
tokens, response times): one this LiteLLM lacks reads as zero, as the API path counts a metric an older LiteLLM
does not send. A column the table has had since it exists (`spend`, `model`, ...) cannot be missing from a real
LiteLLM: then `check_schema` refuses, naming it, before anything is read.

Key metadata follows LiteLLM 1.108's `DailyActivityRepository.key_metadata` and its recoveries
(litellm/proxy/spend_tracking/key_metadata_recovery.py), step by step, so a key shows the alias, owner, team and
e-mail the API would show: the active key, else its newest deleted copy; `cli-session-<user>` keys; keys stored
hashed twice; keys named only in the spend logs (optional table); an owner taken from the daily table when every
row of the key names the same user; the owner's e-mail from the user table.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from lib.core.urls import without_credentials
from lib.litellm.client import LiteLLMError

DAILY_TABLE = "LiteLLM_DailyUserSpend"
TOKEN_TABLE = "LiteLLM_VerificationToken"
DELETED_TOKEN_TABLE = "LiteLLM_DeletedVerificationToken"
USER_TABLE = "LiteLLM_UserTable"
SPEND_LOGS_TABLE = "LiteLLM_SpendLogs"
PTU_SENTINEL_API_KEY = "__ptu_flat_cost__"  # LiteLLM's flat-cost rows: in their model's totals, never a key's
CLI_SESSION_PREFIX = "cli-session-"
HASHED_JWT_PREFIX = "hashed-jwt-"
RECOVERY_TIMEOUT_MS = 5000  # LiteLLM's SPEND_LOG_KEY_METADATA_QUERY_TIMEOUT_MS
SPEND_LOG_ROWS_PER_PROBE = 100  # LiteLLM's SPEND_LOG_KEY_METADATA_ROWS_PER_PROBE
_SHA256 = re.compile(r"[a-fA-F0-9]{64}")


@dataclass(frozen=True)
class DailyColumn:
    name: str
    type: pa.DataType
    required: bool  # in the table since LiteLLM created it: missing = not LiteLLM's table


# LiteLLM_DailyUserSpend, in the order rows are read. `id` orders a day's rows as LiteLLM's API does (ORDER BY id:
# LiteLLM's ids are UUIDs, which sort the same in every collation, so the order is the same here and in DuckDB).
DAILY_COLUMNS = (
    DailyColumn("id", pa.string(), True),
    DailyColumn("date", pa.date32(), True),
    DailyColumn("user_id", pa.string(), True),
    DailyColumn("api_key", pa.string(), True),
    DailyColumn("model", pa.string(), True),
    DailyColumn("model_group", pa.string(), True),
    DailyColumn("custom_llm_provider", pa.string(), True),
    DailyColumn("spend", pa.float64(), True),
    DailyColumn("prompt_tokens", pa.int64(), True),
    DailyColumn("completion_tokens", pa.int64(), True),
    DailyColumn("cache_read_input_tokens", pa.int64(), False),  # LiteLLM 1.67
    DailyColumn("cache_creation_input_tokens", pa.int64(), False),
    DailyColumn("api_requests", pa.int64(), False),  # 1.65
    DailyColumn("successful_requests", pa.int64(), False),
    DailyColumn("failed_requests", pa.int64(), False),
    DailyColumn("total_response_time_ms", pa.float64(), False),  # 1.76
    DailyColumn("timed_requests", pa.int64(), False),
)
DAILY_SCHEMA = pa.schema([(c.name, c.type) for c in DAILY_COLUMNS])
UPDATED_AT = "updated_at"  # optional: today's refresh reads only changed rows where it exists
_OPTIONAL_DAILY_COLUMNS = (*(c.name for c in DAILY_COLUMNS if not c.required), UPDATED_AT)
# the key metadata's sources: (table, columns it needs, optional columns); optional tables are left out when absent
TOKEN_COLUMNS = ("token", "key_alias", "team_id", "user_id")
USER_COLUMNS = ("user_id", "user_email")
DELETED_TOKEN_COLUMNS = (*TOKEN_COLUMNS, "deleted_at")
SPEND_LOG_COLUMNS = ("api_key", "startTime", "metadata", "team_id", "user")
KEY_METADATA_SCHEMA = pa.schema(
    [("api_key", pa.string()), ("key_alias", pa.string()), ("team_id", pa.string()), ("user_id", pa.string()),
     ("user_email", pa.string())]
)  # fmt: skip


class LiteLLMDatabaseError(LiteLLMError):
    """LiteLLM's database answered with an error; the message says which table or column, never the URL's secret."""

    kind = "database"


class LiteLLMDatabaseUnreachable(LiteLLMDatabaseError):
    kind = "unreachable"


class LiteLLMSchemaError(LiteLLMDatabaseError):
    """A table or column the console needs is missing, or the role may not read it: nothing was read."""

    kind = "schema"


@dataclass
class Schema:
    """What this LiteLLM's database offers, as check_schema found it."""

    daily_columns: frozenset[str]
    updated_at: bool
    user_teams: bool
    deleted_tokens: bool
    spend_logs: bool
    left_out: list[str] = field(default_factory=list)  # optional sources the role cannot read (said in notices)


class LiteLLMDatabase:
    """LiteLLM's PostgreSQL at `url` (a read-only role is enough). Each `connect()` is one read-only snapshot."""

    def __init__(self, url: str, connect_timeout_s: float = 10.0):
        self.url = url
        self.connect_timeout_s = connect_timeout_s

    @property
    def where(self) -> str:
        """The database as it may be shown: no user, password or options."""
        try:
            return without_credentials(self.url)
        except ValueError:
            return "(unparsable URL)"

    def connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(
                self.url, connect_timeout=max(1, round(self.connect_timeout_s)), application_name="litellm-console"
            )
        except psycopg.Error as exc:
            raise LiteLLMDatabaseUnreachable(
                f"Cannot reach LiteLLM's database at {self.where} ({_first_line(exc)})"
            ) from None
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True  # BEGIN ... READ ONLY: PostgreSQL itself refuses any write
        return conn

    # -- schema ---------------------------------------------------------------------------------
    def check_schema(self, conn: psycopg.Connection, version: Callable[[], str | None] = lambda: None) -> Schema:
        """The columns and tables this database offers. Raises LiteLLMSchemaError naming the first required table or
        column that is missing or unreadable (and the LiteLLM version, asked of `version` only then)."""
        with _errors(self):
            daily = _columns(conn, DAILY_TABLE)
            tokens = _columns(conn, TOKEN_TABLE)
            users = _columns(conn, USER_TABLE)
            deleted = _columns(conn, DELETED_TOKEN_TABLE)
            logs = _columns(conn, SPEND_LOGS_TABLE)
            migration = _latest_migration(conn)
            role = _role(conn)

        def refuse(what: str) -> LiteLLMSchemaError:
            seen = version()
            seen = f"LiteLLM {seen}" if seen else "LiteLLM version unknown"
            if migration:
                seen += f", schema migration {migration}"
            return LiteLLMSchemaError(f"LiteLLM's database at {self.where} {what} ({seen}); nothing was read or stored")

        for table, found, needed, optional in (
            (DAILY_TABLE, daily, [c.name for c in DAILY_COLUMNS if c.required], _OPTIONAL_DAILY_COLUMNS),
            (TOKEN_TABLE, tokens, TOKEN_COLUMNS, ()),
            (USER_TABLE, users, USER_COLUMNS, ("teams",)),
        ):
            if found is None:
                raise refuse(f'has no table "{table}" that role "{role}" can see')
            for name in needed:
                if name not in found:
                    raise refuse(f'has no column "{name}" in "{table}", which the console needs')
            for name in (*needed, *optional):  # a column this LiteLLM has is read: never taken for zero
                if name in found and not found[name]:
                    raise refuse(f'does not let role "{role}" read "{table}"."{name}" (GRANT SELECT: see the README)')
        left_out = []

        def readable(table: str, found: dict | None, needed: tuple[str, ...]) -> bool:
            if found is not None and all(found.get(c) for c in needed):
                return True
            if found is not None:  # the table exists: say what is missing, as keys may then lack metadata
                left_out.append(table)
            return False

        return Schema(
            daily_columns=frozenset(c for c, ok in daily.items() if ok),
            updated_at=bool(daily.get(UPDATED_AT)),
            user_teams=bool(users.get("teams")),
            deleted_tokens=readable(DELETED_TOKEN_TABLE, deleted, DELETED_TOKEN_COLUMNS),
            spend_logs=readable(SPEND_LOGS_TABLE, logs, SPEND_LOG_COLUMNS),
            left_out=left_out,
        )

    # -- the daily table ------------------------------------------------------------------------
    def daily_rows(
        self, conn: psycopg.Connection, schema: Schema, start: date, end: date, changed_since: datetime | None = None
    ) -> pa.Table:
        """The daily table's rows of [start, end] (DAILY_SCHEMA; only those changed at or after `changed_since`,
        when given), streamed with COPY and parsed by Arrow as they arrive. Dates are compared as LiteLLM stores
        them: text."""
        columns = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(
                sql.Identifier(c.name) if c.name in schema.daily_columns else sql.SQL("0"), sql.Identifier(c.name)
            )
            for c in DAILY_COLUMNS
        )
        where = sql.SQL("{d} >= {a} AND {d} <= {b}").format(
            d=sql.Identifier("date"), a=sql.Literal(start.isoformat()), b=sql.Literal(end.isoformat())
        )
        if changed_since is not None:
            where += sql.SQL(" AND ({u} >= {t} OR {u} IS NULL)").format(
                u=sql.Identifier(UPDATED_AT), t=sql.Literal(changed_since)
            )
        query = sql.SQL("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT (FORMAT csv)").format(
            columns, sql.Identifier(DAILY_TABLE), where
        )
        with _errors(self), conn.cursor() as cur, cur.copy(query) as copy:
            return _read_csv(_CopyFile(copy), DAILY_SCHEMA)

    def rows_per_day(self, conn: psycopg.Connection, start: date, end: date) -> dict[date, int]:
        """How many daily-table rows each day of [start, end] has (days without rows are absent)."""
        with _errors(self), conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT {d}, count(*) FROM {t} WHERE {d} >= %s AND {d} <= %s GROUP BY {d}").format(
                    d=sql.Identifier("date"), t=sql.Identifier(DAILY_TABLE)
                ),
                [start.isoformat(), end.isoformat()],
            )
            found = {}
            for day, n in cur.fetchall():
                try:
                    found[date.fromisoformat(day)] = n
                except ValueError:  # not a YYYY-MM-DD date: the read itself reports it
                    pass
            return found

    def changed_mark(self, conn: psycopg.Connection, day: date) -> datetime | None:
        """The newest `updated_at` of the day's rows in this snapshot (None: no rows, or no such column)."""
        with _errors(self), conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT max({}) FROM {} WHERE {} = %s").format(
                    sql.Identifier(UPDATED_AT), sql.Identifier(DAILY_TABLE), sql.Identifier("date")
                ),
                [day.isoformat()],
            )
            return cur.fetchone()[0]

    # -- key metadata ---------------------------------------------------------------------------
    def key_metadata(
        self, conn: psycopg.Connection, schema: Schema, keys: list[str], window: tuple[datetime, datetime] | None
    ) -> pa.Table:
        """KEY_METADATA_SCHEMA for `keys`, as LiteLLM 1.108 resolves them for `/user/daily/activity` (a key it
        knows nothing of is absent). `window` bounds the spend-log search (LiteLLM: the page's dates, a day
        before to two after)."""
        keys = sorted(set(keys) - {PTU_SENTINEL_API_KEY})
        if not keys:
            return KEY_METADATA_SCHEMA.empty_table()
        with _errors(self):
            found = _KeyMetadata(conn, schema, keys, window).resolve()
        rows = [{"api_key": k, **{f: m.get(f) for f in KEY_METADATA_SCHEMA.names[1:]}} for k, m in found.items()]
        return pa.Table.from_pylist(rows, KEY_METADATA_SCHEMA)


class _KeyMetadata:
    """One resolution of LiteLLM's `DailyActivityRepository.key_metadata` + `recover_key_metadata`. Each step's
    dicts carry key_alias, team_id, user_id (+ user_email, key_exists) as LiteLLM's do."""

    def __init__(self, conn, schema: Schema, keys: list[str], window):
        self.conn, self.schema, self.keys, self.window = conn, schema, keys, window

    def resolve(self) -> dict[str, dict]:
        keys = set(self.keys)
        active = {t: {**m, "key_exists": True} for t, m in self._tokens(TOKEN_TABLE, sorted(keys)).items()}
        missing = sorted(keys - set(active))
        deleted = self._tokens(DELETED_TOKEN_TABLE, missing) if self.schema.deleted_tokens and missing else {}
        result = {**{t: {**m, "key_exists": False} for t, m in deleted.items()}, **active}
        from_sessions = self._cli_sessions(keys - set(result))
        still = keys - set(result) - set(from_sessions)
        from_hashes = self._double_hashed(still) if still else {}
        combined = {**result, **from_sessions, **from_hashes}
        unresolved = keys - set(combined)
        if unresolved and self.window is not None and self.schema.spend_logs:
            combined |= self._from_spend_logs(unresolved)
        ownerless = {
            k for k in keys if not combined.get(k, {}).get("user_id") and not combined.get(k, {}).get("key_exists")
        }
        owners = self._owners_from_daily_table(ownerless) if ownerless else {}
        with_owners = {**combined, **{k: {**combined.get(k, {}), "user_id": o} for k, o in owners.items()}}
        return self._attach_user_details(with_owners)

    def _rows(self, query: sql.Composable, params: list) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def _execute(self, statement: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(statement)

    def _tokens(self, table: str, tokens: list[str]) -> dict[str, dict]:
        if table == TOKEN_TABLE:
            query = sql.SQL("SELECT token, key_alias, team_id, user_id FROM {} WHERE token = ANY(%s)")
        else:  # a key deleted more than once: its newest copy
            query = sql.SQL(
                "SELECT DISTINCT ON (token) token, key_alias, team_id, user_id FROM {} WHERE token = ANY(%s) "
                "ORDER BY token, deleted_at DESC"
            )
        rows = self._rows(query.format(sql.Identifier(table)), [tokens])
        return {t: {"key_alias": a, "team_id": tm, "user_id": u} for t, a, tm, u in rows}

    def _users(self, user_ids: set[str]) -> dict[str, tuple[str | None, str | None]]:
        """user id -> (e-mail or None, the user's team when it has exactly one)."""
        if not user_ids:
            return {}
        teams = sql.SQL("teams") if self.schema.user_teams else sql.SQL("NULL")
        rows = self._rows(
            sql.SQL("SELECT user_id, user_email, {} FROM {} WHERE user_id = ANY(%s)").format(
                teams, sql.Identifier(USER_TABLE)
            ),
            [sorted(user_ids)],
        )
        only = lambda t: t[0] if isinstance(t, list) and len(t) == 1 and isinstance(t[0], str) and t[0] else None  # noqa: E731
        return {u: (email or None, only(t)) for u, email, t in rows if u}

    def _cli_sessions(self, missing: set[str]) -> dict[str, dict]:
        candidates = {k: k.removeprefix(CLI_SESSION_PREFIX) for k in missing if _is_cli_session_key(k)}
        known = self._users(set(candidates.values()))
        return {k: {"key_alias": k, "user_id": u} for k, u in candidates.items() if u in known}

    def _double_hashed(self, missing: set[str]) -> dict[str, dict]:
        wanted = sorted(k for k in missing if _SHA256.fullmatch(k))
        if not wanted:
            return {}
        digest = "encode(sha256(convert_to(token, 'UTF8')), 'hex')"
        found = {}
        tables = [TOKEN_TABLE] + ([DELETED_TOKEN_TABLE] if self.schema.deleted_tokens else [])
        for table in tables:
            if not wanted:
                break
            distinct, order = (
                ("DISTINCT ON (token) ", " ORDER BY token, deleted_at DESC") if table != TOKEN_TABLE else ("", "")
            )
            query = sql.SQL(
                f"SELECT {distinct}{digest} AS digest, key_alias, team_id, user_id FROM {{}} "
                f"WHERE {digest} = ANY(%s){order}"
            ).format(sql.Identifier(table))
            rows = self._guarded(lambda q=query, w=list(wanted): self._rows(q, [w]))
            found |= {d: {"key_alias": a, "team_id": t, "user_id": u} for d, a, t, u in rows or () if d in wanted}
            wanted = [k for k in wanted if k not in found]
        return found

    def _from_spend_logs(self, unresolved: set[str]) -> dict[str, dict]:
        digests = sorted(k for k in unresolved if _SHA256.fullmatch(k.removeprefix(HASHED_JWT_PREFIX)))
        if not digests:
            return {}
        start, end = self.window
        rows = self._guarded(lambda: self._rows(_SPEND_LOG_ALIAS_SQL, [digests, start, end, start, end, end]), True)
        out = {}
        for digest, a1, a2, t1, t2, o1, o2 in rows or ():
            meta = {"key_alias": _unanimous(a1, a2), "team_id": _unanimous(t1, t2), "user_id": _unanimous(o1, o2)}
            if any(meta.values()):
                out[digest] = meta
        return out

    def _owners_from_daily_table(self, keys: set[str]) -> dict[str, str]:
        query = sql.SQL(
            "SELECT api_key, MIN(user_id), MAX(user_id) FROM {} WHERE api_key = ANY(%s) AND user_id IS NOT NULL "
            "AND user_id <> '' GROUP BY api_key"
        ).format(sql.Identifier(DAILY_TABLE))
        rows = self._guarded(lambda: self._rows(query, [sorted(keys)]), True)
        return {k: o for k, first, last in rows or () for o in [_unanimous(first, last)] if o is not None}

    def _attach_user_details(self, found: dict[str, dict]) -> dict[str, dict]:
        def needs(key: str, meta: dict) -> str | None:
            user = meta.get("user_id")
            if not isinstance(user, str) or not user:
                return None
            if meta.get("user_email") and not (_is_cli_session_key(key) and not meta.get("team_id")):
                return None
            return user

        details = self._users({u for k, m in found.items() if (u := needs(k, m))})
        out = {}
        for key, meta in found.items():
            user = meta.get("user_id")
            if isinstance(user, str) and user in details:
                email, only_team = details[user]
                email = meta.get("user_email") or email
                team = meta.get("team_id") or (only_team if _is_cli_session_key(key) else None)
                meta = {**meta, **({"user_email": email} if email else {}), **({"team_id": team} if team else {})}
            out[key] = meta
        return out

    def _guarded(self, read: Callable[[], list], timeout: bool = False) -> list | None:
        """A recovery step as LiteLLM runs it: within its statement timeout (when `timeout`), and on an error
        (a timeout, a table the role may not read) without its answer, the snapshot carrying on (a savepoint)."""
        try:
            with self.conn.transaction():
                if timeout:
                    saved = self._rows(_SETTINGS_SQL, [])[0]
                    self._execute(f"SET LOCAL statement_timeout = {RECOVERY_TIMEOUT_MS}")
                    self._execute("SET LOCAL enable_bitmapscan = off")
                rows = read()
                if timeout:  # SET LOCAL outlives a released savepoint: back to the transaction's own values
                    self._rows(_RESTORE_SQL, list(saved))
                return rows
        except psycopg.OperationalError as exc:
            if self.conn.broken:
                raise LiteLLMDatabaseUnreachable(
                    f"LiteLLM's database connection was lost ({_first_line(exc)})"
                ) from None
            return None
        except psycopg.Error:
            return None


_SETTINGS_SQL = sql.SQL("SELECT current_setting('statement_timeout'), current_setting('enable_bitmapscan')")
_RESTORE_SQL = sql.SQL("SELECT set_config('statement_timeout', %s, true), set_config('enable_bitmapscan', %s, true)")


def _is_cli_session_key(key: str) -> bool:
    return key.startswith(CLI_SESSION_PREFIX) and len(key) > len(CLI_SESSION_PREFIX)


def _unanimous(first: str | None, last: str | None) -> str | None:
    if first is None:
        return last
    return first if last is None or first == last else None


def _edge_row_sql(direction: str, since: str) -> str:
    """LiteLLM's `_named_spend_log_edge_row_sql`: the first (or last) spend-log row of a key naming it."""
    return f"""
    SELECT "startTime", key_alias, team_id, user_id
    FROM (
        SELECT "startTime",
            NULLIF(metadata->>'user_api_key_alias', '') AS key_alias,
            COALESCE(NULLIF(team_id, ''), NULLIF(metadata->>'user_api_key_team_id', '')) AS team_id,
            COALESCE(NULLIF("user", ''), NULLIF(metadata->>'user_api_key_user_id', '')) AS user_id
        FROM (
            SELECT "startTime", metadata, team_id, "user"
            FROM "{SPEND_LOGS_TABLE}"
            WHERE api_key = keys.digest AND "startTime" >= {since} AND "startTime" < %s::timestamp
            ORDER BY "startTime" {direction}
            LIMIT {SPEND_LOG_ROWS_PER_PROBE}
        ) edge
    ) named
    WHERE COALESCE(key_alias, user_id, team_id) IS NOT NULL
    ORDER BY "startTime" {direction}
    LIMIT 1"""


# LiteLLM's _SPEND_LOG_ALIAS_SQL with psycopg's placeholders (keys, start, end, start, end, end, in text order)
_SPEND_LOG_ALIAS_SQL = sql.SQL(f"""
SELECT keys.digest, first_row.key_alias, last_row.key_alias, first_row.team_id, last_row.team_id,
       first_row.user_id, last_row.user_id
FROM unnest(%s::text[]) AS keys(digest)
LEFT JOIN LATERAL ({_edge_row_sql("ASC", "%s::timestamp")}) first_row ON true
LEFT JOIN LATERAL (
    SELECT COALESCE(first_row."startTime", (
        SELECT "startTime" FROM "{SPEND_LOGS_TABLE}"
        WHERE api_key = keys.digest AND "startTime" >= %s::timestamp AND "startTime" < %s::timestamp
        ORDER BY "startTime" ASC OFFSET {SPEND_LOG_ROWS_PER_PROBE - 1} LIMIT 1
    )) AS stopped_at
) oldest_probe ON true
LEFT JOIN LATERAL ({_edge_row_sql("DESC", "oldest_probe.stopped_at")}) last_row ON true
""")


def _columns(conn: psycopg.Connection, table: str) -> dict[str, bool] | None:
    """column -> whether this role may read it; None when the table does not exist (in the search path)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, has_column_privilege(a.attrelid, a.attnum, 'SELECT') FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            [f'"{table}"'],
        )
        return dict(cur.fetchall()) or None  # pg_attribute lists every column, readable or not


def _latest_migration(conn: psycopg.Connection) -> str | None:
    """The newest of LiteLLM's schema migrations, when this role may read Prisma's table of them."""
    found = _columns(conn, "_prisma_migrations")
    if not found or not found.get("migration_name"):
        return None
    with conn.cursor() as cur:
        cur.execute('SELECT max(migration_name) FROM "_prisma_migrations"')
        return cur.fetchone()[0]


def _role(conn: psycopg.Connection) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT current_user")
        return cur.fetchone()[0]


class _errors:
    """psycopg's errors as the console's: a lost connection is LiteLLMDatabaseUnreachable, any other error
    LiteLLMDatabaseError with PostgreSQL's first line (it names the table or column, never the password)."""

    def __init__(self, db: LiteLLMDatabase):
        self.db = db

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, LiteLLMError) or not isinstance(exc, (psycopg.Error, pa.ArrowInvalid)):
            return False
        if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):
            raise LiteLLMDatabaseUnreachable(
                f"LiteLLM's database at {self.db.where} failed mid-read ({_first_line(exc)})"
            ) from None
        raise LiteLLMDatabaseError(f"LiteLLM's database at {self.db.where}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


class _CopyFile(io.RawIOBase):
    """A COPY ... TO STDOUT as a file Arrow's CSV reader can read while the rows arrive."""

    def __init__(self, copy: psycopg.Copy):
        self._copy = copy
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._copy.read()
            if not chunk:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _read_csv(stream: io.RawIOBase, schema: pa.Schema) -> pa.Table:
    """PostgreSQL's CSV (NULL unquoted and empty, an empty text quoted) as a table of `schema`."""
    try:
        reader = pacsv.open_csv(
            io.BufferedReader(stream, buffer_size=1 << 20),
            read_options=pacsv.ReadOptions(column_names=schema.names, use_threads=False, block_size=8 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types=schema,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return schema.empty_table()
        raise
    return pa.Table.from_batches(list(reader), schema)
