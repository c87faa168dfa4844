"""Backfill from LiteLLM's database against backfill from its API, on the real proxy (../shared/litellm).

    python -m tests.bench.sources [--daily-rows 200000] [--days 180] [--json]

Generates the synthetic deployment of tests/bench/data.py (keys, users, teams, models, model groups) as rows of
LiteLLM's own `LiteLLM_DailyUserSpend` (with its keys in `LiteLLM_VerificationToken` and users in
`LiteLLM_UserTable`), inserts them into the harness's PostgreSQL for days long past (ending --end), and times, in
the same run and on the same data, the same backfill of those days as the CLI runs it (lib.usage.ingest.backfill
into a write-only store, BACKFILL_CONCURRENCY=4): once from LiteLLM's API (`/user/daily/activity`, 1,000-row
pages, through the real proxy) and once from its database (lib/usage/database_source.py, as a role with the
README's grants would). Prints both times, their ratio and stored rows/s, and checks that the two stores hold the
same rows (exit status 1 if not). Nothing here asserts a timing.

The harness is started for the run and stopped after it, unless --base-url, --master-key and --database-url name a
running one (the bench's rows and keys are removed from it afterwards).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lib.litellm.client import LiteLLMClient
from lib.litellm.database import LiteLLMDatabase
from lib.usage.database_source import DatabaseSource
from lib.usage.ingest import ApiSource, IngestSummary, backfill
from lib.usage.store import UsageStore
from tests.bench.data import World, generate_daily, make_world
from tests.bench.postgres_usage import PG_COPY_COLUMNS, daily_table
from tests.support.litellm_harness import harness_down, harness_up

ID_PREFIX = "bench-"
CONCURRENCY = 4  # BACKFILL_CONCURRENCY's default


def parse_args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.sources", description=__doc__.split("\n\n")[0])
    ap.add_argument("--daily-rows", type=int, default=200_000, help="LiteLLM daily-table rows to insert (at least)")
    ap.add_argument("--days", type=int, default=180, help="days they span")
    ap.add_argument("--end", type=date.fromisoformat, default=date(2022, 6, 30), help="the last day (long past)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--base-url", help="a running harness's proxy (with --master-key and --database-url)")
    ap.add_argument("--master-key")
    ap.add_argument("--database-url", help="its PostgreSQL, as a role that may insert and delete the bench's rows")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    return ap.parse_args(argv)


def log(*x) -> None:
    print(*x, flush=True)


def generate(w: World, want: int, days: int, end: date, seed: int):
    """Daily rows of the synthetic deployment, at least `want` of them (generate_daily aims at stored rows)."""
    target = want * 3  # about 3 stored rows per daily row here; corrected below
    for _ in range(4):
        daily = generate_daily(w, target, days, end, seed, log=lambda *_: None)
        if len(daily) >= want:
            return daily
        target = int(target * want / max(len(daily), 1) * 1.02)
    raise RuntimeError(f"{days} days of this deployment hold fewer than {want:,} daily rows; raise --days")


def insert(url: str, w: World, daily) -> None:
    """The rows into LiteLLM's tables (ids prefixed, so they can be removed), with their keys and users."""
    table = daily_table(w, daily)
    ids = pc.binary_join_element_wise(ID_PREFIX, table.column("id"), "")
    table = table.set_column(0, "id", ids)
    plain = [(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in table.schema]
    table = table.cast(pa.schema(plain))
    table = table.append_column("updated_at", pa.array(["2022-07-01 00:00:00"] * table.num_rows))  # Prisma sets it
    columns = ", ".join([*PG_COPY_COLUMNS, "updated_at"])
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f'COPY "LiteLLM_DailyUserSpend" ({columns}) FROM STDIN (FORMAT csv)') as copy:
            for start in range(0, table.num_rows, 100_000):
                buf = io.BytesIO()
                pacsv.write_csv(table.slice(start, 100_000), buf, pacsv.WriteOptions(include_header=False))
                copy.write(buf.getvalue())
        cur.executemany(
            'INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, user_id, team_id) VALUES (%s, %s, %s, %s) '
            "ON CONFLICT DO NOTHING",
            [
                (h, w.aliases[i], w.users[w.key_user[i]], w.teams[w.key_team[i]] if w.key_team[i] >= 0 else None)
                for i, h in enumerate(w.keys)
            ],
        )
        cur.executemany(
            'INSERT INTO "LiteLLM_UserTable" (user_id, user_email) VALUES (%s, %s) ON CONFLICT DO NOTHING',
            list(zip(w.users, w.emails)),
        )
        conn.execute('ANALYZE "LiteLLM_DailyUserSpend"')


def remove(url: str, w: World) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM \"LiteLLM_DailyUserSpend\" WHERE id LIKE 'bench-%%'")
        conn.execute('DELETE FROM "LiteLLM_VerificationToken" WHERE token = ANY(%s)', [w.keys])
        conn.execute('DELETE FROM "LiteLLM_UserTable" WHERE user_id = ANY(%s)', [w.users])


def timed_backfill(source, folder: Path, start: date, end: date) -> tuple[IngestSummary, float]:
    store = UsageStore.writer(folder)
    try:
        t0 = time.perf_counter()
        summary = backfill(source, store, start, end, concurrency=CONCURRENCY)
        return summary, time.perf_counter() - t0
    finally:
        store.close()


def differences(a: Path, b: Path) -> list[str]:
    """Where two stores' rows differ (floats to 1e-12 relative: LiteLLM sums spend in its own order)."""
    stores = [UsageStore(a), UsageStore(b)]
    try:
        x, y = (s.query("SELECT * FROM activity ORDER BY ALL") for s in stores)
    finally:
        for s in stores:
            s.close()
    if len(x) != len(y):
        return [f"{len(x):,} rows from the API, {len(y):,} from the database"]
    out = []
    for c in x.columns:
        if x[c].dtype.kind == "f":
            if not np.allclose(x[c].to_numpy(), y[c].to_numpy(), rtol=1e-12, atol=1e-15, equal_nan=True):
                out.append(f"column {c} differs")
        elif not x[c].equals(y[c]):
            out.append(f"column {c} differs")
    return out


def main(argv=None) -> int:
    a = parse_args(argv)
    own = not (a.base_url and a.master_key and a.database_url)
    env = harness_up() if own else {}
    base_url, master_key = a.base_url or env["LITELLM_BASE_URL"], a.master_key or env["LITELLM_MASTER_KEY"]
    db_url = a.database_url or env["LITELLM_DATABASE_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-sources-"))
    w = make_world(a.seed)
    start = a.end - timedelta(days=a.days - 1)
    try:
        log(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        t0 = time.perf_counter()
        daily = generate(w, a.daily_rows, a.days, a.end, a.seed)
        insert(db_url, w, daily)
        log(
            f"inserted {len(daily):,} LiteLLM_DailyUserSpend rows ({start} to {a.end}, {len(w.keys):,} keys of "
            f"{len(w.users)} users) into the harness's PostgreSQL in {time.perf_counter() - t0:.1f}s"
        )
        with LiteLLMClient(base_url, master_key, timeout_s=600) as client:
            by_api, api_s = timed_backfill(ApiSource(client, page_size=1000), tmp / "api", start, a.end)
        by_db, db_s = timed_backfill(DatabaseSource(LiteLLMDatabase(db_url)), tmp / "db", start, a.end)
        problems = differences(tmp / "api", tmp / "db")
        figures = {
            "daily_rows": len(daily),
            "days": a.days,
            "stored_rows": by_db.rows_written,
            "api_s": round(api_s, 2),
            "database_s": round(db_s, 2),
            "speedup": round(api_s / db_s, 1),
            "api_stored_rows_per_s": round(by_api.rows_written / api_s),
            "database_stored_rows_per_s": round(by_db.rows_written / db_s),
            "api_pages": by_api.pages,
            "rows_agree": not problems,
        }
        log(
            f"backfill of {a.days} days ({len(daily):,} daily-table rows -> {by_db.rows_written:,} stored rows), "
            f"{CONCURRENCY} ranges at once: API {api_s:.1f}s ({by_api.pages:,} pages; "
            f"{figures['api_stored_rows_per_s']:,} stored rows/s), database {db_s:.1f}s "
            f"({figures['database_stored_rows_per_s']:,} stored rows/s): the database is {api_s / db_s:.1f}x faster"
        )
        log("stores agree: the same rows from both sources" if not problems else f"ERROR: {'; '.join(problems)}")
        if a.json:
            log(json.dumps(figures))
        return 1 if problems else 0
    finally:
        remove(db_url, w)
        if own:
            harness_down(env)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
