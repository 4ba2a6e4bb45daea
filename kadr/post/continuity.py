"""Keeping a long video whole across chunks: colour continuity and seamless loops.

Both work on the frame stream chunk by chunk and hold at most a few frames, so memory stays flat
however long the video is.
"""

from __future__ import annotations

import numpy as np


def match_colors(frames: np.ndarray, reference: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Shift each channel's mean and spread of ``frames`` (F, H, W, 3) towards ``reference`` (H, W, 3).

    Used on continuation chunks: the previous chunk's last frame is the reference, so colour drift
    does not accumulate over a 30 s video. The correction is measured on the chunk's first frame
    (which should equal the reference) and applied to the whole chunk.
    """
    ref = reference.reshape(-1, 3).astype(np.float32)  # (H*W, 3)
    first = frames[0].reshape(-1, 3).astype(np.float32)  # (H*W, 3)
    scale = (ref.std(0) + 1e-3) / (first.std(0) + 1e-3)
    scale = 1.0 + strength * (np.clip(scale, 0.8, 1.25) - 1.0)
    shift = strength * (ref.mean(0) - first.mean(0) * scale)
    out = frames.astype(np.float32) * scale + shift  # broadcast over (F, H, W, 3)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


class LoopBlender:
    """Makes a video loop without a jump: its first ``overlap`` frames are held back and cross-faded
    into its last ones, so the last output frame flows into the first output frame.

    The engine generates ``output_frames + overlap`` frames and feeds every chunk through
    :meth:`process` in order; only the first ``overlap`` frames are ever kept in memory.
    """

    def __init__(self, output_frames: int, overlap: int) -> None:
        self.overlap = max(0, min(overlap, output_frames // 3))
        self.input_frames = output_frames + self.overlap
        self.head: list[np.ndarray] = []
        self.seen = 0

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Input frames [seen, seen+len) -> the output frames they become (may be fewer)."""
        out: list[np.ndarray] = []
        tail_start = self.input_frames - self.overlap
        for frame in frames:
            i, self.seen = self.seen, self.seen + 1
            if i < self.overlap:
                self.head.append(frame.copy())  # becomes the end of the video
                continue
            if i >= tail_start:
                k = i - tail_start  # 0 .. overlap-1
                w = (k + 1) / self.overlap  # the held-back head frame fades in; the last frame is all head
                frame = np.clip((1 - w) * frame.astype(np.float32) + w * self.head[k].astype(np.float32) + 0.5, 0, 255).astype(np.uint8)
            out.append(frame)
        return np.stack(out) if out else frames[:0]
