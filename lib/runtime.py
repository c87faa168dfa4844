"""The one object a process holds: settings, the app database, the usage store, the LiteLLM client factory, the
background scheduler and the state its jobs share (the backfill's progress, today's rows read from LiteLLM's
database), the console's metrics and the HTTP endpoints that serve them (/healthz, /readyz, /metrics), the kept
snapshot of LiteLLM's virtual keys (lib.keys.snapshot), and the settings in effect (the deployment's, with the
values an admin saved in the console: lib.console_settings).

Built once per process: by app.py (through `st.cache_resource`, lib/ui/runtime.py), by the CLI's `main()`, and
by a fixture in tests, which build their own from explicit settings. Nothing else keeps process state: pages and
jobs receive the runtime. It sits above the domains it wires together (lib.core, lib.auth, lib.litellm,
lib.usage, lib.catalog, lib.health, lib.keys, lib.providers, lib.console_settings) and below lib.ui and lib.cli.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import httpx
from sqlalchemy.engine import Engine

from lib.appdb import open_app_database
from lib.budgets.litellm_limits import OwnerSnapshots
from lib.console_settings.effective import effective_settings
from lib.console_settings.saved import saved_values
from lib.core.settings import Settings, load_settings
from lib.health.endpoints import ConsoleEndpoints
from lib.health.metrics import ConsoleMetrics
from lib.health.readiness import Readiness, readiness
from lib.keys.snapshot import KeySnapshots
from lib.litellm.client import LiteLLMClient
from lib.services import JOB_OF_SCHEDULED, build_scheduler, recover_interrupted_work, reschedule_intervals
from lib.usage.database_source import TodayRows
from lib.usage.store import UsageStore

log = logging.getLogger(__name__)


@dataclass
class BackfillProgress:
    """How far the running backfill is (pages show it while the history loads)."""

    running: bool = False
    done_days: int = 0
    total_days: int = 0
    started_at: datetime | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        return self.done_days / self.total_days if self.total_days else 1.0


class Runtime:
    """`store_mode`: "serve" (the app: the store's data loaded in memory for queries) or "write" (the CLI's
    backfill and refresh: days written without loading them; the app's process serves)."""

    def __init__(
        self,
        settings: Settings,
        store_mode: Literal["serve", "write"] = "serve",
        environ: Mapping[str, str] | None = None,
    ):
        self.base_settings = settings  # the deployment's: environment and secrets.toml
        self.environ = os.environ if environ is None else environ  # tells the environment's settings apart
        self._settings = settings  # in effect: with the values saved in the console (reload_settings)
        self._setting_sources: dict[str, str] | None = None
        self.store_mode = store_mode
        self.backfill_progress = BackfillProgress()
        self.litellm_today_rows = TodayRows()  # today's rows of LiteLLM's database, so a refresh reads what changed
        self._lock = threading.RLock()
        # not _lock: generating the demo takes seconds, opening the database none; re-entrant: restoring the console's
        # providers onto a new demo proxy asks for a client of that proxy while the lock is held
        self._demo_lock = threading.RLock()
        self._engine: Engine | None = None
        self._store: UsageStore | None = None
        self._scheduler = None
        self._endpoints: ConsoleEndpoints | None = None
        self._usage_preload: threading.Thread | None = None
        self._demo: tuple[date, httpx.MockTransport] | None = None
        self.metrics = ConsoleMetrics(self)  # its own registry: two runtimes (tests) never share counters
        self._key_snapshots: KeySnapshots | None = None
        self._owner_snapshots: OwnerSnapshots | None = None

    # Opened on first use, so a command that needs neither (an export, a configuration test) works without them.
    # -- settings -----------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings in effect: the deployment's, with the values saved in the console where it set none."""
        return self._settings

    @property
    def setting_sources(self) -> dict[str, str]:
        """Where each setting in effect comes from (lib.console_settings.effective.Source)."""
        if self._setting_sources is None:
            self._setting_sources = effective_settings(self.base_settings, {}, self.environ)[1]
        return self._setting_sources

    def reload_settings(self) -> Settings:
        """Read the values saved in the console and put them in effect now: the scheduler's interval jobs and the
        keys' snapshot follow a changed interval (no restart)."""
        settings, sources = effective_settings(self.base_settings, saved_values(self.engine), self.environ)
        with self._lock:
            before, self._settings, self._setting_sources = self._settings, settings, sources
            if self._scheduler is not None:
                reschedule_intervals(self._scheduler, before, settings)
            for kept in (self._key_snapshots, self._owner_snapshots):
                if kept is not None:
                    kept.max_age = timedelta(minutes=settings.KEYS_CACHE_MINUTES)
        return settings

    def load_saved_settings(self) -> None:
        """reload_settings at start: an unreadable app database is logged, the deployment's settings stay."""
        try:
            self.reload_settings()
        except Exception:
            log.exception("could not read the settings saved in the console; using the deployment's")

    @property
    def engine(self) -> Engine:
        """The app database, its schema brought up to date."""
        with self._lock:
            if self._engine is None:
                self._engine = open_app_database(self.settings.DATABASE_URL)
            return self._engine

    @property
    def store(self) -> UsageStore:
        with self._lock:
            if self._store is None:
                d = self.settings.store_dir
                self._store = UsageStore(d) if self.store_mode == "serve" else UsageStore.writer(d)
            return self._store

    @property
    def key_snapshots(self) -> KeySnapshots:
        """LiteLLM's keys, read once and kept (the Virtual keys page): no page load downloads thousands of keys."""
        with self._lock:
            if self._key_snapshots is None:
                self._key_snapshots = KeySnapshots(timedelta(minutes=self.settings.KEYS_CACHE_MINUTES))
            return self._key_snapshots

    @property
    def owner_snapshots(self) -> OwnerSnapshots:
        """LiteLLM's users and teams, read once and kept as the keys are (the Budgets page's LiteLLM limits)."""
        with self._lock:
            if self._owner_snapshots is None:
                self._owner_snapshots = OwnerSnapshots(timedelta(minutes=self.settings.KEYS_CACHE_MINUTES))
            return self._owner_snapshots

    @classmethod
    def from_environment(cls, **kwargs) -> Runtime:
        return cls(load_settings(), **kwargs)

    # -- LiteLLM ----------------------------------------------------------------------------------------
    def litellm_client(self, *, timeout_s: float | None = None, retries: int | None = None) -> LiteLLMClient:
        """A new client (callers close it); in demo mode over the embedded fake LiteLLM of today's date. Its
        requests are measured in this runtime's metrics. `timeout_s`, `retries`: other than the settings' (the
        health checks probe briefly and never retry)."""
        s = self.settings
        options = {"timeout_s": timeout_s or s.LITELLM_TIMEOUT_S, "observer": self.metrics.observe_litellm_request}
        if retries is not None:
            options["retries"] = retries
        if s.demo_mode:
            return LiteLLMClient("http://demo.litellm.local", "sk-demo", transport=self._demo_transport(), **options)
        return LiteLLMClient(s.LITELLM_BASE_URL, s.LITELLM_API_KEY, **options)

    def _demo_transport(self) -> httpx.MockTransport:
        from lib.litellm.demo import demo_transport

        today = datetime.now(timezone.utc).date()
        with self._demo_lock:  # the demo's history is generated once per day (a few seconds)
            if self._demo is None or self._demo[0] != today:
                self._demo = (today, demo_transport(seed=self.settings.DEMO_SEED, today=today))
                self._restore_demo_providers()
            return self._demo[1]

    def _restore_demo_providers(self) -> None:
        """A new demo proxy (a restart, a new day) has none of the console's providers: apply them to it, before
        anyone else uses it (the runtime's lock is held). A demo proxy: a failure is logged, not raised."""
        from lib.providers.service import restore_litellm

        try:
            restore_litellm(self)
        except Exception:
            log.exception("could not apply the console's providers to the demo LiteLLM")

    def demo_litellm(self):
        """Demo mode's fake proxy itself (tests compare against the rows it serves)."""
        return self._demo_transport().handler.__self__

    # -- background services ----------------------------------------------------------------------------
    def start_background_services(self):
        """Start the process's one scheduler (idempotent): startup backfill, then refresh and sync on intervals;
        and the console's endpoints (/healthz, /readyz, /metrics on METRICS_PORT)."""
        with self._lock:
            if self._scheduler is None:
                try:
                    recover_interrupted_work(self.engine, self.store)
                except Exception:  # the app still starts; the next start (or freshness) tries again
                    log.exception("could not clean up after interrupted work")
                self.load_saved_settings()
                self._scheduler = build_scheduler(self)
                self._scheduler.start()
                self.start_console_endpoints()
            return self._scheduler

    def preload_usage(self) -> None:
        """Load the stored usage into memory now, in the background, once per process (the app, at its first run):
        otherwise the first page that reads it loads it, and the first user after a restart waits for it."""
        with self._lock:
            if self._usage_preload is not None or self.store_mode != "serve":
                return
            self._usage_preload = threading.Thread(target=self._preload_usage, name="usage-preload", daemon=True)
            self._usage_preload.start()

    def _preload_usage(self) -> None:
        try:
            self.store.sync()  # a page reading meanwhile waits for this load instead of starting its own
        except Exception:  # the page's own read tries again, and reports what is wrong
            log.exception("could not load the stored usage into memory")

    def start_console_endpoints(self) -> ConsoleEndpoints | None:
        """Serve /healthz, /readyz and /metrics on METRICS_PORT (0: not served), once per process: a port in use
        is logged once and the app runs on without them. Also for an app whose background services are off."""
        with self._lock:
            if self._endpoints is None and self.settings.METRICS_PORT:
                self._endpoints = ConsoleEndpoints(self.settings.METRICS_PORT, self.metrics, self.readiness)
                self._endpoints.start()
            return self._endpoints

    def stop_background_services(self) -> None:
        with self._lock:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
                self._scheduler = None
            if self._endpoints is not None:
                self._endpoints.stop()
                self._endpoints = None

    def next_runs(self) -> dict[str, datetime | None] | None:
        """When this process's scheduler runs each recorded job next (lib.core.jobs names), or None when this
        process runs no scheduler (the CLI; an app with background services off)."""
        with self._lock:
            if self._scheduler is None:
                return None
            return {JOB_OF_SCHEDULED.get(j.id, j.id): j.next_run_time for j in self._scheduler.get_jobs()}

    def readiness(self) -> Readiness:
        """What /readyz answers: the app database, the usage store and LiteLLM each reachable."""
        return readiness(self)

    def close(self) -> None:
        self.stop_background_services()
        if self._usage_preload is not None:
            self._usage_preload.join()  # not closing the store under a load
        if self._store is not None:
            self._store.close()
        if self._engine is not None:
            self._engine.dispose()
