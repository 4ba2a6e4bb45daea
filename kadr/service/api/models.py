"""Typed response bodies of the API (docs/api.md). Request bodies live with their services."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from kadr.service.jobs import JobStatus, OpenAIStatus


class ErrorObject(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """OpenAI's error shape: every 4xx and 5xx answer of the API."""

    error: ErrorObject


class VideoError(BaseModel):
    code: str
    message: str


class VideoSource(BaseModel):
    """What a remix, edit or extension went on from: one of the user's videos (video_id) or an upload (null)."""

    kind: Literal["remix", "edit", "extend"]
    video_id: str | None
    seconds: str  # the source's length; an extension's ``seconds`` is this and what it added


class ShotOut(BaseModel):
    prompt: str
    duration: float
    camera: str | None = None
    style: str | None = None


class VideoObject(BaseModel):
    """OpenAI's video object, then kadr's fields."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: OpenAIStatus
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str | None
    seconds: str
    size: str
    error: VideoError | None
    remixed_from_video_id: str | None = None
    kadr_status: JobStatus
    eta_seconds: float | None
    stage: str | None
    quality: str
    camera: str | None
    style: str | None
    seed: int
    aspect: str
    fps: int
    negative_prompt: str | None
    loop: bool
    upscale: str | None = None  # as the request gave it (None: the tier's choice); size and fps show the result
    smooth: bool | None = None
    image_to_video: bool
    attempts: int
    cost: int
    warnings: list[str]
    provenance: dict[str, Any] | None = None  # what the file carries: {"c2pa": true, "watermark": bool, ...}
    source: VideoSource | None = None  # remix, edit, extension: what it goes on from
    shots: list[ShotOut] | None = None  # a video of several shots: each one's prompt, length, camera, style
    transition: Literal["cut", "crossfade"] | None = None


class CharacterObject(BaseModel):
    """OpenAI's character (id, created_at, name), then kadr's: the reference picture's size and where it came from."""

    id: str
    object: Literal["character"] = "character"
    created_at: int
    name: str
    width: int
    height: int
    source: Literal["image", "video", "video_id"]
    source_video_id: str | None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class ModelObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "kadr"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class TierUsageOut(BaseModel):
    used: int
    limit: int | None
    left: int | None
    cost: int
    credits_used: int


class CountLimit(BaseModel):
    running: int
    limit: int


class ActiveLimit(BaseModel):
    count: int
    limit: int


class RateLimitOut(BaseModel):
    requests_per_second: float
    burst: int


class UsageOut(BaseModel):
    object: Literal["usage"] = "usage"
    user: str
    plan: str
    period: str
    period_start: str
    resets_at: str
    tiers: dict[str, TierUsageOut]
    credits_used: int
    credits_limit: int | None
    credits_left: int | None
    concurrency: CountLimit
    active: ActiveLimit
    rate_limit: RateLimitOut


class MeOut(BaseModel):
    object: Literal["user"] = "user"
    user: str
    plan: str
    webhook_url: str | None


class HealthCheck(BaseModel):
    name: str
    ok: bool
    severity: Literal["degraded", "down"]
    detail: str


class Health(BaseModel):
    """/healthz: 200 for ok and degraded, 503 for down (kadr.service.health says what each means)."""

    status: Literal["ok", "degraded", "down"]
    reasons: list[str]
    checks: list[HealthCheck]
    version: str
    store: str
    workers: dict[str, int]
    jobs: dict[str, int]
    disk_free_bytes: dict[str, int]


def as_video(data: dict[str, Any]) -> VideoObject:
    return VideoObject.model_validate(data)
