"""Things that move inside the world: people, cars, birds, butterflies, boats, waves, rain and snow.

Each mover keeps its own world state (set once per clip from the scene's rng) and draws itself per
frame through the camera pose, with the parallax of the depth it lives at.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.world.canvas import Geometry, Layer, eff_x, eff_y, zoom_factor
from training.world.palette import Light
from training.world.scene import Scene
from training.world.settings import World


@dataclass(frozen=True)
class Pose:
    """One frame's camera pose and time."""

    x: float
    y: float
    z: float
    t: float


def project(geo: Geometry, pose: Pose, wx: float, wy: float, p: float) -> tuple[float, float, float]:
    """Frame position (u, v) and magnification of a world point moving with nominal parallax ``p``
    (the same warp as training.world.canvas.Layer.maps)."""
    m = float(np.exp(zoom_factor(p) * pose.z))
    u = geo.width / 2 + (wx - geo.width / 2 - float(eff_x(p)) * pose.x * geo.width) * m
    v = geo.height / 2 + (wy - geo.height / 2 + float(eff_y(p)) * pose.y * geo.height) * m
    return u, v, m


def _c(col: np.ndarray) -> tuple[int, int, int]:
    c = np.clip(np.asarray(col) * 255, 0, 255)
    return int(c[0]), int(c[1]), int(c[2])


_SH = 4  # fractional bits for cv2 drawing (sub-pixel positions keep slow motion smooth)


def _pt(u: float, v: float) -> tuple[int, int]:
    return int(round(u * (1 << _SH))), int(round(v * (1 << _SH)))


def _line(img: np.ndarray, a: tuple[float, float], b: tuple[float, float], col, th: float) -> None:
    cv2.line(img, _pt(*a), _pt(*b), col, max(1, int(round(th))), cv2.LINE_AA, _SH)


def _circle(img: np.ndarray, c: tuple[float, float], r: float, col) -> None:
    cv2.circle(img, _pt(*c), max(1, int(round(r * (1 << _SH)))), col, -1, cv2.LINE_AA, _SH)


def _ellipse(img: np.ndarray, c: tuple[float, float], ax: tuple[float, float], col, a0: float = 0, a1: float = 360,
             angle: float = 0) -> None:
    axes = (max(1, int(round(ax[0] * (1 << _SH)))), max(1, int(round(ax[1] * (1 << _SH)))))
    cv2.ellipse(img, _pt(*c), axes, angle, a0, a1, col, -1, cv2.LINE_AA, _SH)


def _poly(img: np.ndarray, pts: list[tuple[float, float]], col) -> None:
    arr = np.array([_pt(u, v) for u, v in pts], np.int32)
    cv2.fillPoly(img, [arr], col, cv2.LINE_AA, _SH)


def _wrap(x: float, geo: Geometry) -> float:
    span = geo.x1 - geo.x0
    return geo.x0 + (x - geo.x0) % span


class Movers:
    """All movers of a clip. ``draw_ground`` runs before the near layers, ``draw_air`` after them."""

    def __init__(self, scene: Scene, world: World, geo: Geometry, light: Light, rng: np.random.Generator, fps: float) -> None:
        self.scene, self.world, self.geo, self.light, self.fps = scene, world, geo, light, fps
        U, W, H = geo.unit, geo.width, geo.height
        span = (geo.x1 - geo.x0) / W
        self.people: list[dict] = []
        if scene.has("people"):
            for i in range(int(rng.integers(3, 7) * max(1.0, span * 0.7))):
                lo, hi = world.walk[int(rng.integers(len(world.walk)))]
                d = rng.uniform(lo, hi)
                h = 0.55 * d * (H - geo.horizon) * rng.uniform(0.9, 1.1)  # about 1.7 m with the camera 3 m up
                self.people.append(dict(d=d, x=self._start_x(rng, i), v=rng.choice([-1, 1]) * h * rng.uniform(0.45, 0.7),
                                        h=h, ph=rng.uniform(0, 6.3),
                                        coat=rng.uniform(0.1, 0.85, 3), legs=rng.uniform(0.1, 0.35, 3),
                                        umb=rng.uniform(0.1, 0.9, 3), skin=np.array([0.86, 0.68, 0.55]) * rng.uniform(0.6, 1.05)))
        self.cars: list[dict] = []
        if scene.has("cars"):
            for d, direction in world.lanes:
                h = 0.5 * d * (H - geo.horizon)
                length = 2.8 * h
                x = geo.x0 + rng.uniform(0, 2) * length
                speed = direction * length * rng.uniform(0.6, 1.1)
                while x < geo.x1:
                    body = rng.uniform(0.1, 0.9, 3) if rng.random() < 0.7 else np.full(3, rng.uniform(0.1, 0.9))
                    self.cars.append(dict(d=d, x=x, v=speed, h=h, len=length * rng.uniform(0.9, 1.15), dir=direction, body=body))
                    x += length * rng.uniform(1.6, 4.5)
        self.birds: list[dict] = []
        if scene.has("birds"):
            for i in range(int(rng.integers(1, 3))):
                # the first flock crosses the middle of the view during the first two seconds
                vx = rng.choice([-1, 1]) * rng.uniform(0.08, 0.16) * W
                cx = (W / 2 - vx * rng.uniform(0.0, 2.0)) if i == 0 else rng.uniform(geo.x0, geo.x1)
                cy = geo.horizon - rng.uniform(0.15, 0.4 if i == 0 else 0.6) * geo.height
                for _ in range(int(rng.integers(3, 8))):
                    self.birds.append(dict(x=cx + rng.normal(0, 4) * U, y=cy + rng.normal(0, 2.5) * U, v=vx * rng.uniform(0.95, 1.05),
                                           s=rng.uniform(1.0, 2.2) * U, ph=rng.uniform(0, 6.3), f=rng.uniform(2.5, 4.0)))
        self.bflies: list[dict] = []
        if scene.has("butterflies"):
            for i in range(int(rng.integers(3, 9))):
                d = rng.uniform(0.55, 1.0)
                self.bflies.append(dict(x=self._start_x(rng, i), y=geo.row_of_depth(d) - rng.uniform(0.05, 0.3) * (H - geo.horizon),
                                        d=d, v=rng.uniform(-0.05, 0.05) * W, a=rng.uniform(2, 6) * U, w=rng.uniform(1.5, 3),
                                        ph=rng.uniform(0, 6.3), f=rng.uniform(5, 8),
                                        col=[np.array(c) for c in ((1, 0.85, 0.2), (1, 1, 1), (1, 0.5, 0.1), (0.4, 0.6, 1.0))][int(rng.integers(4))]))
        self.boats: list[dict] = []
        if scene.has("boats") and world.water is not None:
            for i in range(int(rng.integers(1, 4))):
                d = rng.uniform(*world.water)
                self.boats.append(dict(d=d, x=self._start_x(rng, i), v=rng.choice([-1, 1]) * rng.uniform(0.015, 0.04) * W,
                                       h=1.6 * d * (H - geo.horizon), bob=rng.uniform(0, 6.3)))
        n_px = W * H
        self.rain = None
        if scene.has("rain"):
            n = int(n_px / 130)
            self.rain = dict(u=rng.uniform(0, W, n), v=rng.uniform(0, H, n), k=rng.uniform(0.5, 1.5, n),
                             wind=rng.uniform(-0.25, 0.25))
        self.snow = None
        if scene.has("snow"):
            n = int(n_px / 110)
            self.snow = dict(u=rng.uniform(0, W, n), v=rng.uniform(0, H, n), k=rng.uniform(0.4, 1.6, n),
                             ph=rng.uniform(0, 6.3, n), wind=rng.uniform(-0.05, 0.05) * W)
        # people and cars share one far-to-near order so nearer things cover farther ones
        self.things = sorted([("p", q) for q in self.people] + [("c", q) for q in self.cars] + [("b", q) for q in self.boats],
                             key=lambda it: it[1]["d"])

    def _start_x(self, rng: np.random.Generator, i: int) -> float:
        """The first of each kind starts inside the first frame, so a labelled mover is seen."""
        if i == 0:
            return float(rng.uniform(0.15, 0.85) * self.geo.width)
        return float(rng.uniform(self.geo.x0, self.geo.x1))

    # ------------------------------------------------------------------------------------------------
    def lit(self, col: np.ndarray) -> tuple[int, int, int]:
        return _c(np.asarray(col) * self.light.light)

    def draw_ground(self, img: np.ndarray, pose: Pose) -> None:
        """Birds, then people, cars and boats far to near, on a uint8 (H, W, 3) frame."""
        for b in self.birds:
            self._bird(img, pose, b)
        for kind, q in self.things:
            if kind == "p":
                self._person(img, pose, q)
            elif kind == "c":
                self._car(img, pose, q)
            else:
                self._boat(img, pose, q)
        for b in self.bflies:
            self._butterfly(img, pose, b)

    def draw_air(self, img: np.ndarray, pose: Pose) -> np.ndarray:
        if self.rain is not None:
            img = self._rain(img, pose)
        if self.snow is not None:
            self._snow(img, pose)
        return img

    # ------------------------------------------------------------------------------------------------
    def _person(self, img: np.ndarray, pose: Pose, q: dict) -> None:
        geo = self.geo
        wy = geo.row_of_depth(q["d"])
        p = float(geo.ground_parallax(np.float32(wy)))
        u, v, m = project(geo, pose, _wrap(q["x"] + q["v"] * pose.t, geo), wy, p)
        h = q["h"] * m
        if u < -h or u > geo.width + h or v < 0 or v - h > geo.height:
            return
        step = np.sin(2 * np.pi * 1.8 * pose.t + q["ph"])
        th = max(1.0, 0.09 * h)
        legs, coat = self.lit(q["legs"]), self.lit(q["coat"])
        hip = (u, v - 0.48 * h)
        _line(img, hip, (u + 0.17 * h * step, v), legs, th)
        _line(img, hip, (u - 0.17 * h * step, v), legs, th)
        _line(img, (u, v - 0.78 * h), (u - 0.14 * h * step, v - 0.45 * h), coat, th * 0.8)
        _ellipse(img, (u, v - 0.64 * h), (0.12 * h, 0.2 * h), coat)
        _line(img, (u, v - 0.78 * h), (u + 0.14 * h * step, v - 0.45 * h), coat, th * 0.8)
        _circle(img, (u, v - 0.9 * h), 0.085 * h, self.lit(q["skin"]))
        if self.scene.has("rain"):
            top = v - 1.08 * h
            _line(img, (u + 0.05 * h, v - 0.75 * h), (u + 0.05 * h, top), self.lit((0.2, 0.2, 0.2)), max(1.0, 0.03 * h))
            _ellipse(img, (u + 0.05 * h, top + 0.02 * h), (0.32 * h, 0.16 * h), self.lit(q["umb"]), 180, 360)

    def _car(self, img: np.ndarray, pose: Pose, q: dict) -> None:
        geo = self.geo
        wy = geo.row_of_depth(q["d"])
        p = float(geo.ground_parallax(np.float32(wy)))
        u, v, m = project(geo, pose, _wrap(q["x"] + q["v"] * pose.t, geo), wy, p)
        h, ln = q["h"] * m, q["len"] * m
        if u + ln < 0 or u - ln > geo.width:
            return
        night = self.light.night
        body = self.lit(q["body"])
        x0, x1 = u - ln / 2, u + ln / 2
        _poly(img, [(x0, v - 0.15 * h), (x1, v - 0.15 * h), (x1, v - 0.5 * h), (x0 + 0.02 * ln, v - 0.55 * h)], body)
        f = q["dir"]  # +1: drives right, its front is on the right
        cab = [(u - 0.3 * ln * f, v - 0.5 * h), (u + 0.18 * ln * f, v - 0.5 * h), (u + 0.05 * ln * f, v - 0.88 * h),
               (u - 0.22 * ln * f, v - 0.88 * h)]
        _poly(img, cab, body)
        glass = self.lit((0.55, 0.65, 0.75)) if not night else (25, 28, 40)
        inner = [(0.85 * a + 0.15 * u, 0.85 * b + 0.15 * (v - 0.66 * h)) for a, b in cab]
        _poly(img, inner, glass)
        for wx in (u - 0.3 * ln, u + 0.3 * ln):
            _circle(img, (wx, v - 0.14 * h), 0.15 * h, (20, 20, 22))
        front, back = u + 0.49 * ln * f, u - 0.49 * ln * f
        if night:
            _circle(img, (front, v - 0.38 * h), 0.1 * h + 0.4, (255, 250, 220))
            _circle(img, (back, v - 0.38 * h), 0.08 * h + 0.4, (230, 30, 30))
            beam = [(front, v - 0.45 * h), (front + f * 1.5 * ln, v - 0.6 * h), (front + f * 1.5 * ln, v), (front, v - 0.3 * h)]
            ov = img.copy()
            _poly(ov, beam, (255, 240, 200))
            cv2.addWeighted(ov, 0.18, img, 0.82, 0, dst=img)
        else:
            _circle(img, (front, v - 0.38 * h), 0.07 * h + 0.3, self.lit((0.95, 0.95, 0.85)))
            _circle(img, (back, v - 0.38 * h), 0.06 * h + 0.3, self.lit((0.7, 0.1, 0.1)))

    def _bird(self, img: np.ndarray, pose: Pose, b: dict) -> None:
        u, v, m = project(self.geo, pose, _wrap(b["x"] + b["v"] * pose.t, self.geo), b["y"] + 1.5 * self.geo.unit * np.sin(pose.t + b["ph"]), 0.4)
        s = b["s"] * m
        flap = np.sin(2 * np.pi * b["f"] * pose.t + b["ph"])
        col = self.lit((0.95, 0.95, 0.95)) if self.scene.setting == "beach" and not self.light.night else self.lit((0.08, 0.08, 0.1))
        th = max(1.0, 0.25 * s)
        _line(img, (u, v), (u - s, v - 0.6 * s * flap), col, th)
        _line(img, (u, v), (u + s, v - 0.6 * s * flap), col, th)

    def _butterfly(self, img: np.ndarray, pose: Pose, b: dict) -> None:
        geo, t = self.geo, pose.t
        x = b["x"] + b["v"] * t + b["a"] * np.sin(b["w"] * t + b["ph"])
        y = b["y"] + 0.6 * b["a"] * np.sin(1.7 * b["w"] * t + 2 * b["ph"])
        u, v, m = project(geo, pose, _wrap(x, geo), y, 0.5 + 0.9 * b["d"])
        s = (0.7 + 1.2 * b["d"]) * geo.unit * m
        open_ = abs(np.cos(2 * np.pi * b["f"] * t + b["ph"])) + 0.15
        col = self.lit(b["col"])
        _ellipse(img, (u - 0.6 * s * open_, v), (0.7 * s * open_, 0.6 * s), col)
        _ellipse(img, (u + 0.6 * s * open_, v), (0.7 * s * open_, 0.6 * s), col)

    def _boat(self, img: np.ndarray, pose: Pose, q: dict) -> None:
        geo = self.geo
        wy = geo.row_of_depth(q["d"])
        p = float(geo.ground_parallax(np.float32(wy)))
        u, v, m = project(geo, pose, _wrap(q["x"] + q["v"] * pose.t, geo), wy + 0.15 * geo.unit * np.sin(1.5 * pose.t + q["bob"]), p)
        h = q["h"] * m
        _poly(img, [(u - 0.5 * h, v - 0.15 * h), (u + 0.5 * h, v - 0.15 * h), (u + 0.35 * h, v), (u - 0.35 * h, v)], self.lit((0.35, 0.2, 0.12)))
        _poly(img, [(u + 0.02 * h, v - 0.2 * h), (u + 0.02 * h, v - 1.1 * h), (u + 0.42 * h, v - 0.2 * h)], self.lit((0.97, 0.96, 0.92)))
        _poly(img, [(u - 0.03 * h, v - 0.25 * h), (u - 0.03 * h, v - 0.9 * h), (u - 0.33 * h, v - 0.25 * h)], self.lit((0.9, 0.88, 0.84)))
        if self.light.night:
            _circle(img, (u, v - 1.1 * h), 0.05 * h + 0.5, (255, 230, 160))

    def _rain(self, img: np.ndarray, pose: Pose) -> np.ndarray:
        r, geo = self.rain, self.geo
        W, H = geo.width, geo.height
        k = r["k"]
        vy = 1.6 * H * k  # px per second; nearer drops (larger k) fall faster across the frame
        vx = r["wind"] * vy
        u = (r["u"] + vx * pose.t - eff_x(1.5) * k * pose.x * W) % W  # drops are near: they move most
        v = (r["v"] + vy * pose.t + eff_y(1.5) * k * pose.y * H) % H
        ln = np.minimum(vy / self.fps * 0.5, 0.14 * H)
        ov = img.copy()
        level = 0.35 + 0.65 * float(np.max(self.light.light))
        col = _c(np.array([0.78, 0.8, 0.85]) * level)
        for a, b, l_, kk in zip(u, v, ln, k):
            _line(ov, (a, b), (a + r["wind"] * l_, b + l_), col, 1 if kk < 1.3 else 2)
        return cv2.addWeighted(ov, 0.4, img, 0.6, 0)

    def _snow(self, img: np.ndarray, pose: Pose) -> None:
        s, geo = self.snow, self.geo
        W, H = geo.width, geo.height
        k = s["k"]
        u = (s["u"] + s["wind"] * pose.t + 1.2 * geo.unit * np.sin(1.3 * pose.t + s["ph"]) - eff_x(1.5) * k * pose.x * W) % W
        v = (s["v"] + 0.12 * H * k * pose.t + eff_y(1.5) * k * pose.y * H) % H
        level = float(np.max(self.light.light))
        col = _c(np.array([0.97, 0.97, 1.0]) * (0.45 + 0.55 * level))
        ov = img.copy()
        for a, b, kk in zip(u, v, k):
            _circle(ov, (a, b), 0.35 * geo.unit * kk + 0.35, col)
        cv2.addWeighted(ov, 0.55 + 0.4 * level, img, 0.45 - 0.4 * level, 0, dst=img)  # dimmer flakes at night


def waves(frame: np.ndarray, geo: Geometry, ground: Layer, shore: np.ndarray, pose: Pose, light: Light) -> None:
    """Foam crests rolling to the beach and the swash on the sand, on a float (H, W, 3) frame."""
    map_x, map_y, wx = ground.maps(geo, np.array([pose.x, pose.y, pose.z], np.float32), pose.t)
    wy = map_y[:, 0] / geo.cs + geo.y0  # (H,) world row of each frame row
    col = np.clip(map_x.astype(np.int32), 0, len(shore) - 1)
    shore_row = shore[col]  # (H, W)
    d = np.clip(geo.depth(wy), 0.0, None)[:, None]  # (H, 1)
    t = pose.t
    sea = wy[:, None] < shore_row
    z = 1.0 / (d + 0.04)  # perspective: crests crowd towards the horizon
    phase = z * 0.9 - 0.55 * t + 0.35 * np.sin(wx / (9 * geo.unit))
    crest = np.clip((np.cos(2 * np.pi * phase) - 0.7) / 0.3, 0, 1) * np.clip(d * 4, 0, 1)
    swash = 0.025 * (geo.height - geo.horizon) * (1.2 + np.sin(2 * np.pi * 0.2 * t + wx / (25 * geo.unit)))
    wet = (~sea) & (wy[:, None] < shore_row + swash)
    edge = wet & (wy[:, None] > shore_row + swash - 0.6 * geo.unit - 0.5)
    a = np.where(sea, 0.75 * crest, 0.0) + np.where(wet, 0.35, 0.0) + np.where(edge, 0.5, 0.0)
    a = np.clip(a, 0, 0.9)[..., None].astype(np.float32)
    foam = (np.array([0.95, 0.97, 1.0], np.float32) * light.light)[None, None, :]
    frame *= 1 - a
    frame += a * foam
