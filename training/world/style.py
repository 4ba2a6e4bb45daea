"""Per-frame looks: realistic (soft light, bloom, vignette), flat animation with outlines, and
painterly watercolour or oil.

Painterly textures (brush strokes, pigment granulation) are painted once per clip in world
coordinates and move with the mid-ground, as if painted onto the scene: a texture fixed to the screen
would read as a camera that does not move.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.world.canvas import Geometry, Layer
from training.world.scene import Scene

_MID_P = (1.0 - 0.5) / 0.6  # nominal parallax whose effective parallax is 1 (see canvas.eff_x)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float, aniso: float = 1.0) -> np.ndarray:
    gh, gw = max(2, int(h / cell * aniso) + 2), max(2, int(w / cell) + 2)
    g = rng.random((gh, gw), dtype=np.float32) * 2 - 1
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


class Stylizer:
    def __init__(self, scene: Scene, geo: Geometry, rng: np.random.Generator) -> None:
        self.scene, self.geo = scene, geo
        width, height = geo.width, geo.height
        self.w, self.h = width, height
        self.unit = min(width, height) / 100.0
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)  # (H, W) each
        r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
        self.vignette = (1.0 - 0.22 * np.clip(r2 - 0.25, 0, None) / 1.75)[..., None].astype(np.float32)  # (H, W, 1)
        self.gx, self.gy = xx, yy
        self.tex: Layer | None = None
        if scene.style == "artistic":
            ch, cw, u = geo.ch, geo.cw, self.unit * geo.cs
            # channels: stroke displacement x, y (px), impasto relief, pigment granulation
            ang = _smooth_noise(rng, ch, cw, 14 * u) * np.pi
            mag = (0.9 * self.unit + 0.4) * _smooth_noise(rng, ch, cw, 1.5 * u)
            strokes = _smooth_noise(rng, ch, cw, 1.2 * u, aniso=0.35)
            grain = 0.6 * _smooth_noise(rng, ch, cw, 1.0 * geo.cs + 1.0) + 0.4 * _smooth_noise(rng, ch, cw, 10 * u)
            tex = np.stack([np.cos(ang) * mag, np.sin(ang) * mag, strokes, grain], -1).astype(np.float32)  # (CH, CW, 4)
            self.tex = Layer(tex, _MID_P, _MID_P)
            self.paper = (1.0 + 0.012 * _smooth_noise(rng, height, width, 2.0))[..., None].astype(np.float32)

    def __call__(self, f: np.ndarray, pose: np.ndarray, t: float) -> np.ndarray:
        """Stylise a float32 (H, W, 3) frame in [0, 1] seen from ``pose``; returns a new frame."""
        style = self.scene.style
        if style == "realistic":
            return self._realistic(f)
        if style == "animation":
            return self._animation(f)
        tex = self.tex.sample(self.geo, pose, 0.0)  # (H, W, 4) texture as the camera sees it now
        if self.scene.medium == "watercolor":
            return self._watercolor(f, tex)
        return self._oil(f, tex)

    def _realistic(self, f: np.ndarray) -> np.ndarray:
        bright = np.clip(f - 0.72, 0, None)
        bloom = cv2.GaussianBlur(bright, (0, 0), 2.5 * self.unit + 0.5)
        f = f + 0.7 * bloom
        f = cv2.GaussianBlur(f, (0, 0), 0.35 + 0.1 * self.unit)  # soft optics
        f = f * self.vignette
        return 0.04 + 0.96 * f * (1.0 + 0.08 * (f - 0.5))  # slight S-curve and lifted blacks

    def _animation(self, f: np.ndarray) -> np.ndarray:
        luma = cv2.cvtColor(np.clip(f * 255, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        luma = cv2.GaussianBlur(luma, (3, 3), 0)
        edges = cv2.Canny(luma, 28, 70) > 0  # (H, W) outline pixels
        gray = f.mean(axis=2, keepdims=True)
        f = np.clip(gray + 1.3 * (f - gray), 0, 1)  # vivid
        levels = 7.0
        f = (np.floor(np.sqrt(f) * levels + 0.5) / levels) ** 2  # flat quantised colours, finer in the shadows
        f[edges] *= 0.18
        return f

    def _watercolor(self, f: np.ndarray, tex: np.ndarray) -> np.ndarray:
        small = cv2.resize(f, (max(2, self.w // 3), max(2, self.h // 3)), interpolation=cv2.INTER_AREA)
        wash = cv2.resize(small, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        f = 0.45 * f + 0.55 * wash
        luma = f.mean(axis=2)
        edge = np.abs(cv2.Laplacian(cv2.GaussianBlur(luma, (0, 0), 1.0), cv2.CV_32F, ksize=3))
        f = f * (1.0 - np.clip(edge * 2.5, 0, 0.35))[..., None]  # pigment pooling at the wet edges
        gray = f.mean(axis=2, keepdims=True)
        f = gray + 0.85 * (f - gray)
        f = 1.0 - (1.0 - f) * 0.85  # thin pigment over white paper
        return f * (1.0 + 0.05 * tex[..., 3:4]) * self.paper

    def _oil(self, f: np.ndarray, tex: np.ndarray) -> np.ndarray:
        f = cv2.remap(f, self.gx + tex[..., 0], self.gy + tex[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        u8 = np.clip(f * 255, 0, 255).astype(np.uint8)
        f = cv2.medianBlur(u8, 3).astype(np.float32) / 255.0
        gray = f.mean(axis=2, keepdims=True)
        f = gray + 1.25 * (f - gray)
        f = np.floor(f * 14 + 0.5) / 14 * 0.5 + f * 0.5  # a hint of mixed-paint banding
        return f * (1.0 + 0.06 * tex[..., 2:3])
