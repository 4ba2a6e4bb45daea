"""The scheduler: queued jobs from the store to idle workers, and what workers report back to the store.

All job state changes made by workers go through here, in the API process: the store stays the one
source of truth, the event bus hears every change, and a report from a stale attempt (a job canceled,
deleted or re-queued meanwhile) is ignored, its files removed.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kadr.service.events import EventBus, VideoEvent
from kadr.service.generation import FromWorker, JobDone, JobError, JobProgress, RunJob
from kadr.service.jobs import CANCELED, WORKER_CRASHED, JobRecord, video_object
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import PlanBook
from kadr.service.store import Failed, JobStore, Succeeded
from kadr.service.workers import PoolStats, WorkerConfig, WorkerPool

if TYPE_CHECKING:
    from kadr.service.ray_pool import RayConfig, RayPool

log = logging.getLogger("kadr.service.scheduler")


def job_dir(videos_dir: Path, job_id: str) -> Path:
    return videos_dir / job_id


@dataclass
class _Reported:
    at: float
    progress: int
    stage: str


@dataclass(frozen=True)
class SchedulerConfig:
    videos_dir: Path
    workers: int
    max_attempts: int
    retention_s: float | None
    progress_interval_s: float
    ray: "RayConfig | None" = None  # generation on a Ray cluster instead of local worker processes


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
        self.pool: WorkerPool | RayPool | None = None
        if config.ray is not None:
            from kadr.service.ray_pool import RayPool  # Ray is an optional extra

            self.pool = RayPool(config.ray, worker, self._on_message, self._on_lost_job, self.wake)
        elif config.workers > 0:
            self.pool = WorkerPool(config.workers, worker, self._on_message, self._on_lost_job, self.wake)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reported: dict[str, _Reported] = {}
        self._reported_lock = threading.Lock()
        self._thread = threading.Thread(target=self._dispatch_loop, name="kadr-dispatcher", daemon=True)

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

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.pool is None:
            return
        self._thread.join(timeout=5)
        running = self.pool.running()
        self.pool.stop()
        for job in running:  # an orderly stop does not use up one of the job's attempts
            self.jobs.release(job.job_id, job.attempt)

    def wake(self) -> None:
        self._wake.set()

    def cancel(self, job_id: str) -> None:
        """Tell the worker running ``job_id`` (if any) to stop; the store was already updated."""
        if self.pool is not None:
            self.pool.cancel(job_id)

    def stats(self) -> PoolStats | None:
        return self.pool.stats() if self.pool is not None else None

    # ---- dispatching ---------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        assert self.pool is not None
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                while not self._stop.is_set() and self.pool.has_idle():
                    record = self.jobs.claim_next(self.clock(), lambda plan: self.plans.get(plan).concurrency)
                    if record is None:
                        break
                    self._publish(record)
                    run = RunJob(record.id, record.attempt, record.params.to_dict(), record.image_path,
                                 str(job_dir(self.config.videos_dir, record.id)))
                    if not self.pool.submit(run):
                        self.jobs.release(record.id, record.attempt)
                        break
            except Exception:  # keep dispatching after a transient store error
                log.exception("dispatching")
                time.sleep(0.5)

    # ---- reports from workers --------------------------------------------------------------------

    def _on_message(self, message: FromWorker) -> None:
        if isinstance(message, JobProgress):
            self._progress(message)
        elif isinstance(message, JobDone):
            self._forget(message.job_id)
            self.metrics.generation_seconds.labels(message.metadata.get("model", "?")).observe(message.elapsed_s)
            now = self.clock()
            expires = now + self.config.retention_s if self.config.retention_s else None
            record = self.jobs.finish(message.job_id, message.attempt,
                                      Succeeded(message.video_path, message.poster_path, message.sprites_path,
                                                message.metadata, expires), now)
            if record is None:
                self._discard_files(message)
            else:
                self._ended(record)
        elif isinstance(message, JobError):
            self._forget(message.job_id)
            record = self.jobs.finish(message.job_id, message.attempt, Failed(message.code, message.message),
                                      self.clock())
            if record is not None:
                self._ended(record)
            elif message.code != CANCELED:
                log.info("ignored a late failure of %s: %s", message.job_id, message.message)

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
        record = self.jobs.set_progress(message.job_id, message.attempt, percent, eta, message.stage)
        if record is not None:
            self._publish(record)

    def _on_lost_job(self, run: RunJob) -> None:
        self._forget(run.job_id)
        record = self.jobs.retry_or_fail(run.job_id, run.attempt, WORKER_CRASHED,
                                         "the worker process died while generating this video",
                                         self.config.max_attempts, self.clock())
        if record is not None:
            if record.terminal:
                self._ended(record)
            else:
                self.metrics.jobs_requeued.inc()
                self._publish(record)
        self.wake()

    # ---- helpers -------------------------------------------------------------------------------

    def _ended(self, record: JobRecord) -> None:
        self.metrics.jobs_finished.labels(record.status).inc()
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
        if record is None:
            shutil.rmtree(job_dir(self.config.videos_dir, done.job_id), ignore_errors=True)
            return
        if record.status != "succeeded":
            for path in (done.video_path, done.poster_path, done.sprites_path):
                if path:
                    Path(path).unlink(missing_ok=True)
