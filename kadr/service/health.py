"""What /healthz and /metrics say about the service: the store, the disks, the workers.

Status and the HTTP status that goes with it (what a load balancer or an orchestrator acts on):

- ``ok`` (200): everything below holds.
- ``degraded`` (200): the service answers and keeps every accepted job, but something needs a person:
  the videos folder cannot be written (new jobs fail with ``output_unwritable``), free disk space is
  under ``min_free_disk_mb``, not every worker is ready (starting, or restarting after a crash), or
  finished jobs wait for the store to record them. Reads and downloads still work, so it stays in rotation.
- ``down`` (503): the job store cannot be read or written (disk full, database unreachable), or the
  service is shutting down: no job can be accepted or recorded; take it out of rotation.

The probes that touch the store and the disks (a small write transaction, a file written and removed
in the videos folder, ``statvfs``) run at most once per ``cache_s``; worker state is read live.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from kadr.service.store import JobStore
from kadr.service.workers import PoolStats

if TYPE_CHECKING:
    from kadr.service.scheduler import Scheduler
    from kadr.service.settings import ServiceSettings

HealthStatus = Literal["ok", "degraded", "down"]
HEALTH_STATUSES: tuple[HealthStatus, ...] = ("ok", "degraded", "down")
HTTP_STATUS: dict[HealthStatus, int] = {"ok": 200, "degraded": 200, "down": 503}
CHECKS = ("store_reachable", "store_writable", "videos_writable", "disk_space", "workers_ready", "outcomes_recorded",
          "accepting")
DISKS = ("data", "store")  # the label values of kadr_disk_free_bytes


@dataclass(frozen=True)
class Check:
    name: str  # one of CHECKS
    ok: bool
    severity: HealthStatus  # what a failure of this check makes the whole status
    detail: str = ""  # why it fails (empty when it passes)

    def __post_init__(self) -> None:
        if self.ok:
            object.__setattr__(self, "detail", "")


@dataclass(frozen=True)
class HealthReport:
    status: HealthStatus
    checks: tuple[Check, ...]
    jobs: dict[str, int]
    workers: PoolStats | None
    disk_free: dict[str, int] = field(default_factory=dict)  # "data" / "store" -> free bytes

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if not c.ok]

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.status]


@dataclass
class _Probes:
    at: float
    checks: list[Check]
    jobs: dict[str, int]
    disk_free: dict[str, int]


class HealthMonitor:
    def __init__(self, jobs: JobStore, videos_dir: Path, store_dir: Path | None, min_free_bytes: int,
                 workers_configured: int, pool: Callable[[], PoolStats | None], unrecorded: Callable[[], int],
                 draining: Callable[[], bool], cache_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.jobs = jobs
        self.videos_dir = videos_dir
        self.store_dir = store_dir  # the SQLite file's folder; None for PostgreSQL (its disk is not ours)
        self.min_free_bytes = min_free_bytes
        self.workers_configured = workers_configured
        self.pool = pool
        self.unrecorded = unrecorded
        self.draining = draining
        self.cache_s = cache_s
        self.clock = clock
        self._lock = threading.Lock()
        self._probes: _Probes | None = None

    @classmethod
    def for_service(cls, settings: "ServiceSettings", jobs: JobStore, scheduler: "Scheduler",
                    clock: Callable[[], float] = time.time) -> "HealthMonitor":
        store_dir = None
        if jobs.db.is_sqlite:
            from sqlalchemy.engine import make_url

            database = make_url(jobs.db.url).database
            store_dir = Path(database).parent if database and database != ":memory:" else None
        return cls(jobs, settings.videos_dir, store_dir, int(settings.min_free_disk_mb * 2**20), settings.workers,
                   scheduler.stats, scheduler.unrecorded, lambda: scheduler.draining, settings.health_cache_s, clock)

    def report(self) -> HealthReport:
        probes = self._cached_probes()
        checks = list(probes.checks)
        stats = self.pool()
        if self.workers_configured > 0:
            ready = stats.ready if stats else 0
            checks.append(Check("workers_ready", ready >= self.workers_configured, "degraded",
                                f"{ready} of {self.workers_configured} worker(s) ready"))
        waiting = self.unrecorded()
        checks.append(Check("outcomes_recorded", waiting == 0, "degraded",
                            f"{waiting} finished job(s) wait for the store to record them"))
        checks.append(Check("accepting", not self.draining(), "down", "shutting down: no new jobs start"))
        failing = [c.severity for c in checks if not c.ok]
        status: HealthStatus = "down" if "down" in failing else "degraded" if failing else "ok"
        return HealthReport(status, tuple(checks), probes.jobs, stats, probes.disk_free)

    def _cached_probes(self) -> _Probes:
        with self._lock:  # one prober at a time; the others take its result
            now = time.monotonic()
            if self._probes is None or now - self._probes.at >= self.cache_s:
                self._probes = self._probe(now)
            return self._probes

    def _probe(self, at: float) -> _Probes:
        checks: list[Check] = []
        jobs: dict[str, int] = {}
        try:
            jobs = self.jobs.count_by_status()
            checks.append(Check("store_reachable", True, "down"))
            try:
                self.jobs.probe_write(self.clock())
                checks.append(Check("store_writable", True, "down"))
            except Exception as exc:
                checks.append(Check("store_writable", False, "down", f"the job store cannot be written: {_short(exc)}"))
        except Exception as exc:
            checks.append(Check("store_reachable", False, "down", f"the job store cannot be read: {_short(exc)}"))
        checks.append(self._videos_writable())
        disk_free: dict[str, int] = {}
        low: list[str] = []
        for name, folder in (("data", self.videos_dir), ("store", self.store_dir)):
            if folder is None:
                continue
            free = _free_bytes(folder)
            if free is None:
                continue
            disk_free[name] = free
            if free < self.min_free_bytes:
                low.append(f"{free / 2**20:.1f} MB free under {folder} (below {self.min_free_bytes / 2**20:g} MB)")
        checks.append(Check("disk_space", not low, "degraded", "; ".join(low)))
        return _Probes(at, checks, jobs, disk_free)

    def _videos_writable(self) -> Check:
        probe = self.videos_dir / f".health-{os.getpid()}-{threading.get_ident()}"
        try:
            self.videos_dir.mkdir(parents=True, exist_ok=True)
            with open(probe, "wb") as f:
                f.write(b"kadr health probe\n")  # a few bytes: a full disk fails here, an empty file would not
            probe.unlink()
            return Check("videos_writable", True, "degraded")
        except OSError as exc:
            try:
                probe.unlink(missing_ok=True)
            except OSError:
                pass
            return Check("videos_writable", False, "degraded",
                         f"the videos folder {self.videos_dir} cannot be written: [Errno {exc.errno}] {exc.strerror}")


def _free_bytes(folder: Path) -> int | None:
    """Free bytes on the file system holding ``folder`` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]
