"""The video service: what the /v1/videos routes do, one method per route.

Creating a video decides everything before the job is queued: the model (the tier's, or one named;
OpenAI's ``sora-2`` / ``sora-2-pro`` mean the fast / high tier's model), the size (OpenAI's sizes and
kadr's own, mapped to the model's nearest aspect and resolution), the seed (drawn now, so a rerun after
a crash makes the same video), and the engine's plan (so what cannot be made is refused here, with
the field named, rather than failing later in a worker).
"""

from __future__ import annotations

import io
import math
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from kadr.errors import InvalidRequestError, KadrError
from kadr.provenance.policy import enforce_policy
from kadr.request import ASPECTS, MAX_SIDE, VideoRequest, load_image
from kadr.service.events import EventBus, VideoEvent
from kadr.service.generation import INPUT_NAME
from kadr.service.jobs import JobParams, JobRecord, NewJob, video_object
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import PlanBook
from kadr.service.scheduler import job_dir
from kadr.service.store import JobStore, QuotaExceeded, UserRecord, new_job_id

DEFAULT_SECONDS = 4.0  # OpenAI's default
OPENAI_TIER_ALIASES: tuple[tuple[str, str], ...] = (("sora-2-pro", "high"), ("sora-2", "fast"))
Variant = Literal["video", "thumbnail", "spritesheet"]
_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


class NotFound(KadrError):
    """No such video for this user (another user's videos are 'not found' too)."""


class NotReady(KadrError):
    """The video has no content (yet, or any more)."""


class CreateVideo(BaseModel):
    """The body of POST /v1/videos: OpenAI's fields, then kadr's extras. Strings from a form are coerced."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: str = ""
    model: str | None = None
    seconds: str | float | None = None
    size: str | None = None
    quality: Literal["fast", "high"] | None = None
    style: str | None = None
    camera: str | None = None
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    negative_prompt: str | None = None
    fps: int | None = Field(None, ge=1, le=60)
    aspect: str | None = None
    loop: bool = False


@dataclass(frozen=True)
class UploadedImage:
    data: bytes
    filename: str


@dataclass(frozen=True)
class Limits:
    max_prompt_chars: int
    max_image_bytes: int
    max_image_pixels: int


@dataclass(frozen=True)
class Content:
    path: Path
    media_type: str
    filename: str


def parse_seconds(value: Any) -> float:
    allowed = 'a number of seconds from 1 to 30, such as "4", "8" or "12"'
    if value is None or value == "":
        return DEFAULT_SECONDS
    if isinstance(value, bool):
        raise InvalidRequestError("seconds", value, allowed)
    try:
        seconds = float(str(value).strip())
    except ValueError:
        raise InvalidRequestError("seconds", value, allowed) from None
    if not (1.0 <= seconds <= 30.0):  # false for NaN too
        raise InvalidRequestError("seconds", value, allowed)
    return seconds


def tier_of(model: str | None, quality: str | None) -> str:
    if quality is not None:
        return quality
    for alias, tier in OPENAI_TIER_ALIASES:
        if model is not None and model.startswith(alias):
            return tier
    return "fast"


def resolve_model(model: str | None, tier: str, task: str) -> Any:
    """The ModelSpec serving the request: the tier's model for no name or an OpenAI name, else the one named."""
    from kadr.pipelines import registry

    if model is None or any(model.startswith(alias) for alias, _ in OPENAI_TIER_ALIASES):
        spec = registry.model_for_tier(tier, task)
    else:
        spec = registry.get_spec(model)
    if not spec.builtin and not registry.weights_present(spec):
        here = [s.name for s in registry.all_specs() if s.builtin or registry.weights_present(s)]
        raise InvalidRequestError("model", spec.name, "a model whose weights are on this server: " + ", ".join(here))
    return spec


def map_size(size: str | None, aspect: str | None, spec: Any, tier: str) -> tuple[str, str | None]:
    """(aspect, resolution) for the engine from OpenAI's ``size`` and kadr's ``aspect``.

    The size picks the nearest of kadr's aspects. A size as large as the model makes at that aspect and
    tier (OpenAI's 1280x720, 720x1280 …) means the model's own resolution; a smaller one (kadr's
    "256x144", "64x64" …) is kept at its pixel count, at the exact aspect.
    """
    if size is None:
        return aspect or "16:9", None
    match = _SIZE_RE.match(size)
    allowed = f'WIDTHxHEIGHT with each side from 16 to {MAX_SIDE}, such as "1280x720", "720x1280" or "256x144"'
    if not match:
        raise InvalidRequestError("size", size, allowed)
    w, h = int(match.group(1)), int(match.group(2))
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise InvalidRequestError("size", size, allowed)
    nearest = min(ASPECTS, key=lambda a: abs(math.log(w / h) - math.log(ASPECTS[a][0] / ASPECTS[a][1])))
    if aspect is not None and aspect != nearest:
        raise InvalidRequestError("aspect", aspect, f"{nearest} (the aspect of size {size}), or leave one of the two out")
    native = spec.resolution(nearest, tier)
    if native is not None and w * h >= native[0] * native[1]:
        return nearest, None
    aw, ah = ASPECTS[nearest]
    multiple = max(2, spec.size_multiple)
    height = math.sqrt(w * h * ah / aw)
    width = height * aw / ah
    width = max(2 * multiple, round(width / multiple) * multiple)
    height = max(2 * multiple, round(height / multiple) * multiple)
    return nearest, f"{width}x{height}"


class VideoService:
    def __init__(self, jobs: JobStore, plans: PlanBook, bus: EventBus, metrics: ServiceMetrics, videos_dir: Path,
                 limits: Limits, wake_workers: Callable[[], None], stop_worker: Callable[[str], None],
                 clock: Callable[[], float] = time.time) -> None:
        from kadr.engine import Engine

        self.jobs = jobs
        self.plans = plans
        self.bus = bus
        self.metrics = metrics
        self.videos_dir = videos_dir
        self.limits = limits
        self.wake_workers = wake_workers
        self.stop_worker = stop_worker
        self.clock = clock
        self.planner = Engine(output_dir=videos_dir)  # plans only: never loads a model in this process

    # ---- create ------------------------------------------------------------------------------

    def create(self, user: UserRecord, body: CreateVideo, image: UploadedImage | None) -> JobRecord:
        prompt = " ".join(body.prompt.split())
        if len(prompt) > self.limits.max_prompt_chars:
            raise InvalidRequestError("prompt", f"{len(prompt)} characters", f"at most {self.limits.max_prompt_chars} characters")
        if not prompt and image is None:
            raise InvalidRequestError("prompt", body.prompt, "a description of the video (or an input_reference image)")
        enforce_policy(prompt, who=user.name)  # before anything is stored or charged
        seconds = parse_seconds(body.seconds)
        tier = tier_of(body.model, body.quality)
        picture = self._image(image) if image is not None else None
        task = "image-to-video" if picture is not None else "text-to-video"
        spec = resolve_model(body.model, tier, task)
        aspect, resolution = map_size(body.size, body.aspect, spec, tier)
        seed = body.seed if body.seed is not None else secrets.randbits(32)
        request = VideoRequest(
            prompt=prompt, negative_prompt=body.negative_prompt, image=picture, duration=seconds, aspect=aspect,
            resolution=resolution, fps=body.fps, style=body.style, camera=body.camera, tier=tier,  # type: ignore[arg-type]
            model=spec.name, seed=seed, loop=body.loop, format="mp4",
        )
        plan = self.planner.plan(request, spec)
        params = JobParams(
            prompt=request.prompt, negative_prompt=request.negative_prompt, duration=request.duration,
            aspect=request.aspect, resolution=request.resolution, fps=request.fps, style=request.style,
            camera=request.camera, tier=tier, model=spec.name, seed=seed, loop=request.loop,
        )
        plan_ = self.plans.get(user.plan)
        job_id = new_job_id()
        folder = job_dir(self.videos_dir, job_id)
        image_path: str | None = None
        if picture is not None:
            folder.mkdir(parents=True, exist_ok=True)
            picture.save(folder / INPUT_NAME, format="PNG")
            image_path = str(folder / INPUT_NAME)
        planned = {"camera": plan.camera, "style": plan.style, "frames": plan.num_frames, "steps": plan.steps,
                   "chunks": len(plan.chunk_frames)}
        job = NewJob(job_id, user.id, params, plan.width, plan.height, plan.fps, image_path, plan.warnings,
                     plan_.tier(tier).cost, planned)
        try:
            record = self.jobs.submit(job, plan_, self.clock())
        except QuotaExceeded as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.metrics.jobs_refused.labels(exc.limit).inc()
            raise
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.metrics.jobs_submitted.labels(tier, spec.name).inc()
        self._publish(record)
        self.wake_workers()
        return record

    def _image(self, image: UploadedImage) -> Any:
        if len(image.data) > self.limits.max_image_bytes:
            raise InvalidRequestError("input_reference", f"{image.filename} ({len(image.data)} bytes)",
                                      f"a PNG, JPEG or WebP image of at most {self.limits.max_image_bytes // 2**20} MB")
        size = _header_size(image.data)  # checked before decoding: a small file can hold a huge picture
        if size is not None and size[0] * size[1] > self.limits.max_image_pixels:
            raise InvalidRequestError("input_reference", f"{image.filename} ({size[0]}x{size[1]})",
                                      f"an image of at most {self.limits.max_image_pixels / 1e6:g} megapixels")
        return load_image(image.data, "input_reference", name=image.filename)

    # ---- read, cancel, delete ----------------------------------------------------------------------

    def get(self, user: UserRecord, video_id: str) -> JobRecord:
        record = self.jobs.get(video_id, user.id)
        if record is None:
            raise NotFound(f"No video found with id '{video_id}'.")
        return record

    def list(self, user: UserRecord, after: str | None, limit: int, order: Literal["asc", "desc"]) -> tuple[list[JobRecord], bool]:
        page = self.jobs.list(user.id, after=after, limit=limit, order=order)
        if page is None:
            raise InvalidRequestError("after", after, "the id of one of your videos")
        return page

    def cancel(self, user: UserRecord, video_id: str) -> JobRecord:
        record = self.jobs.cancel(video_id, user.id, self.clock())
        if record is None:
            raise NotFound(f"No video found with id '{video_id}'.")
        if record.status == "canceled":
            self.stop_worker(video_id)
            self._publish(record)
        return record

    def delete(self, user: UserRecord, video_id: str) -> JobRecord:
        record = self.jobs.delete(video_id, user.id, self.clock())
        if record is None:
            raise NotFound(f"No video found with id '{video_id}'.")
        self.stop_worker(video_id)
        shutil.rmtree(job_dir(self.videos_dir, video_id), ignore_errors=True)
        self.bus.publish(VideoEvent(user.id, video_id, deleted_object(video_id), True))
        return record

    def content(self, user: UserRecord, video_id: str, variant: Variant) -> Content:
        record = self.get(user, video_id)
        if record.status != "succeeded":
            raise NotReady(f"Video '{video_id}' is {record.status}; its content is there once it has completed.")
        path, media_type, suffix = {
            "video": (record.video_path, "video/mp4", "mp4"),
            "thumbnail": (record.poster_path, "image/png", "png"),
            "spritesheet": (record.sprites_path, "image/jpeg", "jpg"),
        }[variant]
        if path is None or not Path(path).is_file():
            if record.expires_at is not None and record.expires_at <= self.clock():
                raise NotFound(f"The content of video '{video_id}' expired and was deleted.")
            raise NotFound(f"Video '{video_id}' has no {variant}.")
        name = f"{video_id}.{suffix}" if variant == "video" else f"{video_id}-{variant}.{suffix}"
        return Content(Path(path), media_type, name)

    def _publish(self, record: JobRecord) -> None:
        self.bus.publish(VideoEvent(record.user_id, record.id, video_object(record), record.terminal))


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the image's header; None when PIL cannot tell (load_image names the problem)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.size
    except Exception:
        return None


def deleted_object(video_id: str) -> dict[str, Any]:
    return {"id": video_id, "object": "video.deleted", "deleted": True}
