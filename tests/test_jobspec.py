"""The JobSpec: one typed, versioned value from the API to a worker, run as planned.

- every VideoRequest field travels (a field added later is caught here until it does);
- a spec of another version, or a value that cannot travel, is refused naming it;
- a worker runs the API's plan as given: planning fails in it and the job still succeeds, a real
  worker process makes the frames, size and seed of a plan that re-planning would not give, and so
  does a Ray actor's code from the input files it is sent as bytes;
- a job row written before JobSpec (the JobParams dict) is read as legacy and still runs;
- through a real `kadr serve`, the stored spec's plan is what the video has;
- the allowed values are declared once (kadr.request); housekeeping deletes through JobFiles.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import wait_until
from PIL import Image

from kadr.engine import Engine, GenerationPlan
from kadr.request import Shot, VideoRequest
from kadr.service.generation import FromWorker, JobDone, JobError, RunJob, run_job
from kadr.service.jobfiles import JobFiles
from kadr.service.jobs import video_object
from kadr.service.jobspec import JOB_SPEC_VERSION, JobSpec, JobSpecError
from kadr.video.probe import read_frames


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (40, 24)) -> Image.Image:
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[...] = colour
    pixels[: size[1] // 2, : size[0] // 2] = 255 - np.asarray(colour, np.uint8)  # not a flat picture
    return Image.fromarray(pixels)


def small_request(**changes: Any) -> VideoRequest:
    values: dict[str, Any] = dict(prompt="a red ball rolls on the grass", duration=1.0, aspect="1:1",
                                  resolution="32x32", fps=8, tier="fast", model="kadr-tiny", seed=7)
    values.update(changes)
    return VideoRequest(**values)


def every_field_samples(tmp_path: Path) -> list[VideoRequest]:
    """Requests that together set every VideoRequest field to something other than its default."""
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"not decoded here: VideoRequest only checks that the file is there")
    with_material = VideoRequest(
        prompt="a cat walks", negative_prompt="blur", image=picture((200, 30, 30)), duration=3.0, aspect="9:16",
        resolution="64x112", fps=12, style="cinematic", camera="zoom_in", tier="high", model="kadr-tiny", seed=99,
        loop=True, format="webm", cache="off", last_image=picture((30, 200, 30)), source_video=source, mode="remix",
        strength=0.4, reference_image=picture((30, 30, 200)), extra={"note": "kept", "n": [1, 2]},
    )
    with_shots = VideoRequest(shots=(Shot("a dog runs", 2.0, "pan_left", "animation"), {"prompt": "the dog sleeps"}),
                              transition="crossfade")
    return [with_material, with_shots]


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Image.Image) or isinstance(b, Image.Image):
        return isinstance(a, Image.Image) and isinstance(b, Image.Image) and np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, Path) or isinstance(b, Path):
        return isinstance(a, Path) and isinstance(b, Path) and a.read_bytes() == b.read_bytes()
    return a == b


# ---- the value ---------------------------------------------------------------------------------------


def test_every_videorequest_field_round_trips_through_json(tmp_path: Path) -> None:
    samples = every_field_samples(tmp_path)
    every = {f.name for f in dataclasses.fields(VideoRequest)}
    covered = {f.name for f in dataclasses.fields(VideoRequest)
               if any(not same(getattr(s, f.name), _default(f)) for s in samples)}
    # A field added to VideoRequest fails here until a sample sets it (and then it must round-trip below).
    assert covered == every, f"no sample sets {sorted(every - covered)}"
    plan = Engine().plan(small_request())
    for index, request in enumerate(samples):
        api_side = JobFiles(tmp_path / f"api{index}")
        spec = JobSpec.of(request, plan, api_side.save_inputs(request))
        text = spec.to_json()
        assert json.loads(text)["version"] == JOB_SPEC_VERSION
        worker_side = JobFiles(tmp_path / f"worker{index}")
        worker_side.write_inputs(api_side.read_inputs(spec.files))  # as a Ray actor gets them: no shared disk
        back = JobSpec.from_json(text)
        assert back == spec
        again = back.video_request(worker_side)
        for f in dataclasses.fields(VideoRequest):
            assert same(getattr(again, f.name), getattr(request, f.name)), f.name
    assert set(JobSpec.of(samples[0], plan, JobFiles(tmp_path / "api0").save_inputs(samples[0])).files) == {
        "image", "last_image", "reference_image", "source_video"}


def test_a_value_that_cannot_travel_is_refused_naming_the_field(tmp_path: Path) -> None:
    plan = Engine().plan(small_request())
    with pytest.raises(JobSpecError, match=r"request\.extra\.handle"):
        JobSpec.of(small_request(extra={"handle": threading.Lock()}), plan)
    with pytest.raises(JobSpecError, match=r"request\.image is a file"):
        JobSpec.of(small_request(image=picture((1, 2, 3))), plan)  # not saved: it would not reach the worker


def test_a_spec_of_another_version_or_malformed_is_refused_clearly() -> None:
    spec = JobSpec.of(small_request(), Engine().plan(small_request()))
    for version in (2, 0, None, "1"):
        with pytest.raises(JobSpecError, match=f"job spec version {version!r} is not one this kadr runs"):
            JobSpec.from_dict({**spec.to_dict(), "version": version})
    with pytest.raises(JobSpecError, match="request field 'colour' is unknown"):
        JobSpec.from_dict({**spec.to_dict(), "request": {**spec.request, "colour": "red"}})
    with pytest.raises(JobSpecError, match="a job spec is JSON"):
        JobSpec.from_json("{not json")


def test_the_plan_round_trips_exactly() -> None:
    engine = Engine()
    for request in (small_request(), small_request(tier="high", loop=True, duration=3.0, camera="tilt_up"),
                    small_request(prompt="Закат над морем, камера медленно наезжает", resolution=None, aspect=None)):
        plan = engine.plan(request)
        assert GenerationPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        GenerationPlan.from_dict({**plan.to_dict(), "colour": "red"})


# ---- the worker runs the plan it is given -----------------------------------------------------------


class NoPlanningEngine(Engine):
    """An engine that cannot plan: a worker that planned again would fail its job."""

    def plan(self, request: VideoRequest, spec: Any = None) -> GenerationPlan:
        raise AssertionError("the worker planned again")


def given_plan(request: VideoRequest) -> GenerationPlan:
    """The API's plan, changed where re-planning the request would differ (frames, seed, camera)."""
    plan = Engine().plan(request)
    changed = dataclasses.replace(plan, num_frames=9, chunk_frames=(9,), seed=4242, camera="pan_left")
    assert (changed.num_frames, changed.seed) != (plan.num_frames, plan.seed)
    return changed


def check_video(done: JobDone, plan: GenerationPlan) -> None:
    frames = read_frames(Path(done.video_path))  # (F, H, W, 3)
    assert frames.shape == (plan.num_frames, plan.height, plan.width, 3)
    assert (done.metadata["seed"], done.metadata["frames"], done.metadata["camera"]) == (
        plan.seed, plan.num_frames, plan.camera)


def test_a_worker_runs_the_given_plan_and_never_plans(tmp_path: Path) -> None:
    request = small_request(image=picture((120, 60, 20)))  # image-to-video: the picture travels as a file
    plan = given_plan(request)
    files = JobFiles(tmp_path / "video_a")
    spec = JobSpec.of(request, plan, files.save_inputs(request))
    messages: list[FromWorker] = []
    result = run_job(NoPlanningEngine(), RunJob("video_a", 1, spec, str(files.folder)), messages.append,
                     threading.Event())
    assert isinstance(result, JobDone), result
    check_video(result, plan)
    assert result.metadata["image"] is not None and result.metadata["task"] == "image-to-video"
    assert sorted(p.name for p in files.folder.iterdir()) == ["input.png", "sprites.jpg", "video.mp4", "video.png"]


def test_a_worker_process_makes_what_the_api_planned(tmp_path: Path) -> None:
    """The real path: a spawned worker process gets the RunJob over its pipe and runs the plan as given."""
    from kadr.service.workers import WorkerConfig, WorkerPool

    request = small_request()
    plan = given_plan(request)
    spec = JobSpec.of(request, plan)
    ended: list[JobDone | JobError] = []
    ready = threading.Event()
    pool = WorkerPool(1, WorkerConfig(threads=1, nice=0, device="cpu", output_dir=str(tmp_path), preload=False),
                      on_message=lambda m: ended.append(m) if isinstance(m, (JobDone, JobError)) else None,
                      on_lost_job=lambda job: ended.append(JobError(job.job_id, job.attempt, "lost", "worker died")),
                      on_ready=ready.set)
    pool.start()
    try:
        assert ready.wait(120), "the worker did not start"
        wait_until(pool.has_idle, 30, "an idle worker")
        assert pool.submit(RunJob("video_b", 1, spec, str(tmp_path / "video_b")))
        wait_until(lambda: ended or None, 180, "the job to end")
    finally:
        pool.stop()
    assert isinstance(ended[0], JobDone), ended[0]
    check_video(ended[0], plan)


class _Queue(list):
    def put_nowait(self, item: Any) -> None:
        self.append(item)


def test_a_ray_actor_runs_the_given_plan_from_shipped_files_and_never_plans(tmp_path: Path) -> None:
    """The actor's own code, called in this process (tests/test_service_ray.py runs it on a real cluster):
    the inputs arrive as bytes, the plan is run as given, the outputs come back into the job's folder."""
    from kadr.service.ray_pool import GenerationActor, RayConfig, RayPool
    from kadr.service.workers import WorkerConfig

    request = small_request(image=picture((20, 160, 90)))
    plan = given_plan(request)
    api_side = JobFiles(tmp_path / "api" / "video_c")
    job = RunJob("video_c", 1, JobSpec.of(request, plan, api_side.save_inputs(request)), str(api_side.folder))
    config = WorkerConfig(threads=1, nice=0, device="cpu", output_dir=str(tmp_path), preload=False)
    actor = GenerationActor(config, _Queue())
    actor.engine = NoPlanningEngine(device="cpu")
    result = actor.run(job, api_side.read_inputs(job.spec.files))
    pool = RayPool(RayConfig("auto"), config, on_message=lambda m: None, on_lost_job=lambda j: None, on_ready=lambda: None)
    done = pool._store_files(job, result)  # what the API side does with the bytes the actor sent
    assert isinstance(done, JobDone), done
    check_video(done, plan)
    assert Path(done.video_path) == api_side.video and not list(actor.scratch.iterdir())  # the scratch copy went
    actor.scratch.rmdir()


# ---- rows written before JobSpec ---------------------------------------------------------------------


LEGACY_PARAMS = {"prompt": "a red ball", "negative_prompt": None, "duration": 1.0, "aspect": "1:1",
                 "resolution": "32x32", "fps": 8, "style": None, "camera": "pan_right", "tier": "fast",
                 "model": "kadr-tiny", "seed": 11, "loop": False}


def test_a_job_row_from_before_jobspec_is_read_as_legacy_and_still_runs(tmp_path: Path) -> None:
    from kadr.service.plans import Plan, TierLimits
    from kadr.service.jobs import NewJob
    from kadr.service.store import Database, JobStore, UserStore

    db = Database(f"sqlite:///{tmp_path / 'kadr.db'}")
    db.create_schema()
    try:
        user = UserStore(db).add("ann", "test", time.time()).user
        jobs = JobStore(db)
        plan = Plan(name="test", tiers={"fast": TierLimits(cost=1), "high": TierLimits(cost=1)})
        files = JobFiles(tmp_path / "videos" / "video_000000000000000000000001")
        files.folder.mkdir(parents=True)
        picture((10, 90, 160)).save(files.input_image)
        record = jobs.submit(NewJob(files.folder.name, user.id, JobSpec.of(small_request(), Engine().plan(small_request())),
                                    None, 1), plan, time.time())
        # What an older kadr wrote: the JobParams dict, and the picture's path in its own column.
        with sqlite3.connect(tmp_path / "kadr.db") as conn:
            conn.execute("UPDATE jobs SET params = ?, image_path = ?, meta = '{}' WHERE id = ?",
                         (json.dumps(LEGACY_PARAMS), str(files.input_image), record.id))
        stored = jobs.claim_next(time.time(), lambda _plan: 1)
        assert stored is not None and stored.spec.is_legacy and stored.spec.files == {"image": "input.png"}
        assert (stored.spec.model, stored.spec.tier, stored.spec.seed) == ("kadr-tiny", "fast", 11)
        shown = video_object(stored)
        assert (shown["model"], shown["seconds"], shown["seed"], shown["camera"]) == ("kadr-tiny", "1", 11, "pan_right")
        # A legacy job has no stored plan: its worker plans it, as workers always did before.
        result = run_job(Engine(), RunJob(stored.id, stored.attempt, stored.spec, str(files.folder)), lambda m: None,
                         threading.Event())
        assert isinstance(result, JobDone), result
        assert (result.metadata["frames"], result.metadata["seed"], result.metadata["task"]) == (8, 11, "image-to-video")
    finally:
        db.close()


# ---- through a real `kadr serve` ----------------------------------------------------------------------


def test_the_served_video_is_what_the_stored_spec_planned(live_server, user_factory) -> None:
    key, _ = user_factory()
    client = httpx.Client(base_url=live_server.url, headers={"authorization": f"Bearer {key}"}, timeout=60)
    video = client.post("/v1/videos", json={"prompt": "Закат над морем, камера наезжает", "seconds": "1",
                                            "size": "48x32", "fps": 8, "seed": 5}).json()
    done = wait_until(lambda: (v := client.get(f"/v1/videos/{video['id']}").json())["status"] in ("completed", "failed")
                      and v or None, 120, "the video")
    assert done["status"] == "completed", done
    with sqlite3.connect(live_server.data / "kadr.db") as conn:
        stored = JobSpec.from_json(conn.execute("SELECT params FROM jobs WHERE id = ?", (video["id"],)).fetchone()[0])
    plan = stored.generation_plan()
    assert plan is not None and stored.request["seed"] == plan.seed == 5 and stored.request["duration"] == 1.0
    content = client.get(f"/v1/videos/{video['id']}/content")
    path = live_server.data / "check.mp4"
    path.write_bytes(content.content)
    frames = read_frames(path)  # (F, H, W, 3)
    assert frames.shape == (plan.num_frames, plan.height, plan.width, 3)
    assert done["size"] == f"{plan.width}x{plan.height}" and done["camera"] == plan.camera == "zoom_in"


# ---- validation in one place ---------------------------------------------------------------------------


def test_the_allowed_values_are_declared_once_in_kadr_request() -> None:
    import re

    import kadr.prompt.plan as prompt_plan
    import kadr.request as request
    from kadr.service import plans, videos
    from kadr.service.videos import CreateVideo

    assert prompt_plan.STYLES is request.STYLES and prompt_plan.ASPECTS is request.ASPECTS
    assert (prompt_plan.MIN_DURATION_S, prompt_plan.MAX_DURATION_S) == (request.MIN_DURATION_S, request.MAX_DURATION_S)
    assert plans.TIERS is request.TIERS and videos.SIZE_PATTERN is request.SIZE_PATTERN
    schema = CreateVideo.model_json_schema()["properties"]
    enums = {name: next(a["enum"] for a in schema[name]["anyOf"] if "enum" in a) for name in ("style", "quality", "aspect")}
    assert enums == {"style": list(request.STYLES), "quality": list(request.TIERS), "aspect": list(request.ASPECTS)}
    # The hand-written patterns admit exactly the declared ranges.
    seconds, size = re.compile(request.WHOLE_SECONDS_PATTERN), re.compile(request.SIZE_PATTERN)
    assert [n for n in range(100) if seconds.fullmatch(str(n))] == list(
        range(int(request.MIN_DURATION_S), int(request.MAX_DURATION_S) + 1))
    assert [n for n in range(5000) if size.fullmatch(f"{n}x{n}")] == list(range(request.MIN_SIDE, request.MAX_SIDE + 1))
    assert not seconds.fullmatch("04") and not size.fullmatch("064x64")
    assert videos.parse_seconds(request.MAX_DURATION_S) == request.MAX_DURATION_S
    with pytest.raises(Exception, match=f"from {request.MIN_DURATION_S:g} to {request.MAX_DURATION_S:g}"):
        videos.parse_seconds(request.MAX_DURATION_S + 1)


# ---- one owner for a job's files -------------------------------------------------------------------


def test_housekeeping_removes_an_expired_videos_outputs_through_jobfiles(tmp_path: Path) -> None:
    from kadr.service.app import Housekeeping
    from kadr.service.jobs import NewJob
    from kadr.service.plans import Plan, TierLimits
    from kadr.service.store import Database, JobStore, Succeeded, UserStore

    db = Database(f"sqlite:///{tmp_path / 'kadr.db'}")
    db.create_schema()
    try:
        now = time.time()
        user = UserStore(db).add("ann", "test", now).user
        jobs = JobStore(db)
        request = small_request(image=picture((5, 6, 7)))
        files = JobFiles.of(tmp_path / "videos", "video_000000000000000000000002")
        spec = JobSpec.of(request, Engine().plan(request), files.save_inputs(request))
        plan = Plan(name="test", tiers={"fast": TierLimits(cost=1), "high": TierLimits(cost=1)})
        jobs.submit(NewJob(files.folder.name, user.id, spec, str(files.input_image), 1), plan, now)
        jobs.claim_next(now, lambda _plan: 1)
        for path in files.outputs:
            path.write_bytes(b"made")
        (files.folder / ".video.mp4.part").write_bytes(b"half")
        jobs.finish(files.folder.name, 1, Succeeded(str(files.video), str(files.poster), str(files.sprites), {}, now + 1), now)
        assert Housekeeping(jobs, tmp_path / "videos", clock=lambda: now + 2).run_once() == 1
        assert sorted(p.name for p in files.folder.iterdir()) == ["input.png"]  # the outputs went, the input stays
    finally:
        db.close()
    with pytest.raises(ValueError, match="a bare name"):
        files.path("../other/video.mp4")
