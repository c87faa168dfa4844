"""`python -m lib.cli export` as an analyst's cron job runs it: a subprocess over a store filled by the CLI.

The oracle is the demo LiteLLM's own daily table (what LiteLLM would report), for days before today
(today's demo rows depend on the time they were generated).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from lib.core.settings import Settings
from lib.litellm.demo import DemoLiteLLM
from lib.usage.activity_sql import merge_pages
from lib.usage.exports import render_export
from lib.usage.queries import KEY_COLUMNS, ROW_METRICS, Filters
from lib.usage.store import UsageStore

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.now(timezone.utc).date()
START, END = TODAY - timedelta(days=21), TODAY - timedelta(days=1)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    e = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    e.update(
        {
            "DUCKDB_PATH": str(tmp / "usage.duckdb"),
            "DATABASE_URL": f"sqlite:///{tmp}/app.db",
            "LITELLM_BASE_URL": "",
            "BACKGROUND_SERVICES": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    done = cli(e, "backfill", "--start", str(START), "--end", str(TODAY))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["days_fetched"] == (TODAY - START).days + 1
    return e


@pytest.fixture(scope="module")
def litellm():
    demo = DemoLiteLLM(seed=Settings.model_fields["DEMO_SEED"].default, today=TODAY)
    df = pd.DataFrame(demo.rows)
    df["date"] = pd.to_datetime(df["date"]).dt.date
    keys = {k["hash"]: k for k in demo.keys}
    df["team_id"] = df["api_key"].map(lambda h: keys[h]["team_id"])
    df["key_alias"] = df["api_key"].map(lambda h: keys[h]["alias"])
    return df[(df["date"] >= START) & (df["date"] <= END)]


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def export(env, *args, fmt="json", by="model", start=START, end=END):
    r = cli(env, "export", "--start", str(start), "--end", str(end), "--breakdown", by, "--format", fmt, *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if fmt == "json" else list(csv.DictReader(io.StringIO(r.stdout)))


@pytest.mark.parametrize("by", ["daily", "model", "model_group", "provider", "user", "api_key", "team"])
def test_csv_and_json_have_the_documented_shape(env, by):
    rows = export(env, fmt="csv", by=by)
    assert list(rows[0]) == KEY_COLUMNS[by] + ROW_METRICS
    doc = export(env, by=by)
    assert set(doc) == {"metadata", "data"}
    meta = doc["metadata"]
    assert set(meta) == {"start", "end", "breakdown", "filters", "exported_at", "record_count", "totals"}
    assert (meta["start"], meta["end"], meta["breakdown"]) == (str(START), str(END), by)
    assert meta["record_count"] == len(doc["data"]) == len(rows)
    assert set(meta["totals"]) == set(ROW_METRICS)
    for m in ("requests", "total_tokens", "failed_requests"):
        assert meta["totals"][m] == sum(r[m] for r in doc["data"])
    assert meta["totals"]["spend"] == pytest.approx(sum(r["spend"] for r in doc["data"]), abs=1e-6)
    assert [r[m] for r in doc["data"] for m in ("requests",)] == [int(r["requests"]) for r in rows]


def test_totals_and_breakdowns_equal_what_litellm_reports(env, litellm):
    doc = export(env, by="provider")
    assert doc["metadata"]["totals"]["requests"] == litellm["api_requests"].sum()
    assert doc["metadata"]["totals"]["spend"] == pytest.approx(litellm["spend"].sum(), abs=1e-6)
    want = litellm.groupby("custom_llm_provider")["api_requests"].sum().to_dict()
    assert {r["provider"]: r["requests"] for r in doc["data"]} == want
    by_model = export(env, by="model")
    assert {r["model"]: r["requests"] for r in by_model["data"]} == litellm.groupby("model")[
        "api_requests"
    ].sum().to_dict()


@pytest.mark.parametrize(
    "args, columns",
    [
        (["--provider", "anthropic"], {"custom_llm_provider": ["anthropic"]}),
        (["--provider", "anthropic", "--provider", "mistral"], {"custom_llm_provider": ["anthropic", "mistral"]}),
        (["--model", "openai/gpt-4o", "--team", "team-data"], {"model": ["openai/gpt-4o"], "team_id": ["team-data"]}),
        (["--user", "alice.martin"], {"user_id": ["alice.martin"]}),
    ],
)
def test_every_filter_is_honoured(env, litellm, args, columns):
    doc = export(env, *args, by="daily")
    d = litellm
    for column, values in columns.items():
        d = d[d[column].isin(values)]
    assert doc["metadata"]["totals"]["requests"] == d["api_requests"].sum() > 0
    per_day = d.groupby("date")["api_requests"].sum()
    assert {r["date"]: r["requests"] for r in doc["data"] if r["requests"]} == {str(k): v for k, v in per_day.items()}
    flags = dict(zip(args[::2], args[1::2]))
    assert doc["metadata"]["filters"][
        {"--provider": "providers", "--model": "models", "--user": "users", "--team": "teams"}[next(iter(flags))]
    ]


def test_api_key_by_alias_or_hash_selects_the_same_key(env, litellm):
    key = litellm.groupby("api_key")["api_requests"].sum().idxmax()
    alias = litellm.loc[litellm["api_key"] == key, "key_alias"].iloc[0]
    by_hash, by_alias = export(env, "--api-key", key, by="model"), export(env, "--api-key", alias, by="model")
    assert by_hash["data"] == by_alias["data"]
    assert by_hash["metadata"]["totals"]["requests"] == litellm.loc[litellm["api_key"] == key, "api_requests"].sum()


def test_output_file_and_no_secrets(env, tmp_path):
    out = tmp_path / "keys.csv"
    r = cli(
        env,
        "export",
        "--start",
        str(START),
        "--end",
        str(END),
        "--breakdown",
        "api_key",
        "--format",
        "csv",
        "--output",
        str(out),
    )
    assert r.returncode == 0 and r.stdout == ""
    stdout = cli(env, "export", "--start", str(START), "--end", str(END), "--breakdown", "api_key", "--format", "csv")
    assert out.read_text() == stdout.stdout
    assert "sk-" not in out.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--breakdown", "region"], "invalid choice"),
        (["--start", "2026-02-30"], "date"),
        (["--start", str(END), "--end", str(START)], "after"),
        (["--format", "xml"], "invalid choice"),
        (["--api-key", "no-such-alias"], "no-such-alias"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_clear_line(env, args, message):
    base = {"--start": str(START), "--end": str(END), "--breakdown": "model", "--format": "csv"}
    flags = dict(base)
    extra = []
    for k, v in zip(args[::2], args[1::2]):
        if k in flags:
            flags[k] = v
        else:
            extra += [k, v]
    r = cli(env, "export", *[x for kv in flags.items() for x in kv], *extra)
    assert r.returncode != 0 and r.stdout == ""
    assert message in r.stderr and "Traceback" not in r.stderr


def test_exports_succeed_while_another_process_rebuilds_the_store(env):
    rebuild = subprocess.Popen(
        [sys.executable, "-m", "lib.cli", "backfill", "--start", str(START), "--end", str(END), "--force"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = 0
    try:
        while rebuild.poll() is None or seen == 0:
            doc = export(env, by="provider")
            assert doc["metadata"]["totals"]["requests"] == sum(r["requests"] for r in doc["data"])
            seen += 1
            time.sleep(0.05)
    finally:
        out, err = rebuild.communicate(timeout=300)
    assert rebuild.returncode == 0, err
    assert json.loads(out)["days_fetched"] == (END - START).days + 1
    assert seen >= 1


# -- spreadsheet formulas ----------------------------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
FORMULA_DAY = date(2026, 11, 2)


def _formula_page() -> dict:
    """One LiteLLM day where every key's alias, owner and team is a formula; the first key's spend is a
    negative correction (a refund), which must stay a number."""
    keys, users = {}, {}
    for i, text in enumerate(FORMULAS):
        m = {"spend": -0.25 if i == 0 else 0.5 * i, "api_requests": 2, "successful_requests": 2, "total_tokens": 40}
        keys[f"{i:x}" * 64] = {
            "metrics": m,
            "metadata": {"key_alias": text, "team_id": text, "user_id": text, "user_email": None},
        }
        users[text] = {"metrics": m, "api_key_breakdown": {f"{i:x}" * 64: keys[f"{i:x}" * 64]}}
    total = {
        m: sum(k["metrics"][m] for k in keys.values())
        for m in ("spend", "api_requests", "successful_requests", "total_tokens")
    }
    entry = {"metrics": total, "api_key_breakdown": keys}
    return {
        "results": [
            {
                "date": FORMULA_DAY.isoformat(),
                "metrics": total,
                "breakdown": {
                    "models": {"openai/gpt-4o": entry},
                    "providers": {"openai": entry},
                    "api_keys": keys,
                    "entities": users,
                },
            }
        ],
        "metadata": {"page": 1, "total_pages": 1, "has_more": False},
    }


@pytest.fixture(scope="module")
def formula_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formulas")
    e = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    e.update(
        {
            "DUCKDB_PATH": str(tmp / "usage.duckdb"),
            "DATABASE_URL": f"sqlite:///{tmp}/app.db",
            "LITELLM_BASE_URL": "",
            "BACKGROUND_SERVICES": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    store_dir = Settings(DUCKDB_PATH=e["DUCKDB_PATH"]).store_dir
    UsageStore.writer(store_dir).replace_days(
        merge_pages([json.dumps(_formula_page()).encode()]), {FORMULA_DAY: "complete"}, datetime.now(timezone.utc)
    )
    return e, store_dir


@pytest.mark.parametrize(
    "by, column",
    [("api_key", "key_alias"), ("api_key", "owner"), ("api_key", "team"), ("user", "user_id"), ("team", "team")],
)
def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(formula_env, tmp_path, by, column):
    env, store_dir = formula_env
    args = ["--breakdown", by, "--start", str(FORMULA_DAY), "--end", str(FORMULA_DAY)]
    r = cli(env, "export", *args, "--format", "csv", "--output", str(tmp_path / "export.csv"))
    assert r.returncode == 0, r.stderr
    store = UsageStore(store_dir)
    try:  # what the page's download button builds
        page = render_export(store, FORMULA_DAY, FORMULA_DAY, by, Filters(), "csv")
    finally:
        store.close()
    with open(tmp_path / "export.csv", newline="") as written:  # as written: a CR stays a CR
        cron = written.read()
    for text in (cron, page):
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert sorted(row[column] for row in rows) == sorted("'" + f for f in FORMULAS)
        spend = {row[column]: row["spend"] for row in rows}
        assert float(spend["'" + FORMULAS[0]]) == -0.25  # a negative correction stays a number
    doc = json.loads(cli(env, "export", *args, "--format", "json").stdout)  # JSON stays exact
    assert sorted(row[column] for row in doc["data"]) == sorted(FORMULAS)
