"""The worker pool: generation runs in worker processes, one job at a time each.

Processes, not threads, because a generation keeps the CPUs busy and torch holds the GIL between its
operations: in a separate, lower-priority process it cannot slow the API down. Each worker loads its
models once and keeps them. A worker talks to the pool over one pipe, in typed messages
(kadr.service.generation): RunJob / CancelJob / StopWorker in, WorkerReady / JobProgress / JobDone /
JobError out. Cancel is a ``threading.Event`` inside the worker, set by the thread that reads the
pipe and checked by the engine after every denoising step.

A worker never outlives the API process: it asks Linux for SIGKILL when its parent dies and exits when
the pipe closes, so after ``kill -9`` of the server no orphan keeps generating. A worker that dies
(crash, out of memory) is replaced; its job goes back to the queue (or fails after too many attempts).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from kadr.service.generation import (
    CancelJob,
    FromWorker,
    JobDone,
    JobError,
    RunJob,
    StopWorker,
    ToWorker,
    WorkerReady,
    run_job,
)
from kadr.service.jobs import GENERATION_FAILED

log = logging.getLogger("kadr.service.workers")


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker process needs to start (picklable: it crosses the spawn boundary)."""

    threads: int
    nice: int
    device: str | None
    output_dir: str
    preload: bool = True
    devices: tuple[str, ...] = ()  # one per worker slot, in turn (``kadr serve --devices``); empty: ``device``

    def for_slot(self, index: int) -> "WorkerConfig":
        """The config of worker ``index``: pinned to its own device when several are given."""
        return replace(self, device=self.devices[index % len(self.devices)], devices=()) if self.devices else self


@dataclass(frozen=True)
class PoolStats:
    total: int
    ready: int
    busy: int


# ---- the worker process ------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Linux: SIGKILL this process when the parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


class _WorkerSide:
    """The worker's end of the pipe: a reader thread feeding the inbox and setting cancel events."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.inbox: queue.Queue[RunJob | StopWorker] = queue.Queue()
        self.cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def send(self, message: FromWorker) -> None:
        with self._lock:
            self.conn.send(message)

    def cancel_event(self, job_id: str) -> threading.Event:
        with self._lock:
            return self.cancels.setdefault(job_id, threading.Event())

    def forget(self, job_id: str) -> None:
        with self._lock:
            self.cancels.pop(job_id, None)

    def read_forever(self) -> None:
        while True:
            try:
                message: ToWorker = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the API process is gone: stop at once, leave the job to the next start
            if isinstance(message, CancelJob):
                self.cancel_event(message.job_id).set()
            else:
                self.inbox.put(message)


def worker_main(slot: int, conn: Connection, config: WorkerConfig, parent_pid: int) -> None:
    """Entry point of a worker process."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops the workers
    if config.nice:
        try:
            os.nice(config.nice)
        except OSError:
            pass
    logging.basicConfig(level=logging.INFO, format=f"kadr worker {slot}: %(message)s")
    import warnings

    warnings.filterwarnings("ignore")  # the engine's soft notes reach clients as the job's warnings
    import torch

    torch.set_num_threads(config.threads)
    from kadr.engine import Engine

    engine = Engine(device=config.device, output_dir=config.output_dir)
    if config.preload:  # "ready" means able to generate at once: load the fast tier's model now
        from kadr.pipelines import registry

        try:
            engine.backend(registry.model_for_tier("fast", "text-to-video"))
        except Exception:  # the job will report the problem; a worker must still come up
            logging.getLogger("kadr.service.worker").exception("preloading the fast tier's model failed")
    side = _WorkerSide(conn)
    threading.Thread(target=side.read_forever, name="kadr-worker-pipe", daemon=True).start()
    side.send(WorkerReady(slot, os.getpid()))
    while True:
        message = side.inbox.get()
        if isinstance(message, StopWorker):
            return
        cancel = side.cancel_event(message.job_id)
        try:
            result: JobDone | JobError = run_job(engine, message, side.send, cancel)
        except Exception as exc:  # run_job reports its failures; this is the last net so the worker lives on
            logging.getLogger("kadr.service.worker").exception("job %s: unexpected error", message.job_id)
            result = JobError(message.job_id, message.attempt, GENERATION_FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            side.forget(message.job_id)
        if isinstance(result, JobError):
            release_files_under(message.job_dir)
        side.send(result)


def release_files_under(folder: str) -> list[str]:
    """Close this process's descriptors still open on files in ``folder`` after its job failed.

    PyAV 18 leaks FFmpeg's file when writing the container header fails (disk full: the "started" flag
    is never set, so close() never calls avio_closep), and the descriptor would hold the deleted
    file's space and keep the folder from being remounted for as long as the worker lives. FFmpeg never
    touches that descriptor again (the container is not started), and no other part of a worker opens
    files in a failed job's folder, so closing them is safe.
    """
    prefix = os.path.join(os.path.realpath(folder), "")
    closed = []
    gc.collect()  # first let Python close what it still holds
    for entry in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        try:
            target = os.readlink(f"/proc/self/fd/{entry}")
        except OSError:
            continue
        if target.startswith(prefix):
            try:
                os.close(int(entry))
                closed.append(target)
            except OSError:
                pass
    if closed:
        log.warning("closed %d file(s) a failed job left open: %s", len(closed), ", ".join(closed))
    return closed


# ---- the pool, in the API process ---------------------------------------------------------------


@dataclass
class _Slot:
    index: int
    process: Any
    conn: Connection
    ready: bool = False
    job: RunJob | None = None


MessageHandler = Callable[[FromWorker], None]
ExitHandler = Callable[[RunJob], None]


class SlotCounts:
    """What the scheduler asks of any pool about its slots; each slot has ``ready`` and ``job``.

    Shared by the local :class:`WorkerPool` and the Ray pool (kadr.service.ray_pool).
    """

    size: int
    _slots: dict[int, Any]
    _lock: threading.Lock

    def stats(self) -> PoolStats:
        with self._lock:
            slots = list(self._slots.values())
        return PoolStats(self.size, sum(s.ready for s in slots), sum(s.job is not None for s in slots))

    def running(self) -> list[RunJob]:
        with self._lock:
            return [s.job for s in self._slots.values() if s.job is not None]

    def has_idle(self) -> bool:
        with self._lock:
            return any(s.ready and s.job is None for s in self._slots.values())


class WorkerPool(SlotCounts):
    """``size`` worker processes; :meth:`submit` gives a job to an idle one."""

    def __init__(self, size: int, config: WorkerConfig, on_message: MessageHandler, on_lost_job: ExitHandler,
                 on_ready: Callable[[], None]) -> None:
        self.size = size
        self.config = config
        self.on_message = on_message
        self.on_lost_job = on_lost_job
        self.on_ready = on_ready
        self._ctx = multiprocessing.get_context("spawn")
        self._slots: dict[int, _Slot] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        for index in range(self.size):
            self._spawn(index)
        self._reader = threading.Thread(target=self._read_loop, name="kadr-pool-reader", daemon=True)
        self._reader.start()

    def _spawn(self, index: int) -> None:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=worker_main, args=(index, child_end, self.config.for_slot(index), os.getpid()),
                                    name=f"kadr-worker-{index}", daemon=True)
        process.start()
        child_end.close()  # so the worker's death reads as EOF here
        with self._lock:
            self._slots[index] = _Slot(index, process, parent_end)

    def submit(self, job: RunJob) -> bool:
        """Give ``job`` to an idle ready worker; False when none is idle (or the send failed)."""
        with self._lock:
            slot = next((s for s in self._slots.values() if s.ready and s.job is None), None)
            if slot is None:
                return False
            slot.job = job
            try:
                slot.conn.send(job)
                return True
            except (OSError, ValueError):
                slot.job = None
                return False

    def cancel(self, job_id: str) -> bool:
        """Ask the worker running ``job_id`` to stop after its current step."""
        with self._lock:
            for slot in self._slots.values():
                if slot.job is not None and slot.job.job_id == job_id:
                    try:
                        slot.conn.send(CancelJob(job_id))
                        return True
                    except (OSError, ValueError):
                        return False
        return False

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                conns = {slot.conn: slot for slot in self._slots.values()}
            for conn in wait(list(conns), timeout=0.5):
                slot = conns[conn]
                try:
                    message: FromWorker = conn.recv()
                except (EOFError, OSError):
                    self._lost(slot)
                    continue
                self._handle(slot, message)

    def _handle(self, slot: _Slot, message: FromWorker) -> None:
        if isinstance(message, WorkerReady):
            with self._lock:
                slot.ready = True
            log.info("worker %d ready (pid %d)", message.slot, message.pid)
            self.on_ready()
            return
        try:
            self.on_message(message)
        except Exception:  # one bad message must not stop the reader
            log.exception("handling %s failed", type(message).__name__)
        if isinstance(message, (JobDone, JobError)):
            # Only after the outcome was handled: until then the job counts as held by this worker, so
            # the scheduler's reconciliation never mistakes a job being recorded for an orphan.
            with self._lock:
                if slot.job is not None and slot.job.job_id == message.job_id:
                    slot.job = None
            self.on_ready()

    def _lost(self, slot: _Slot) -> None:
        """A worker died: hand its job back, then start a new worker in its place."""
        slot.process.join(timeout=1)
        with self._lock:
            job = slot.job
            slot.job = None
            self._slots.pop(slot.index, None)
        slot.conn.close()
        if self._stopping.is_set():
            return
        log.warning("worker %d exited (code %s)%s", slot.index, slot.process.exitcode,
                    f" while running {job.job_id}" if job else "")
        if job is not None:
            try:
                self.on_lost_job(job)
            except Exception:
                log.exception("re-queuing %s failed", job.job_id)
        self._spawn(slot.index)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers (busy ones are killed: their jobs are re-queued by the caller or at the next start)."""
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(timeout=2)
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            if slot.job is None:
                try:
                    slot.conn.send(StopWorker())
                except (OSError, ValueError):
                    pass
            else:
                slot.process.kill()
        for slot in slots:
            slot.process.join(timeout=timeout)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(timeout=1)
            slot.conn.close()
