"""Every command line argument, given a bad value, gets one line on stderr and exit 2, and changes nothing.

The CLI runs as a subprocess, as cron or an operator runs it, over a store and app database already holding
data; after each bad command both are byte for byte (store files) and row for row (database) as before.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lib.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.now(timezone.utc).date()
DAY = str(TODAY - timedelta(days=2))
EXPORT = ["export", "--start", DAY, "--end", DAY, "--breakdown", "model"]
PROBE = ["test-config", "--api-base", "http://127.0.0.1:9/v1", "--api-key", "sk-x", "--model", "m"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-input")
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
    assert cli(e, "backfill", "--start", DAY, "--end", DAY).returncode == 0
    assert (
        cli(
            e, "create-user", "--username", "ops", "--role", "admin", "--password-stdin", stdin=b"a-long-password\n"
        ).returncode
        == 0
    )
    (tmp / "a-directory").mkdir()
    e["TMP"] = str(tmp)
    return e


def cli(env: dict, *args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=300
    )


def stored_state(env: dict) -> tuple[dict, list[str]]:
    """The store's files (name -> digest) and every row of the app database."""
    tmp = Path(env["TMP"])
    files = {
        str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((tmp / "usage").rglob("*"))
        if p.is_file() and p.name != "write.lock"
    }
    with sqlite3.connect(tmp / "app.db") as db:
        rows = list(db.iterdump())
    return files, rows


TOO_EARLY, TOO_LATE = "2019-12-31", str(TODAY + timedelta(days=2))
BAD = {
    "backfill far future (overflow)": ["backfill", "--start", "9999-12-30", "--end", "9999-12-31"],
    "backfill year 1": ["backfill", "--start", "0001-01-01", "--end", "0001-01-02"],
    "backfill year 1900": ["backfill", "--start", "1900-01-01", "--end", "1900-01-01"],
    "backfill before 2020": ["backfill", "--start", TOO_EARLY, "--end", DAY],
    "backfill after tomorrow": ["backfill", "--start", DAY, "--end", TOO_LATE],
    "backfill empty date": ["backfill", "--start", "", "--end", DAY],
    "backfill huge year": ["backfill", "--start", "99999999-01-01", "--end", DAY],
    "export far future": ["export", "--start", "9999-12-30", "--end", "9999-12-31", "--breakdown", "model"],
    "export year 1900": ["export", "--start", "1900-01-01", "--end", DAY, "--breakdown", "model"],
    "export into a missing folder": [*EXPORT, "--output", "/nonexistent/dir/f.csv"],
    "export onto a directory": [*EXPORT, "--output", "{TMP}/a-directory"],
    "export under a file": [*EXPORT, "--output", "/etc/hostname/f.csv"],
    "export empty output": [*EXPORT, "--output", ""],
    "export empty model": [*EXPORT, "--model", ""],
    "export blank user": [*EXPORT, "--user", "   "],
    "export non-UTF-8 team": [*EXPORT, "--team", b"team-\xff\xfe"],
    "create-user empty username": ["create-user", "--username", "", "--role", "admin", "--password-stdin"],
    "create-user huge name": [
        "create-user",
        "--username",
        "eve",
        "--role",
        "user",
        "--name",
        "n" * 100_000,
        "--password-stdin",
    ],
    "create-user empty email": [
        "create-user",
        "--username",
        "eve",
        "--role",
        "user",
        "--email",
        "",
        "--password-stdin",
    ],
    "disable-user empty username": ["disable-user", "--username", ""],
    "set-password empty username": ["set-password", "--username", "", "--password-stdin"],
    "test-config empty api base": ["test-config", "--api-base", "", "--api-key", "sk-x", "--model", "m"],
    "test-config empty model": [*PROBE[:-1], ""],
    "test-config empty key variable": [
        "test-config",
        "--api-base",
        "http://127.0.0.1:9/v1",
        "--api-key-env",
        "",
        "--model",
        "m",
    ],
    "test-config huge timeout": [*PROBE, "--timeout", "1e309"],
    "sync-models NaN wait": ["sync-models", "--wait", "nan"],
    "sync-models infinite wait": ["sync-models", "--wait", "inf"],
    "sync-models huge wait": ["sync-models", "--wait", "1e300"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_argument_gets_one_line_exit_2_and_changes_nothing(env, case):
    args = [a.replace("{TMP}", env["TMP"]) if isinstance(a, str) else a for a in BAD[case]]
    before = stored_state(env)
    r = cli(env, *args, stdin=b"a-long-password\n")
    err = r.stderr.decode("utf-8", "backslashreplace")
    assert r.returncode == 2, (r.returncode, err)
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert r.stdout == b""
    assert stored_state(env) == before


def test_the_date_window_names_its_limits(env):
    r = cli(env, "backfill", "--start", "1900-01-01", "--end", DAY)
    assert r.stderr.decode().strip() == (
        f"error: argument --start: 1900-01-01 is outside the dates this console "
        f"keeps (2020-01-01 to {TODAY + timedelta(days=1)}, UTC)"
    )
