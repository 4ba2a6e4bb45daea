"""Ray scale-out figures for the built-in model on this machine, printed as JSON.

- Jobs per minute with 1 and with 2 Ray actors (one per CPU slot), the same jobs, in one run: the
  ratio is the figure (absolute numbers depend on the machine and what else runs on it).
- Time from submission to the first denoising step, for a cold actor (its model not loaded yet)
  and for a warm one (the model kept loaded from the previous job).

It drives :class:`kadr.service.RayPool` as the scheduler does (same messages, same callbacks) on
Ray's multi-node test cluster on loopback: a head with no CPUs and one node per actor.

    python bench/bench_ray.py --jobs 6 --seconds 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from ray_cluster import RAY_LOOPBACK_ENV, ray_cluster  # noqa: E402  (sets Ray's loopback env first)

from kadr.service.generation import FromWorker, JobDone, JobError, JobProgress, RunJob  # noqa: E402
from kadr.engine import Engine  # noqa: E402
from kadr.request import VideoRequest  # noqa: E402
from kadr.service.jobspec import JobSpec  # noqa: E402
from kadr.service.ray_pool import RayConfig, RayPool  # noqa: E402
from kadr.service.workers import WorkerConfig  # noqa: E402


class Recorder:
    """The scheduler's side of the pool: when each job first denoised, and when it ended."""

    def __init__(self) -> None:
        self.first_step: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.changed = threading.Condition()

    def on_message(self, message: FromWorker) -> None:
        now = time.perf_counter()
        with self.changed:
            if isinstance(message, JobProgress) and message.stage == "generate":
                self.first_step.setdefault(message.job_id, now)
            elif isinstance(message, (JobDone, JobError)):
                self.ended[message.job_id] = now
                if isinstance(message, JobError):
                    self.failed[message.job_id] = message.message
            self.changed.notify_all()

    def wait(self, done: callable, timeout: float) -> None:
        with self.changed:
            if not self.changed.wait_for(done, timeout=timeout):
                raise TimeoutError("jobs did not finish in time")


def job(index: int, seconds: float, work: Path) -> RunJob:
    request = VideoRequest(prompt="Закат над морем, волны, панорама слева направо", duration=seconds, aspect="16:9",
                           tier="fast", model="kadr-tiny", seed=index)
    spec = JobSpec.of(request, Engine().plan(request))  # planned here, as the API does; the actor runs it as given
    return RunJob(f"bench_{index}_{time.monotonic_ns()}", 1, spec, str(work / str(index)))


def run_pool(actors: int, jobs: int, seconds: float, address: str, work: Path, preload: bool) -> tuple[RayPool, Recorder]:
    recorder = Recorder()
    ready = threading.Event()
    pool = RayPool(RayConfig(address, actors=actors), WorkerConfig(threads=1, nice=0, device="cpu", output_dir=str(work),
                                                                   preload=preload),
                   recorder.on_message, on_lost_job=lambda run: None, on_ready=ready.set)
    pool.start()
    deadline = time.monotonic() + 300
    while pool.stats().ready < actors:
        if time.monotonic() > deadline:
            raise TimeoutError("actors did not come up")
        time.sleep(0.1)
    return pool, recorder


def throughput(actors: int, jobs: int, seconds: float, address: str, work: Path) -> dict[str, float]:
    pool, recorder = run_pool(actors, jobs, seconds, address, work, preload=True)
    try:
        queue = [job(i, seconds, work) for i in range(jobs)]
        started = time.perf_counter()
        while queue or len(recorder.ended) < jobs:
            while queue and pool.submit(queue[0]):
                queue.pop(0)
            with recorder.changed:
                recorder.changed.wait(timeout=0.2)
        wall = time.perf_counter() - started
        if recorder.failed:
            raise RuntimeError(f"jobs failed: {recorder.failed}")
        return {"actors": actors, "jobs": jobs, "wall_s": round(wall, 2), "jobs_per_minute": round(jobs * 60 / wall, 2)}
    finally:
        pool.stop()


def first_step_latency(seconds: float, address: str, work: Path) -> dict[str, float]:
    pool, recorder = run_pool(1, 2, seconds, address, work, preload=False)  # nothing loaded: a cold actor
    try:
        figures = {}
        for label, index in (("cold_s", 0), ("warm_s", 1)):
            run = job(100 + index, seconds, work)
            submitted = time.perf_counter()
            assert pool.submit(run)
            recorder.wait(lambda: run.job_id in recorder.ended, timeout=600)
            figures[label] = round(recorder.first_step[run.job_id] - submitted, 3)
        figures["cold_over_warm"] = round(figures["cold_s"] / figures["warm_s"], 2)
        return figures
    finally:
        pool.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length of each job")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kadr-bench-ray-"))
    with ray_cluster(worker_nodes=2) as cluster:
        one = throughput(1, args.jobs, args.seconds, cluster.address, work)
        two = throughput(2, args.jobs, args.seconds, cluster.address, work)
        latency = first_step_latency(args.seconds, cluster.address, work)
    print(json.dumps({
        "model": "kadr-tiny", "tier": "fast", "clip_s": args.seconds, "ray_env": RAY_LOOPBACK_ENV,
        "one_actor": one, "two_actors": two,
        "speedup_two_over_one": round(two["jobs_per_minute"] / one["jobs_per_minute"], 2),
        "submission_to_first_step": latency,
    }, indent=2))


if __name__ == "__main__":
    main()
