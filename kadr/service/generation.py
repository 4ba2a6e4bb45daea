"""One job, run inside a worker process: the engine, then the sprite sheet. No database here.

A worker receives the job's :class:`~kadr.service.jobspec.JobSpec` (the request and the plan the API
made) and runs that plan exactly as given: it never plans again, so the video has the frames, size
and seed the API promised. Files of a job live in its own folder, named and cleaned by
:class:`~kadr.service.jobfiles.JobFiles`: a run killed half-way leaves only ``.…part…`` files, which
the next attempt removes before it starts, so a rerun after a crash leaves exactly one video.

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
from kadr.service.jobfiles import JobFiles
from kadr.service.jobs import CANCELED, GENERATION_FAILED, INVALID_REQUEST, MODEL_UNAVAILABLE, OUTPUT_UNWRITABLE
from kadr.service.jobspec import JobSpec, JobSpecError

log = logging.getLogger("kadr.service.worker")

SPRITE_FRAMES = 16
SPRITE_TILE_WIDTH = 160

# errno values that mean "this folder cannot take the files" rather than a bug in generation.
STORAGE_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO})


# ---- messages between the pool (API process) and a worker process ------------------------------


@dataclass(frozen=True)
class RunJob:
    job_id: str
    attempt: int
    spec: JobSpec  # the request and the API's plan; its input files are in job_dir
    job_dir: str

    @property
    def files(self) -> JobFiles:
        return JobFiles(Path(self.job_dir))


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
    started = time.perf_counter()
    files = job.files
    job_dir = files.folder

    def failed(code: str, message: str) -> JobError:
        return JobError(job.job_id, job.attempt, code, message, time.perf_counter() - started)

    def progress(report: Any) -> None:
        emit(JobProgress(job.job_id, job.attempt, report.stage, float(report.fraction), report.eta_s))

    try:
        job_dir.mkdir(parents=True, exist_ok=True)
        files.remove_partials()
        request = job.spec.video_request(files)
        plan = job.spec.generation_plan()  # the API's plan, run as given (None: a legacy job, planned here)
        result = engine.generate(request, files.video, on_progress=progress, cancel=cancel, plan=plan)
        sprites = make_spritesheet(result.path, files.sprites)
    except GenerationCancelled:
        files.remove_outputs()
        return failed(CANCELED, "canceled")
    except (InvalidRequestError, JobSpecError) as exc:
        files.remove_outputs()
        return failed(INVALID_REQUEST, str(exc))
    except ModelNotAvailableError as exc:
        files.remove_outputs()
        return failed(MODEL_UNAVAILABLE, str(exc))
    except Exception as exc:  # a bug, a broken model or a broken folder must fail this job, not the worker
        files.remove_outputs()
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
