"""Post-processing as a stage: small steps run in order on frames as they stream, chunk by chunk.

The engine runs two stages (kadr.engine.Engine.generate):
  - on each model pass, before its last frame conditions the next pass: colour matching
    (:class:`MatchColours`) and photo fidelity (:class:`KeepPhoto`);
  - on the output stream, before the encoder: seamless loop (:class:`LoopBlend`), frame interpolation
    (:class:`Interpolate`), upscaling (:class:`Upscale`) and any per-frame function
    (:class:`FrameFunction`, e.g. a watermark).

Each step is usable alone from Python (``Upscale(2).process(frames)``); ``kadr post IN OUT`` runs the
output steps on a video file. A step holds only what it must (a few frames), so memory stays flat.
Adding a step is one line where the engine builds its stage::

    output_steps.append(FrameFunction("watermark", lambda frames: embed_watermark(frames, payload)))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from kadr.camera import CameraPath
from kadr.post.continuity import LoopBlender, match_colors
from kadr.post.fidelity import FidelityConfig, PhotoAnchor, keep_photo


@dataclass(frozen=True)
class ChunkInfo:
    """Where a chunk of frames sits in the clip."""

    start: int = 0  # index in the clip (in the camera path) of the chunk's first frame
    condition: np.ndarray | None = None  # (H, W, 3) the frame a continuation pass started from
    repeated: int = 0  # leading frames that repeat frames already output (a continuation's first frame)


class PostStep:
    """One step: frames in, frames out (possibly more, fewer, larger). Subclasses override ``process``."""

    name = "step"

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        return width, height

    def output_fps(self, fps: float) -> float:
        return fps

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        raise NotImplementedError

    def flush(self) -> np.ndarray | None:
        """Frames still held back when the stream ends (None: none)."""
        return None

    def describe(self) -> dict[str, object]:
        return {"step": self.name}


class PostStage:
    """Steps run in order; ``process`` and ``flush`` thread each chunk through all of them."""

    def __init__(self, steps: Sequence[PostStep] = ()) -> None:
        self.steps = list(steps)

    def append(self, step: PostStep) -> None:
        self.steps.append(step)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        for step in self.steps:
            width, height = step.output_size(width, height)
        return width, height

    def output_fps(self, fps: float) -> float:
        for step in self.steps:
            fps = step.output_fps(fps)
        return fps

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        for step in self.steps:
            frames = step.process(frames, info)
            if not len(frames):
                break
        return frames

    def flush(self) -> np.ndarray | None:
        """What every step still holds, passed through the steps after it."""
        out: np.ndarray | None = None
        for step in self.steps:
            if out is not None and len(out):
                out = step.process(out)
            tail = step.flush()
            if tail is not None and len(tail):
                out = tail if out is None or not len(out) else np.concatenate([out, tail])
        return out

    def describe(self) -> list[dict[str, object]]:
        return [step.describe() for step in self.steps]


class FrameFunction(PostStep):
    """A stateless function of a chunk, ``fn(frames (F, H, W, 3) uint8) -> frames`` of the same shape."""

    def __init__(self, name: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.name = name
        self.fn = fn

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        return self.fn(frames)


class MatchColours(PostStep):
    """Continuation passes keep the colours of the frame they continue from (no drift over 30 s)."""

    name = "match_colours"

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        if info is None or info.condition is None or not info.repeated:
            return frames
        return match_colors(frames, info.condition)


class KeepPhoto(PostStep):
    """Image-to-video keeps the photograph under camera motion (kadr.post.fidelity).

    ``anchor`` None (text-to-video): the first frame this step sees stands in for the photograph, so
    the clip stays as sharp as its first keyframe. ``camera`` covers every frame of every pass.
    """

    name = "keep_photo"

    def __init__(self, camera: CameraPath, anchor: PhotoAnchor | None = None,
                 config: FidelityConfig = FidelityConfig()) -> None:
        self.camera = camera
        self.anchor = anchor
        self.config = config

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        start = info.start if info is not None else 0
        if self.anchor is None:
            h, w = frames.shape[1:3]
            self.anchor = PhotoAnchor(frames[0], (0.0, 0.0, float(w), float(h)), (w, h))
        poses = self.camera.poses[start:start + len(frames)]
        if len(poses) < len(frames):
            raise ValueError(f"keep_photo: the camera path has {self.camera.num_frames} frames, "
                             f"a chunk asks for {start}..{start + len(frames)}")
        return keep_photo(frames, self.anchor, poses, config=self.config)

    def describe(self) -> dict[str, object]:
        return {"step": self.name, "residual_gain": self.config.residual_gain}


class LoopBlend(PostStep):
    """The end of the video flows into its start (kadr.post.continuity.LoopBlender)."""

    name = "loop"

    def __init__(self, output_frames: int, overlap: int) -> None:
        self.blender = LoopBlender(output_frames, overlap)

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        return self.blender.process(frames)


__all__ = ["ChunkInfo", "FrameFunction", "KeepPhoto", "LoopBlend", "MatchColours", "PostStage", "PostStep"]
