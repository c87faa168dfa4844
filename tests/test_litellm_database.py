"""Ingest from LiteLLM's own PostgreSQL (LITELLM_DATABASE_URL) against the real proxy: the stored rows the API path
stores (and LiteLLM's own totals), with only the README's grants; LiteLLM's odd rows and key-metadata recoveries as
its API shows them; the API, said so, when the database cannot be reached; a refusal naming a missing column with
the store untouched; zeros for metric columns an older LiteLLM lacks; today's refresh reading changed rows only."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from lib import services
from lib.auth import accounts
from lib.core.jobs import freshness, last_run
from lib.core.settings import Settings, SettingsError, load_settings
from lib.core.text_safety import markdown_literal
from lib.health.console_checks import check_usage_store
from lib.litellm.client import LiteLLMClient
from lib.litellm.database import LiteLLMDatabase, LiteLLMSchemaError
from lib.runtime import Runtime
from lib.usage.activity_sql import merge_pages
from lib.usage.database_source import DatabaseSource, TodayRows
from lib.usage.exports import export_frame
from lib.usage.ingest import ApiSource, backfill, fetch_range
from lib.usage.queries import BREAKDOWNS, Filters
from lib.usage.store import UsageStore
from tests.support.apptest import app_as, app_runtime
from tests.support.litellm_harness import (
    assert_equals_litellm_aggregated,
    chat,
    recent_range,
    send_unlabelled_traffic,
    wait_until_settled,
)
from tests.support.ports import free_port

pytestmark = pytest.mark.litellm
ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY_NAME = "litellm_proxy_master_key"


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def proxy(litellm_harness):
    """The harness after traffic.py, master-key calls and a bare key's calls, its daily table settled."""
    bare = send_unlabelled_traffic(litellm_harness)
    client = LiteLLMClient(litellm_harness["LITELLM_BASE_URL"], litellm_harness["LITELLM_MASTER_KEY"], timeout_s=30)
    wait_until_settled(client)
    yield {"client": client, "bare_key_hash": bare["bare_key_hash"]}
    client.close()


def readme_grants() -> list[str]:
    """The SQL statements of the README's grants for a read-only role."""
    text = (ROOT / "README.md").read_text().split("## Reading LiteLLM's database\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    lines = [line for line in block.splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _role_url(admin_url: str, role: str, password: str) -> str:
    return admin_url.replace("postgresql://postgres@", f"postgresql://{role}:{password}@")


@pytest.fixture(scope="module")
def make_reader(litellm_harness):
    """Makes roles with exactly the README's grants (and, if asked, a search path: a schema shadowing tables)."""
    admin, made = litellm_harness["LITELLM_DATABASE_URL"], []

    def make(search_path: str | None = None, extra: tuple[str, ...] = ()) -> str:
        role, password = f"console_reader_{uuid.uuid4().hex[:8]}", secrets.token_hex(12)
        with psycopg.connect(admin, autocommit=True) as conn:
            for statement in readme_grants():
                conn.execute(statement.replace("console_reader", role).replace("change-me", password))
            for statement in extra:
                conn.execute(statement.format(role=role))
            if search_path:
                conn.execute(sql.SQL("ALTER ROLE {} SET search_path = " + search_path).format(sql.Identifier(role)))
        made.append(role)
        return _role_url(admin, role, password)

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in made:
            conn.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def reader_url(make_reader) -> str:
    return make_reader()


def _settings(tmp_path: Path, harness: dict, **extra: str) -> Settings:
    return load_settings(
        {
            "LITELLM_BASE_URL": harness["LITELLM_BASE_URL"],
            "LITELLM_API_KEY": harness["LITELLM_MASTER_KEY"],
            "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
            "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            "BACKGROUND_SERVICES": "false",
            **extra,
        },
        secrets_path=None,
    )


def _runtime(tmp_path: Path, harness: dict, **extra: str) -> Runtime:
    return Runtime(_settings(tmp_path, harness, **extra))


def _stored(store: UsageStore) -> pd.DataFrame:
    return store.query("SELECT * FROM activity ORDER BY ALL")  # (date, dim, value, api_key) lead and are unique


def _assert_same_rows(ours: pd.DataFrame, theirs: pd.DataFrame, what: str) -> None:
    """Row for row: every column equal, floats to 1e-12 relative (LiteLLM sums spend in its own order)."""
    assert list(ours.columns) == list(theirs.columns), what
    assert len(ours) == len(theirs), (what, len(ours), len(theirs))
    floats = [c for c in ours.columns if ours[c].dtype.kind == "f"]
    exact, their_exact = (f.drop(columns=floats).reset_index(drop=True) for f in (ours, theirs))
    assert exact.equals(their_exact), (what, exact.compare(their_exact))
    for c in floats:
        assert ours[c].to_numpy() == pytest.approx(theirs[c].to_numpy(), rel=1e-12, abs=1e-15, nan_ok=True), (what, c)


# -- the same rows -----------------------------------------------------------------------------------
def test_a_database_backfill_stores_what_the_api_backfill_stores(proxy, litellm_harness, reader_url, tmp_path):
    start, end = recent_range()
    api_rt = _runtime(tmp_path / "api", litellm_harness)
    db_rt = _runtime(tmp_path / "db", litellm_harness, LITELLM_DATABASE_URL=reader_url)
    try:
        by_api = services.run_backfill(api_rt, "test", start=start, end=end)
        by_db = services.run_backfill(db_rt, "test", start=start, end=end)
        assert (by_api.source, by_db.source) == ("api", "database")
        run = last_run(db_rt.engine, "backfill")
        assert run["status"] == "success" and run["details"]["source"] == "database"
        assert "notice" not in run["details"]  # the README's grants are enough, the optional tables included
        where = reader_url.split("@", 1)[1]
        assert check_usage_store(db_rt)[0].reason.endswith(f"; read from LiteLLM's database (postgresql://{where})")
        assert by_db.rows_written == by_api.rows_written > 0

        _assert_same_rows(_stored(db_rt.store), _stored(api_rt.store), "stored rows")
        for by in BREAKDOWNS:
            ours, our_totals = export_frame(db_rt.store, start, end, by, Filters())
            theirs, their_totals = export_frame(api_rt.store, start, end, by, Filters())
            _assert_same_rows(ours, theirs, by)
            assert our_totals == pytest.approx(their_totals, rel=1e-12), by
        assert_equals_litellm_aggregated(db_rt.store, proxy["client"], start, end)

        keys = export_frame(db_rt.store, start, end, "api_key", Filters())[0].set_index("api_key")
        assert keys.loc[MASTER_KEY_NAME, "owner"] == "default_user_id"  # LiteLLM's owner of master-key calls
        assert keys.loc[proxy["bare_key_hash"], "requests"] == 2
        traffic_key = litellm_harness["traffic"]["keys"][0]
        assert keys.loc[traffic_key["hash"], "owner"] == traffic_key["user_id"]
        assert keys.loc[traffic_key["hash"], "key_alias"]  # aliases come from LiteLLM_VerificationToken
    finally:
        api_rt.close()
        db_rt.close()


def test_the_readme_role_reads_only_what_it_needs(reader_url):
    with psycopg.connect(reader_url) as conn:
        conn.execute('SELECT token, key_alias FROM "LiteLLM_VerificationToken" LIMIT 1')
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('SELECT max_budget FROM "LiteLLM_VerificationToken" LIMIT 1')
    with psycopg.connect(reader_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE \"LiteLLM_DailyUserSpend\" SET spend = 0 WHERE date = '1999-01-01'")


# -- LiteLLM's odd rows and its key-metadata recoveries -------------------------------------------------
EDGE_DAY = date(2021, 3, 1)  # far from the days any test reads
EDGE_USER, EDGE_TEAM = "t17-edge-user", "t17-team"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


EDGE_KEYS = {
    "active": _sha("t17-active"),
    "deleted": _sha("t17-deleted"),  # only in LiteLLM_DeletedVerificationToken (twice), no owner there
    "cli": f"cli-session-{EDGE_USER}",
    "double": _sha("t17-double-raw"),  # the token stored is the key's hash, hashed once more
    "logs": _sha("t17-known-from-logs"),
    "owned": "t17-unknown-owned",  # unknown anywhere; every daily row names the same user
    "disputed": "t17-unknown-disputed",  # unknown; its rows name two users
    "flat": "__ptu_flat_cost__",  # LiteLLM's flat-cost rows: in their model's totals, never a key's
}


def _edge_rows() -> list[tuple]:
    """(id, date, user_id, api_key, model, model_group, custom_llm_provider, spend, prompt, completion, requests,
    successful, failed, response ms, timed)."""
    rows, day2 = [], (EDGE_DAY + timedelta(days=1)).isoformat()
    day = EDGE_DAY.isoformat()

    def add(d, user, key, model, group, provider, spend, prompt=10, completion=5, requests=1, failed=0):
        n = len(rows)
        rows.append((f"t17-{n:04d}-{uuid.uuid4()}", d, user, key, model, group, provider, spend, prompt, completion,
                     requests, requests - failed, failed, 100 * requests, requests - failed))  # fmt: skip

    k = EDGE_KEYS
    add(day, EDGE_USER, k["active"], "openai/gpt-4o", "gpt-4o", "openai", 0.1 + 0.2, requests=3)
    add(day, EDGE_USER, k["active"], "openai/gpt-4o-mini", None, "openai", 0.0003)  # no group: the model's name
    add(day, EDGE_USER, k["active"], "azure/gpt-4o", "gpt-4o", "azure", 0.7, failed=1, requests=2)
    add(day, None, k["deleted"], "anthropic/claude-3-5-haiku", "claude-3-5-haiku", None, 0.05)  # no user, provider
    add(day, EDGE_USER, k["deleted"], "ollama/llama3", "llama3-local", "", 0.0)  # empty provider: "unknown"
    add(day, EDGE_USER, k["cli"], "", "fast-chat", "openai", 0.001)  # empty model: only the group counts
    add(day, EDGE_USER, k["double"], None, None, "openai", 0.002)  # neither model nor group
    add(day, "t17-log-user", k["logs"], "openai/gpt-4o", "gpt-4o", "openai", 0.003)
    add(day, EDGE_USER, k["owned"], "openai/gpt-4o", "gpt-4o", "openai", 0.004)
    add(day2, EDGE_USER, k["owned"], "openai/gpt-4o", "gpt-4o", "openai", 0.005)
    add(day, EDGE_USER, k["disputed"], "openai/gpt-4o", "gpt-4o", "openai", 0.006)
    add(day, "t17-other-user", k["disputed"], "openai/gpt-4o", "gpt-4o", "openai", 0.007)
    add(day, None, k["flat"], "deployment-7", "gpt-4o", None, 1.5, prompt=0, completion=0, requests=0)
    add(day2, EDGE_USER, k["active"], "openai/gpt-4o", "gpt-4o", "openai", 0.25, requests=4)
    return rows


@pytest.fixture(scope="module")
def edge_days(litellm_harness):
    """Odd rows in LiteLLM's own tables for two far-past days, and keys known to it only in odd ways; removed after."""
    admin, k = litellm_harness["LITELLM_DATABASE_URL"], EDGE_KEYS
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            'INSERT INTO "LiteLLM_UserTable" (user_id, user_email, teams) VALUES (%s, %s, %s)',
            [EDGE_USER, "edge@example.com", [EDGE_TEAM]],
        )
        conn.execute(
            'INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id) VALUES (%s, %s, %s, %s), '
            "(%s, %s, %s, NULL)",
            [k["active"], "t17-active-alias", EDGE_USER, EDGE_TEAM, "t17-double-raw", "t17-double-alias", EDGE_USER],
        )
        for alias, deleted_at in (("t17-deleted-old", "2021-01-01"), ("t17-deleted-new", "2021-02-01")):
            conn.execute(
                'INSERT INTO "LiteLLM_DeletedVerificationToken" (id, token, key_alias, deleted_at) '
                "VALUES (%s, %s, %s, %s)",
                [f"t17-{alias}", k["deleted"], alias, deleted_at],
            )
        conn.execute(
            'INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, "startTime", "endTime", metadata, '
            "team_id) VALUES ('t17-log', 'completion', %s, %s, %s, %s, 't17-log-team')",
            [k["logs"], datetime(2021, 3, 1, 12), datetime(2021, 3, 1, 12), Jsonb(
                {"user_api_key_alias": "t17-from-logs", "user_api_key_user_id": "t17-log-user"})],
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO "LiteLLM_DailyUserSpend" (id, date, user_id, api_key, model, model_group, '
                "custom_llm_provider, spend, prompt_tokens, completion_tokens, api_requests, successful_requests, "
                "failed_requests, total_response_time_ms, timed_requests, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())",
                _edge_rows(),
            )
    yield EDGE_DAY, EDGE_DAY + timedelta(days=1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DELETE FROM \"LiteLLM_DailyUserSpend\" WHERE id LIKE 't17-%%'")
        conn.execute("DELETE FROM \"LiteLLM_SpendLogs\" WHERE request_id = 't17-log'")
        conn.execute("DELETE FROM \"LiteLLM_DeletedVerificationToken\" WHERE id LIKE 't17-%%'")
        conn.execute('DELETE FROM "LiteLLM_VerificationToken" WHERE token = ANY(%s)', [[k["active"], "t17-double-raw"]])
        conn.execute('DELETE FROM "LiteLLM_UserTable" WHERE user_id = %s', [EDGE_USER])


def test_litellms_odd_rows_and_recovered_keys_read_from_the_database_as_its_api_shows_them(
    proxy, edge_days, reader_url, tmp_path
):
    start, end = edge_days
    api_store, db_store = UsageStore(tmp_path / "api"), UsageStore(tmp_path / "db")
    try:
        backfill(ApiSource(proxy["client"], page_size=5), api_store, start, end)  # pages split each day
        backfill(DatabaseSource(LiteLLMDatabase(reader_url)), db_store, start, end)
        _assert_same_rows(_stored(db_store), _stored(api_store), "stored rows")

        # the rows really took LiteLLM's odd paths (the API agreeing above is then what this test shows)
        found = db_store.query(
            "SELECT DISTINCT api_key, key_alias, key_user_id, user_email, team_id FROM activity "
            "WHERE dim = 'api_key' AND date = ?",
            [start],
        )
        keys = {key: [None if pd.isna(v) else v for v in rest] for key, *rest in found.itertuples(index=False)}
        k = EDGE_KEYS
        assert keys[k["active"]] == ["t17-active-alias", EDGE_USER, "edge@example.com", EDGE_TEAM]
        assert keys[k["deleted"]] == ["t17-deleted-new", EDGE_USER, "edge@example.com", None]
        assert keys[k["cli"]] == [k["cli"], EDGE_USER, "edge@example.com", EDGE_TEAM]
        assert keys[k["double"]] == ["t17-double-alias", EDGE_USER, "edge@example.com", None]
        assert keys[k["logs"]] == ["t17-from-logs", "t17-log-user", None, "t17-log-team"]
        assert keys[k["owned"]] == [None, EDGE_USER, "edge@example.com", None]
        assert keys[k["disputed"]] == [None, None, None, None]
        assert k["flat"] not in keys
        rows = db_store.query("SELECT dim, value, api_key, spend FROM activity WHERE date = ?", [start])
        values = {(d, v) for d, v in zip(rows["dim"], rows["value"])}
        assert {("provider", "unknown"), ("user", "Unassigned"), ("model_group", "fast-chat")} <= values
        assert ("model_group", "openai/gpt-4o-mini") in values and ("model", "") not in values
        flat = rows[(rows["dim"] == "model") & (rows["value"] == "gpt-4o")]  # the flat cost: a key-less remainder
        assert flat["api_key"].isna().all() and flat["spend"].sum() == pytest.approx(1.5)
    finally:
        api_store.close()
        db_store.close()


# -- today's refresh ------------------------------------------------------------------------------------
def _one_more_call(harness: dict, client: LiteLLMClient) -> None:
    """A master-key call, waited for until LiteLLM's daily table has it."""
    today = datetime.now(timezone.utc).date().isoformat()

    def requests_today() -> int:
        answer = client._get_json("/user/daily/activity/aggregated", {"start_date": today, "end_date": today})
        return answer["metadata"]["total_api_requests"]

    before = requests_today()
    with httpx.Client(base_url=harness["LITELLM_BASE_URL"], timeout=60) as http:
        chat(http, harness["LITELLM_MASTER_KEY"], "gpt-4o-mini")
    deadline = time.monotonic() + 60
    while requests_today() <= before:
        assert time.monotonic() < deadline, "LiteLLM never recorded the call"
        time.sleep(0.5)
    wait_until_settled(client)


def test_todays_refresh_reads_only_the_rows_changed_since_the_last(proxy, litellm_harness, reader_url):
    admin, today = litellm_harness["LITELLM_DATABASE_URL"], datetime.now(timezone.utc).date()
    source = DatabaseSource(LiteLLMDatabase(reader_url), TodayRows(), overlap=timedelta(0))
    source.read(today, today, today)
    kept = source.today_rows.get(today)
    with psycopg.connect(admin) as conn:
        rows_today = conn.execute('SELECT count(*) FROM "LiteLLM_DailyUserSpend" WHERE date = %s', [str(today)])
        assert source.rows_read == rows_today.fetchone()[0] > 5
    assert kept is not None

    _one_more_call(litellm_harness, proxy["client"])
    count = 'SELECT count(*) FROM "LiteLLM_DailyUserSpend" WHERE date = %s AND updated_at >= %s'
    with psycopg.connect(admin) as conn:
        changed = conn.execute(count, [str(today), kept.mark]).fetchone()[0]
        total = conn.execute(count, [str(today), datetime(2000, 1, 1)]).fetchone()[0]
    source.rows_read = 0
    again, _ = source.read(today, today, today)
    assert 1 <= source.rows_read == changed < total
    whole, _ = DatabaseSource(LiteLLMDatabase(reader_url)).read(today, today, today)
    assert again[today].to_pylist() == whole[today].to_pylist()
    from_api = merge_pages(fetch_range(proxy["client"], today, today))[today].to_pandas()
    _assert_same_rows(again[today].to_pandas(), from_api, "today")


def test_the_apps_refresh_after_a_backfill_keeps_the_api_paths_rows(proxy, litellm_harness, reader_url, tmp_path):
    """The runtime keeps today's rows between runs: its refresh merges the changed rows into them."""
    start, end = recent_range()
    db_rt = _runtime(tmp_path / "db", litellm_harness, LITELLM_DATABASE_URL=reader_url, COMPLETE_GRACE_MINUTES="0")
    api_rt = _runtime(tmp_path / "api", litellm_harness)
    try:
        services.run_backfill(db_rt, "test", start=start, end=end)
        assert db_rt.litellm_today_rows.get(end) is not None
        _one_more_call(litellm_harness, proxy["client"])
        assert services.run_refresh_today(db_rt, "test").source == "database"
        services.run_backfill(api_rt, "test", start=start, end=end)
        _assert_same_rows(_stored(db_rt.store), _stored(api_rt.store), "stored rows")
    finally:
        db_rt.close()
        api_rt.close()


# -- the API when the database cannot be reached ---------------------------------------------------------
def test_an_unreachable_database_falls_back_to_the_api_and_says_so(proxy, litellm_harness, tmp_path):
    password, port = secrets.token_hex(8), free_port()  # nothing listens there: a stopped database
    settings = _settings(
        tmp_path,
        litellm_harness,
        LITELLM_DATABASE_URL=f"postgresql://reader:{password}@127.0.0.1:{port}/litellm",
        APP_SECRET_KEY="s" * 48,
        ADMIN_USERNAME="root",
        ADMIN_PASSWORD="root-pass-17",
    )
    rt = app_runtime(settings)  # the runtime the app under test uses
    try:
        start, end = recent_range()
        summary = services.run_backfill(rt, "test", start=start, end=end)
        assert summary.source == "api"
        assert summary.notice.startswith(f"Cannot reach LiteLLM's database at postgresql://127.0.0.1:{port}/litellm (")
        assert summary.notice.endswith("; read LiteLLM's API instead")
        assert password not in summary.notice and "reader" not in summary.notice
        run = last_run(rt.engine, "backfill")
        assert run["status"] == "success" and run["details"]["source"] == "api"
        assert run["details"]["notice"] == summary.notice
        assert_equals_litellm_aggregated(rt.store, proxy["client"], start, end)
        assert freshness(rt.engine)["notice"] == summary.notice
        health = check_usage_store(rt)[0]  # the Health page's usage store line
        assert health.status == "amber" and summary.notice in health.reason
        assert health.reason.endswith(
            f"read from LiteLLM's API instead of its database (postgresql://127.0.0.1:{port}/litellm)"
        )

        accounts.bootstrap_accounts(rt.engine, settings)
        at = app_as(settings, "root")  # an admin sees it under the data's freshness in the sidebar
        assert markdown_literal(summary.notice) in [i.value for i in at.sidebar.info]  # the notice, as plain text
    finally:
        rt.close()  # the app's cached runtime: its store's DuckDB closed before the interpreter ends


# -- schema drift ----------------------------------------------------------------------------------------
def _shadow_daily_table(admin: str, without: tuple[str, ...]) -> str:
    """A schema whose view `LiteLLM_DailyUserSpend` is LiteLLM's table without `without` columns; its name."""
    schema = f"t17_drift_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = 'LiteLLM_DailyUserSpend' ORDER BY ordinal_position"
            )
        ]
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL('CREATE VIEW {}."LiteLLM_DailyUserSpend" AS SELECT {} FROM public."LiteLLM_DailyUserSpend"').format(
                sql.Identifier(schema), sql.SQL(", ").join(sql.Identifier(c) for c in columns if c not in without)
            )
        )
    return schema


def _shadowed_reader(make_reader, admin: str, without: tuple[str, ...]) -> str:
    schema = _shadow_daily_table(admin, without)
    return make_reader(
        search_path=f'"{schema}", public',
        extra=(
            f'GRANT USAGE ON SCHEMA "{schema}" TO {{role}}',
            f'GRANT SELECT ON "{schema}"."LiteLLM_DailyUserSpend" TO {{role}}',
        ),
    )


def _store_bytes(store_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store_dir)): p.read_bytes() for p in sorted(store_dir.rglob("*")) if p.is_file()}


def test_a_table_without_a_required_column_fails_naming_it_and_the_store_stays(
    proxy, litellm_harness, make_reader, tmp_path
):
    url = _shadowed_reader(make_reader, litellm_harness["LITELLM_DATABASE_URL"], without=("spend",))
    start, end = recent_range()
    api_rt = _runtime(tmp_path, litellm_harness)
    services.run_backfill(api_rt, "test", start=start, end=end)
    store_dir = api_rt.settings.store_dir
    api_rt.close()
    before = _store_bytes(store_dir)
    assert any(name.endswith(".parquet") for name in before)

    db_rt = _runtime(tmp_path, litellm_harness, LITELLM_DATABASE_URL=url)  # the same store
    try:
        with pytest.raises(LiteLLMSchemaError) as refused:
            services.run_backfill(db_rt, "test", start=start, end=end, force=True)
        message = str(refused.value)
        assert 'has no column "spend" in "LiteLLM_DailyUserSpend"' in message
        assert f"LiteLLM {proxy['client'].readiness(details=True).litellm_version}" in message and "1.108" in message
        assert "nothing was read or stored" in message
        run = last_run(db_rt.engine, "backfill")
        assert run["status"] == "failed" and run["error"] == message
        assert _store_bytes(store_dir) == before
    finally:
        db_rt.close()


def test_metric_columns_an_older_litellm_lacks_read_as_zero(proxy, litellm_harness, make_reader, tmp_path):
    missing = ("total_response_time_ms", "timed_requests", "cache_read_input_tokens")
    url = _shadowed_reader(make_reader, litellm_harness["LITELLM_DATABASE_URL"], without=missing)
    start, end = recent_range()
    api_store, db_store = UsageStore(tmp_path / "api"), UsageStore(tmp_path / "db")
    try:
        backfill(proxy["client"], api_store, start, end)
        summary = backfill(DatabaseSource(LiteLLMDatabase(url)), db_store, start, end)
        assert summary.source == "database"
        theirs = _stored(api_store)
        assert theirs["timed_requests"].sum() > 0  # so the zeros below are the missing columns' doing
        for column in missing:
            theirs[column] = 0.0 if theirs[column].dtype.kind == "f" else 0
        _assert_same_rows(_stored(db_store), theirs, "stored rows")
    finally:
        api_store.close()
        db_store.close()


# -- the setting ---------------------------------------------------------------------------------------
def test_the_database_url_setting_names_what_is_wrong_and_never_shows_the_password():
    api = {"LITELLM_BASE_URL": "http://127.0.0.1:4000"}
    url = "postgresql://reader:s3cret-pw@db:5432/litellm"
    assert load_settings({**api, "LITELLM_DATABASE_URL": url}, secrets_path=None).LITELLM_DATABASE_URL == url
    assert load_settings({**api, "LITELLM_DATABASE_URL": ""}, secrets_path=None).LITELLM_DATABASE_URL is None
    for env, says in (
        ({**api, "LITELLM_DATABASE_URL": "mysql://reader:s3cret-pw@db/litellm"}, "must be a postgresql:// URL"),
        ({"LITELLM_DATABASE_URL": url}, "needs LITELLM_BASE_URL"),
    ):
        with pytest.raises(SettingsError) as err:
            load_settings(env, secrets_path=None)
        assert str(err.value).startswith("LITELLM_DATABASE_URL: ") and says in str(err.value)
        assert "s3cret-pw" not in str(err.value)
