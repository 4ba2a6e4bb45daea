"""Jobs: their status, the transitions allowed between statuses, and the video object clients see.

kadr's own statuses are finer than OpenAI's: ``canceled`` is its own status here and shows as OpenAI's
``failed`` with error code ``canceled``.

    queued ──> running ──> succeeded
       │          │ ├────> failed
       │          │ └────> canceled
       │          └──────> queued      (re-queued at start after a crash)
       ├─────────────────> canceled
       └─────────────────> failed      (given up: too many attempts)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kadr.service.jobspec import JobSpec

if TYPE_CHECKING:
    from kadr.post.choices import PostChoice

JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
OpenAIStatus = Literal["queued", "in_progress", "completed", "failed"]

STATUSES: tuple[JobStatus, ...] = ("queued", "running", "succeeded", "failed", "canceled")
ACTIVE: tuple[JobStatus, ...] = ("queued", "running")
TERMINAL: tuple[JobStatus, ...] = ("succeeded", "failed", "canceled")

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    "queued": frozenset({"running", "canceled", "failed"}),
    "running": frozenset({"succeeded", "failed", "canceled", "queued"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "canceled": frozenset(),
}

OPENAI_STATUS: dict[JobStatus, OpenAIStatus] = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
    "canceled": "failed",
}


def sources_of(target: JobStatus) -> tuple[JobStatus, ...]:
    """The statuses a job may move to ``target`` from."""
    return tuple(s for s in STATUSES if target in TRANSITIONS[s])


def can_move(source: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[source]


class IllegalTransition(Exception):
    def __init__(self, job_id: str, source: str | None, target: str) -> None:
        super().__init__(f"job {job_id}: cannot move from {source} to {target}")
        self.job_id = job_id
        self.source = source
        self.target = target


# Error codes a failed job carries (OpenAI's error.code).
CANCELED = "canceled"
GENERATION_FAILED = "generation_failed"
INVALID_REQUEST = "invalid_request"
MODEL_UNAVAILABLE = "model_unavailable"
WORKER_CRASHED = "worker_crashed"
TOO_MANY_ATTEMPTS = "too_many_attempts"
OUTPUT_UNWRITABLE = "output_unwritable"  # the videos folder is read-only, full or not ours
STORE_UNWRITABLE = "store_unwritable"  # the video was made, but the store could not record it in time
WORKER_LOST = "worker_lost"  # found running with no worker behind it (reconciliation)


SourceKind = Literal["remix", "edit", "extend"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("remix", "edit", "extend")


@dataclass(frozen=True)
class JobSource:
    """What a job goes on from (issue 18): one of the user's videos (``video_id``) or an uploaded file (None).

    ``seconds``: the source's length, so that an extension's object shows the whole, stitched length.
    """

    kind: SourceKind
    video_id: str | None
    seconds: float


@dataclass(frozen=True)
class NewJob:
    """A job about to be accepted: everything decided at submission, in its spec."""

    id: str
    user_id: int
    spec: JobSpec
    image_path: str | None  # the input picture's path (image-to-video), shown as ``image_to_video``
    cost: int
    source: JobSource | None = None  # remix, edit or extend: what it goes on from

    # The delivered file's size and frame rate: the plan's, after upscaling and smooth motion (kadr.post.choices).
    @property
    def width(self) -> int:
        return self._delivered_size()[0]

    @property
    def height(self) -> int:
        return self._delivered_size()[1]

    @property
    def fps(self) -> int:
        return self._post().output_fps(int(self._plan("fps")))

    def _post(self) -> "PostChoice":
        from kadr.post.choices import choose_post

        r = self.spec.request
        return choose_post(r["tier"], r.get("upscale"), r.get("smooth"))

    def _delivered_size(self) -> tuple[int, int]:
        return self._post().output_size(int(self._plan("width")), int(self._plan("height")))

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self._plan("warnings"))

    @property
    def planned(self) -> dict[str, Any]:
        """What the job's metadata shows before the video exists: the plan's camera, style, frames, steps."""
        plan = self.spec.plan or {}
        return {"camera": plan.get("camera"), "style": plan.get("style"), "frames": plan.get("num_frames"),
                "steps": plan.get("steps"), "chunks": len(plan.get("chunk_frames") or ())}

    def _plan(self, name: str) -> Any:
        if self.spec.plan is None:
            raise ValueError(f"job {self.id}: a new job needs the API's plan (its spec has none)")
        return self.spec.plan[name]


@dataclass(frozen=True)
class JobRecord:
    """One stored job, detached from the database session."""

    id: str
    seq: int
    user_id: int
    status: JobStatus
    spec: JobSpec
    width: int
    height: int
    fps: int
    image_path: str | None
    progress: int
    eta_seconds: float | None
    stage: str | None
    error_code: str | None
    error_message: str | None
    warnings: tuple[str, ...]
    created_at: float
    started_at: float | None
    completed_at: float | None
    expires_at: float | None
    attempt: int
    cost: int
    video_path: str | None
    poster_path: str | None
    sprites_path: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: JobSource | None = None

    @property
    def tier(self) -> str:
        return self.spec.tier

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def seconds_text(duration: float) -> str:
    """OpenAI's ``seconds`` is a string: ``4.0`` -> ``"4"``, ``1.5`` -> ``"1.5"``."""
    return f"{duration:g}"


def video_object(job: JobRecord) -> dict[str, Any]:
    """The video object of docs/api.md: OpenAI's fields, then kadr's."""
    error = None
    if job.status in ("failed", "canceled"):
        error = {"code": job.error_code or (CANCELED if job.status == "canceled" else GENERATION_FAILED),
                 "message": job.error_message or ("canceled" if job.status == "canceled" else "generation failed")}
    r = job.spec.request
    source = job.source
    return {
        "id": job.id,
        "object": "video",
        "model": job.spec.model,
        "status": OPENAI_STATUS[job.status],
        "progress": 100 if job.status == "succeeded" else job.progress,
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at is not None else None,
        "expires_at": int(job.expires_at) if job.expires_at is not None else None,
        "prompt": job.spec.prompt,
        "seconds": seconds_text(total_seconds(job)),
        "size": f"{job.width}x{job.height}",
        "error": error,
        "remixed_from_video_id": source.video_id if source is not None and source.kind != "extend" else None,
        "kadr_status": job.status,
        "eta_seconds": job.eta_seconds if job.status == "running" else (0.0 if job.status == "succeeded" else None),
        "stage": job.stage,
        "quality": job.spec.tier,
        "camera": job.metadata.get("camera") or r.get("camera"),
        "style": job.metadata.get("style") or r.get("style"),
        "seed": job.spec.seed,
        "aspect": (job.spec.plan or r).get("aspect"),
        "fps": job.fps,
        "negative_prompt": r.get("negative_prompt"),
        "loop": bool(r.get("loop")),
        "upscale": r.get("upscale"),
        "smooth": r.get("smooth"),
        "image_to_video": job.image_path is not None,
        "attempts": job.attempt,
        "cost": job.cost,
        "warnings": list(job.warnings),
        "provenance": job.metadata.get("provenance"),  # {"c2pa": true, "watermark": ...} once made
        "source": None if source is None else {"kind": source.kind, "video_id": source.video_id,
                                               "seconds": seconds_text(source.seconds)},
        "shots": r.get("shots") or None,  # [{"prompt", "duration", "camera", "style"}, ...] of a multi-shot video
        "transition": r.get("transition") if r.get("shots") else None,
    }


def total_seconds(job: JobRecord) -> float:
    """The video's length: an extension is the source and what it adds (OpenAI: "the stitched total duration"),
    a remix as long as its source."""
    requested = float(job.spec.request.get("duration") or 0.0)
    if job.source is None:
        return requested
    if job.spec.plan is not None:  # the plan's: an extension's source frames (retimed) and new ones; a remix's
        return float(job.spec.plan["duration"])
    return job.source.seconds + requested if job.source.kind == "extend" else job.source.seconds
