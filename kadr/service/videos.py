"""The video service: what the /v1/videos routes do, one method per route.

Creating a video decides everything before the job is queued: the model (the tier's, or one named;
OpenAI's ``sora-2`` / ``sora-2-pro`` mean the fast / high tier's model), the size (OpenAI's sizes and
kadr's own, mapped to the model's nearest aspect and resolution), the seed (drawn now, so a rerun after
a crash makes the same video), and the engine's plan (so what cannot be made is refused here, with
the field named, rather than failing later in a worker).
"""

from __future__ import annotations

import io
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from annotated_types import Ge, Le
from PIL import Image
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from kadr.camera import CAMERA_MOTIONS
from kadr.errors import InvalidRequestError, KadrError
from kadr.provenance.policy import enforce_policy
from kadr.request import (ASPECTS, DEFAULT_ASPECT, MAX_DURATION_S, MAX_FPS, MAX_PROMPT_CHARS, MAX_SEED, MAX_SHOTS,
                          MAX_SIDE, MIN_DURATION_S, MIN_FPS, MIN_SIDE, SIZE_PATTERN, STYLES, TEXT_PATTERN, TIERS,
                          TRANSITIONS, UPSCALES, WHOLE_SECONDS_PATTERN, VideoRequest, check_text, load_image)
from kadr.service.artifacts import ArtifactStore, LocalArtifacts, RemoteObject
from kadr.service.events import EventBus, VideoEvent
from kadr.service.jobfiles import JobFiles
from kadr.service.features import require_features
from kadr.service.jobs import JobRecord, JobSource, NewJob, video_object
from kadr.service.jobspec import JobSpec
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import PlanBook
from kadr.service.store import JobStore, QuotaExceeded, UserRecord, new_job_id

DEFAULT_SECONDS = 4.0  # OpenAI's default
OPENAI_TIER_ALIASES: tuple[tuple[str, str], ...] = (("sora-2-pro", "high"), ("sora-2", "fast"))
Variant = Literal["video", "thumbnail", "spritesheet"]

# What the API admits, each stated once: the routes' validation and their OpenAPI schemas both read these.
SECONDS_PATTERN = WHOLE_SECONDS_PATTERN  # OpenAI's seconds as a string (kadr.request declares the range)
# new_job_id()'s ids: "video_" and 24 hex digits. Anything else is no video, refused before the store.
VIDEO_ID_PATTERN = r"^video_[0-9a-f]{24}$"
VIDEO_ID_MAX = 30
DATA_URL_PATTERN = r"^data:image/(png|jpeg|webp);base64,"
_SECONDS_RE = re.compile(SECONDS_PATTERN)
_SIZE_RE = re.compile(SIZE_PATTERN)
_VIDEO_ID_RE = re.compile(VIDEO_ID_PATTERN)

SECONDS_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": int(MIN_DURATION_S), "maximum": int(MAX_DURATION_S)},
              {"type": "string", "pattern": SECONDS_PATTERN}, {"type": "null"}],
    "description": f'Whole seconds from {MIN_DURATION_S:g} to {MAX_DURATION_S:g}, as a number or a string '
                   '("4", "8", "12"); default 4.',
}


def _integral(value: Any) -> Any:
    """4.0 is the whole number 4 (JSON Schema's ``integer`` admits it too); 4.5 stays a float, to be refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = BeforeValidator(_integral)


def text_schema(description: str, required: bool, max_chars: int = MAX_PROMPT_CHARS) -> dict[str, Any]:
    """kadr.request.check_text's rule as JSON schema: no control characters, at most ``max_chars``; non-blank if required."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_chars, "pattern": TEXT_PATTERN,
                              "description": description}
    if required:
        schema.update(minLength=1, allOf=[{"pattern": r"\S"}])
    return schema


class NotFound(KadrError):
    """No such video for this user (another user's videos are 'not found' too); ``param`` names the field, if any."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class NotReady(KadrError):
    """The video has no content (yet, or any more)."""


def _json_list(value: Any) -> Any:
    """A form sends ``shots`` as one field holding the JSON list; JSON bodies send the list itself."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError("shots", value[:40], f"a JSON list of shots ({exc.msg})") from None
    return value


class ShotIn(BaseModel):
    """One shot of ``shots``: its own prompt, length and, optionally, camera and style."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str, WithJsonSchema(text_schema("What the shot shows.", required=True))]
    duration: Annotated[float, Ge(1), Le(30), Field(description="Seconds, 1 to 30.")] = 5.0
    camera: Literal[CAMERA_MOTIONS] | None = None  # type: ignore[valid-type]
    style: Literal[STYLES] | None = None  # type: ignore[valid-type]


class CreateVideo(BaseModel):
    """The body of POST /v1/videos: OpenAI's fields, then kadr's extras (a new field here is in the API's schema).

    JSON bodies are validated strictly (a number is no string, a string no number); form fields, all strings
    on the wire, are read as their types. ``input_reference`` travels beside this model (UploadedImage).
    """

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str | None, WithJsonSchema(text_schema("What the video shows.", required=True))] = None
    model: Annotated[str | None, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}],
                                                 "description": "A model of GET /v1/models, or sora-2 / sora-2-pro "
                                                                "(the fast / high tier's model)."})] = None
    seconds: Annotated[Any, WithJsonSchema(SECONDS_SCHEMA)] = None
    size: Annotated[str | None, AfterValidator(lambda size: _check_size(size)), WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": SIZE_PATTERN}, {"type": "null"}],
         "description": f"WIDTHxHEIGHT, each side {MIN_SIDE} to {MAX_SIDE}; mapped to the model's nearest aspect and resolution. "
                        "Not with aspect."})] = None
    quality: Literal[TIERS] | None = None  # type: ignore[valid-type]
    style: Literal[STYLES] | None = None  # type: ignore[valid-type]
    camera: Literal[CAMERA_MOTIONS] | None = None  # type: ignore[valid-type]
    seed: Annotated[int, Ge(0), Le(MAX_SEED), WholeNumber] | None = None
    negative_prompt: Annotated[str | None, WithJsonSchema({**text_schema("What to avoid.", required=False),
                                                           "type": ["string", "null"]})] = None
    fps: Annotated[int, Ge(MIN_FPS), Le(MAX_FPS), WholeNumber] | None = None
    aspect: Annotated[Literal[tuple(ASPECTS)] | None, Field(description="Not with size.")] = None  # type: ignore[valid-type]
    loop: bool = False
    # Post-processing of the output (kadr.post.choices): unset means the quality tier's choice (off for both).
    upscale: Annotated[Literal[UPSCALES] | None, Field(  # type: ignore[valid-type]
        description="Real-ESRGAN on the output: 2x, 4x or 720p on the short side (slow on a CPU: about a "
                    "minute for 5 s at 720p on 2 cores); off or unset: the tier's choice (none).")] = None
    smooth: Annotated[bool | None, Field(
        description="Smooth motion: in-between frames to twice the frame rate (up to 60 fps); unset: the tier's choice (off).")] = None
    # ---- issue 18 (what a model cannot do answers 400 unsupported_feature naming the field) ----
    shots: Annotated[list[ShotIn], BeforeValidator(_json_list), Field(
        min_length=1, max_length=MAX_SHOTS, description="Several shots in one video, each with its prompt, duration, camera, style "
                                          "(in a form: one field holding the JSON list); seconds is their sum.")] = []
    transition: Annotated[Literal[TRANSITIONS] | None, Field(  # type: ignore[valid-type]
        description="How shots are joined: cut (default) or crossfade.")] = None
    characters: Annotated[list[Annotated[str, Field(max_length=64)]], Field(
        max_length=1, description="Characters (POST /v1/videos/characters) the video shows: one id.")] = []

    @model_validator(mode="after")
    def _size_or_aspect(self) -> "CreateVideo":
        if {"size", "aspect"} <= self.model_fields_set:
            raise InvalidRequestError("aspect", self.aspect, "leave it out when size is given (size sets the aspect)")
        return self


def _check_size(size: str | None) -> str | None:
    if size is not None and not _SIZE_RE.fullmatch(size):
        raise InvalidRequestError("size", size, f'WIDTHxHEIGHT with each side from {MIN_SIDE} to {MAX_SIDE}, such as '
                                                '"1280x720", "720x1280" or "256x144"')
    return size


def check_video_id(video_id: str) -> str:
    """The id as it is when it could be a video's; NotFound (quoting it only when short) before any store sees it."""
    if _VIDEO_ID_RE.fullmatch(video_id):
        return video_id
    if len(video_id) > VIDEO_ID_MAX:
        raise NotFound(f"No video found with that id ({len(video_id)} characters; video ids have {VIDEO_ID_MAX}).")
    raise NotFound(f"No video found with id {video_id!r}.")


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
    path: Path | RemoteObject  # a local file, or an object in the artifact store (streamed by the route)
    media_type: str
    filename: str


def parse_seconds(value: Any) -> float:
    """OpenAI's ``seconds``: a whole number from 1 to 30, or its string ("4"); None means the default (4)."""
    allowed = f'a whole number of seconds from {MIN_DURATION_S:g} to {MAX_DURATION_S:g}, such as 4 or "4", "8", "12"'
    if value is None:
        return DEFAULT_SECONDS
    value = _integral(value)
    if isinstance(value, int) and not isinstance(value, bool) and MIN_DURATION_S <= value <= MAX_DURATION_S:
        return float(value)
    if isinstance(value, str) and _SECONDS_RE.fullmatch(value):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        shown: Any = value if isinstance(value, bool) else f"a {type(value).__name__}"
    elif isinstance(value, int) and abs(value) >= 10**12:
        shown = f"a number of {len(str(abs(value)))} digits"
    else:
        shown = value
    raise InvalidRequestError("seconds", shown, allowed)


def tier_of(model: str | None, quality: str | None) -> str:
    if quality is not None:
        return quality
    for alias, tier in OPENAI_TIER_ALIASES:
        if model is not None and model.startswith(alias):
            return tier
    return "fast"


def resolve_model(model: str | None, tier: str, task: str, features: tuple[str, ...] = ()) -> Any:
    """The ModelSpec serving the request: the tier's model for no name or an OpenAI name, else the one named.

    ``features`` (VideoRequest.features: extend, remix, shots ...) steer the tier's choice to a model that has them.
    """
    from kadr.pipelines import registry

    if model is None or any(model.startswith(alias) for alias, _ in OPENAI_TIER_ALIASES):
        spec = registry.model_for_tier(tier, task, features)
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
        return aspect or DEFAULT_ASPECT, None
    match = _SIZE_RE.fullmatch(_check_size(size) or "")
    assert match is not None  # _check_size refused anything else
    w, h = int(match.group(1)), int(match.group(2))
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
                 clock: Callable[[], float] = time.time, artifacts: ArtifactStore | None = None) -> None:
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
        self.artifacts = artifacts if artifacts is not None else LocalArtifacts(videos_dir)
        self.planner = Engine(output_dir=videos_dir)  # plans only: never loads a model in this process

    # ---- create ------------------------------------------------------------------------------

    def create(self, user: UserRecord, body: CreateVideo, image: UploadedImage | None,
               last_image: UploadedImage | None = None, reference: Path | None = None) -> JobRecord:
        """``last_image``: the last frame (with ``image`` the first); ``reference``: a character's picture."""
        # A prompt given must say something; only image-to-video and shots may leave it out.
        prompt = check_text(body.prompt, "prompt", self.limits.max_prompt_chars,
                            required=(image is None and not body.shots) or body.prompt is not None)
        negative_prompt = check_text(body.negative_prompt, "negative_prompt", self.limits.max_prompt_chars) or None
        enforce_policy(prompt, who=user.name)  # before anything is stored or charged
        seconds = parse_seconds(body.seconds)
        shots = tuple(shot.model_dump() for shot in body.shots)
        if shots:  # the video is the shots: its length is theirs
            total = sum(shot["duration"] for shot in shots)
            if body.seconds is not None and seconds != total:
                raise InvalidRequestError("seconds", body.seconds, f"leave it out with shots (they add up to {total:g} s)")
            if total > MAX_DURATION_S:
                raise InvalidRequestError("shots", f"{total:g} s in all", f"shots of at most {MAX_DURATION_S:g} s in all")
            seconds = total
        tier = tier_of(body.model, body.quality)
        picture = self._image(image) if image is not None else None
        task = "image-to-video" if picture is not None else "text-to-video"
        wanted = tuple(name for name, asked in (("first-last-frame", last_image is not None), ("shots", bool(shots)),
                                                ("reference", reference is not None)) if asked)
        spec = resolve_model(body.model, tier, task, wanted)
        aspect, resolution = map_size(body.size, body.aspect, spec, tier)
        seed = body.seed if body.seed is not None else secrets.randbits(32)
        request = VideoRequest(
            prompt=prompt, negative_prompt=negative_prompt, image=picture, duration=seconds, aspect=aspect,
            resolution=resolution, fps=body.fps, style=body.style, camera=body.camera, tier=tier,  # type: ignore[arg-type]
            model=spec.name, seed=seed, loop=body.loop, format="mp4", upscale=body.upscale, smooth=body.smooth,
            shots=shots, transition=body.transition or "cut", reference_image=reference,
            last_image=self._image(last_image, "last_image") if last_image is not None else None,
        )
        return self.submit(user, new_job_id(), request, spec)

    def submit(self, user: UserRecord, job_id: str, request: VideoRequest, spec: Any,
               source: JobSource | None = None) -> JobRecord:
        """Plan ``request`` on ``spec`` (refused here if it cannot be made), save its files, charge and queue it.

        Also the path of remix, edit and extend (kadr.service.edits), whose ``source`` says what they go on from.
        """
        require_features(request, spec)  # naming the API field that asked, before the engine's own check
        plan = self.planner.plan(request, spec)  # the one plan of this job: workers run it as it is
        plan_ = self.plans.get(user.plan)
        files = JobFiles.of(self.videos_dir, job_id)
        try:
            job_spec = JobSpec.of(request, plan, files.save_inputs(request))
        except BaseException:
            files.remove()
            raise
        image_path = str(files.path(job_spec.files["image"])) if "image" in job_spec.files else None
        job = NewJob(job_id, user.id, job_spec, image_path, plan_.tier(request.tier).cost, source=source)
        try:
            record = self.jobs.submit(job, plan_, self.clock())
        except QuotaExceeded as exc:
            files.remove()
            self.metrics.jobs_refused.labels(exc.limit).inc()
            raise
        except BaseException:
            files.remove()
            raise
        self.metrics.jobs_submitted.labels(request.tier, spec.name).inc()
        self._publish(record)
        self.wake_workers()
        return record

    def _image(self, image: UploadedImage, param: str = "input_reference") -> Any:
        if len(image.data) > self.limits.max_image_bytes:
            raise InvalidRequestError(param, f"{image.filename} ({len(image.data)} bytes)",
                                      f"a PNG, JPEG or WebP image of at most {self.limits.max_image_bytes // 2**20} MB")
        size = _header_size(image.data)  # checked before decoding: a small file can hold a huge picture
        if size is not None and size[0] * size[1] > self.limits.max_image_pixels:
            raise InvalidRequestError(param, f"{image.filename} ({size[0]}x{size[1]})",
                                      f"an image of at most {self.limits.max_image_pixels / 1e6:g} megapixels")
        return load_image(image.data, param, name=image.filename)

    # ---- read, cancel, delete ----------------------------------------------------------------------

    def get(self, user: UserRecord, video_id: str) -> JobRecord:
        record = self.jobs.get(check_video_id(video_id), user.id)
        if record is None:
            raise NotFound(f"No video found with id '{video_id}'.")
        return record

    def list(self, user: UserRecord, after: str | None, limit: int, order: Literal["asc", "desc"]) -> tuple[list[JobRecord], bool]:
        if after is not None and not _VIDEO_ID_RE.fullmatch(after):
            raise InvalidRequestError("after", after, "the id of one of your videos (video_ and 24 hex digits)")
        page = self.jobs.list(user.id, after=after, limit=limit, order=order)
        if page is None:
            raise NotFound(f"after: no video found with id '{after}'.", param="after")
        return page

    def cancel(self, user: UserRecord, video_id: str) -> JobRecord:
        record = self.jobs.cancel(check_video_id(video_id), user.id, self.clock())
        if record is None:
            raise NotFound(f"No video found with id '{video_id}'.")
        if record.status == "canceled":
            self.stop_worker(video_id)
            self._publish(record)
        return record

    def delete(self, user: UserRecord, video_id: str) -> JobRecord:
        record = self.jobs.delete(check_video_id(video_id), user.id, self.clock())
        if record is None:
            raise NotFound(f"No video found with id '{video_id}'.")
        self.stop_worker(video_id)
        self.artifacts.delete_job(video_id)
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
        found = self.artifacts.locate(path) if path else None
        if found is None:
            if record.expires_at is not None and record.expires_at <= self.clock():
                raise NotFound(f"The content of video '{video_id}' expired and was deleted.")
            raise NotFound(f"Video '{video_id}' has no {variant}.")
        name = f"{video_id}.{suffix}" if variant == "video" else f"{video_id}-{variant}.{suffix}"
        return Content(found, media_type, name)

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
