"""World geometry, paint canvases and the per-frame camera warp of a layer.

World coordinates are the pixel coordinates of frame 0 (x right, y down, origin top-left). A layer is
painted once per clip on a canvas covering every part of the world any frame will see, then each
frame samples it through the camera pose with the layer's parallax (see ``Layer.maps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from training.world.palette import Light

# Layers are given a nominal depth parallax p (0: at infinity .. 1.5: nearest foreground). How far a
# layer actually moves for a pan is eff(p) = PAR_BASE + PAR_GAIN * p times the camera's x: everything
# moves with the camera (a pan is mostly a rotation) and nearer layers move more. Tilts use a weaker
# spread (TILT_GAIN) so a tilt never looks like a zoom. Mid-ground (p about 0.83) moves exactly as the
# CameraPath says.
PAR_BASE, PAR_GAIN, TILT_GAIN = 0.5, 0.6, 0.3
P_MIN, P_MAX = 0.0, 1.5  # nominal parallax range any layer uses (sky .. nearest foreground)
ZF_MIN, ZF_MAX = 0.9, 1.1
MAX_CANVAS_PIXELS = 3_000_000  # per layer, at canvas resolution  # zoom exponent range (near layers scale a little more, as in a dolly)


def eff_x(p: np.ndarray | float) -> np.ndarray | float:
    """Effective horizontal parallax of nominal parallax ``p``."""
    return PAR_BASE + PAR_GAIN * np.asarray(p)


def eff_y(p: np.ndarray | float) -> np.ndarray | float:
    return 1.0 + TILT_GAIN * (eff_x(p) - 1.0)


def zoom_factor(p: float) -> float:
    return float(np.clip(1.0 + 0.15 * (eff_x(p) - 1.0), ZF_MIN, ZF_MAX))


@dataclass
class Geometry:
    """Frame size, world extent covered by the canvases, and the canvas resolution."""

    width: int
    height: int
    x0: float  # world coordinates of canvas pixel (0, 0)
    y0: float
    x1: float
    y1: float
    cs: float  # canvas pixels per world pixel
    horizon: float  # world row of the horizon
    unit: float  # size unit: a hundredth of the short frame side, in world pixels

    @property
    def cw(self) -> int:
        return int(np.ceil((self.x1 - self.x0) * self.cs))

    @property
    def ch(self) -> int:
        return int(np.ceil((self.y1 - self.y0) * self.cs))

    def depth(self, wy: np.ndarray | float) -> np.ndarray | float:
        """Ground depth: 0 at the horizon, 1 at the bottom of frame 0 (larger is nearer)."""
        return (np.asarray(wy) - self.horizon) / (self.height - self.horizon)

    def row_of_depth(self, d: float) -> float:
        return self.horizon + d * (self.height - self.horizon)

    def ground_parallax(self, wy: np.ndarray) -> np.ndarray:
        """Nominal parallax of the ground plane at world row ``wy`` (see GROUND_P in places.py)."""
        return np.clip(0.5 + 0.9 * np.clip(self.depth(wy), 0.0, 1.0), P_MIN, P_MAX)


def make_geometry(
    width: int, height: int, poses: np.ndarray, fps: float, horizon_frac: float, drift: float
) -> Geometry:
    """World bounding box of everything any layer shows in any frame, with a margin."""
    x, y, z = poses[:, 0], poses[:, 1], poses[:, 2]  # (F,) each
    t_end = (len(poses) - 1) / fps
    xs, ys = [], []
    for p in (P_MIN, P_MAX):
        for zf in (ZF_MIN, ZF_MAX):
            m = np.exp(zf * z)  # (F,)
            cx = width / 2 + eff_x(p) * x * width
            cy = height / 2 - eff_y(p) * y * height
            xs += [cx - width / (2 * m), cx + width / (2 * m)]
            ys += [cy - height / (2 * m), cy + height / (2 * m)]
    unit = min(width, height) / 100.0
    margin = 6 * unit + 2
    x0 = float(np.min(xs)) - margin - max(0.0, drift * t_end)
    x1 = float(np.max(xs)) + margin + max(0.0, -drift * t_end)
    y0 = float(np.min(ys)) - margin
    y1 = float(np.max(ys)) + margin
    cs = float(np.clip(np.exp(np.max(z) * ZF_MAX), 1.0, 2.0))  # keep detail when zooming in
    # Long fast moves (a 30 s zoom out) would need huge canvases: trade resolution for memory.
    area = (x1 - x0) * (y1 - y0)
    cs = min(cs, float(np.sqrt(MAX_CANVAS_PIXELS / max(area, 1.0))))
    return Geometry(width, height, x0, y0, x1, y1, cs, horizon_frac * height, unit)


@dataclass
class Layer:
    """One depth layer: premultiplied RGBA canvas plus how it moves with the camera."""

    rgba: np.ndarray  # (CH, CW, 4) float32, premultiplied alpha
    p_top: float  # parallax at and above the horizon
    p_bottom: float  # parallax at the bottom of frame 0 (linear in between: a ground plane)
    drift: float = 0.0  # world px per second, horizontal (clouds)
    sway: np.ndarray | None = None  # (CH, CW) float32 sway amplitude in world px (trees)
    sway_hz: float = 0.35
    opaque: bool = False

    def parallax(self, geo: Geometry, wy: np.ndarray) -> np.ndarray:
        """Nominal parallax of each world row (H,)."""
        if self.p_top == self.p_bottom:
            return np.full_like(wy, self.p_top)
        d = np.clip(geo.depth(wy), 0.0, 1.0)
        return np.clip(self.p_top + (self.p_bottom - self.p_top) * d, P_MIN, P_MAX)

    def zoom_factor(self) -> float:
        return zoom_factor(0.5 * (self.p_top + self.p_bottom))

    def maps(self, geo: Geometry, pose: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Canvas sampling maps for one frame: map_x, map_y (H, W) float32 and world x (H, W)."""
        w, h = geo.width, geo.height
        x, y, z = float(pose[0]), float(pose[1]), float(pose[2])
        m = np.exp(self.zoom_factor() * z)
        v = np.arange(h, dtype=np.float32)  # (H,)
        u = np.arange(w, dtype=np.float32)  # (W,)
        p_mid = 0.5 * (self.p_top + self.p_bottom)
        wy = h / 2 - eff_y(p_mid) * y * h + (v - h / 2) / m  # first guess of the world row of each frame row
        p = self.parallax(geo, wy)
        wy = h / 2 - eff_y(p) * y * h + (v - h / 2) / m  # (H,)
        p = self.parallax(geo, wy)
        wx = w / 2 + (eff_x(p) * x * w)[:, None] + ((u - w / 2) / m)[None, :] + self.drift * t  # (H, W)
        map_x = ((wx - geo.x0) * geo.cs).astype(np.float32)
        map_y = np.broadcast_to(((wy - geo.y0) * geo.cs).astype(np.float32)[:, None], (h, w))
        if self.sway is not None:
            amp = cv2.remap(self.sway, map_x, np.ascontiguousarray(map_y), cv2.INTER_LINEAR)
            phase = 2 * np.pi * self.sway_hz * t + wx * (0.9 / max(geo.unit, 1e-3) / 10)
            map_x = map_x - (amp * np.sin(phase) * geo.cs).astype(np.float32)
        return map_x, np.ascontiguousarray(map_y), wx

    def sample(self, geo: Geometry, pose: np.ndarray, t: float) -> np.ndarray:
        map_x, map_y, _ = self.maps(geo, pose, t)
        return cv2.remap(self.rgba, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class Painter:
    """Draws in world coordinates on canvases supersampled ``ss`` times (for anti-aliasing)."""

    geo: Geometry
    light: Light
    rng: np.random.Generator
    texture: float  # amplitude of surface texture (0 for flat animation)
    flat: bool  # flat-colour style: no gradients inside objects
    ss: int = 2
    _xs: np.ndarray = field(init=False)
    _ys: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        k = self.k
        self._xs = (self.geo.x0 + (np.arange(self.pw) + 0.5) / k).astype(np.float32)  # (PW,) world x
        self._ys = (self.geo.y0 + (np.arange(self.ph) + 0.5) / k).astype(np.float32)  # (PH,) world y

    @property
    def k(self) -> float:
        return self.geo.cs * self.ss

    @property
    def pw(self) -> int:
        return self.geo.cw * self.ss

    @property
    def ph(self) -> int:
        return self.geo.ch * self.ss

    @property
    def xs(self) -> np.ndarray:
        return self._xs

    @property
    def ys(self) -> np.ndarray:
        return self._ys

    @property
    def U(self) -> float:  # noqa: N802 - the size unit reads best as a capital
        return self.geo.unit

    def new(self) -> np.ndarray:
        return np.zeros((self.ph, self.pw, 4), np.float32)

    # -- coordinates -------------------------------------------------------------------------------
    def _pts(self, pts: np.ndarray) -> np.ndarray:
        p = (np.asarray(pts, np.float64) - (self.geo.x0, self.geo.y0)) * self.k
        return np.round(p * 8).astype(np.int32)  # 3 fractional bits (cv2 shift=3)

    @staticmethod
    def _c4(color: np.ndarray | tuple, a: float = 1.0) -> tuple[float, float, float, float]:
        c = np.asarray(color, np.float32)
        return (float(c[0] * a), float(c[1] * a), float(c[2] * a), float(a))

    # -- shapes (opaque, premultiplied) ------------------------------------------------------------
    def poly(self, cv: np.ndarray, pts: np.ndarray, color, a: float = 1.0) -> None:
        cv2.fillPoly(cv, [self._pts(pts)], self._c4(color, a), cv2.LINE_8, 3)

    def ellipse(self, cv: np.ndarray, c: tuple[float, float], ax: tuple[float, float], color, angle: float = 0.0, a: float = 1.0) -> None:
        cc = self._pts(np.array(c))
        axes = (max(1, int(round(ax[0] * self.k * 8))), max(1, int(round(ax[1] * self.k * 8))))
        cv2.ellipse(cv, (int(cc[0]), int(cc[1])), axes, angle, 0, 360, self._c4(color, a), -1, cv2.LINE_8, 3)

    def rect(self, cv: np.ndarray, x0: float, y0: float, x1: float, y1: float, color, a: float = 1.0) -> None:
        self.poly(cv, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), color, a)

    def line(self, cv: np.ndarray, p0, p1, color, thick: float, a: float = 1.0) -> None:
        q = self._pts(np.array([p0, p1]))
        t = max(1, int(round(thick * self.k)))
        cv2.line(cv, tuple(int(v) for v in q[0]), tuple(int(v) for v in q[1]), self._c4(color, a), t, cv2.LINE_8, 3)

    def below(self, cv: np.ndarray, top: np.ndarray, color_rgb: np.ndarray, bottom: np.ndarray | None = None) -> np.ndarray:
        """Fill every column from world row ``top[col]`` down (to ``bottom[col]``); returns the mask (PH, PW)."""
        mask = self.ys[:, None] >= top[None, :]
        if bottom is not None:
            mask &= self.ys[:, None] < bottom[None, :]
        col = np.broadcast_to(np.asarray(color_rgb, np.float32), (self.ph, self.pw, 3)) if np.ndim(color_rgb) == 1 else color_rgb
        cv[mask, :3] = col[mask]
        cv[mask, 3] = 1.0
        return mask

    # -- noise ---------------------------------------------------------------------------------------
    def noise(self, scale: float, octaves: int = 3, aniso: float = 1.0) -> np.ndarray:
        """Smooth value noise over the paint canvas, roughly in [-1, 1]; ``scale`` in world px."""
        out = np.zeros((self.ph, self.pw), np.float32)
        amp, total = 1.0, 0.0
        for o in range(octaves):
            s = max(scale / (2**o) * self.k, 1.0)
            gh = max(2, int(self.ph / s * aniso) + 2)
            gw = max(2, int(self.pw / s) + 2)
            g = self.rng.random((gh, gw), dtype=np.float32) * 2 - 1
            out += amp * cv2.resize(g, (self.pw, self.ph), interpolation=cv2.INTER_CUBIC)
            total += amp
            amp *= 0.5
        return out / total

    def ridge(self, scale: float, octaves: int = 5, smooth: bool = False) -> np.ndarray:
        """1-D fractal profile over the canvas columns in about [-1, 1] (PW,); ``smooth`` interpolates
        with a cosine (rounded dunes and hills) instead of straight lines (rocky ridges)."""
        out = np.zeros(self.pw, np.float32)
        amp, total = 1.0, 0.0
        for o in range(octaves):
            s = max(scale / (2**o) * self.k, 1.0)
            n = max(2, int(self.pw / s) + 3)
            g = self.rng.random(n).astype(np.float32) * 2 - 1
            t = np.arange(self.pw) / s
            i0 = np.minimum(t.astype(np.int64), n - 2)
            f = t - i0
            if smooth:
                f = 0.5 - 0.5 * np.cos(np.pi * f)
            out += amp * (g[i0] * (1 - f) + g[i0 + 1] * f).astype(np.float32)
            total += amp
            amp *= 0.5
        return out / total

    def textured(self, cv: np.ndarray, scale: float, amp: float = 1.0, aniso: float = 1.0) -> None:
        """Multiply the colour by a surface texture (skipped for flat styles)."""
        a = self.texture * amp
        if a <= 0:
            return
        cv[..., :3] *= (1.0 + a * self.noise(scale, 3, aniso))[..., None]

    # -- finishing -------------------------------------------------------------------------------------
    def finish(
        self,
        cv: np.ndarray,
        p_top: float,
        p_bottom: float | None = None,
        haze: float = 0.0,
        ground_haze: bool = False,
        emissive: np.ndarray | None = None,
        glow: np.ndarray | None = None,
        lit: bool = True,
        sway: np.ndarray | None = None,
        drift: float = 0.0,
        blur: float = 0.0,
    ) -> Layer:
        """Light, haze and downsample a painted canvas into a Layer."""
        rgb, a = cv[..., :3], cv[..., 3:4]
        if lit:
            rgb *= self.light.light
        h = min(1.0, haze + self.light.haze_gain * (1.0 if haze > 0 or ground_haze else 0.4))
        if ground_haze:
            d = np.clip(self.geo.depth(self.ys), 0.0, 1.0)
            h_rows = (haze + self.light.haze_gain) * (1.0 - d) ** 1.6  # (PH,)
            h_rows = np.clip(h_rows, 0, 0.95)[:, None, None]
            rgb[:] = rgb * (1 - h_rows) + self.light.haze * a * h_rows
        elif h > 0:
            rgb[:] = rgb * (1 - h) + self.light.haze * a * h
        if emissive is not None:
            rgb += emissive[..., :3] * (1.0 - 0.6 * h)
        if glow is not None:  # halos of lights: blurred, added (alpha stays: light adds over what is behind)
            rgb += cv2.GaussianBlur(glow[..., :3], (0, 0), 2.5 * self.geo.unit * self.k) * 2.0
        if blur > 0:
            cv = cv2.GaussianBlur(cv, (0, 0), blur * self.k)
        out = cv2.resize(cv, (self.geo.cw, self.geo.ch), interpolation=cv2.INTER_AREA)
        sw = None
        if sway is not None:
            sw = cv2.resize(sway, (self.geo.cw, self.geo.ch), interpolation=cv2.INTER_AREA)
        pb = p_top if p_bottom is None else p_bottom
        return Layer(np.clip(out, 0, None), p_top, pb, drift=drift, sway=sw)
