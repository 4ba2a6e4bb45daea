"""Painters of the eight settings: each fills depth layers once per clip (sky .. near foreground)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from training.world.canvas import Layer, Painter
from training.world.scene import Scene


@dataclass
class World:
    """The painted layers of a clip and where its movers may go."""

    back: list[Layer]  # drawn back to front before the movers
    front: list[Layer]  # drawn after the movers (near foreground)
    walk: list[tuple[float, float]] = field(default_factory=lambda: [(0.35, 0.95)])  # depth ranges people walk in
    lanes: list[tuple[float, int]] = field(default_factory=list)  # (depth, direction) of car lanes
    water: tuple[float, float] | None = None  # depth range of open water (boats)
    shore: np.ndarray | None = None  # (CW,) world row of the shoreline per canvas column (waves)
    sky_bottom: float = 0.0  # world row below which birds should not fly


def rgb(*c: float) -> np.ndarray:
    return np.array(c, np.float32)


def _jit(rng: np.random.Generator, c: np.ndarray, amount: float = 0.06) -> np.ndarray:
    return np.clip(c * (1 + rng.uniform(-amount, amount, 3)), 0, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------------
# sky and clouds


def paint_sky(P: Painter, scene: Scene) -> tuple[Layer, float]:
    geo, L, rng = P.geo, P.light, P.rng
    cv = P.new()
    top_row = geo.horizon - 1.1 * geo.height
    t = np.clip((geo.horizon - P.ys) / (geo.horizon - top_row), 0, 1) ** 0.7  # (PH,)
    if P.flat:
        t = np.round(t * 5) / 5  # banded sky for flat animation
    col = L.sky_horizon[None, :] * (1 - t[:, None]) + L.sky_top[None, :] * t[:, None]  # (PH, 3)
    cv[..., :3] = col[:, None, :]
    cv[..., 3] = 1.0
    w = geo.width
    sun_x = float(rng.uniform(0.2, 0.8) * w)
    if scene.time_of_day in ("sunrise", "sunset"):
        sun_y = geo.horizon - rng.uniform(0.04, 0.16) * geo.height
        glow_r, glow_a = 0.55 * geo.height, 0.55
    elif scene.time_of_day == "day":
        sun_y = geo.horizon - rng.uniform(0.55, 0.9) * geo.height
        glow_r, glow_a = 0.3 * geo.height, 0.25
    else:
        sun_y = geo.horizon - rng.uniform(0.3, 0.7) * geo.height
        glow_r, glow_a = 0.18 * geo.height, 0.12
    if not L.sun_visible:
        glow_a *= 0.35
    dx = P.xs[None, :] - sun_x
    dy = P.ys[:, None] - sun_y
    r2 = (dx * dx + dy * dy) / (glow_r * glow_r)  # (PH, PW)
    glow = np.exp(-r2)[..., None] * glow_a
    cv[..., :3] = cv[..., :3] + glow * L.sun * (1 - cv[..., :3])
    if L.stars:
        n = int(P.pw * P.ph / (P.k * P.k) / 60)
        sx = rng.uniform(geo.x0, geo.x1, n)
        sy = rng.uniform(geo.y0, geo.horizon - 0.05 * geo.height, n)
        b = rng.uniform(0.35, 1.0, n)
        for x, y, v in zip(sx, sy, b):
            P.ellipse(cv, (x, y), (0.22 * P.U + 0.2, 0.22 * P.U + 0.2), rgb(v, v, v * 0.95))
    if L.sun_visible:
        r = (3.2 if scene.time_of_day != "day" else 2.6) * P.U
        if scene.time_of_day == "night":
            P.ellipse(cv, (sun_x, sun_y), (r, r), L.sun)
            if not P.flat:  # a few darker seas on the moon
                for _ in range(3):
                    P.ellipse(cv, (sun_x + rng.uniform(-0.5, 0.5) * r, sun_y + rng.uniform(-0.5, 0.5) * r),
                              (0.25 * r, 0.2 * r), L.sun * 0.82)
        else:
            P.ellipse(cv, (sun_x, sun_y), (r, r), np.minimum(L.sun * 1.05, 1.0))
    layer = P.finish(cv, 0.15, lit=False)
    layer.opaque = True
    return layer, sun_x


def paint_clouds(P: Painter, scene: Scene) -> Layer | None:
    """Cloud layer; it drifts with the wind when ``clouds`` is a mover, else it is absent."""
    if not scene.has("clouds"):
        return None
    geo, L, rng = P.geo, P.light, P.rng
    cv = P.new()
    overcast = scene.weather in ("clouds", "rain", "snow")
    n = int((geo.x1 - geo.x0) / geo.width * (14 if overcast else 4)) + 2
    night = scene.time_of_day == "night"
    base = {"day": rgb(0.97, 0.97, 0.98), "sunrise": rgb(1.0, 0.86, 0.8), "sunset": rgb(1.0, 0.72, 0.55),
            "night": rgb(0.16, 0.18, 0.26)}[scene.time_of_day]
    if scene.weather == "rain":
        base = base * rgb(0.6, 0.62, 0.66)
    elif scene.weather in ("clouds", "snow"):
        base = base * rgb(0.86, 0.87, 0.9)
    shade = base * (rgb(0.72, 0.74, 0.8) if not night else rgb(0.8, 0.8, 0.85))
    if overcast and scene.weather != "clouds":  # a rain or snow sky is a soft, even grey
        shade = 0.5 * shade + 0.5 * base
    top = geo.horizon - 1.05 * geo.height
    for _ in range(n):
        cx = rng.uniform(geo.x0, geo.x1)
        f = rng.uniform(0, 1) ** 0.8  # 0: near the horizon (small), 1: high (large)
        cy = geo.horizon - 0.06 * geo.height - f * (geo.horizon - 0.06 * geo.height - top)
        s = (0.35 + 0.9 * f) * geo.height * (0.16 if not overcast else 0.22) * rng.uniform(0.7, 1.3)
        for _ in range(int(rng.integers(4, 8))):
            ox, oy = rng.uniform(-1.3, 1.3) * s, rng.uniform(-0.25, 0.15) * s
            ax = (rng.uniform(0.45, 0.8) * s, rng.uniform(0.25, 0.42) * s)
            P.ellipse(cv, (cx + ox, cy + oy + 0.12 * s), ax, shade)
            P.ellipse(cv, (cx + ox - 0.05 * s, cy + oy - 0.06 * s), (ax[0] * 0.85, ax[1] * 0.8), base)
    if not P.flat:
        P.textured(cv, 6 * P.U, 0.8)
    wind = float(rng.choice([-1, 1]) * rng.uniform(0.008, 0.02) * geo.width)  # slow, as real clouds
    if overcast:
        wind *= 0.6
    lay = P.finish(cv, 0.5, lit=False, haze=0.15 if not night else 0.0, blur=0.0 if P.flat else 0.6 * P.U)
    lay.drift = wind
    return lay


# ---------------------------------------------------------------------------------------------------
# shared props


def tree(P: Painter, cv: np.ndarray, sw: np.ndarray | None, x: float, base: float, h: float,
         season: str, kind: str = "round") -> None:
    """A deciduous ("round") or conifer tree of height ``h`` standing at world row ``base``."""
    rng = P.rng
    trunk = rgb(0.32, 0.22, 0.14) * rng.uniform(0.8, 1.1)
    amp = 0.025 * h
    if kind == "conifer":
        P.rect(cv, x - 0.035 * h, base - 0.2 * h, x + 0.035 * h, base, trunk)
        green = _jit(rng, rgb(0.10, 0.30, 0.16), 0.15)
        tiers = 4
        for i in range(tiers):
            y_b = base - 0.15 * h - i * 0.2 * h
            half = 0.3 * h * (1 - i / (tiers + 0.5))
            tri = np.array([[x - half, y_b], [x + half, y_b], [x, y_b - 0.38 * h]])
            P.poly(cv, tri, green * (0.85 + 0.05 * i))
            if not P.flat:
                P.poly(cv, np.array([[x, y_b], [x + half, y_b], [x, y_b - 0.38 * h]]), green * 0.7)
            if season == "winter":
                P.poly(cv, np.array([[x - 0.4 * half, y_b - 0.22 * h], [x + 0.4 * half, y_b - 0.22 * h],
                                     [x, y_b - 0.38 * h]]), rgb(0.93, 0.95, 0.98))
            if sw is not None:
                P.poly(sw, tri, (amp * (i + 1) / tiers,) * 3)
        return
    P.poly(cv, np.array([[x - 0.05 * h, base], [x + 0.05 * h, base], [x + 0.025 * h, base - 0.6 * h],
                         [x - 0.025 * h, base - 0.6 * h]]), trunk)
    if season == "winter":
        for i in range(5):
            ang = rng.uniform(-1.0, 1.0)
            y0 = base - rng.uniform(0.35, 0.6) * h
            P.line(cv, (x, y0), (x + np.sin(ang) * 0.3 * h, y0 - np.cos(ang) * 0.3 * h), trunk, 0.02 * h + 0.3)
        return
    palette = {
        "summer": [rgb(0.18, 0.42, 0.16), rgb(0.22, 0.50, 0.18), rgb(0.14, 0.36, 0.18)],
        "autumn": [rgb(0.85, 0.45, 0.10), rgb(0.80, 0.28, 0.10), rgb(0.88, 0.66, 0.16)],
    }[season]
    leaf = _jit(rng, palette[int(rng.integers(len(palette)))], 0.12)
    cy = base - 0.68 * h
    r = 0.3 * h
    blobs = [(rng.uniform(-0.55, 0.55) * r, rng.uniform(-0.5, 0.4) * r, rng.uniform(0.5, 0.75) * r) for _ in range(6)]
    for ox, oy, rr in blobs:
        P.ellipse(cv, (x + ox, cy + oy), (rr, rr * 0.9), leaf * 0.72)
        if sw is not None:
            P.ellipse(sw, (x + ox, cy + oy), (rr, rr * 0.9), (amp,) * 3)
    for ox, oy, rr in blobs[:4]:
        P.ellipse(cv, (x + ox - 0.15 * rr, cy + oy - 0.2 * rr), (rr * 0.7, rr * 0.6), leaf)
    if not P.flat:
        for ox, oy, rr in blobs[:2]:
            P.ellipse(cv, (x + ox - 0.3 * rr, cy + oy - 0.35 * rr), (rr * 0.35, rr * 0.3), np.minimum(leaf * 1.25, 1))


def ground_fill(P: Painter, cv: np.ndarray, far: np.ndarray, near: np.ndarray,
                top: float | np.ndarray | None = None) -> np.ndarray:
    """Fill below the horizon (or ``top``: a row or a row per column) with a colour from ``far`` to
    ``near`` by depth; returns the filled mask (PH, PW)."""
    geo = P.geo
    d = np.clip(geo.depth(P.ys), 0, 1)  # (PH,)
    if P.flat:
        d = np.round(d * 3) / 3  # flat bands
    col = far[None, :] * (1 - d[:, None]) + near[None, :] * d[:, None]  # (PH, 3)
    if top is None:
        topv = np.full(P.pw, geo.horizon, np.float32)
    elif np.ndim(top) == 0:
        topv = np.full(P.pw, float(top), np.float32)
    else:
        topv = np.asarray(top, np.float32)
    return P.below(cv, topv, np.broadcast_to(col[:, None, :], (P.ph, P.pw, 3)))


def scatter_depths(rng: np.random.Generator, n: int, d0: float, d1: float) -> np.ndarray:
    """Depths sorted far to near, so nearer things are painted over farther ones."""
    return np.sort(rng.uniform(d0, d1, n))


def ridge_layer(P: Painter, base_row: float, height: float, scale: float, color: np.ndarray,
                snow: float = 0.0, octaves: int = 5, shade: bool = True, smooth: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A mountain/hill silhouette lit from the upper left, snow-capped above ``snow`` of its height;
    returns (canvas, top row per paint column)."""
    cv = P.new()
    prof = P.ridge(scale, octaves, smooth)  # (PW,)
    prof = (prof - prof.min()) / max(1e-6, prof.max() - prof.min())
    top = base_row - height * (0.15 + 0.85 * prof)
    bottom = np.full(P.pw, P.geo.y1 + 5, np.float32)
    mask = P.below(cv, top, color, bottom)
    # slope of a smoothed profile: faces turned to the light are brighter, without column stripes
    smooth = cv2.GaussianBlur(top[None, :].astype(np.float32), (0, 0), sigmaX=max(1.0, 1.5 * P.U * P.k))[0]
    slope = np.gradient(smooth) * P.k  # (PW,) rows per world pixel
    if P.flat:
        lit = np.where(slope > 0.05, 0.8, 1.0)
    else:
        lit = np.clip(1.0 - 0.45 * np.tanh(slope * 1.5), 0.6, 1.3)
    if shade and P.flat:
        cv[..., :3] *= np.where(mask, lit[None, :], 1.0)[..., None]
    elif shade:
        # Faces under the crest follow its slope, fading lower down; a bumped noise field adds facets
        # and gullies so the light does not fall in vertical bands.
        below = np.clip((P.ys[:, None] - top[None, :]) / max(0.35 * height, 1e-3), 0, 1)  # (PH, PW)
        crest = 1.0 + (lit[None, :] - 1.0) * (1.0 - below)
        n = P.noise(2.5 * P.U, 3)
        bump = np.gradient(n, axis=1) - 0.5 * np.gradient(n, axis=0)  # light from the upper left
        bump = bump / (np.abs(bump).max() + 1e-6)
        lit2 = np.clip(crest * (1.0 + 0.25 * bump) * (1.0 - 0.12 * below), 0.5, 1.35)
        cv[..., :3] *= np.where(mask, lit2, 1.0)[..., None]
    if snow > 0:
        jag = P.ridge(0.08 * scale, 3) * 0.06 * height  # (PW,) ragged snow line
        line = base_row - height * (1 - snow) + jag
        smask = mask & (P.ys[:, None] < line[None, :])
        if P.flat:
            white = np.where(slope[:, None] > 0.05, 0.82, 0.97) * np.array([1.0, 1.0, 1.04], np.float32)  # (PW, 3)
            cv[smask, :3] = np.broadcast_to(white[None], (P.ph, P.pw, 3))[smask]
        else:  # snow keeps the rock's light and shade, brightened
            shaded = np.clip(cv[..., :3] / np.maximum(color, 1e-3) * 0.92, 0.55, 1.05)  # (PH, PW, 3)
            cv[smask, :3] = (shaded * np.array([0.97, 0.98, 1.0], np.float32))[smask]
    return cv, top


def far_treeline(P: Painter, cv: np.ndarray, row: float, height: float, color: np.ndarray, conifer: bool = False) -> None:
    geo, rng = P.geo, P.rng
    x = geo.x0
    while x < geo.x1:
        h = height * rng.uniform(0.6, 1.3)
        if conifer:
            P.poly(cv, np.array([[x - 0.3 * h, row], [x + 0.3 * h, row], [x, row - h]]), color * rng.uniform(0.85, 1.1))
        else:
            P.ellipse(cv, (x, row - 0.5 * h), (0.55 * h, 0.6 * h), color * rng.uniform(0.85, 1.1))
        x += h * rng.uniform(0.3, 0.7)
    P.rect(cv, geo.x0, row - 0.3 * height, geo.x1, row + 0.5 * P.U, color)


def water_reflect(P: Painter, cv: np.ndarray, mask: np.ndarray, mirror: np.ndarray, base_col: np.ndarray,
                  mix: float) -> None:
    """Mirror ``mirror`` (PH, PW, 3) about the horizon into the masked water rows, with ripples."""
    geo = P.geo
    rows = np.arange(P.ph)
    hz_row = (geo.horizon - geo.y0) * P.k
    src = np.clip(np.round(2 * hz_row - rows), 0, P.ph - 1).astype(np.int64)  # (PH,)
    refl = mirror[src]  # (PH, PW, 3)
    if not P.flat:
        wob = (P.noise(3 * P.U, 2, aniso=4.0) * 1.2 * P.U * P.k).astype(np.float32)
        mx = np.broadcast_to(np.arange(P.pw, dtype=np.float32)[None, :], (P.ph, P.pw)) + wob
        my = np.broadcast_to(np.arange(P.ph, dtype=np.float32)[:, None], (P.ph, P.pw)).copy()
        refl = cv2.remap(np.ascontiguousarray(refl), mx.astype(np.float32), my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    water = base_col[None, None, :] * (1 - mix) + refl * mix
    cv[mask, :3] = water[mask]
    cv[mask, 3] = 1.0


def glints(P: Painter, cv: np.ndarray, sun_x: float, top: float, bottom: float, color: np.ndarray, width: float,
           n: int) -> None:
    """Short bright horizontal strokes under the sun or moon: its path on the water."""
    rng = P.rng
    for _ in range(n):
        y = rng.uniform(top, bottom)
        d = max(0.02, P.geo.depth(y))
        spread = width * (0.3 + 1.4 * d)
        x = sun_x + rng.normal(0, 0.5) * spread
        ln = rng.uniform(0.6, 2.2) * P.U * (0.4 + d)
        P.line(cv, (x - ln, y), (x + ln, y), color, 0.25 * P.U * (0.5 + d) + 0.25)


def ripples(P: Painter, cv: np.ndarray, mask: np.ndarray, density: float, light: float = 1.12, dark: float = 0.88) -> None:
    """Short horizontal strokes on a water surface, smaller and denser towards the horizon."""
    geo, rng = P.geo, P.rng
    n = int(density * (geo.x1 - geo.x0) / geo.unit)
    ys = geo.horizon + (geo.y1 - geo.horizon) * rng.random(n) ** 1.6
    xs = rng.uniform(geo.x0, geo.x1, n)
    for x, y in zip(xs, ys):
        r = int((y - geo.y0) * P.k)
        c = int((x - geo.x0) * P.k)
        if not (0 <= r < P.ph and 0 <= c < P.pw) or not mask[r, c]:
            continue
        d = max(0.03, geo.depth(y))
        ln = rng.uniform(0.8, 2.5) * geo.unit * (0.3 + d)
        col = cv[r, c, :3] * (light if rng.random() < 0.5 else dark)
        P.line(cv, (x - ln, y), (x + ln, y), np.clip(col, 0, 1), 0.18 * geo.unit * (0.4 + d) + 0.2)


def pebbles(P: Painter, cv: np.ndarray, rows: tuple[float, float] | np.ndarray, n: int, col: np.ndarray, size: float = 0.5) -> None:
    """Small stones or shells scattered between two depths (or near a per-column row profile)."""
    geo, rng = P.geo, P.rng
    for _ in range(n):
        x = rng.uniform(geo.x0, geo.x1)
        if isinstance(rows, tuple):
            y = geo.row_of_depth(rng.uniform(*rows))
        else:
            c = int(np.clip((x - geo.x0) * P.k, 0, P.pw - 1))
            y = float(rows[c]) + rng.uniform(0.0, 0.12) * (geo.height - geo.horizon)
        r = size * geo.unit * (0.3 + 1.5 * max(0.02, geo.depth(y))) * rng.uniform(0.6, 1.4)
        P.ellipse(cv, (x, y), (r * 1.3, r * 0.8), np.clip(col * rng.uniform(0.75, 1.2), 0, 1))
