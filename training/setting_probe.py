"""Is the setting recognisable in a still frame? A small probe fitted on the procedural world.

The world renders every setting (park, beach, city, ...) at every time of day, weather and style with
an exact label. A ridge classifier over a coarse colour-and-texture layout of a frame (cell means of
RGB and of gradient magnitude on an 8x6 grid) learns to name the setting from those renders; applied
to a frame the model generated for a prompt naming a setting, it says whether the frame has that
setting's layout (sky above, sea below a horizon, dark tree masses, building blocks, ...).

It is a proxy, not a judge of realism: it reads layout and colour, which is what a 16x autoencoder's
frames have. Its accuracy on held-out renders is reported next to its accuracy on generated frames so
the two can be read together (chance is 1/8).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from training.world import SETTINGS, render_clip, sample_scene

GRID_W, GRID_H = 8, 6
_SIZE = (64, 36)  # frames are compared at this size (16:9; other aspects are squeezed to it)


def features(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (GRID_H * GRID_W * 4,) float32: per cell mean R, G, B and gradient magnitude."""
    small = cv2.resize(frame, _SIZE, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0  # (36, 64, 3)
    gray = small.mean(axis=2)
    grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    cells = np.concatenate([small, grad[..., None]], axis=2)  # (36, 64, 4)
    pooled = cv2.resize(cells, (GRID_W, GRID_H), interpolation=cv2.INTER_AREA)  # (6, 8, 4)
    return pooled.reshape(-1)


def render_set(per_setting: int, seed: int, width: int = 128, height: int = 72, **fixed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Still frames of every setting at random weather, style and camera (and time of day, unless
    pinned in ``fixed`` like the other scene fields): (N, D) features, (N,) labels."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(per_setting * len(SETTINGS)):
        label = i % len(SETTINGS)
        scene = sample_scene(rng, setting=SETTINGS[label], aspect="16:9", **fixed)
        frame = render_clip(scene, 1, width, height, 8.0)[0]
        xs.append(features(frame))
        ys.append(label)
    return np.stack(xs), np.array(ys)


@dataclass(frozen=True)
class SettingProbe:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (D + 1, S)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, ridge: float = 50.0) -> "SettingProbe":
        """One-vs-rest ridge regression onto one-hot labels (closed form). The ridge was chosen on
        held-out daytime renders (seed 1): 0.74 / 0.86 / 0.84 accuracy at 1 / 30-100 / 300 from 16
        renders a setting, 0.88 / 0.91 / 0.91 from 40."""
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)  # (N, D + 1)
        targets = np.eye(len(SETTINGS))[y]  # (N, S)
        reg = ridge * np.eye(z.shape[1])
        reg[-1, -1] = 0.0  # no penalty on the bias
        weights = np.linalg.solve(z.T @ z + reg, z.T @ targets)
        return cls(mean, std, weights)

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = np.concatenate([(x - self.mean) / self.std, np.ones((len(x), 1))], axis=1)
        return np.argmax(z @ self.weights, axis=1)

    def name(self, frame: np.ndarray) -> str:
        return SETTINGS[int(self.predict(features(frame)[None])[0])]


@lru_cache(maxsize=4)
def fitted(per_setting: int = 40, seed: int = 0, **fixed: Any) -> tuple[SettingProbe, float]:
    """A probe fitted on ``per_setting`` renders of each setting, and its accuracy on a quarter as many
    held-out ones; ``fixed`` pins scene fields (``time_of_day="day"``). Cached: the renders take about
    half a minute, and ``training.export --install`` evaluates two sets of weights in one process."""
    x, y = render_set(per_setting, seed, **fixed)
    probe = SettingProbe.fit(x, y)
    xv, yv = render_set(max(4, per_setting // 4), seed + 1, **fixed)
    return probe, float(np.mean(probe.predict(xv) == yv))
