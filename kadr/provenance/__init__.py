"""Provenance and policy: every video says it was generated, and the studio owner sets what may be made.

- :mod:`kadr.provenance.manifest`: signed C2PA manifests on the MP4, GIF and PNG files kadr writes;
- :mod:`kadr.provenance.keys`: the studio's signing certificate (a local chain, or the owner's own);
- :mod:`kadr.provenance.watermark`: an invisible mark in the frames carrying studio and job;
- :mod:`kadr.provenance.verify`: what ``kadr verify`` and ``POST /v1/verify`` report about a file;
- :mod:`kadr.provenance.policy`: the content policy the CLI and the service check prompts against.

Nothing heavy is imported here: c2pa, cryptography and OpenCV load when a function needs them.
"""

from __future__ import annotations

import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from kadr.provenance.manifest import GenerationRecord
    from kadr.provenance.watermark import WatermarkPayload

STUDIO_ENV = "KADR_STUDIO_ID"
WATERMARK_ENV = "KADR_WATERMARK"  # "1" turns the frame watermark on (off until it meets its targets); the manifest is always written


@dataclass(frozen=True)
class OutputProvenance:
    """What one output gets: its manifest record and the frame marker (identity when off)."""

    record: "GenerationRecord"
    payload: "WatermarkPayload | None"
    mark: Callable[["np.ndarray"], "np.ndarray"]

    def summary(self) -> dict[str, object]:
        """For the result's metadata and the service's video object."""
        return {"c2pa": True, "watermark": self.payload is not None,
                "watermark_payload": self.payload.to_dict() if self.payload else None}


def studio_id() -> str:
    """The studio's name in the watermark: ``KADR_STUDIO_ID``, else this machine's host name."""
    return os.environ.get(STUDIO_ENV) or socket.gethostname()


def job_name(output: Path) -> str:
    """The job a file belongs to: the folder of the service's ``<job id>/video.mp4``, else the file's stem."""
    return output.parent.name if output.stem == "video" and output.parent.name else output.stem


def watermark_enabled() -> bool:
    return os.environ.get(WATERMARK_ENV, "0").strip().lower() not in ("0", "false", "no", "off")


def output_provenance(*, model: str, family: str, task: str, output: Path, size: tuple[int, int],
                      input_image: "Image.Image | None" = None) -> OutputProvenance:
    """The manifest record and the watermark embedder for one output of the engine."""
    from kadr.provenance.manifest import GenerationRecord

    image_png = None
    if input_image is not None:
        buf = io.BytesIO()
        input_image.convert("RGB").save(buf, format="PNG")
        image_png = buf.getvalue()
    job = job_name(output)
    record = GenerationRecord(model=model, model_family=family, task=task, input_image=image_png, extra={"job": job})
    if not watermark_enabled():
        return OutputProvenance(record, None, lambda frames: frames)
    from kadr.provenance.watermark import WatermarkEmbedder, WatermarkPayload

    payload = WatermarkPayload.for_job(studio_id(), job)
    embedder = WatermarkEmbedder(payload, *size)
    return OutputProvenance(record, payload, embedder.embed)
