"""Does a remix keep the layout? Structural similarity (scikit-image) of two videos' edge maps.

An edge map is the luma's gradient magnitude (Sobel, after a light blur) on the frame shrunk to
``LAYOUT_WIDTH`` pixels across, divided by its own 99th percentile. Shrunk, because the layout is the
coarse arrangement (horizon, shore, buildings), not texture: kadr-tiny's 16x latent holds 16 columns at
256 px, and fine detail is where any two renders differ. Normalised, because a remix into the night
keeps its edges but lowers their contrast with the light, and that is not a change of layout. Frames
are compared pairwise at the same index, a few across the clip.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.metrics import structural_similarity


LAYOUT_WIDTH = 64


def edge_map(frame: np.ndarray, width: int = LAYOUT_WIDTH) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, width) float32 in [0, 1]: gradient magnitude over its 99th percentile."""
    height = max(8, round(frame.shape[0] * width / frame.shape[1]))
    small = cv2.resize(np.ascontiguousarray(frame), (width, height), interpolation=cv2.INTER_AREA)
    luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    luma = cv2.GaussianBlur(luma, (0, 0), 1.0)
    magnitude = np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1))
    scale = float(np.percentile(magnitude, 99))
    return np.clip(magnitude / max(scale, 1e-4), 0.0, 1.0)


def edge_similarity(a: np.ndarray, b: np.ndarray, samples: int = 8) -> float:
    """Mean SSIM of the edge maps of ``samples`` frames spread over two clips (F, H, W, 3) of one size."""
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"edge_similarity: frame sizes differ: {a.shape[1:]} vs {b.shape[1:]}")
    n = min(len(a), len(b))
    picks = np.unique(np.linspace(0, n - 1, min(samples, n)).round().astype(int))
    return float(np.mean([structural_similarity(edge_map(a[i]), edge_map(b[i]), data_range=1.0, win_size=7) for i in picks]))


__all__ = ["edge_map", "edge_similarity"]
