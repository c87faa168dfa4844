"""pytest plugin: a throwaway PostgreSQL server for the app-database tests.

Mandatory when CI=true (missing binaries fail the run); elsewhere the PostgreSQL cases skip with the reason.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest


def _pg_bin() -> str | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin")) if Path("/usr/lib/postgresql").exists() else []
    if versions:
        return str(versions[-1])
    found = shutil.which("initdb")
    return str(Path(found).parent) if found else None


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """Start initdb/pg_ctl on a free loopback port; yields a base URL (without database)."""
    pg_bin = _pg_bin()
    if not pg_bin:
        _missing("initdb not found")
    root = tmp_path_factory.mktemp("pg")
    as_postgres: list[str] = []
    if os.geteuid() == 0:     # initdb refuses root: run as the postgres user, like ../shared/litellm/up.sh
        if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "-r", "-M", "postgres"], check=True)
        os.chmod(root, 0o777)
        for parent in root.parents:
            if str(parent) in ("/", "/tmp"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o711)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    data = root / "data"
    run = lambda *cmd: subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, timeout=120)  # noqa: E731
    try:
        run(f"{pg_bin}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        # a throwaway server: durability off makes CREATE DATABASE and commits fast
        run(f"{pg_bin}/pg_ctl", "-D", str(data), "-l", str(root / "pg.log"), "-w", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            f"-c full_page_writes=off -c max_connections=200", "start")
    except subprocess.CalledProcessError as exc:
        _missing(f"could not start: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_postgres, f"{pg_bin}/pg_ctl", "-D", str(data), "-m", "fast", "stop"], capture_output=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the throwaway server (its pooled connections are closed afterwards)."""
    import psycopg

    from lib import appdb
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{pg_server}/{name}"
    yield url
    engine = appdb._engines.pop(url, None)
    if engine is not None:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_db_url(request, tmp_path):
    """The app database on SQLite and on PostgreSQL: tests using it run on both."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_url")
        return
    from lib import appdb
    url = f"sqlite:///{tmp_path}/app.db"
    yield url
    engine = appdb._engines.pop(url, None)
    if engine is not None:
        engine.dispose()
