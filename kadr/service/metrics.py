"""Prometheus metrics of one service instance (its own registry: nothing global).

Counters and histograms are updated where things happen; queue depth, worker state, open event
streams and what /healthz reports are read when /metrics is scraped.

Every label takes its values from a fixed set, so no client can grow the registry: HTTP methods outside
:data:`HTTP_METHODS` count as ``OTHER`` and requests that match no route as ``<unmatched>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kadr.service.jobs import STATUSES
from kadr.service.workers import PoolStats

if TYPE_CHECKING:
    from kadr.service.health import HealthReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
UNMATCHED_ROUTE = "<unmatched>"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_GENERATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def method_label(method: str) -> str:
    """The ``method`` label: the method itself if it is a standard one, else ``OTHER``."""
    return method if method in HTTP_METHODS else OTHER_METHOD


class _LiveState(Collector):
    """Gauges computed at scrape time."""

    def __init__(self, job_counts: Callable[[], dict[str, int]], pool: Callable[[], PoolStats | None],
                 streams: Callable[[], int], health: "Callable[[], HealthReport] | None" = None) -> None:
        self.job_counts = job_counts
        self.pool = pool
        self.streams = streams
        self.health = health

    def collect(self) -> Iterable[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("kadr_jobs", "Jobs in the store by status", labels=["status"])
        counts = self.job_counts()
        for status in STATUSES:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        stats = self.pool()
        if stats is not None:
            workers = GaugeMetricFamily("kadr_workers", "Worker processes by state", labels=["state"])
            workers.add_metric(["total"], stats.total)
            workers.add_metric(["ready"], stats.ready)
            workers.add_metric(["busy"], stats.busy)
            yield workers
        yield GaugeMetricFamily("kadr_event_streams", "Open Server-Sent Events streams", value=self.streams())
        if self.health is not None:
            yield from _health_gauges(self.health())


def _health_gauges(report: "HealthReport") -> Iterable[GaugeMetricFamily]:
    from kadr.service.health import CHECKS, DISKS, HEALTH_STATUSES

    status = GaugeMetricFamily("kadr_health_status", "What /healthz reports: 1 for the current status",
                               labels=["status"])
    for name in HEALTH_STATUSES:
        status.add_metric([name], 1.0 if report.status == name else 0.0)
    yield status
    checks = GaugeMetricFamily("kadr_health_check", "Health checks: 1 passing, 0 failing (see /healthz reasons)",
                               labels=["check"])
    results = {c.name: c.ok for c in report.checks}
    for name in CHECKS:
        if name in results:
            checks.add_metric([name], 1.0 if results[name] else 0.0)
    yield checks
    free = GaugeMetricFamily("kadr_disk_free_bytes", "Free bytes on the disk of the data folder and of the SQLite store",
                             labels=["disk"])
    for name in DISKS:
        if name in report.disk_free:
            free.add_metric([name], float(report.disk_free[name]))
    yield free


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("kadr_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.http_latency = Histogram("kadr_http_request_duration_seconds", "Time to answer an HTTP request "
                                      "(event streams excluded)", ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.jobs_submitted = Counter("kadr_jobs_submitted", "Jobs accepted", ["tier", "model"], registry=r)
        self.jobs_refused = Counter("kadr_jobs_refused", "Submissions refused by a plan limit", ["limit"], registry=r)
        self.jobs_finished = Counter("kadr_jobs_finished", "Jobs that ended", ["status"], registry=r)
        self.jobs_requeued = Counter("kadr_jobs_requeued", "Jobs put back in the queue after a crash", registry=r)
        self.generation_seconds = Histogram("kadr_generation_seconds", "Wall time of one generation in a worker",
                                            ["model"], buckets=_GENERATION_BUCKETS, registry=r)
        self.webhooks = Counter("kadr_webhook_deliveries", "Webhook delivery attempts", ["result"], registry=r)
        self.rate_limited = Counter("kadr_rate_limited_requests", "Requests refused by the per-key rate limit", registry=r)
        self.connections_refused = Counter("kadr_connections_refused", "Connections closed by a guard",
                                           ["reason"], registry=r)  # reason: per_client_cap, header_timeout, body_timeout
        self.outcomes_unrecorded = Counter("kadr_job_outcomes_unrecorded", "Job outcomes the store could not take at "
                                           "the first try (kept and retried)", registry=r)

    def watch(self, job_counts: Callable[[], dict[str, int]], pool: Callable[[], PoolStats | None],
              streams: Callable[[], int], health: "Callable[[], HealthReport] | None" = None) -> None:
        self.registry.register(_LiveState(job_counts, pool, streams, health))

    def render(self) -> bytes:
        return generate_latest(self.registry)
