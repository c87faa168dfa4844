"""The console's own Prometheus metrics, in a registry the runtime owns (no module-global registry).

Two kinds:
- measured in this process as it works: LiteLLM requests (latency, errors, by endpoint: the client reports each
  HTTP attempt to `observe_litellm_request`) and page render times (`page_rendered`, from lib/ui/navigation);
- read at each scrape from what the console recorded, so they count the CLI's and cron's work too and survive
  restarts: job runs (refresh, backfill, model sync) with their outcomes, durations and rows, the last successful
  refresh, logins by outcome and exports by format (the audit log), open sessions, the usage store's days.

Every name and its meaning is listed in README.md ("Health and metrics").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from sqlalchemy import extract, func, literal_column, select

from lib.auth.accounts import sessions
from lib.auth.audit import audit_log
from lib.core.clock import utcnow
from lib.core.jobs import freshness, job_runs

log = logging.getLogger(__name__)
PREFIX = "litellm_console_"
INGEST_JOBS = ("refresh_today", "backfill")  # the jobs whose rows are usage rows written to the store
# LiteLLM answers in ms to minutes (a backfill page of 1000 rows); a page in tens of ms to tens of seconds
LITELLM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
PAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)


class ConsoleMetrics:
    """`rt`: the runtime whose app database and usage store the scrape-time metrics read."""

    def __init__(self, rt):
        self.registry = CollectorRegistry()
        self.litellm_request_seconds = Histogram(
            PREFIX + "litellm_request_duration_seconds",
            "Time of each HTTP request to LiteLLM (each try), by endpoint path",
            ["endpoint"],
            buckets=LITELLM_BUCKETS,
            registry=self.registry,
        )
        self.litellm_request_errors = Counter(
            PREFIX + "litellm_request_errors",
            "Failed HTTP requests to LiteLLM (each try), by endpoint path and kind: "
            "unreachable, timeout, auth, http_4xx, http_5xx",
            ["endpoint", "kind"],
            registry=self.registry,
        )
        self.page_render_seconds = Histogram(
            PREFIX + "page_render_seconds",
            "Time to run a page's script, by page",
            ["page"],
            buckets=PAGE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(RecordedState(rt))

    def observe_litellm_request(self, endpoint: str, seconds: float, error: str | None) -> None:
        """The LiteLLM client's observer (lib.litellm.client.RequestObserver)."""
        self.litellm_request_seconds.labels(endpoint).observe(seconds)
        if error:
            self.litellm_request_errors.labels(endpoint, error).inc()

    def page_rendered(self, page: str, seconds: float) -> None:
        self.page_render_seconds.labels(page).observe(seconds)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (Prometheus text, or OpenMetrics): body, content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class RecordedState:
    """A collector reading the app database and the usage store at each scrape. A source that cannot be read
    is reported as `litellm_console_source_up{source=...} 0` and its metrics are left out of that scrape."""

    def __init__(self, rt):
        self._rt = rt

    def describe(self) -> list[Metric]:
        return []  # nothing is read at registration: the database may not be up yet

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            PREFIX + "source_up", "Whether a scrape could read the source (1) or not (0)", None, ["source"]
        )
        for source, read in (("app_database", self._from_app_database), ("usage_store", self._from_usage_store)):
            try:
                families = list(read())
            except Exception as exc:
                log.warning("metrics: cannot read the %s (%s)", source, type(exc).__name__)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _from_app_database(self) -> Iterator[Metric]:
        engine = self._rt.engine
        finished_seconds = _seconds(job_runs.c.started_at, job_runs.c.finished_at, engine.dialect.name)
        with engine.connect() as conn:
            runs = conn.execute(
                select(
                    job_runs.c.job,
                    job_runs.c.status,
                    func.count(),
                    func.coalesce(func.sum(job_runs.c.rows), 0),
                    func.count(job_runs.c.finished_at),
                    func.coalesce(func.sum(finished_seconds), 0.0),
                ).group_by(job_runs.c.job, job_runs.c.status)
            ).all()
            logins = conn.execute(
                select(audit_log.c.outcome, func.count())
                .where(audit_log.c.action == "login")
                .group_by(audit_log.c.outcome)
            ).all()
            export_format = audit_log.c.details["format"].as_string()
            exports = conn.execute(
                select(audit_log.c.action, export_format, func.count())
                .where(audit_log.c.action.like("%.export"), audit_log.c.outcome == "success")
                .group_by(audit_log.c.action, export_format)
            ).all()
            open_sessions = conn.execute(
                select(func.count())
                .select_from(sessions)
                .where(sessions.c.revoked_at.is_(None), sessions.c.cookie_exp > utcnow().timestamp())
            ).scalar()
        yield from _job_families(runs)
        refreshed = freshness(engine)["refreshed_at"]
        last = GaugeMetricFamily(
            PREFIX + "last_successful_refresh_timestamp_seconds",
            "When usage data was last fetched from LiteLLM successfully (a refresh or a backfill), Unix time",
        )
        if refreshed is not None:
            last.add_metric([], refreshed.timestamp())
        yield last
        login = CounterMetricFamily(
            PREFIX + "logins", "Login attempts by outcome: success, failure, locked (the audit log)", labels=["outcome"]
        )
        for outcome in ("success", "failure", "locked"):  # always present, so a rate works from the first one
            login.add_metric([outcome], dict(logins).get(outcome, 0))
        yield login
        counted: dict[tuple[str, str], int] = {}
        for action, fmt, n in exports:
            kind = action.removesuffix(".export")
            key = (kind, fmt or ("csv" if kind == "audit" else "unknown"))  # the audit log downloads CSV only
            counted[key] = counted.get(key, 0) + n
        export = CounterMetricFamily(
            PREFIX + "exports",
            "Downloads and exports by what (usage, audit, logs) and format",
            labels=["kind", "format"],
        )
        for (kind, fmt), n in sorted(counted.items()):
            export.add_metric([kind, fmt], n)
        yield export
        yield GaugeMetricFamily(
            PREFIX + "active_sessions", "Open login sessions (not logged out, not expired)", open_sessions
        )

    def _from_usage_store(self) -> Iterator[Metric]:
        states = self._rt.store.day_states()
        days = GaugeMetricFamily(PREFIX + "usage_days_stored", "Days in the usage store by status", labels=["status"])
        for status in ("complete", "partial"):
            days.add_metric([status], sum(1 for s in states.values() if s.status == status))
        yield days


def _job_families(runs) -> Iterator[Metric]:
    total = CounterMetricFamily(
        PREFIX + "job_runs",
        "Background job runs (refresh_today, backfill, model_sync) by outcome: running, success, failed, "
        "interrupted, abandoned",
        labels=["job", "status"],
    )
    duration = SummaryMetricFamily(
        PREFIX + "job_duration_seconds", "Duration of finished job runs, by job", labels=["job"]
    )
    ingested = CounterMetricFamily(
        PREFIX + "rows_ingested", "Usage rows written to the store by refreshes and backfills", labels=["job"]
    )
    by_job: dict[str, list[float]] = {}
    rows: dict[str, int] = dict.fromkeys(INGEST_JOBS, 0)
    for job, status, n, row_sum, finished, seconds in runs:
        total.add_metric([job, status], n)
        agg = by_job.setdefault(job, [0, 0.0])
        agg[0] += finished
        agg[1] += float(seconds)
        if job in rows:
            rows[job] += int(row_sum)
    for job, (count, seconds) in sorted(by_job.items()):
        duration.add_metric([job], count_value=count, sum_value=seconds)
    for job, n in rows.items():
        ingested.add_metric([job], n)
    return iter((total, duration, ingested))


def _seconds(start, end, dialect: str):
    """SQL for end - start in seconds (NULL while a run has not finished)."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")
    return extract("epoch", end - start)
