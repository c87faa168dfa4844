"""tests/bench (the benchmark): runs end to end on a small dataset and its engines agree. No timing is asserted."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from lib.litellm.demo import aggregate
from lib.usage.activity_sql import merge_pages
from lib.usage.queries import Filters, usage_page_queries
from lib.usage.store import SCHEMA
from tests.bench import answers, data, ingest_timing
from tests.bench.pandas_usage import PandasUsage
from tests.bench.query_timing import RANGES

ROOT = Path(__file__).resolve().parent.parent
JSON_KEYS = ("rows", "range_days", "duckdb_ms", "pandas_ms", "postgres_ms", "ingest_rows_per_s", "peak_rss_mb")


def _postgres_installed() -> bool:
    return bool(shutil.which("initdb")) or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


def test_small_run_ends_with_json_and_engines_agree():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--rows", "20000", "--json", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = proc.stdout[-4000:] + proc.stderr[-4000:]
    # exit status 1 = DuckDB, pandas, PostgreSQL or ingest disagree (the bench prints which answers)
    assert proc.returncode == 0, report
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(JSON_KEYS) <= set(out), out
    assert abs(out["rows"] - 20000) <= 0.03 * 20000, out
    assert out["range_days"] == 90
    for key in ("duckdb_ms", "pandas_ms", "ingest_rows_per_s", "ingest_serving_rows_per_s", "peak_rss_mb"):
        assert isinstance(out[key], (int, float)) and out[key] > 0, (key, out)
    # the bench starts its own server where PostgreSQL is installed (mandatory in CI): null = it failed
    if _postgres_installed() or os.environ.get("CI") == "true":
        assert isinstance(out["postgres_ms"], (int, float)) and out["postgres_ms"] > 0, report
    else:
        assert out["postgres_ms"] is None
    assert out["answers_agree"] is True
    assert "answers agree: DuckDB = pandas on every configuration" in proc.stdout
    for days in RANGES:  # every range, with and without filters, is in the table
        for label in ("none", "2 prov + 3 users", "1 model"):
            assert any(line.split()[:1] == [f"{days}d"] and label in line for line in proc.stdout.splitlines()), (
                days,
                label,
            )


def _small_world():
    w = data.make_world(seed=3)
    daily = data.generate_daily(w, 4000, 21, date(2025, 3, 31), seed=3, log=lambda *a: None)
    return w, daily


def _assert_same_document(a, b, path="$"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, sorted(set(a) ^ set(b))[:5])
        for k in a:
            _assert_same_document(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_document(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert type(a) is type(b) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_page_builder_builds_the_demo_litellm_document():
    """The vectorised page builder used for the ingest timing = lib.litellm.demo.aggregate (LiteLLM 1.108's shape)."""
    w, daily = _small_world()
    idx = np.arange(min(len(daily), 700))
    keys = {
        h: {"alias": m["key_alias"], "team_id": m["team_id"], "user_id": m["user_id"], "user_email": m["user_email"]}
        for h, m in zip(w.keys, ingest_timing.key_metadata(w))
    }
    fast = json.loads(json.dumps(ingest_timing.page_body(w, daily, idx, ingest_timing.key_metadata(w))))
    ref = json.loads(json.dumps(aggregate(ingest_timing.daily_rows(w, daily, idx), keys)))
    _assert_same_document(fast, ref)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by(
        [("date", "ascending"), ("dim", "ascending"), ("value", "ascending"), ("api_key", "ascending")]
    )


def test_generated_rows_are_exactly_what_ingest_stores():
    """store_columns (the benchmark's data) = merge_pages over LiteLLM pages of the same daily-table rows."""
    w, daily = _small_world()
    key_meta = ingest_timing.key_metadata(w)
    bodies = []
    for d in np.unique(daily.day):
        idx = np.flatnonzero(daily.day == d)
        for part in np.array_split(idx, max(1, len(idx) // 300)):  # a day split across pages, as LiteLLM does
            bodies.append(json.dumps(ingest_timing.page_body(w, daily, part, key_meta)).encode())
    ingested = _sorted(pa.concat_tables(merge_pages(bodies).values()).cast(SCHEMA))
    generated = _sorted(data.store_table(w, data.store_columns(w, daily)).cast(SCHEMA))
    assert generated.num_rows == ingested.num_rows > 1000
    assert generated.column("provider").null_count > 0  # unattributed model-group rows exist
    for name in SCHEMA.names:
        g, i = generated.column(name).to_pylist(), ingested.column(name).to_pylist()
        if name in ("spend", "total_response_time_ms"):
            assert np.allclose(g, i, rtol=1e-9, atol=1e-9), name
        else:
            assert g == i, name


def test_pandas_answers_equal_duckdb_on_small_store(tmp_path):
    w = data.make_world(seed=5)
    ds = data.build_dataset(
        w, 6000, 120, date(2025, 6, 30), 5, tmp_path / "store", with_frame=True, log=lambda *a: None
    )
    pand = PandasUsage(ds.frame)
    users = tuple(w.users[u] for u in np.unique(w.key_user[ds.daily.key])[:3])
    for f in (
        Filters(),
        Filters.of(providers=["openai", "anthropic"], users=users),
        Filters.of(models=["openai/gpt-4o"]),
        Filters.of(teams=[w.teams[0]]),
    ):
        for days in (7, 45):
            end = date(2025, 6, 30)
            start = end - timedelta(days=days - 1)
            duck = usage_page_queries(ds.store, start, end, f)
            assert answers.compare(answers.canon(duck), answers.canon(pand.page(start, end, f))) == [], (f, days)


@pytest.mark.litellm
def test_the_sources_bench_runs_on_the_harness_and_both_stores_agree(litellm_harness, capsys):
    """tests/bench/sources.py on a few thousand rows of the session's harness: both backfills ran, their stores hold
    the same rows, and the bench's rows and keys are gone from LiteLLM's tables afterwards."""
    from tests.bench import sources

    db_url = litellm_harness["LITELLM_DATABASE_URL"]
    harness = ["--base-url", litellm_harness["LITELLM_BASE_URL"], "--master-key", litellm_harness["LITELLM_MASTER_KEY"]]
    code = sources.main(["--daily-rows", "3000", "--days", "14", *harness, "--database-url", db_url, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["rows_agree"] is True and "stores agree" in out
    assert figures["daily_rows"] >= 3000 and figures["stored_rows"] > figures["daily_rows"]
    assert figures["api_pages"] >= 3  # a 1,000-row page each, and a week per range
    for key in ("api_s", "database_s", "speedup", "api_stored_rows_per_s", "database_stored_rows_per_s"):
        assert figures[key] > 0, (key, figures)
    with psycopg.connect(db_url) as conn:
        left = conn.execute("SELECT count(*) FROM \"LiteLLM_DailyUserSpend\" WHERE id LIKE 'bench-%%'").fetchone()
        assert left[0] == 0


@pytest.mark.browser
def test_the_page_timing_bench_times_logins_and_changes_against_a_baseline(demo_store):
    """tests/bench/page_timing.py on the session's 30-day demo store, with HEAD's checkout as the baseline."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bench.page_timing", "--store", str(demo_store.with_suffix(""))]
        + ["--logins", "2", "--changes", "1", "--baseline", "HEAD", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("current", "baseline HEAD"):
        first, later = out[name]["first_login"], out[name]["login"]
        assert 0 < first["kpis_s"] <= first["ready_s"] and 0 < later["kpis_s"] <= later["ready_s"], out
        assert out[name]["filter"]["n"] == out[name]["range"]["n"] == 1
    assert out["ratios"]["login_ready"] > 0
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "page-timing-" not in worktrees  # the baseline's checkout is removed
