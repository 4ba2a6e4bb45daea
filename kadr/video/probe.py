"""Reading videos back: stream facts, tags and frames (PyAV)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    path: str
    container: str
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    tags: dict[str, str] = field(default_factory=dict)
    moov_at_front: bool | None = None  # MP4 only: True when playable before fully downloaded

    @property
    def kadr(self) -> dict[str, Any]:
        """The JSON kadr writes into the ``comment`` tag (prompt, model, seed, version), or {}."""
        try:
            return json.loads(self.tags.get("comment", "{}"))
        except json.JSONDecodeError:
            return {}


def probe(path: str | Path) -> VideoInfo:
    """Decode the whole stream once to count frames exactly (headers can round)."""
    path = Path(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        frames = sum(1 for _ in container.decode(stream))
        tags = {k.lower(): v for k, v in container.metadata.items()}
        info = VideoInfo(
            path=str(path),
            container=container.format.name,
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frames=frames,
            duration=frames / fps if fps else 0.0,
            tags=tags,
            moov_at_front=_moov_before_mdat(path) if path.suffix.lower() in (".mp4", ".m4v", ".mov") else None,
        )
    return info


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield decoded frames as uint8 (H, W, 3) RGB arrays."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def read_frames(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """All (or the first ``max_frames``) frames as uint8 (F, H, W, 3)."""
    out = []
    for i, frame in enumerate(iter_frames(path)):
        if max_frames is not None and i >= max_frames:
            break
        out.append(frame)
    return np.stack(out)


def _moov_before_mdat(path: Path) -> bool:
    """Walk the top-level MP4 boxes: faststart files have 'moov' before 'mdat'."""
    with path.open("rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return False
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8]
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:
                size = int.from_bytes(fh.read(8), "big") - 8
            elif size == 0:
                return False
            fh.seek(size - 8, 1)
