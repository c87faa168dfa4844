"""A throwaway PostgreSQL server: `PostgresServer` (also the benchmark's), and the pytest plugin of the
app-database tests (`pg_server`, `pg_url`, `app_db_url`).

The fixtures are mandatory when CI=true (missing binaries fail the run); elsewhere the PostgreSQL cases skip
with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.ports import free_port

# durability off: a throwaway server's commits, CREATE DATABASE and loads need not survive a crash
THROWAWAY_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start; the message says which."""


def pg_bin() -> str | None:
    """The folder of the newest installed PostgreSQL's initdb and pg_ctl (Debian's layout, else PATH)."""
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if p.parent.name.isdigit()), key=lambda p: int(p.parent.name))
    if versions:
        return str(versions[-1])
    found = shutil.which("initdb")
    return str(Path(found).resolve().parent) if found else None


class PostgresServer:
    """initdb in `root` and pg_ctl on a free loopback port, trusting local connections as user postgres.

    As root it runs as the postgres user (initdb refuses root), like ../shared/litellm/up.sh. `options` are
    added to the server's command line (`-c name=value ...`)."""

    def __init__(self, root: Path, options: str = ""):
        self.root = Path(root)
        self.options = options
        self.bin = pg_bin()
        self.port: int | None = None
        self._as_postgres: list[str] = []

    def start(self) -> None:
        if not self.bin:
            raise PostgresUnavailable("initdb not found")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "-r", "-M", "postgres"], check=True)
            os.chmod(self.root, 0o777)
            for parent in self.root.parents:  # the postgres user must reach the folder (pytest's are 0700)
                if str(parent) in ("/", "/tmp"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o711)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        data = self.root / "data"
        try:
            self._run(
                f"{self.bin}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
            )
            self._run(
                f"{self.bin}/pg_ctl",
                "-D",
                str(data),
                "-l",
                str(self.root / "pg.log"),
                "-w",
                "-o",
                f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 {THROWAWAY_OPTIONS} {self.options}",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailable(f"could not start: {exc.stderr.decode(errors='replace')[-500:]}") from None
        self.port = port

    def url(self, driver: str = "") -> str:
        """The server's URL without a database: `postgresql://...`, or `postgresql+DRIVER://...` for SQLAlchemy."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the server if it runs (a fast shutdown); its files stay in `root` for the owner to remove."""
        if self.port is not None:
            subprocess.run(
                [*self._as_postgres, f"{self.bin}/pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "stop"],
                capture_output=True,
                timeout=300,
            )
            self.port = None

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self._as_postgres, *cmd], check=True, capture_output=True, timeout=300)


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A server for the session; yields its SQLAlchemy base URL (without database)."""
    server = PostgresServer(tmp_path_factory.mktemp("pg"), options="-c max_connections=200")
    try:
        server.start()
    except PostgresUnavailable as exc:
        _missing(str(exc))
    try:
        yield server.url("psycopg")
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the throwaway server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{pg_server}/{name}"
    yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_db_url(request, tmp_path):
    """The app database on SQLite and on PostgreSQL: tests using it run on both."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_url")
        return
    url = f"sqlite:///{tmp_path}/app.db"
    yield url
