"""The usage store: LiteLLM daily activity at its finest grain, queried with DuckDB.

Durable layout (any process may read it; writers take a file lock):

    <store_dir>/days/YYYY-MM-DD.parquet   one file per UTC day, replaced atomically (os.replace)
    <store_dir>/manifest.json             per day: status (complete|partial), fetched_at, rows, version
    <store_dir>/write.lock                fcntl lock serialising writers across processes

Why not a single DuckDB file: DuckDB lets only one process open a file for writing and then no other
process may even read it, yet the CLI (cron exports, backfills) must work while the app runs. Parquet
day partitions give atomic, idempotent day replacement and multi-process reads; each process keeps ONE
in-memory DuckDB connection holding the rows, and reloads only the days whose version changed in the
manifest before answering (a stat() when nothing changed). Each thread uses its own cursor of that
connection.

In memory, each breakdown has its own table, `activity_<dim>` (a query reads only its breakdown's rows,
in date order, so DuckDB's zone maps skip other dates), and `rollup_<dim>` holds the same metrics summed
without the API-key columns, for views not filtered by user, key or team: per (date, value, provider)
for model, model group and provider, per date for api_key (the day totals). `activity` is a view over
the `activity_<dim>` tables. Tables are compressed (an in-memory database with COMPRESS, checkpointed
after each load): about a tenth of the memory, and faster to scan.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lib.core.files import make_private_dir
from lib.litellm.schemas import METRIC_NAMES

METRICS = list(METRIC_NAMES)  # the order LiteLLM's metrics are read in (lib/litellm/schemas.py)
# dim: which LiteLLM breakdown a row comes from. value: that breakdown's key (model name, user id...).
# api_key and key_* describe the API key of the row (NULL api_key = part LiteLLM did not attribute to a key).
# provider: the provider a model / model-group row is attributed to (see lib/usage/ingest.py for the rule).
SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("dim", pa.string()),
        ("value", pa.string()),
        ("api_key", pa.string()),
        ("key_alias", pa.string()),
        ("key_user_id", pa.string()),
        ("user_email", pa.string()),
        ("team_id", pa.string()),
        ("provider", pa.string()),
        ("spend", pa.float64()),
    ]
    + [(m, pa.int64()) for m in METRICS[1:9]]
    + [("total_response_time_ms", pa.float64()), ("timed_requests", pa.int64())]
)
FLOAT_METRICS = frozenset(m for m in METRICS if SCHEMA.field(m).type == pa.float64())  # the rest are BIGINT
DIMENSIONS = ("model", "model_group", "provider", "user", "api_key")
ROLLUP_DIMS = ("model", "model_group", "provider", "api_key")
COLUMNS = SCHEMA.names
_LOAD_BATCH_DAYS = 64  # days loaded per statement on a (re)load: bounds the staging table's memory


@dataclass(frozen=True)
class DayState:
    day: date
    status: str  # "complete" | "partial"
    fetched_at: datetime
    rows: int
    version: int


class UsageStore:
    @classmethod
    def writer(cls, store_dir: str | Path) -> UsageStore:
        """A store that writes days but loads none into memory (CLI backfills: another process serves)."""
        return cls(store_dir, window=(date.min, date.min))

    def __init__(self, store_dir: str | Path, window: tuple[date, date] | None = None):
        """`window` limits what this process loads to a date range (short-lived CLI exports)."""
        self.dir = Path(store_dir)
        self.window = window
        self.days_dir = self.dir / "days"
        make_private_dir(self.days_dir)  # users' e-mails, key aliases and spend: the app user's only
        self.manifest_path = self.dir / "manifest.json"
        self._lock_path = self.dir / "write.lock"
        self._con = duckdb.connect(":memory:")
        # compressed in-memory tables: dictionary/FSST strings (keys, aliases, e-mails repeat every day)
        self._con.execute("ATTACH ':memory:' AS usage (COMPRESS)")
        self._con.execute("USE usage")
        for dim in DIMENSIONS:
            self._con.execute(f"CREATE TABLE activity_{dim} ({self._ddl()})")
        for dim in ROLLUP_DIMS:
            self._con.execute(f"CREATE TABLE rollup_{dim} AS {_rollup_sql(dim, f'activity_{dim}')}")
        self._con.execute(
            "CREATE VIEW activity AS " + " UNION ALL ".join(f"SELECT * FROM activity_{d}" for d in DIMENSIONS)
        )
        self._loaded: dict[str, int] = {}  # day -> version held in memory
        self._manifest_stamp: tuple | None = None
        self._sync_lock = threading.Lock()
        self._local = threading.local()
        self._memo: dict = {}
        self._pool: ThreadPoolExecutor | None = None

    def run_side_by_side(self, fn, *args, **kwargs) -> Future:
        """Run a query function on this store's threads: DuckDB works outside the GIL and each thread has its
        own cursor, so a page's many small queries overlap instead of adding up."""
        with self._sync_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="usage-query")
        return self._pool.submit(fn, *args, **kwargs)

    @staticmethod
    def _ddl() -> str:
        types = {pa.date32(): "DATE", pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "BIGINT"}
        return ", ".join(f"{f.name} {types[f.type]}" for f in SCHEMA)

    # -- reading -----------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor of the process's single DuckDB connection."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._new_cursor()
        return cur

    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self._con.cursor()
        cur.execute("USE usage")  # a cursor starts in the default database
        return cur

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        self.sync()
        return self.cursor().execute(sql, params or []).df()

    def cached(self, key, compute):
        """`compute()`'s answer, kept until the stored data changes (a write by any process)."""
        self.sync()
        stamp = self._manifest_stamp
        hit = self._memo.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = compute()
        self._memo[key] = (stamp, value)
        return value

    def day_states(self) -> dict[date, DayState]:
        return {
            date.fromisoformat(d): DayState(
                date.fromisoformat(d), s["status"], datetime.fromisoformat(s["fetched_at"]), s["rows"], s["version"]
            )
            for d, s in self._read_manifest()["days"].items()
        }

    def date_bounds(self) -> tuple[date, date] | None:
        days = sorted(d for d, s in self.day_states().items() if s.rows > 0)
        return (days[0], days[-1]) if days else None

    def _read_manifest(self) -> dict:
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {"generation": 0, "days": {}}

    def _stamp(self) -> tuple | None:
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def sync(self) -> None:
        """Bring the in-memory table up to date with what any process has written."""
        stamp = self._stamp()
        if stamp == self._manifest_stamp:
            return
        with self._sync_lock:
            stamp = self._stamp()
            if stamp == self._manifest_stamp:
                return
            days = self._read_manifest()["days"]
            if self.window:
                lo, hi = (d.isoformat() for d in self.window)
                days = {d: s for d, s in days.items() if lo <= d <= hi}
            changed = [d for d, s in days.items() if self._loaded.get(d) != s["version"]]
            gone = [d for d in self._loaded if d not in days]
            if changed or gone:
                self._reload(
                    sorted(changed + gone), [str(self._day_file(d)) for d in sorted(changed) if days[d]["rows"] > 0]
                )
                for d in changed:
                    self._loaded[d] = days[d]["version"]
                for d in gone:
                    self._loaded.pop(d, None)
            self._manifest_stamp = stamp

    def _reload(self, days: list[str], files: list[str]) -> None:
        """Replace `days` in the in-memory tables by the rows of `files`.

        Readers wait in sync() until it is done. Loaded in batches of days, each committed and then
        compressed (CHECKPOINT: about 10x less memory, and faster scans), so a first load of years of
        history never holds it all uncompressed at once.
        """
        cur = self._new_cursor()
        dates = [date.fromisoformat(d) for d in days]
        batches = [files[i : i + _LOAD_BATCH_DAYS] for i in range(0, len(files), _LOAD_BATCH_DAYS)] or [[]]
        for n, batch in enumerate(batches):
            cur.execute("BEGIN")
            try:
                if n == 0:
                    for table in [f"activity_{d}" for d in DIMENSIONS] + [f"rollup_{d}" for d in ROLLUP_DIMS]:
                        cur.execute(f"DELETE FROM {table} WHERE list_contains(?, date)", [dates])
                if batch:
                    cur.execute(
                        f"CREATE OR REPLACE TEMP TABLE staging AS SELECT {', '.join(COLUMNS)} "
                        "FROM read_parquet(?) ORDER BY date",
                        [batch],
                    )
                    for dim in DIMENSIONS:
                        cur.execute(f"INSERT INTO activity_{dim} SELECT * FROM staging WHERE dim = ?", [dim])
                    for dim in ROLLUP_DIMS:
                        cur.execute(f"INSERT INTO rollup_{dim} {_rollup_sql(dim, 'staging')}")
                    cur.execute("DROP TABLE staging")
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            cur.execute("CHECKPOINT usage")

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def write_lock(self, blocking: bool = True) -> Iterator[bool]:
        """Cross-process writer lock. With blocking=False, yields False if another writer holds it.

        The storage layer's own lock, not a job lease (lib.core.leases): it guards the store's files, whoever
        writes them (a refresh, a backfill, a rebuild), lives beside them rather than in the app database, and
        the kernel drops it when a writer dies, which is what lets `remove_orphans` trust it.
        """
        with open(self._lock_path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _day_file(self, day: str) -> Path:
        return self.days_dir / f"{day}.parquet"

    def replace_days(self, tables: dict[date, pa.Table], status: dict[date, str], fetched_at: datetime) -> int:
        """Atomically replace whole days. Idempotent: writing the same rows twice changes nothing.

        Each day file is written aside and renamed into place; the manifest is rewritten last, so a
        crash leaves either the old or the new day, never a mix. Returns rows written.
        """
        written = 0
        with self.write_lock():
            manifest = self._read_manifest()
            manifest["generation"] = manifest.get("generation", 0) + 1
            for day, table in sorted(tables.items()):
                key = day.isoformat()
                table = table.select(COLUMNS).cast(SCHEMA)
                tmp = self._day_file(key).with_suffix(".parquet.tmp")
                pq.write_table(table, tmp, compression="zstd")
                os.replace(tmp, self._day_file(key))
                manifest["days"][key] = {
                    "status": status[day],
                    "fetched_at": fetched_at.isoformat(),
                    "rows": table.num_rows,
                    "version": manifest["generation"],
                }
                written += table.num_rows
            tmp = self.manifest_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(manifest, sort_keys=True))
            os.replace(tmp, self.manifest_path)
        return written  # readers load the new days on their next query (sync)

    def remove_orphans(self) -> list[str] | None:
        """Delete what a writer killed mid-write left: its `.tmp` files and day files the manifest does not list
        (written before the manifest was). Returns the names removed, or None if another writer holds the lock.

        Writers create files only while holding the write lock, and a killed process's lock is released by
        the kernel: so under the lock no file is being written, and nothing here is a live writer's.
        """
        with self.write_lock(blocking=False) as locked:
            if not locked:
                return None  # a live writer: its files are not orphans; the next start cleans up
            listed = set(self._read_manifest()["days"])
            candidates = [p for p in self.days_dir.iterdir() if p.is_file()]
            candidates.append(self.manifest_path.with_suffix(".json.tmp"))
            orphans = [
                p
                for p in candidates
                if p.name.endswith((".parquet.tmp", ".json.tmp")) or (p.suffix == ".parquet" and p.stem not in listed)
            ]
            removed = []
            for path in orphans:
                if path.exists():
                    path.unlink()
                    removed.append(path.name)
            return sorted(removed)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._con.close()


# Float metrics are summed as integers of 1e-12 units: exact, so a total does not depend on the order rows are
# stored and scanned in (DuckDB's threads, the order days were loaded). Plain or compensated float sums do, and
# then the app and the CLI would answer the same question with numbers that differ in the last bit. HUGEINT
# because a day's response time in 1e-12 ms passes BIGINT's range; 1e-12 of a dollar is far below a cent.
_FLOAT_UNITS = 1e12
FLOAT_LIMIT = 1e15  # the largest float a stored cell may hold (ingest refuses more): its units, and sums of
# up to 1e8 such cells, stay within HUGEINT. A quadrillion dollars or 31,000 years of ms.


def total_of(metric: str, alias: str = "", where: str = "") -> str:
    """SQL summing a metric column exactly, over the rows meeting `where` if given."""
    column = f"{alias}.{metric}" if alias else metric
    flt = f" FILTER (WHERE {where})" if where else ""
    if metric in FLOAT_METRICS:
        return f"(sum(round({column} * {_FLOAT_UNITS:.0f})::HUGEINT){flt} / {_FLOAT_UNITS:.0f})"
    return f"sum({column}){flt}"


def metric_type(metric: str) -> str:
    """The SQL type a metric is stored as."""
    return "DOUBLE" if metric in FLOAT_METRICS else "BIGINT"


def metric_sums(alias: str = "") -> str:
    """Every metric summed, typed as stored."""
    return ", ".join(f"{total_of(m, alias)}::{metric_type(m)} AS {m}" for m in METRICS)


def _rollup_sql(dim: str, source: str) -> str:
    sums = metric_sums()
    if dim == "api_key":  # the day totals (the api_key rows are the day's split by key)
        return (
            f"SELECT date, NULL::VARCHAR AS value, NULL::VARCHAR AS provider, {sums} FROM {source} "
            f"WHERE dim = 'api_key' GROUP BY date ORDER BY date"
        )
    return (
        f"SELECT date, value, provider, {sums} FROM {source} WHERE dim = '{dim}' "
        "GROUP BY date, value, provider ORDER BY date"
    )
