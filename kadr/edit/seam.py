"""Is the join visible? The frame-to-frame change at a seam against the same change within the clip.

Two measures per consecutive pair of frames: the mean absolute luma difference (a cut or a jump in
motion spikes it) and the distance between their mean colours (a jump in colour or brightness). The
seam's values are compared with the pairs around it (``window_s`` on each side, the seam's pair left
out): a seam that does not show lies within the clip's own variation, i.e. a z-score of at most a
few standard deviations and no more than the largest change seen within.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SeamMeasure:
    """One measure at the seam and within the clip around it."""

    seam: float
    within_mean: float
    within_std: float
    within_max: float

    @property
    def z(self) -> float:
        """Standard deviations of the seam above the mean within (a floor of 0.05 levels on the spread)."""
        return (self.seam - self.within_mean) / max(self.within_std, 0.05)

    @property
    def ratio_to_max(self) -> float:
        return self.seam / max(self.within_max, 1e-6)

    def as_dict(self) -> dict[str, float]:
        return {**{k: round(v, 3) for k, v in asdict(self).items()}, "z": round(self.z, 2),
                "ratio_to_max": round(self.ratio_to_max, 3)}


@dataclass(frozen=True)
class SeamReport:
    seam: int  # index of the first frame after the seam
    frame_difference: SeamMeasure  # mean |luma difference| of consecutive frames, levels 0..255
    colour_jump: SeamMeasure  # distance of consecutive frames' mean RGB, levels 0..255

    def as_dict(self) -> dict[str, Any]:
        return {"seam": self.seam, "frame_difference": self.frame_difference.as_dict(),
                "colour_jump": self.colour_jump.as_dict()}


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # (F, H, W)


def pair_changes(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per consecutive pair (F - 1,): mean |luma difference| and the distance between mean colours."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        raise ValueError(f"frames must be (F >= 2, H, W, 3), got {frames.shape}")
    y = _luma(frames)  # (F, H, W)
    difference = np.abs(np.diff(y, axis=0)).mean(axis=(1, 2))  # (F - 1,)
    means = frames.reshape(len(frames), -1, 3).astype(np.float64).mean(axis=1)  # (F, 3)
    colour = np.linalg.norm(np.diff(means, axis=0), axis=1)  # (F - 1,)
    return difference, colour


def measure_seam(frames: np.ndarray, seam: int, fps: float, window_s: float = 2.0) -> SeamReport:
    """Compare the change from frame ``seam - 1`` to ``seam`` with the changes within ``window_s`` around it."""
    if not 1 <= seam < len(frames):
        raise ValueError(f"seam must be within 1..{len(frames) - 1}, got {seam}")
    reach = max(2, round(window_s * fps))
    lo, hi = max(0, seam - reach), min(len(frames), seam + reach)
    difference, colour = pair_changes(frames[lo:hi])
    at = seam - 1 - lo  # the seam's pair in the window
    measures = []
    for values in (difference, colour):
        within = np.delete(values, at)
        measures.append(SeamMeasure(float(values[at]), float(within.mean()), float(within.std()), float(within.max())))
    return SeamReport(seam, measures[0], measures[1])


__all__ = ["SeamMeasure", "SeamReport", "measure_seam", "pair_changes"]
