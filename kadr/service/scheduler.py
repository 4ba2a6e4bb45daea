"""The scheduler: queued jobs from the store to idle workers, and what workers report back to the store.

All job state changes made by workers go through here, in the API process: the store stays the one
source of truth, the event bus hears every change, and a report from a stale attempt (a job canceled,
deleted or re-queued meanwhile) is ignored, its files removed.

Every job ends, whatever the store does:
  - an outcome the store cannot record (its disk full, PostgreSQL restarting) is kept here and retried
    every ``record_retry_s``; its files stay, nothing is generated again. If the store stays unwritable
    for ``record_deadline_s`` the video is given up: the job is recorded failed (``store_unwritable``,
    refunded in the same transaction) as soon as the store takes writes again, and its files go;
  - every ``reconcile_interval_s`` the jobs the store says are running are matched against the workers:
    one with no worker behind it (and no outcome waiting here) is re-queued or failed, so it no longer
    holds its user's slot, without a restart;
  - the folder of a job that ended failed or canceled is removed; a removal that fails (read-only
    folder) is retried at each reconciliation until it succeeds.

Stopping (SIGTERM): :meth:`drain` stops new work at once; :meth:`stop` lets running jobs finish until the
grace period ends, then stops their workers and hands the jobs back to the queue without using up an attempt.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sqlalchemy.exc import SQLAlchemyError

from kadr.service.events import EventBus, VideoEvent
from kadr.service.generation import FromWorker, JobDone, JobError, JobProgress, RunJob
from kadr.service.jobfiles import JobFiles
from kadr.service.jobs import CANCELED, STORE_UNWRITABLE, WORKER_CRASHED, WORKER_LOST, JobRecord, video_object
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import PlanBook
from kadr.service.store import Failed, JobStore, Succeeded
from kadr.service.workers import PoolStats, WorkerConfig, WorkerPool

if TYPE_CHECKING:
    from kadr.service.ray_pool import RayConfig, RayPool

log = logging.getLogger("kadr.service.scheduler")

# What a store that cannot take a write raises: SQLAlchemy's errors (disk full, database gone) and OS errors.
STORE_ERRORS = (SQLAlchemyError, OSError)


@dataclass
class _Reported:
    at: float
    progress: int
    stage: str


@dataclass
class _Unrecorded:
    """A worker's outcome the store could not take yet."""

    message: JobDone | JobError
    since: float  # monotonic time of the first failed attempt to record it
    error: str


@dataclass(frozen=True)
class SchedulerConfig:
    videos_dir: Path
    workers: int
    max_attempts: int
    retention_s: float | None
    progress_interval_s: float
    record_retry_s: float = 1.0
    record_deadline_s: float = 60.0
    reconcile_interval_s: float = 10.0
    ray: "RayConfig | None" = None  # generation on a Ray cluster instead of local worker processes


class StoreTrouble:
    """Logs the first store failure of a streak with its traceback, the rest quietly, and the recovery."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failing_since: float | None = None
        self.last_error: str | None = None

    def failed(self, what: str, exc: BaseException) -> None:
        with self._lock:
            first = self.failing_since is None
            if first:
                self.failing_since = time.monotonic()
            self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        if first:
            log.warning("the job store failed (%s): %s; retrying", what, self.last_error)
        else:
            log.debug("the job store still fails (%s): %s", what, self.last_error)

    def succeeded(self) -> None:
        with self._lock:
            was = self.failing_since
            self.failing_since = None
        if was is not None:
            log.warning("the job store takes writes again (after %.1f s)", time.monotonic() - was)


class Scheduler:
    def __init__(self, jobs: JobStore, plans: PlanBook, bus: EventBus, metrics: ServiceMetrics,
                 config: SchedulerConfig, worker: WorkerConfig, on_job_ended: Callable[[], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.jobs = jobs
        self.plans = plans
        self.bus = bus
        self.metrics = metrics
        self.config = config
        self.on_job_ended = on_job_ended
        self.clock = clock
        self.trouble = StoreTrouble()
        self.pool: WorkerPool | RayPool | None = None
        if config.ray is not None:
            from kadr.service.ray_pool import RayPool  # Ray is an optional extra

            self.pool = RayPool(config.ray, worker, self._on_message, self._on_lost_job, self.wake)
        elif config.workers > 0:
            self.pool = WorkerPool(config.workers, worker, self._on_message, self._on_lost_job, self.wake)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._drain_started: float | None = None
        self._dispatch_lock = threading.Lock()  # a claim and its hand-over to a worker, vs. reconciliation
        self._reported: dict[str, _Reported] = {}
        self._reported_lock = threading.Lock()
        self._unrecorded: dict[str, _Unrecorded] = {}
        self._unrecorded_lock = threading.Lock()
        self._dirty: set[str] = set()  # job folders whose removal failed, retried by maintenance
        self._thread = threading.Thread(target=self._dispatch_loop, name="kadr-dispatcher", daemon=True)
        self._maintenance = threading.Thread(target=self._maintenance_loop, name="kadr-reconciler", daemon=True)

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Re-queue what a dead process left running, then start the workers and the dispatcher."""
        requeued, failed = self.jobs.requeue_running(self.clock(), self.config.max_attempts)
        for record in requeued:
            log.info("re-queued %s (interrupted attempt %d)", record.id, record.attempt)
            self.metrics.jobs_requeued.inc()
        for record in failed:
            self._ended(record)
        if self.pool is not None:
            self.pool.start()
            self._thread.start()
            self._maintenance.start()

    def drain(self) -> None:
        """Stop giving out new jobs (shutdown has begun); running ones go on. Safe to call more than once."""
        if not self._draining.is_set():
            self._drain_started = time.monotonic()
            self._draining.set()
            log.info("draining: no new jobs start; %d running", len(self.pool.running()) if self.pool else 0)

    def stop(self, grace_s: float = 0.0) -> None:
        """Let running jobs finish for up to ``grace_s`` (counted from :meth:`drain`), then stop everything.

        A job still running when the grace period ends goes back to the queue; its attempt does not count.
        """
        self.drain()
        if self.pool is None:
            self._stop.set()
            return
        deadline = (self._drain_started or time.monotonic()) + grace_s
        while self.pool.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._maintenance.join(timeout=5)
        running = self.pool.running()
        self.pool.stop()
        self._retry_unrecorded()  # one last try, so a finished video is not made again after the restart
        for job in running:  # an orderly stop does not use up one of the job's attempts
            try:
                if self.jobs.release(job.job_id, job.attempt) is not None:
                    log.warning("handed %s back to the queue (the grace period of %g s ended)", job.job_id, grace_s)
            except STORE_ERRORS as exc:  # the next start re-queues it (and counts the attempt)
                log.warning("could not hand %s back to the queue: %s", job.job_id, exc)

    def wake(self) -> None:
        self._wake.set()

    def cancel(self, job_id: str) -> None:
        """Tell the worker running ``job_id`` (if any) to stop; the store was already updated."""
        if self.pool is not None:
            self.pool.cancel(job_id)

    def stats(self) -> PoolStats | None:
        return self.pool.stats() if self.pool is not None else None

    def unrecorded(self) -> int:
        """How many finished jobs wait for the store to take their outcome."""
        with self._unrecorded_lock:
            return len(self._unrecorded)

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    # ---- dispatching ---------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        assert self.pool is not None
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                while not self._stop.is_set() and not self._draining.is_set() and self.pool.has_idle():
                    with self._dispatch_lock:
                        record = self.jobs.claim_next(self.clock(), lambda plan: self.plans.get(plan).concurrency)
                        if record is None:
                            break
                        run = RunJob(record.id, record.attempt, record.spec,
                                     str(JobFiles.of(self.config.videos_dir, record.id).folder))
                        if not self.pool.submit(run):
                            self.jobs.release(record.id, record.attempt)
                            break
                    self._publish(record)
            except STORE_ERRORS as exc:  # keep dispatching after a transient store error
                self.trouble.failed("dispatching", exc)
                time.sleep(0.5)
            except Exception:
                log.exception("dispatching")
                time.sleep(0.5)

    # ---- maintenance: unrecorded outcomes, reconciliation, leftover folders -----------------------

    def _maintenance_loop(self) -> None:
        next_reconcile = time.monotonic() + self.config.reconcile_interval_s
        interval = max(0.05, min(self.config.record_retry_s, self.config.reconcile_interval_s))
        while not self._stop.wait(interval):
            try:
                self._retry_unrecorded()
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + self.config.reconcile_interval_s
                    self.reconcile()
                    self._clean_dirty()
            except Exception:
                log.exception("maintenance")

    def reconcile(self) -> list[str]:
        """Jobs the store calls running with no worker behind them: re-queue (or fail) them. Returns their ids."""
        if self.pool is None:
            return []
        fixed = []
        with self._dispatch_lock:
            try:
                running = self.jobs.running_attempts()
            except STORE_ERRORS as exc:
                self.trouble.failed("reconciling", exc)
                return []
            held = {(job.job_id, job.attempt) for job in self.pool.running()}
            with self._unrecorded_lock:
                waiting = set(self._unrecorded)
            for job_id, attempt in running:
                if (job_id, attempt) in held or job_id in waiting:
                    continue
                log.warning("%s (attempt %d) is running in the store but no worker runs it: re-queuing", job_id, attempt)
                try:
                    record = self.jobs.retry_or_fail(job_id, attempt, WORKER_LOST,
                                                     "the job was found running with no worker behind it",
                                                     self.config.max_attempts, self.clock())
                except STORE_ERRORS as exc:
                    self.trouble.failed("reconciling", exc)
                    return fixed
                if record is not None:
                    fixed.append(job_id)
                    self._after_retry(record)
        if fixed:
            self.wake()
        return fixed

    def _retry_unrecorded(self) -> None:
        with self._unrecorded_lock:
            waiting = list(self._unrecorded.values())
        for item in waiting:
            message = item.message
            if isinstance(message, JobDone) and time.monotonic() - item.since >= self.config.record_deadline_s:
                give_up = Failed(STORE_UNWRITABLE,
                                 f"the video was generated, but the job store could not record it for "
                                 f"{self.config.record_deadline_s:g} s ({item.error}); it was discarded and the "
                                 f"charge refunded")
                if self._record(message, give_up, retrying=True):
                    self._remove_job_dir(message.job_id)
            else:
                self._record(message, self._outcome(message), retrying=True)

    def _clean_dirty(self) -> None:
        for job_id in list(self._dirty):
            self._dirty.discard(job_id)
            try:
                record = self.jobs.get(job_id)
            except STORE_ERRORS:
                self._dirty.add(job_id)
                continue
            if record is None or record.status in ("failed", "canceled"):
                self._remove_job_dir(job_id)

    # ---- recording outcomes ----------------------------------------------------------------------

    def _outcome(self, message: JobDone | JobError) -> Succeeded | Failed:
        if isinstance(message, JobDone):
            now = self.clock()
            expires = now + self.config.retention_s if self.config.retention_s else None
            return Succeeded(message.video_path, message.poster_path, message.sprites_path, message.metadata, expires)
        return Failed(message.code, message.message)

    def _record(self, message: JobDone | JobError, outcome: Succeeded | Failed, retrying: bool = False) -> bool:
        """Write ``outcome`` of the worker's ``message``; True once the store has taken it (or it was stale)."""
        try:
            record = self.jobs.finish(message.job_id, message.attempt, outcome, self.clock())
        except STORE_ERRORS as exc:
            self.trouble.failed(f"recording the end of {message.job_id}", exc)
            with self._unrecorded_lock:
                item = self._unrecorded.get(message.job_id)
                if item is None:
                    self._unrecorded[message.job_id] = _Unrecorded(message, time.monotonic(), self.trouble.last_error or "")
                    self.metrics.outcomes_unrecorded.inc()
                else:
                    item.error = self.trouble.last_error or item.error
            return False
        self.trouble.succeeded()
        with self._unrecorded_lock:
            self._unrecorded.pop(message.job_id, None)
        if retrying:
            log.info("recorded the end of %s after the store came back", message.job_id)
        if record is None:
            if isinstance(message, JobDone):
                self._discard_files(message)
            else:
                self._discard_failed(message)
        else:
            self._ended(record)
        return True

    # ---- reports from workers --------------------------------------------------------------------

    def _on_message(self, message: FromWorker) -> None:
        if isinstance(message, JobProgress):
            self._progress(message)
        elif isinstance(message, JobDone):
            self._forget(message.job_id)
            self.metrics.generation_seconds.labels(message.metadata.get("model", "?")).observe(message.elapsed_s)
            self._record(message, self._outcome(message))
        elif isinstance(message, JobError):
            self._forget(message.job_id)
            self._record(message, self._outcome(message))

    def _progress(self, message: JobProgress) -> None:
        percent = min(99, int(message.fraction * 100))
        now = time.monotonic()
        with self._reported_lock:
            last = self._reported.get(message.job_id)
            if last is not None and last.stage == message.stage and (
                    percent == last.progress or now - last.at < self.config.progress_interval_s):
                return
            self._reported[message.job_id] = _Reported(now, percent, message.stage)
        eta = round(message.eta_s, 1) if message.eta_s is not None else None
        try:
            record = self.jobs.set_progress(message.job_id, message.attempt, percent, eta, message.stage)
        except STORE_ERRORS as exc:  # progress is a nicety: the outcome is what must be recorded
            self.trouble.failed("storing progress", exc)
            return
        if record is not None:
            self._publish(record)

    def _on_lost_job(self, run: RunJob) -> None:
        self._forget(run.job_id)
        try:
            record = self.jobs.retry_or_fail(run.job_id, run.attempt, WORKER_CRASHED,
                                             "the worker process died while generating this video",
                                             self.config.max_attempts, self.clock())
        except STORE_ERRORS as exc:  # reconciliation re-queues it once the store takes writes
            self.trouble.failed(f"re-queuing {run.job_id}", exc)
            return
        if record is not None:
            self._after_retry(record)
        self.wake()

    def _after_retry(self, record: JobRecord) -> None:
        if record.terminal:
            self._ended(record)
        else:
            self.metrics.jobs_requeued.inc()
            self._publish(record)

    # ---- helpers -------------------------------------------------------------------------------

    def _ended(self, record: JobRecord) -> None:
        self.metrics.jobs_finished.labels(record.status).inc()
        if record.status in ("failed", "canceled"):  # a job that did not succeed leaves no files behind
            self._remove_job_dir(record.id)
        self._publish(record)
        self.on_job_ended()

    def _publish(self, record: JobRecord) -> None:
        self.bus.publish(VideoEvent(record.user_id, record.id, video_object(record), record.terminal))

    def _forget(self, job_id: str) -> None:
        with self._reported_lock:
            self._reported.pop(job_id, None)

    def _discard_files(self, done: JobDone) -> None:
        """A video finished for a job that was canceled or deleted meanwhile: remove what it wrote."""
        record = self.jobs.get(done.job_id)
        if record is None or record.status in ("failed", "canceled"):
            self._remove_job_dir(done.job_id)
        elif record.status != "succeeded":  # re-queued meanwhile: only this attempt's files go
            for path in (done.video_path, done.poster_path, done.sprites_path):
                if path:
                    try:
                        Path(path).unlink(missing_ok=True)
                    except OSError as exc:
                        log.warning("could not remove %s: %s", path, exc)

    def _discard_failed(self, error: JobError) -> None:
        """A late failure (the job was canceled or deleted first): its folder goes if the job is over."""
        if error.code != CANCELED:
            log.info("ignored a late failure of %s: %s", error.job_id, error.message)
        record = self.jobs.get(error.job_id)
        if record is None or record.status in ("failed", "canceled"):
            self._remove_job_dir(error.job_id)

    def _remove_job_dir(self, job_id: str) -> None:
        """Remove a finished-without-video job's folder; on failure (read-only), retry at maintenance."""
        problems = JobFiles.of(self.config.videos_dir, job_id).remove()
        if problems:
            if job_id not in self._dirty:
                log.warning("could not remove the files of %s (will retry): %s", job_id, problems[0])
            self._dirty.add(job_id)
        else:
            self._dirty.discard(job_id)
