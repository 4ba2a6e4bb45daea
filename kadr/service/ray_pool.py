"""Generation on a Ray cluster: one actor per GPU (or per CPU slot where there is none).

``kadr serve --ray ADDRESS`` puts a :class:`RayPool` where the local :class:`~kadr.service.workers.WorkerPool`
would be; the scheduler speaks to both through the same five calls (start, submit, cancel, stats,
stop), so queueing, charging, retries and events stay in the API process, exactly as with local
workers. Each actor runs :func:`kadr.service.generation.run_job`, the code a local worker runs, and
keeps its models loaded between jobs.

- **Placement.** A job goes to an idle actor that already holds its model before one that would
  have to load it.
- **Progress** travels back through a Ray queue (an actor of its own); **cancel** is a call on the
  actor (a threaded actor, so it runs while the generation does) that sets the job's event, checked
  after every denoising step.
- **Files.** The actor generates into a scratch folder on its own node and returns the video, poster
  and sprite sheet as bytes, which the API side writes into the job's folder: the workers need no
  shared disk. The job's input files (pictures, a source video: those its JobSpec names) travel to the
  actor the same way. The actor runs the JobSpec's plan as given, as a local worker does.
- **Faults.** An actor whose node dies mid-job surfaces as a Ray actor error: the job is handed back
  through ``on_lost_job`` (the store re-queues it, or fails it after too many attempts, charged once)
  and goes to another actor; the lost actor is restarted by Ray wherever there is room.

Ray is an optional extra (``pip install -e ".[ray]"``): nothing imports this module unless ``--ray``
is given.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from kadr.service.generation import FromWorker, JobDone, JobError, JobProgress, RunJob
from kadr.service.jobfiles import JobFiles
from kadr.service.workers import SlotCounts, WorkerConfig

log = logging.getLogger("kadr.service.ray")

ACTOR_NAME = "KadrGenerationActor"  # the class name the Ray state API lists
RESULT_POLL_S = 0.5


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster at the given address cannot be reached."""


@dataclass(frozen=True)
class RayConfig:
    address: str  # "auto", "HOST:PORT" (GCS) or "ray://HOST:PORT" (Ray client)
    actors: int = 0  # 0: one per GPU in the cluster, else one per CPU slot up to ``workers``
    workers: int = 1  # actors to start where the cluster has no GPU
    namespace: str = "kadr"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # an optional extra
        raise RayUnavailableError('--ray needs Ray: pip install -e ".[ray]"') from exc
    return ray


def connect(address: str, namespace: str = "kadr") -> Any:
    """Join the cluster at ``address`` (as a driver); a clear error naming it when it cannot be reached."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    _check_reachable(address)
    try:
        ray.init(address=address, namespace=namespace, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise RayUnavailableError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody answers at: Ray itself retries for minutes before giving up."""
    if address == "auto":
        return  # Ray looks for the local cluster itself and says so at once when there is none
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailableError(f"Ray address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailableError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}") from exc


# ---- the actor (runs on a cluster node) -------------------------------------------------------------


@dataclass(frozen=True)
class ActorInfo:
    node_id: str
    pid: int
    device: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class ActorResult:
    """What an actor sends back: the worker's own message plus the files it wrote, as bytes."""

    message: JobDone | JobError
    files: dict[str, bytes] = field(default_factory=dict)  # file name -> content


class GenerationActor:
    """One engine on one device, its models kept loaded; decorated with ``ray.remote`` in :func:`_actor_class`."""

    def __init__(self, config: WorkerConfig, progress_queue: Any) -> None:
        import torch

        from kadr.engine import Engine

        torch.set_num_threads(config.threads)
        self.config = config
        self.queue = progress_queue
        self.engine = Engine(device=config.device, output_dir=config.output_dir)
        self.scratch = Path(tempfile.mkdtemp(prefix="kadr-ray-"))
        self.cancels: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        if config.preload:
            from kadr.pipelines import registry

            try:
                self.engine.backend(registry.model_for_tier("fast", "text-to-video"))
            except Exception:  # the job will report the problem; the actor must still come up
                log.exception("preloading the fast tier's model failed")

    def info(self) -> ActorInfo:
        import ray

        return ActorInfo(ray.get_runtime_context().get_node_id(), os.getpid(), str(self.engine.device or "auto"),
                         tuple(sorted(self.engine.loaded_models())))

    def run(self, job: RunJob, inputs: dict[str, bytes]) -> ActorResult:
        """Run ``job`` (its JobSpec's plan, as given) in a scratch folder holding ``inputs`` (file name -> bytes)."""
        from kadr.service.generation import run_job

        with self.lock:
            cancel = self.cancels.setdefault(job.job_id, threading.Event())
        scratch = JobFiles.of(self.scratch, job.job_id)  # this node's copy of the job's folder
        scratch.remove()
        scratch.write_inputs(inputs)
        local = replace(job, job_dir=str(scratch.folder))
        try:
            message = run_job(self.engine, local, self._emit, cancel)
            files: dict[str, bytes] = {}
            if isinstance(message, JobDone):
                for path in (message.video_path, message.poster_path, message.sprites_path):
                    if path:
                        files[Path(path).name] = Path(path).read_bytes()
            return ActorResult(message, files)
        finally:
            with self.lock:
                self.cancels.pop(job.job_id, None)
            scratch.remove()

    def cancel(self, job_id: str) -> bool:
        with self.lock:
            event = self.cancels.get(job_id)
        if event is None:
            return False
        event.set()
        return True

    def _emit(self, message: FromWorker) -> None:
        try:
            self.queue.put_nowait(message)
        except Exception:  # progress is best effort: a full or lost queue must not fail the job
            pass


def _actor_class(ray: Any, use_gpu: bool) -> Any:
    options: dict[str, Any] = {
        "num_gpus": 1 if use_gpu else 0,
        "num_cpus": 1,
        "max_concurrency": 4,  # threaded: cancel and info run while a generation does
        "max_restarts": -1,  # a lost node's actor comes back wherever there is room
        "max_task_retries": 0,  # a lost job is re-queued by the store, which counts attempts and charges
    }
    return ray.remote(**options)(type(ACTOR_NAME, (GenerationActor,), {}))


# ---- the pool (in the API process) ------------------------------------------------------------------


@dataclass
class _ActorSlot:
    index: int
    handle: Any
    ready: bool = False
    info: ActorInfo | None = None
    job: RunJob | None = None
    ref: Any = None  # the running job's ObjectRef
    models: set[str] = field(default_factory=set)


MessageHandler = Callable[[FromWorker], None]
LostJobHandler = Callable[[RunJob], None]


class RayPool(SlotCounts):
    """Ray actors behind the scheduler's pool interface (see :class:`kadr.service.workers.WorkerPool`)."""

    def __init__(self, ray_config: RayConfig, config: WorkerConfig, on_message: MessageHandler,
                 on_lost_job: LostJobHandler, on_ready: Callable[[], None]) -> None:
        self.ray_config = ray_config
        self.config = config
        self.on_message = on_message
        self.on_lost_job = on_lost_job
        self.on_ready = on_ready
        self._slots: dict[int, _ActorSlot] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ray: Any = None
        self._queue: Any = None
        self.size = 0

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        ray = self._ray = connect(self.ray_config.address, self.ray_config.namespace)
        from ray.util.queue import Queue

        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = gpus > 0
        self.size = self.ray_config.actors or (gpus if use_gpu else max(1, self.ray_config.workers))
        # The progress queue lives on this (the API's) node, so losing a worker node loses no reports.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self._queue = Queue(maxsize=10_000, actor_options={"num_cpus": 0, "scheduling_strategy": here})
        actor_class = _actor_class(ray, use_gpu)
        config = self.config if not use_gpu else replace(self.config, device=None)  # Ray sets CUDA_VISIBLE_DEVICES
        pool_id = uuid.uuid4().hex[:8]
        for index in range(self.size):
            handle = actor_class.options(name=f"kadr-generation-{pool_id}-{index}").remote(config, self._queue)
            self._slots[index] = _ActorSlot(index, handle)
            self._watch_ready(self._slots[index])
        log.info("Ray cluster at %s (this process on node %s): %d actor(s) on %s", self.ray_config.address,
                 ray.get_runtime_context().get_node_id()[:12], self.size, f"{gpus} GPU(s)" if use_gpu else "CPU slots")
        for target, name in ((self._results_loop, "kadr-ray-results"), (self._progress_loop, "kadr-ray-progress")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._ray is None:
            return
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            try:
                self._ray.kill(slot.handle, no_restart=True)
            except Exception:
                pass
        self._ray.shutdown()

    # ---- the scheduler's calls -------------------------------------------------------------------

    def actors(self) -> list[ActorInfo]:
        with self._lock:
            return [s.info for s in self._slots.values() if s.info is not None]

    def submit(self, job: RunJob) -> bool:
        """Give ``job`` to an idle actor, one holding its model first; False when none is idle."""
        wanted = _model_of(job)
        with self._lock:
            idle = [s for s in self._slots.values() if s.ready and s.job is None]
            if not idle:
                return False
            slot = next((s for s in idle if wanted in s.models), idle[0])
            inputs = job.files.read_inputs(job.spec.files)
            slot.job = job
            slot.ref = slot.handle.run.remote(job, inputs)
            log.info("job %s to actor %d%s", job.job_id, slot.index, " (model loaded)" if wanted in slot.models else "")
            return True

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            slot = next((s for s in self._slots.values() if s.job is not None and s.job.job_id == job_id), None)
        if slot is None:
            return False
        slot.handle.cancel.remote(job_id)
        return True

    # ---- background ------------------------------------------------------------------------------

    def _watch_ready(self, slot: _ActorSlot) -> None:
        """Mark ``slot`` ready once its actor answers (after its first start, or a restart elsewhere)."""

        def wait() -> None:
            while not self._stopping.is_set():
                try:
                    info = self._ray.get(slot.handle.info.remote(), timeout=5)
                except self._ray.exceptions.GetTimeoutError:
                    continue
                except self._ray.exceptions.RayActorError:
                    if self._stopping.wait(1.0):
                        return
                    continue
                with self._lock:
                    slot.ready, slot.info, slot.models = True, info, set(info.models)
                log.info("Ray actor %d ready on node %s (pid %d)", slot.index, info.node_id[:12], info.pid)
                self.on_ready()
                return

        threading.Thread(target=wait, name=f"kadr-ray-ready-{slot.index}", daemon=True).start()

    def _results_loop(self) -> None:
        ray = self._ray
        while not self._stopping.is_set():
            with self._lock:
                busy = {s.ref: s for s in self._slots.values() if s.ref is not None}
            if not busy:
                self._stopping.wait(RESULT_POLL_S)
                continue
            done, _ = ray.wait(list(busy), num_returns=1, timeout=RESULT_POLL_S)
            for ref in done:
                self._finished(busy[ref], ref)

    def _finished(self, slot: _ActorSlot, ref: Any) -> None:
        ray = self._ray
        job = slot.job
        assert job is not None
        try:
            result: ActorResult = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError) as exc:
            log.warning("Ray actor %d lost while running %s: %s", slot.index, job.job_id, type(exc).__name__)
            with self._lock:
                slot.job, slot.ref, slot.ready, slot.info = None, None, False, None
            self._call(self.on_lost_job, job)
            self._watch_ready(slot)
            return
        except ray.exceptions.RayTaskError as exc:  # run_job catches the engine's errors: this is a bug
            log.error("Ray actor %d failed %s: %s", slot.index, job.job_id, exc)
            result = ActorResult(JobError(job.job_id, job.attempt, "generation_failed", str(exc.cause or exc)))
        message = self._store_files(job, result)
        with self._lock:
            slot.ref = None
            if isinstance(message, JobDone) and message.metadata.get("model"):
                slot.models.add(str(message.metadata["model"]))
        self._call(self.on_message, message)
        # Only after the outcome was handled: until then the job counts as held by this actor, so the
        # scheduler's reconciliation never mistakes a job being recorded for an orphan.
        with self._lock:
            slot.job = None
        self.on_ready()

    def _store_files(self, job: RunJob, result: ActorResult) -> JobDone | JobError:
        """Write what the actor sent into the job's folder here; the message then names those paths."""
        message = result.message
        if not isinstance(message, JobDone):
            return message
        files = job.files
        files.folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, str] = {}
        for name, data in result.files.items():
            target = files.path(name)  # a bare name: nothing an actor sends lands outside the job's folder
            tmp = target.with_name(f".{name}.part")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            written[name] = str(target)

        def local(path: str | None) -> str | None:
            return written.get(Path(path).name) if path else None

        return replace(message, video_path=local(message.video_path) or "", poster_path=local(message.poster_path) or "",
                       sprites_path=local(message.sprites_path))

    def _progress_loop(self) -> None:
        from ray.util.queue import Empty

        while not self._stopping.is_set():
            try:
                message = self._queue.get(block=True, timeout=RESULT_POLL_S)
            except Empty:
                continue
            except Exception:  # the queue's actor went away with the cluster
                if self._stopping.wait(1.0):
                    return
                continue
            if isinstance(message, JobProgress):
                self._call(self.on_message, message)

    def _call(self, handler: Callable[[Any], None], arg: Any) -> None:
        try:
            handler(arg)
        except Exception:  # one bad report must not stop the loop
            log.exception("handling %s failed", type(arg).__name__)


def _model_of(job: RunJob) -> str:
    """The model a job will run: its plan's (a legacy job's own choice), else its tier's model for its task."""
    if job.spec.model:
        return job.spec.model
    from kadr.pipelines import registry

    try:
        return registry.model_for_tier(job.spec.tier, job.spec.task).name
    except Exception:
        return ""


__all__ = ["ACTOR_NAME", "ActorInfo", "RayConfig", "RayPool", "RayUnavailableError", "connect"]
