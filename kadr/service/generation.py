"""One job, run inside a worker process: the engine, then the sprite sheet. No database here.

Files of a job live in its own folder (``DATA/videos/<id>/``): ``input.png`` (image-to-video),
``video.mp4``, ``video.png`` (the poster) and ``sprites.jpg``. The engine writes each under a temporary
name and renames it when complete, so a run killed half-way leaves only ``.…part…`` files, which the
next attempt removes before it starts: a rerun after a crash leaves exactly one video.
"""

from __future__ import annotations

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
from kadr.service.jobs import CANCELED, GENERATION_FAILED, INVALID_REQUEST, MODEL_UNAVAILABLE, JobParams

log = logging.getLogger("kadr.service.worker")

VIDEO_NAME = "video.mp4"
SPRITES_NAME = "sprites.jpg"
INPUT_NAME = "input.png"
SPRITE_FRAMES = 16
SPRITE_TILE_WIDTH = 160


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
    """Delete what an interrupted attempt left: the engine's ``.…part…`` temporary files."""
    removed = []
    for path in job_dir.glob(".*part*"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def run_job(engine: Any, job: RunJob, emit: Callable[[FromWorker], None], cancel: threading.Event) -> JobDone | JobError:
    """Generate the job's video with ``engine`` (a kadr.engine.Engine); report progress through ``emit``."""
    from kadr.request import VideoRequest

    started = time.perf_counter()
    job_dir = Path(job.job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    remove_partials(job_dir)
    p = JobParams.from_dict(job.params)

    def progress(report: Any) -> None:
        emit(JobProgress(job.job_id, job.attempt, report.stage, float(report.fraction), report.eta_s))

    try:
        request = VideoRequest(
            prompt=p.prompt, negative_prompt=p.negative_prompt, image=job.image_path, duration=p.duration,
            aspect=p.aspect, resolution=p.resolution, fps=p.fps, style=p.style, camera=p.camera, tier=p.tier,  # type: ignore[arg-type]
            model=p.model, seed=p.seed, loop=p.loop, format="mp4",
        )
        result = engine.generate(request, job_dir / VIDEO_NAME, on_progress=progress, cancel=cancel)
        sprites = make_spritesheet(result.path, job_dir / SPRITES_NAME)
    except GenerationCancelled:
        remove_partials(job_dir)
        return JobError(job.job_id, job.attempt, CANCELED, "canceled", time.perf_counter() - started)
    except InvalidRequestError as exc:
        return JobError(job.job_id, job.attempt, INVALID_REQUEST, str(exc), time.perf_counter() - started)
    except ModelNotAvailableError as exc:
        return JobError(job.job_id, job.attempt, MODEL_UNAVAILABLE, str(exc), time.perf_counter() - started)
    except Exception as exc:  # a bug or a broken model must fail this job, not the worker
        log.exception("job %s failed", job.job_id)
        remove_partials(job_dir)
        return JobError(job.job_id, job.attempt, GENERATION_FAILED, f"{type(exc).__name__}: {exc}",
                        time.perf_counter() - started)
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
