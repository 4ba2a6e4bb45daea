"""A source video to extend or remix: its facts, read once, and its frames fitted to the model's frame.

Any video PyAV decodes is accepted, kadr's or not. kadr's own files carry their prompt and camera in the
container's ``comment`` tag (kadr.video.encode.container_tags), so an extension goes on with the same
words and move unless told otherwise; another file's camera is measured from its last two seconds.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from kadr.camera import CAMERA_MOTIONS
from kadr.errors import InvalidRequestError
from kadr.request import ASPECTS

CAMERA_SAMPLE_S = 2.0  # seconds at the end of a foreign source from which its camera move is measured
_MEASURE_WIDTH = 192  # the camera is measured on a small copy (a global measurement)


@dataclass(frozen=True)
class SourceInfo:
    """What the engine plans an extension or a remix from, without keeping any frames."""

    path: str
    width: int
    height: int
    fps: float
    frames: int
    prompt: str  # kadr's tag, else ""
    camera: str | None  # kadr's tag, else measured; None when unknown

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    @property
    def aspect(self) -> str:
        """The nearest of kadr's aspect ratios (by log ratio)."""
        ratio = self.width / self.height
        return min(ASPECTS, key=lambda name: abs(np.log(ratio * ASPECTS[name][1] / ASPECTS[name][0])))


def read_source_info(path: str | Path) -> SourceInfo:
    """Stream facts, kadr's tags and (for a foreign file) the measured camera; one decode of the stream.

    Raises InvalidRequestError naming ``source_video`` when the file holds no decodable video.
    """
    from kadr.video.checks import estimate_camera

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidRequestError("source_video", path.name, "a file with a video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            tags = _kadr_tags({k.lower(): v for k, v in container.metadata.items()})
            camera = tags.get("camera") if tags.get("camera") in CAMERA_MOTIONS else None
            width, height = stream.codec_context.width, stream.codec_context.height
            # Without kadr's camera tag, the move is measured on the last CAMERA_SAMPLE_S, shrunk as decoded.
            tail: deque[np.ndarray] = deque(maxlen=max(2, round(CAMERA_SAMPLE_S * fps)) if fps > 0 else 48)
            count = 0
            for frame in container.decode(stream):
                count += 1
                if camera is None:
                    if frame.width > _MEASURE_WIDTH:
                        frame = frame.reformat(width=_MEASURE_WIDTH,
                                               height=max(2, round(frame.height * _MEASURE_WIDTH / frame.width)))
                    tail.append(frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as exc:
        raise InvalidRequestError("source_video", f"{path.name} ({exc})", "a video file PyAV/FFmpeg can decode") from None
    if count == 0 or fps <= 0 or width < 16 or height < 16:
        raise InvalidRequestError("source_video", f"{path.name} ({count} frames, {width}x{height}, {fps:g} fps)",
                                  "a video with frames of at least 16x16 and a frame rate")
    if camera is None and len(tail) >= 2:
        camera = estimate_camera(np.stack(tail), fps).label
    return SourceInfo(path=str(path), width=width, height=height, fps=fps, frames=count,
                      prompt=str(tags.get("prompt") or ""), camera=camera)


def _kadr_tags(tags: dict[str, str]) -> dict[str, Any]:
    """The JSON kadr writes into the ``comment`` tag (prompt, model, seed, camera ...), or {}."""
    try:
        found = json.loads(tags.get("comment", "{}"))
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (height, width, 3): cover the frame and centre-crop (as pictures are filled)."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    shrink = size[0] < w
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def read_source_frames(info: SourceInfo, width: int, height: int, fps: int, max_frames: int | None = None) -> np.ndarray:
    """The source's frames fitted to (width, height) and retimed to ``fps`` (nearest frame in time):
    uint8 (F, height, width, 3) with F = round(duration * fps), at most ``max_frames``."""
    wanted = max(1, round(info.frames * fps / info.fps))
    if max_frames is not None:
        wanted = min(wanted, max_frames)
    # Output frame i shows the source frame nearest its time (the same frame when the rates agree).
    pick = np.minimum(np.floor(np.arange(wanted) * info.fps / fps + 1e-6).astype(np.int64), info.frames - 1)  # (F,)
    out = np.empty((wanted, height, width, 3), np.uint8)
    with av.open(str(info.path)) as container:
        i = 0
        for index, frame in enumerate(container.decode(video=0)):
            if i >= wanted:
                break
            if pick[i] != index:
                continue
            fitted = fit_frame(frame.to_ndarray(format="rgb24"), width, height)
            while i < wanted and pick[i] == index:
                out[i] = fitted
                i += 1
    if i < wanted:  # the stream ended early (a header that over-counted): hold the last frame
        out[i:] = out[i - 1]
    return out


__all__ = ["SourceInfo", "fit_frame", "read_source_frames", "read_source_info"]
