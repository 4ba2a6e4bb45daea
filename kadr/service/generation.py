"""One job, run inside a worker process: the engine, then the sprite sheet. No database here.

Files of a job live in its own folder (``DATA/videos/<id>/``): ``input.png`` (image-to-video),
``video.mp4``, ``video.png`` (the poster) and ``sprites.jpg``. The engine writes each under a temporary
name and renames it when complete, so a run killed half-way leaves only ``.…part…`` files, which the
next attempt removes before it starts: a rerun after a crash leaves exactly one video.

A job that fails removes what it wrote (partial files and any finished output), and a clean-up that
fails in turn (a read-only folder: EROFS) is logged and left to the scheduler's retry, never allowed to
take the worker down. A folder that cannot be written (read-only, full, no permission) fails the job
with ``output_unwritable`` and a message naming the folder and the error.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from kadr.errors import GenerationCancelled, InvalidRequestError, ModelNotAvailableError
from kadr.service.jobs import (
    CANCELED,
    GENERATION_FAILED,
    INVALID_REQUEST,
    MODEL_UNAVAILABLE,
    OUTPUT_UNWRITABLE,
    JobParams,
)

log = logging.getLogger("kadr.service.worker")

VIDEO_NAME = "video.mp4"
SPRITES_NAME = "sprites.jpg"
INPUT_NAME = "input.png"
SPRITE_FRAMES = 16
SPRITE_TILE_WIDTH = 160
OUTPUT_NAMES = (VIDEO_NAME, "video.png", SPRITES_NAME)  # what a run writes (the poster: the video's name, .png)

# errno values that mean "this folder cannot take the files" rather than a bug in generation.
STORAGE_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO})


# ---- messages between the pool (API process) and a worker process ------------------------------


@dataclass(frozen=True)
class RunJob:
    job_id: str
    attempt: int
    params: dict[str, Any]  # JobParams.to_dict()
    image_path: str | None
    job_dir: str


@dataclass(frozen=True)
class CancelJob:
    job_id: str


@dataclass(frozen=True)
class StopWorker:
    pass


@dataclass(frozen=True)
class WorkerReady:
    slot: int
    pid: int


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    attempt: int
    stage: str
    fraction: float
    eta_s: float | None


@dataclass(frozen=True)
class JobDone:
    job_id: str
    attempt: int
    video_path: str
    poster_path: str
    sprites_path: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class JobError:
    job_id: str
    attempt: int
    code: str
    message: str
    elapsed_s: float = 0.0


ToWorker = RunJob | CancelJob | StopWorker
FromWorker = WorkerReady | JobProgress | JobDone | JobError


# ---- running a job ---------------------------------------------------------------------------


def remove_partials(job_dir: Path) -> list[Path]:
    """Delete what an interrupted attempt left: the engine's ``.…part…`` temporary files.

    Best effort: a file that cannot be removed (read-only folder) is logged and skipped.
    """
    return _remove(job_dir, list(job_dir.glob(".*part*")) if job_dir.is_dir() else [])


def remove_outputs(job_dir: Path) -> list[Path]:
    """Delete everything a failed attempt wrote: partial files and finished outputs (not the input image)."""
    return remove_partials(job_dir) + _remove(job_dir, [job_dir / name for name in OUTPUT_NAMES])


def _remove(job_dir: Path, paths: list[Path]) -> list[Path]:
    removed = []
    for path in paths:
        try:
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError as exc:  # the clean-up of an error path must not become the next error
            log.warning("could not remove %s: %s", path, exc)
    return removed


def storage_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (itself, its cause or context) that says the folder cannot be written."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in STORAGE_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def unwritable_message(job_dir: Path, error: OSError) -> str:
    reason = error.strerror or str(error)
    return (f"cannot write the video to the folder {job_dir}: [Errno {error.errno}] {reason}"
            + (f" ({error.filename})" if error.filename and str(error.filename) != str(job_dir) else ""))


def run_job(engine: Any, job: RunJob, emit: Callable[[FromWorker], None], cancel: threading.Event) -> JobDone | JobError:
    """Generate the job's video with ``engine`` (a kadr.engine.Engine); report progress through ``emit``.

    Never raises: every outcome, a broken folder included, is a JobDone or a JobError.
    """
    from kadr.request import VideoRequest

    started = time.perf_counter()
    job_dir = Path(job.job_dir)

    def failed(code: str, message: str) -> JobError:
        return JobError(job.job_id, job.attempt, code, message, time.perf_counter() - started)

    def progress(report: Any) -> None:
        emit(JobProgress(job.job_id, job.attempt, report.stage, float(report.fraction), report.eta_s))

    try:
        job_dir.mkdir(parents=True, exist_ok=True)
        remove_partials(job_dir)
        p = JobParams.from_dict(job.params)
        request = VideoRequest(
            prompt=p.prompt, negative_prompt=p.negative_prompt, image=job.image_path, duration=p.duration,
            aspect=p.aspect, resolution=p.resolution, fps=p.fps, style=p.style, camera=p.camera, tier=p.tier,  # type: ignore[arg-type]
            model=p.model, seed=p.seed, loop=p.loop, format="mp4", upscale=p.upscale, smooth=p.smooth,
        )
        result = engine.generate(request, job_dir / VIDEO_NAME, on_progress=progress, cancel=cancel)
        sprites = make_spritesheet(result.path, job_dir / SPRITES_NAME)
    except GenerationCancelled:
        remove_outputs(job_dir)
        return failed(CANCELED, "canceled")
    except InvalidRequestError as exc:
        remove_outputs(job_dir)
        return failed(INVALID_REQUEST, str(exc))
    except ModelNotAvailableError as exc:
        remove_outputs(job_dir)
        return failed(MODEL_UNAVAILABLE, str(exc))
    except Exception as exc:  # a bug, a broken model or a broken folder must fail this job, not the worker
        remove_outputs(job_dir)
        unwritable = storage_error(exc)
        if unwritable is not None:
            message = unwritable_message(job_dir, unwritable)
            log.warning("job %s failed: %s", job.job_id, message)
            return failed(OUTPUT_UNWRITABLE, message)
        log.exception("job %s failed", job.job_id)
        return failed(GENERATION_FAILED, f"{type(exc).__name__}: {exc}")
    meta = {k: v for k, v in result.metadata.items() if k not in ("path", "poster", "prompt")}
    return JobDone(job.job_id, job.attempt, str(result.path), str(result.poster_path),
                   str(sprites) if sprites else None, meta, time.perf_counter() - started)


def make_spritesheet(video: Path, out: Path, frames: int = SPRITE_FRAMES, tile_width: int = SPRITE_TILE_WIDTH) -> Path | None:
    """A JPEG grid of ``frames`` frames spread evenly over the video (4 per row), for scrubbing previews."""
    from kadr.video.probe import read_frames

    all_frames = read_frames(video)  # (F, H, W, 3); kadr's videos are short and small enough
    if len(all_frames) == 0:
        return None
    picks = np.linspace(0, len(all_frames) - 1, num=min(frames, len(all_frames))).round().astype(int)
    h, w = all_frames.shape[1:3]
    tw = min(tile_width, w)
    th = max(1, round(h * tw / w))
    cols = min(4, len(picks))
    rows = math.ceil(len(picks) / cols)
    sheet = Image.new("RGB", (cols * tw, rows * th))
    for i, index in enumerate(picks):
        tile = Image.fromarray(all_frames[index]).resize((tw, th), Image.BILINEAR)
        sheet.paste(tile, ((i % cols) * tw, (i // cols) * th))
    tmp = out.with_name(f".{out.name}.part")
    sheet.save(tmp, format="JPEG", quality=85)
    os.replace(tmp, out)
    return out
