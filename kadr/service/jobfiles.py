"""One owner for a job's files: their folder, their names, saving the inputs and removing what a run left.

A job's files live in its own folder (``DATA/videos/<id>/``)::

    input.png            the first frame (image-to-video)          \\
    last_image.png       the last frame (first and last frame)      |  inputs, saved by the API at
    reference_image.png  a character's picture                      |  submission, named in the job's
    source_video.mp4     the video to extend or remix (its suffix)  /   JobSpec
    video.mp4            the video                                  \\
    video.png            its poster (the video's name, .png)         |  outputs, written by a worker
    sprites.jpg          the sprite sheet for scrubbing previews    /

The engine and the sprite sheet write each output under a temporary ``.…part…`` name and rename it
when complete, so a run killed half-way leaves only those, which the next attempt removes before it
starts. Removal is best effort: a file that cannot go (a read-only folder) is logged and skipped, and
the caller decides whether to retry (the scheduler does, at each reconciliation).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from PIL import Image

log = logging.getLogger("kadr.service.jobfiles")

VIDEO_NAME = "video.mp4"
POSTER_NAME = "video.png"  # the engine writes the poster beside the video, with the suffix .png
SPRITES_NAME = "sprites.jpg"
INPUT_NAME = "input.png"
OUTPUT_NAMES = (VIDEO_NAME, POSTER_NAME, SPRITES_NAME)
# The request fields that hold a file, and the name each gets in the job's folder. A picture field not
# listed here (one added later) is saved as "<field>.png": nothing new is needed to carry it.
INPUT_NAMES: dict[str, str] = {"image": INPUT_NAME, "last_image": "last_image.png",
                               "reference_image": "reference_image.png"}


@dataclass(frozen=True)
class JobFiles:
    """The files of one job, in ``folder``."""

    folder: Path

    @classmethod
    def of(cls, videos_dir: str | Path, job_id: str) -> "JobFiles":
        return cls(Path(videos_dir) / job_id)

    # ---- names ---------------------------------------------------------------------------------

    @property
    def video(self) -> Path:
        return self.folder / VIDEO_NAME

    @property
    def poster(self) -> Path:
        return self.folder / POSTER_NAME

    @property
    def sprites(self) -> Path:
        return self.folder / SPRITES_NAME

    @property
    def input_image(self) -> Path:
        return self.folder / INPUT_NAME

    @property
    def outputs(self) -> tuple[Path, ...]:
        return tuple(self.folder / name for name in OUTPUT_NAMES)

    def path(self, name: str) -> Path:
        """The file ``name`` of this job (a bare name from its JobSpec: no folders, no ``..``)."""
        if not name or Path(name).name != name or name in (".", ".."):
            raise ValueError(f"a job's file is a bare name in its folder, not {name!r}")
        return self.folder / name

    # ---- inputs ----------------------------------------------------------------------------------

    def save_inputs(self, request: Any) -> dict[str, str]:
        """Save the request's pictures (as PNG) and source video into the folder; {field: file name}.

        Generic over the request's fields: any field holding a picture or a file path is saved.
        """
        from dataclasses import fields

        names: dict[str, str] = {}
        for f in fields(request):
            value = getattr(request, f.name)
            if isinstance(value, Image.Image):
                names[f.name] = INPUT_NAMES.get(f.name, f"{f.name}.png")
                self.folder.mkdir(parents=True, exist_ok=True)
                value.save(self.path(names[f.name]), format="PNG")
            elif isinstance(value, Path):
                names[f.name] = f"{f.name}{value.suffix.lower()}"
                self.folder.mkdir(parents=True, exist_ok=True)
                if value.resolve() != self.path(names[f.name]).resolve():
                    shutil.copyfile(value, self.path(names[f.name]))
        return names

    def read_inputs(self, names: Mapping[str, str]) -> dict[str, bytes]:
        """The input files named in a JobSpec, as bytes (to send to a worker with no shared disk)."""
        return {name: self.path(name).read_bytes() for name in names.values()}

    def write_inputs(self, contents: Mapping[str, bytes]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            self.path(name).write_bytes(data)

    # ---- clean-up --------------------------------------------------------------------------------

    def remove_partials(self) -> list[Path]:
        """Delete what an interrupted attempt left: the ``.…part…`` temporary files."""
        return _remove(list(self.folder.glob(".*part*")) if self.folder.is_dir() else [])

    def remove_outputs(self) -> list[Path]:
        """Delete everything a failed attempt wrote: partial files and finished outputs (not the inputs)."""
        return self.remove_partials() + _remove(list(self.outputs))

    def remove(self) -> list[str]:
        """Delete the whole folder; returns the problems ("path: error"), empty when it is gone."""
        problems: list[str] = []
        shutil.rmtree(self.folder, onerror=lambda _f, path, exc: problems.append(f"{path}: {exc[1]}"))
        return problems if self.folder.exists() else []


def _remove(paths: list[Path]) -> list[Path]:
    removed = []
    for path in paths:
        try:
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError as exc:  # the clean-up of an error path must not become the next error
            log.warning("could not remove %s: %s", path, exc)
    return removed


__all__ = ["INPUT_NAME", "INPUT_NAMES", "JobFiles", "OUTPUT_NAMES", "POSTER_NAME", "SPRITES_NAME", "VIDEO_NAME"]
