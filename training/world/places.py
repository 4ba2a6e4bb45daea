"""The eight settings. Each painter fills far / mid / ground / near layers once per clip.

Depth ``d`` is the ground depth of training.world.canvas.Geometry (0 at the horizon, 1 at the bottom
of frame 0). A thing standing on the ground at depth d is about ``k * (row - horizon)`` pixels tall for
a real height of k camera heights (the camera is about 3 m up), which keeps sizes in perspective.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from training.world.canvas import Painter
from training.world.scene import Scene
from training.world.settings import (
    World,
    _jit,
    far_treeline,
    glints,
    ground_fill,
    pebbles,
    ripples,
    rgb,
    ridge_layer,
    scatter_depths,
    tree,
    water_reflect,
)

GROUND_P = (0.5, 1.4)  # parallax of the ground plane at the horizon and at the bottom of frame 0

_GRASS = {
    "summer": (rgb(0.42, 0.62, 0.26), rgb(0.22, 0.47, 0.13)),
    "autumn": (rgb(0.58, 0.56, 0.26), rgb(0.42, 0.40, 0.15)),
    "winter": (rgb(0.86, 0.89, 0.94), rgb(0.94, 0.95, 0.98)),
}
_FOLIAGE_FAR = {"summer": rgb(0.16, 0.36, 0.18), "autumn": rgb(0.62, 0.38, 0.14), "winter": rgb(0.38, 0.34, 0.32)}


def _height(geo, base: float, k: float) -> float:
    return k * max(base - geo.horizon, 0.5)


def lamp(P: Painter, cv: np.ndarray, em: np.ndarray, x: float, base: float, h: float, on: bool) -> None:
    """A street lamp; lit at night (additive glow on the emissive canvas)."""
    dark = rgb(0.16, 0.17, 0.19)
    P.line(cv, (x, base), (x, base - h), dark, 0.04 * h + 0.2)
    P.line(cv, (x, base - h), (x + 0.15 * h, base - h), dark, 0.03 * h + 0.2)
    P.ellipse(cv, (x + 0.15 * h, base - 0.98 * h), (0.06 * h, 0.04 * h), rgb(0.3, 0.3, 0.28) if not on else rgb(1, 0.9, 0.6))
    if on:  # a soft halo (the emissive canvas is blurred by Painter.finish(glow=...))
        P.ellipse(em, (x + 0.15 * h, base - 0.98 * h), (0.12 * h, 0.12 * h), rgb(1.0, 0.8, 0.45), 0.9)


def _props_sway(P: Painter, scene: Scene) -> np.ndarray | None:
    return np.zeros((P.ph, P.pw), np.float32) if scene.has("swaying_trees") else None


# ---------------------------------------------------------------------------------------------------


def park(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U = P.geo, P.rng, P.U
    season, night = scene.season, scene.time_of_day == "night"
    far = P.new()
    if rng.random() < 0.4:  # a city skyline behind the park
        x = geo.x0
        while x < geo.x1:
            w = rng.uniform(0.04, 0.1) * geo.width
            P.rect(far, x, geo.horizon - rng.uniform(0.08, 0.25) * geo.height, x + w, geo.horizon, rgb(0.55, 0.58, 0.66) * rng.uniform(0.9, 1.1))
            x += w * rng.uniform(1.0, 1.6)
    far_treeline(P, far, geo.horizon + 0.3 * U, 0.07 * geo.height, _FOLIAGE_FAR[season])
    lay_far = P.finish(far, 0.35, haze=0.35)

    g = P.new()
    gf, gn = _GRASS[season]
    ground_fill(P, g, _jit(rng, gf), _jit(rng, gn))
    P.textured(g, 2 * U, 1.0, aniso=3)
    # a winding path drawn as a perspective strip from the horizon to the bottom
    xc, amp, ph = rng.uniform(0.3, 0.7) * geo.width, rng.uniform(0.05, 0.2) * geo.width, rng.uniform(0, 6)
    ds = np.linspace(0.02, 1.5, 40)
    cx = xc + amp * np.sin(ds * 3 + ph) * ds
    half = (0.02 + 0.2 * ds) * geo.width * 0.5
    rows = np.array([geo.row_of_depth(d) for d in ds])
    pts = np.concatenate([np.stack([cx - half, rows], 1), np.stack([cx + half, rows], 1)[::-1]])
    path_col = rgb(0.74, 0.68, 0.56) if season != "winter" else rgb(0.72, 0.74, 0.8)
    P.poly(g, pts, path_col)
    if season == "autumn":
        for _ in range(int(geo.width * 1.5)):
            x, y = rng.uniform(geo.x0, geo.x1), rng.uniform(geo.horizon, geo.y1)
            r = 0.25 * U * (0.3 + 2 * geo.depth(y))
            P.ellipse(g, (x, y), (r * 1.5, r), _jit(rng, rgb(0.85, 0.45, 0.12), 0.2))
    lay_g = P.finish(g, *GROUND_P, haze=0.25, ground_haze=True)

    mid, em = P.new(), P.new()
    sw = _props_sway(P, scene)
    n = int((geo.x1 - geo.x0) / geo.width * 6) + 2
    for d in scatter_depths(rng, n, 0.04, 0.3):
        base = geo.row_of_depth(d)
        tree(P, mid, sw, rng.uniform(geo.x0, geo.x1), base, _height(geo, base, rng.uniform(2.6, 3.6)), season)
    for d in scatter_depths(rng, int(n / 2), 0.15, 0.3):
        base = geo.row_of_depth(d)
        x = rng.uniform(geo.x0, geo.x1)
        if rng.random() < 0.5:
            lamp(P, mid, em, x, base, _height(geo, base, 1.6), night)
        else:  # a bench
            h = _height(geo, base, 0.35)
            P.rect(mid, x - h, base - 0.7 * h, x + h, base - 0.5 * h, rgb(0.45, 0.3, 0.18))
            P.rect(mid, x - h, base - 1.2 * h, x + h, base - 0.95 * h, rgb(0.45, 0.3, 0.18))
            P.rect(mid, x - 0.9 * h, base - 0.5 * h, x - 0.75 * h, base, rgb(0.2, 0.2, 0.2))
            P.rect(mid, x + 0.75 * h, base - 0.5 * h, x + 0.9 * h, base, rgb(0.2, 0.2, 0.2))
    lay_mid = P.finish(mid, 0.7, haze=0.1, glow=em, sway=sw)

    near = P.new()
    swn = _props_sway(P, scene)
    for _ in range(int((geo.x1 - geo.x0) / geo.width * 3)):
        x, y = rng.uniform(geo.x0, geo.x1), geo.height + rng.uniform(0.0, 0.06) * geo.height
        r = rng.uniform(5, 10) * U
        P.ellipse(near, (x, y), (r * 1.4, r), _jit(rng, _GRASS[season][1] * 0.75, 0.1))
    if rng.random() < 0.5:  # a big tree framing one side
        x = geo.x0 + (geo.width * 0.05 if rng.random() < 0.5 else (geo.x1 - geo.x0) - geo.width * 0.05)
        tree(P, near, swn, x, geo.height * 1.15, geo.height * 1.3, season)
    lay_near = P.finish(near, 1.5, sway=swn)
    return World([lay_far, lay_g, lay_mid], [lay_near], walk=[(0.3, 0.95)])


def beach(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U, L = P.geo, P.rng, P.U, P.light
    far = P.new()
    cv, top = ridge_layer(P, geo.horizon + 0.2 * U, rng.uniform(0.05, 0.14) * geo.height, 0.4 * geo.width,
                          rgb(0.32, 0.42, 0.36), octaves=4)
    side = rng.random() < 0.5
    span = rng.uniform(0.15, 0.4) * geo.width
    keep = (P.xs < geo.x0 + span + geo.width * 0.2) if side else (P.xs > geo.x1 - span - geo.width * 0.2)
    cv[:, ~keep] = 0.0
    far = cv
    lay_far = P.finish(far, 0.3, haze=0.45)

    g = P.new()
    shore_d = 0.38 + 0.08 * P.ridge(0.8 * geo.width, 2)  # (PW,) depth of the waterline
    shore = geo.horizon + shore_d * (geo.height - geo.horizon)
    sea_mask = (P.ys[:, None] >= geo.horizon) & (P.ys[:, None] < shore[None, :])  # (PH, PW)
    d = np.clip(geo.depth(P.ys), 0, 1)[:, None, None]
    deep, shallow = rgb(0.08, 0.28, 0.46), rgb(0.16, 0.56, 0.60)
    if P.flat:
        d = np.round(d * 3) / 3
    sea_col = (deep * (1 - d) + shallow * d) * np.ones((1, P.pw, 1), np.float32)  # (PH, PW, 3)
    g[sea_mask, :3] = sea_col[sea_mask]
    g[sea_mask, 3] = 1.0
    mirror = sky[..., :3] / np.maximum(L.light, 0.05)
    water_reflect(P, g, sea_mask, mirror * 0.9, deep, 0.3)
    P.textured(g, 1.2 * U, 0.8, aniso=5)
    ripples(P, g, sea_mask, 1.2)
    sand_mask = ground_fill(P, g, rgb(0.88, 0.80, 0.62), rgb(0.92, 0.84, 0.66), top=shore)
    wet = sand_mask & (P.ys[:, None] < (shore + 0.06 * (geo.height - geo.horizon))[None, :])
    g[wet, :3] *= 0.8
    if scene.season == "winter":
        g[sand_mask & ~wet, :3] = g[sand_mask & ~wet, :3] * 0.4 + 0.58
    P.textured(g, 1.5 * U, 0.5)
    pebbles(P, g, shore + 0.1 * (geo.height - geo.horizon), int(geo.width / U * 0.6), rgb(0.55, 0.45, 0.3), 0.35)
    pebbles(P, g, (0.55, 1.2), int(geo.width / U * 0.5), rgb(0.96, 0.9, 0.82), 0.45)
    if L.sun_visible:
        glints(P, g, sun_x, geo.horizon + 0.5, float(np.min(shore)), L.sun / np.maximum(L.light, 0.05), 0.08 * geo.width,
               int(geo.width * (0.6 if scene.time_of_day != "day" else 0.25)))
    lay_g = P.finish(g, *GROUND_P, haze=0.2, ground_haze=True)

    props = P.new()
    if rng.random() < 0.6:
        for _ in range(int(rng.integers(1, 4))):
            dd = rng.uniform(0.65, 0.95)
            base = geo.row_of_depth(dd)
            h = _height(geo, base, 0.9)
            x = rng.uniform(geo.x0, geo.x1)
            P.line(props, (x, base), (x, base - h), rgb(0.9, 0.9, 0.9), 0.03 * h + 0.2)
            col = _jit(rng, [rgb(0.9, 0.2, 0.2), rgb(0.95, 0.7, 0.1), rgb(0.2, 0.5, 0.9)][int(rng.integers(3))], 0.05)
            P.poly(props, np.array([[x - 0.6 * h, base - 0.8 * h], [x + 0.6 * h, base - 0.8 * h], [x, base - 1.05 * h]]), col)
            P.rect(props, x - 0.5 * h, base - 0.05 * h, x + 0.3 * h, base + 0.15 * h, _jit(rng, rgb(0.95, 0.95, 0.9)))
    lay_props = P.finish(props, 1.25)
    near = P.new()
    swn = _props_sway(P, scene)
    if rng.random() < 0.5:  # a palm at one edge
        x = geo.x0 + rng.choice([0.1, 0.9]) * (geo.x1 - geo.x0)
        base, h = geo.height * 1.1, geo.height * 1.0
        for i in range(12):
            f0, f1 = i / 12, (i + 1) / 12
            P.line(near, (x + 0.15 * h * f0 ** 2, base - f0 * h), (x + 0.15 * h * f1 ** 2, base - f1 * h),
                   rgb(0.45, 0.34, 0.22), 0.05 * h)
        cx, cy = x + 0.15 * h, base - h
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False):
            tip = (cx + np.cos(a) * 0.4 * h, cy + np.sin(a) * 0.18 * h + 0.1 * h)
            P.poly(near, np.array([[cx, cy - 0.02 * h], tip, [cx, cy + 0.03 * h]]), rgb(0.16, 0.42, 0.16))
            if swn is not None:
                P.poly(swn, np.array([[cx, cy - 0.02 * h], tip, [cx, cy + 0.03 * h]]), (0.02 * h,) * 3)
    lay_near = P.finish(near, 1.5, sway=swn)
    cols = np.clip(((np.arange(geo.cw) + 0.5) / geo.cs + geo.x0 - P.xs[0]) * P.k, 0, P.pw - 1).astype(int)
    return World([lay_far, lay_g, lay_props], [lay_near], walk=[(0.6, 1.0)], water=(0.04, 0.3),
                 shore=shore[cols].astype(np.float32))


def city(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U = P.geo, P.rng, P.U
    night = scene.time_of_day == "night"
    far, em_far = P.new(), P.new()
    x = geo.x0
    while x < geo.x1:
        w = rng.uniform(0.05, 0.12) * geo.width
        top = geo.horizon - rng.uniform(0.3, 0.75) * geo.height
        col = rgb(0.50, 0.55, 0.64) * rng.uniform(0.85, 1.1)
        P.rect(far, x, top, x + w, geo.horizon, col)
        if night:
            for wy in np.arange(top + 2 * U, geo.horizon, 2.2 * U):
                for wx in np.arange(x + U, x + w - U, 1.8 * U):
                    if rng.random() < 0.35:
                        P.rect(em_far, wx, wy, wx + 0.8 * U, wy + 1.0 * U, rgb(1.0, 0.85, 0.5), 0.8)
        x += w * rng.uniform(0.9, 1.3)
    lay_far = P.finish(far, 0.3, haze=0.45, emissive=em_far)

    d_fac, d_road0, d_road1 = 0.16, 0.3, 0.78
    g = P.new()
    asphalt = rgb(0.26, 0.27, 0.29) if scene.weather != "rain" else rgb(0.17, 0.18, 0.2)
    walk_col = rgb(0.62, 0.61, 0.58) if scene.season != "winter" else rgb(0.85, 0.87, 0.9)
    r0, r1 = geo.row_of_depth(d_road0), geo.row_of_depth(d_road1)
    ground_fill(P, g, walk_col, walk_col * 0.95, top=geo.row_of_depth(d_fac) - 1)
    ground_fill(P, g, asphalt, asphalt * 1.05, top=r0)
    ground_fill(P, g, walk_col, walk_col, top=r1)
    P.rect(g, geo.x0, r0 - 0.3 * U, geo.x1, r0 + 0.3 * U, rgb(0.75, 0.75, 0.72))
    P.rect(g, geo.x0, r1 - 0.5 * U, geo.x1, r1 + 0.5 * U, rgb(0.75, 0.75, 0.72))
    mid_row = geo.row_of_depth(0.54)
    dash = 0.12 * geo.width
    for x in np.arange(geo.x0, geo.x1, 2 * dash):
        P.rect(g, x, mid_row - 0.4 * U, x + dash, mid_row + 0.4 * U, rgb(0.92, 0.92, 0.88))
    P.textured(g, 0.8 * U, 0.7)
    em_g = P.new()
    lamp_xs = np.arange(geo.x0 + rng.uniform(0, 0.4) * geo.width, geo.x1, rng.uniform(0.35, 0.55) * geo.width)
    if night and scene.weather == "rain":  # reflections of the lamps on the wet road
        for lx in lamp_xs:
            for k in range(8):
                y = r0 + (r1 - r0) * k / 8
                P.rect(em_g, lx - 0.6 * U, y, lx + 1.4 * U, y + (r1 - r0) / 14, rgb(1.0, 0.75, 0.4), 0.35 * (1 - k / 9))
    lay_g = P.finish(g, *GROUND_P, haze=0.1, ground_haze=True, emissive=em_g)

    mid, em = P.new(), P.new()
    base = geo.row_of_depth(d_fac)
    unit_h = _height(geo, base, 1.0)  # one storey is about one camera height
    x = geo.x0
    while x < geo.x1:
        w = rng.uniform(0.18, 0.42) * geo.width
        floors = int(rng.integers(3, 12))
        top = base - floors * unit_h * 1.05
        col = _jit(rng, [rgb(0.62, 0.36, 0.28), rgb(0.82, 0.76, 0.62), rgb(0.62, 0.64, 0.66), rgb(0.86, 0.82, 0.72),
                         rgb(0.5, 0.55, 0.6)][int(rng.integers(5))], 0.08)
        P.rect(mid, x, top, x + w, base, col)
        if not P.flat:
            P.rect(mid, x + 0.9 * w, top, x + w, base, col * 0.78)  # side in shadow
        P.rect(mid, x - 0.2 * U, top - 0.6 * U, x + w + 0.2 * U, top + 0.4 * U, col * 0.7)
        ww, gap = 0.35 * unit_h, rng.uniform(0.45, 0.7) * unit_h
        for fy in range(floors):
            wy = base - (fy + 1) * unit_h * 1.05 + 0.25 * unit_h
            if fy == 0:
                P.rect(mid, x + 0.4 * w, base - 0.7 * unit_h, x + 0.4 * w + 0.4 * unit_h, base, rgb(0.25, 0.2, 0.16))
                if rng.random() < 0.5:  # a shop window
                    P.rect(mid, x + 0.1 * w, base - 0.65 * unit_h, x + 0.35 * w, base - 0.15 * unit_h,
                           rgb(0.35, 0.4, 0.45))
                    if night:
                        P.rect(em, x + 0.1 * w, base - 0.65 * unit_h, x + 0.35 * w, base - 0.15 * unit_h, rgb(1, 0.8, 0.5), 0.9)
                continue
            for wx in np.arange(x + 0.5 * gap, x + w - ww, ww + gap):
                lit = night and rng.random() < 0.45
                wcol = rgb(0.25, 0.3, 0.38) if not lit else rgb(0.3, 0.25, 0.15)
                P.rect(mid, wx, wy, wx + ww, wy + 0.5 * unit_h, wcol)
                if not P.flat and not lit:
                    P.rect(mid, wx, wy, wx + ww * 0.5, wy + 0.5 * unit_h, rgb(0.45, 0.52, 0.6))
                if lit:
                    P.rect(em, wx, wy, wx + ww, wy + 0.5 * unit_h, _jit(rng, rgb(1.0, 0.82, 0.48), 0.1), 0.95)
        x += w + rng.uniform(0.0, 0.03) * geo.width
    lbase = geo.row_of_depth(0.27)
    glow = P.new()
    for lx in lamp_xs:
        lamp(P, mid, glow, lx, lbase, _height(geo, lbase, 1.7), night)
    lay_mid = P.finish(mid, 0.6, haze=0.08, emissive=em, glow=glow)
    return World([lay_far, lay_g, lay_mid], [], walk=[(0.2, 0.28), (0.85, 1.0)], lanes=[(0.44, -1), (0.68, 1)])


def mountains(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U = P.geo, P.rng, P.U
    season = scene.season
    cv, _ = ridge_layer(P, geo.horizon, rng.uniform(0.35, 0.5) * geo.height, rng.uniform(0.35, 0.6) * geo.width,
                        _jit(rng, rgb(0.42, 0.47, 0.6)), snow=rng.uniform(0.35, 0.5), octaves=6)
    lay_far = P.finish(cv, 0.2, haze=0.3)
    mid_col = rgb(0.28, 0.40, 0.22) if season != "winter" else rgb(0.8, 0.83, 0.88)
    if season == "autumn":
        mid_col = rgb(0.45, 0.38, 0.2)
    cv2_, top = ridge_layer(P, geo.horizon + 0.01 * geo.height, rng.uniform(0.12, 0.22) * geo.height, 0.3 * geo.width,
                            mid_col, octaves=4)
    P.textured(cv2_, 1.5 * U, 0.8)
    x = geo.x0
    while x < geo.x1:  # a band of small pines on the lower slopes
        col = int(np.clip((x - geo.x0) * P.k, 0, P.pw - 1))
        h = rng.uniform(2.5, 4.5) * U
        y = rng.uniform(top[col] + 0.4 * (geo.horizon - top[col]), geo.horizon + 0.01 * geo.height)
        P.poly(cv2_, np.array([[x - 0.3 * h, y], [x + 0.3 * h, y], [x, y - h]]), rgb(0.1, 0.24, 0.14))
        x += rng.uniform(0.3, 1.4) * U
    lay_mid = P.finish(cv2_, 0.4, haze=0.18)

    g = P.new()
    gf, gn = _GRASS[season]
    ground_fill(P, g, _jit(rng, gf * 0.9), _jit(rng, gn))
    P.textured(g, 2.5 * U, 1.2)
    for _ in range(int(geo.width / U / 4)):
        y = rng.uniform(geo.horizon, geo.y1)
        s = 0.6 * _height(geo, y, 0.12) + 0.2
        P.ellipse(g, (rng.uniform(geo.x0, geo.x1), y), (s * 1.4, s * 0.8), _jit(rng, rgb(0.5, 0.5, 0.5), 0.15))
    lay_g = P.finish(g, *GROUND_P, haze=0.2, ground_haze=True)
    near = P.new()
    swn = _props_sway(P, scene)
    n_pines = int(rng.integers(0, 4))
    if scene.has("swaying_trees"):  # the label promises trees in view
        n_pines = max(n_pines, 1)
    for i in range(n_pines):
        x = rng.uniform(0.1, 0.9) * geo.width if i == 0 else rng.uniform(geo.x0, geo.x1)
        tree(P, near, swn, x, geo.height * rng.uniform(1.02, 1.1), geo.height * rng.uniform(0.6, 1.0), season, "conifer")
    lay_near = P.finish(near, 1.5, sway=swn)
    return World([lay_far, lay_mid, lay_g], [lay_near], walk=[(0.3, 0.9)])


def forest(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U = P.geo, P.rng, P.U
    season = scene.season
    far = P.new()
    far_treeline(P, far, geo.horizon + 0.5 * U, 0.35 * geo.height, rgb(0.12, 0.26, 0.18), conifer=True)
    lay_far = P.finish(far, 0.3, haze=0.4)

    g = P.new()
    floor = {"summer": (rgb(0.28, 0.34, 0.16), rgb(0.26, 0.24, 0.12)), "autumn": (rgb(0.48, 0.32, 0.14), rgb(0.42, 0.26, 0.1)),
             "winter": (rgb(0.85, 0.87, 0.92), rgb(0.93, 0.94, 0.97))}[season]
    ground_fill(P, g, *floor)
    P.textured(g, 1.5 * U, 1.4)
    lay_g = P.finish(g, *GROUND_P, haze=0.2, ground_haze=True)

    def trunks(cv: np.ndarray, sw: np.ndarray | None, d0: float, d1: float, n: int) -> None:
        for d in scatter_depths(rng, n, d0, d1):
            base = geo.row_of_depth(d)
            x = rng.uniform(geo.x0, geo.x1)
            if rng.random() < 0.55:
                tree(P, cv, sw, x, base, _height(geo, base, rng.uniform(6, 9)), season, "conifer")
            else:
                h = _height(geo, base, 8)
                w = 0.035 * h
                P.poly(cv, np.array([[x - w, base], [x + w, base], [x + 0.6 * w, geo.y0], [x - 0.6 * w, geo.y0]]),
                       _jit(rng, rgb(0.30, 0.22, 0.15)))
                if not P.flat:
                    P.poly(cv, np.array([[x + 0.2 * w, base], [x + w, base], [x + 0.6 * w, geo.y0], [x + 0.1 * w, geo.y0]]),
                           rgb(0.2, 0.15, 0.1))
                tree(P, cv, sw, x, base - 0.55 * h, 0.6 * h, season)

    mid = P.new()
    sw = _props_sway(P, scene)
    trunks(mid, sw, 0.03, 0.25, int((geo.x1 - geo.x0) / geo.width * 9) + 3)
    em = P.new()
    if scene.time_of_day in ("sunrise", "day", "sunset") and scene.weather in ("clear", "fog", "clouds"):
        for _ in range(int(rng.integers(2, 5))):  # light shafts through the canopy
            x = rng.uniform(geo.x0, geo.x1)
            w = rng.uniform(0.03, 0.08) * geo.width
            slant = 0.3 * geo.height
            P.poly(em, np.array([[x, geo.y0], [x + w, geo.y0], [x + w + slant, geo.height], [x + slant, geo.height]]),
                   P.light.sun * 0.6, 0.18 if scene.weather == "fog" else 0.1)
    if scene.time_of_day == "night":  # moonlight through the canopy: keep trunks and crowns readable
        mid[..., :3] *= 1.6
    lay_mid = P.finish(mid, 0.65, haze=0.12, sway=sw, emissive=em)
    mid2 = P.new()
    sw2 = _props_sway(P, scene)
    trunks(mid2, sw2, 0.35, 0.6, int((geo.x1 - geo.x0) / geo.width * 2) + 1)
    lay_mid2 = P.finish(mid2, 0.95, haze=0.05, sway=sw2)
    near = P.new()
    for _ in range(int((geo.x1 - geo.x0) / geo.width * 5)):  # ferns and bushes at the bottom
        x, y = rng.uniform(geo.x0, geo.x1), geo.height * rng.uniform(1.0, 1.06)
        r = rng.uniform(5, 11) * U
        P.ellipse(near, (x, y), (r * 1.5, r), _jit(rng, rgb(0.12, 0.3, 0.12) if season != "winter" else rgb(0.85, 0.88, 0.92), 0.15))
    lay_near = P.finish(near, 1.5)
    return World([lay_far, lay_g, lay_mid, lay_mid2], [lay_near], walk=[(0.3, 0.9)])


def field(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U = P.geo, P.rng, P.U
    season = scene.season
    wheat = season == "autumn"  # captions: a summer field has flowers, an autumn one is golden
    hill_col = _GRASS[season][0] * 0.85
    far, _ = ridge_layer(P, geo.horizon + 0.3 * U, rng.uniform(0.04, 0.1) * geo.height, 0.6 * geo.width, hill_col, octaves=3,
                         smooth=True)
    far_treeline(P, far, geo.horizon + 0.3 * U, 0.025 * geo.height, _FOLIAGE_FAR[season])
    lay_far = P.finish(far, 0.3, haze=0.35)
    g = P.new()
    if wheat:
        ground_fill(P, g, rgb(0.85, 0.72, 0.38), rgb(0.80, 0.62, 0.28))
        if not P.flat:
            d = np.clip(geo.depth(P.ys), 0.01, 1.5)  # (PH,)
            stripes = 0.9 + 0.1 * np.sin(P.xs[None, :] * 0.0 + (1.0 / d)[:, None] * 3.0)
            g[..., :3] *= stripes[..., None]
        P.textured(g, 0.8 * U, 1.0, aniso=0.3)
    else:
        gf, gn = _GRASS[season]
        ground_fill(P, g, gf, gn)
        P.textured(g, 1.5 * U, 1.2, aniso=3)
        if season == "summer":
            palette = [rgb(0.95, 0.2, 0.2), rgb(1.0, 0.9, 0.2), rgb(0.98, 0.98, 0.98), rgb(0.7, 0.4, 0.9), rgb(1.0, 0.6, 0.2)]
            n = int((geo.x1 - geo.x0) / U * (6 if not P.flat else 1.5))
            ys = geo.horizon + (geo.y1 - geo.horizon) * rng.random(n) ** 0.7
            for x, y in zip(rng.uniform(geo.x0, geo.x1, n), ys):
                r = (0.12 * U + 0.6 * U * np.clip(geo.depth(y), 0, 1.5)) * (1.0 if not P.flat else 1.6)
                P.ellipse(g, (x, y), (r, r * 0.8), palette[int(rng.integers(len(palette)))])
    lay_g = P.finish(g, *GROUND_P, haze=0.2, ground_haze=True)
    mid = P.new()
    sw = _props_sway(P, scene)
    if rng.random() < 0.6 or scene.has("swaying_trees"):
        base = geo.row_of_depth(rng.uniform(0.1, 0.3))
        tree(P, mid, sw, rng.uniform(0.2, 0.8) * geo.width, base, _height(geo, base, 3.2), season)
    if rng.random() < 0.35:  # a fence
        base = geo.row_of_depth(0.25)
        h = _height(geo, base, 0.35)
        for x in np.arange(geo.x0, geo.x1, 3 * h):
            P.rect(mid, x, base - h, x + 0.2 * h, base, rgb(0.45, 0.34, 0.22))
        P.rect(mid, geo.x0, base - 0.8 * h, geo.x1, base - 0.65 * h, rgb(0.45, 0.34, 0.22))
    lay_mid = P.finish(mid, 0.7, haze=0.1, sway=sw)
    near = P.new()
    blade = rgb(0.25, 0.5, 0.15) if not wheat else rgb(0.8, 0.65, 0.3)
    if season == "winter":
        blade = rgb(0.6, 0.55, 0.45)
    for _ in range(int((geo.x1 - geo.x0) / U * 0.8)):
        x = rng.uniform(geo.x0, geo.x1)
        h = rng.uniform(4, 12) * U
        P.line(near, (x, geo.height + 2 * U), (x + rng.uniform(-2, 2) * U, geo.height + 2 * U - h), _jit(rng, blade, 0.2), 0.5 * U)
    lay_near = P.finish(near, 1.5)
    return World([lay_far, lay_g, lay_mid], [lay_near], walk=[(0.3, 0.9)])


def desert(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U = P.geo, P.rng, P.U
    far = P.new()
    x = geo.x0
    while x < geo.x1:  # flat-topped mesas far away
        if rng.random() < 0.5:
            w, h = rng.uniform(0.1, 0.3) * geo.width, rng.uniform(0.05, 0.18) * geo.height
            P.poly(far, np.array([[x, geo.horizon + 1], [x + 0.15 * w, geo.horizon - h], [x + 0.85 * w, geo.horizon - h],
                                  [x + w, geo.horizon + 1]]), _jit(rng, rgb(0.72, 0.44, 0.32)))
            x += w
        x += rng.uniform(0.1, 0.4) * geo.width
    lay_far = P.finish(far, 0.25, haze=0.4)
    sand_lit, sand_dark = rgb(0.95, 0.76, 0.48), rgb(0.72, 0.48, 0.28)
    dunes = []
    for i, (d, hgt, par) in enumerate(((0.0, 0.07, 0.4), (0.12, 0.09, 0.6), (0.3, 0.08, 0.8))):
        row = geo.row_of_depth(d) + 0.3 * U
        cv = P.new()
        prof = P.ridge(rng.uniform(0.25, 0.5) * geo.width, 2, smooth=True)
        prof = (prof - prof.min()) / max(1e-6, np.ptp(prof))
        prof = prof ** 1.5  # sharp crests, wide troughs
        top = row - hgt * geo.height * (0.15 + 0.85 * prof)
        mask = P.below(cv, top, sand_lit)
        smooth = cv2.GaussianBlur(top[None, :].astype(np.float32), (0, 0), sigmaX=max(1.0, 0.8 * U * P.k))[0]
        slope = np.gradient(smooth) * P.k  # (PW,)
        # lit faces turn to the sun on the left; the lee side is in shade; sand darkens down the slope
        shade = np.clip(1.0 - 0.6 * np.tanh(slope * 3.0), 0.55, 1.15) if not P.flat else np.where(slope > 0.02, 0.72, 1.0)
        below = np.clip((P.ys[:, None] - top[None, :]) / (hgt * geo.height), 0, 1)  # 0 at the crest
        fall = 1.0 - 0.18 * below if not P.flat else 1.0
        cv[..., :3] *= np.where(mask, shade[None, :] * fall, 1.0)[..., None]
        P.textured(cv, 1.5 * U, 0.5)
        dunes.append(P.finish(cv, par, haze=0.3 - 0.1 * i))
    g = P.new()
    ground_fill(P, g, sand_lit * 0.95, sand_lit * 0.9)
    if not P.flat:
        d = np.clip(geo.depth(P.ys), 0.02, 1.5)
        ripple = 0.93 + 0.07 * np.sin((1 / d)[:, None] * 6 + np.sin(P.xs[None, :] / (6 * U)) * 1.5)
        g[..., :3] *= ripple[..., None]
    P.textured(g, 2 * U, 0.6)
    lay_g = P.finish(g, *GROUND_P, haze=0.15, ground_haze=True)
    near = P.new()
    for _ in range(int(rng.integers(0, 3))):  # saguaro cacti
        x = rng.uniform(geo.x0, geo.x1)
        base = geo.height * rng.uniform(0.95, 1.05)
        h = geo.height * rng.uniform(0.35, 0.6)
        w = 0.07 * h
        green = rgb(0.25, 0.45, 0.22)
        P.rect(near, x - w, base - h, x + w, base, green)
        P.ellipse(near, (x, base - h), (w, w), green)
        for s in (-1, 1):
            ay = base - h * rng.uniform(0.4, 0.65)
            P.rect(near, x + s * w, ay - 0.6 * w, x + s * 3 * w, ay + 0.6 * w, green)
            P.rect(near, x + s * 3 * w - w * 0.8, ay - 0.35 * h, x + s * 3 * w + w * 0.8, ay + 0.6 * w, green)
            P.ellipse(near, (x + s * 3 * w, ay - 0.35 * h), (0.8 * w, 0.8 * w), green)
        if not P.flat:
            P.rect(near, x + 0.3 * w, base - h, x + w, base, green * 0.75)
    for _ in range(int(rng.integers(1, 5))):
        x, y = rng.uniform(geo.x0, geo.x1), geo.height * rng.uniform(1.0, 1.08)
        r = rng.uniform(3, 8) * U
        P.ellipse(near, (x, y), (r * 1.4, r), rgb(0.55, 0.45, 0.35) * rng.uniform(0.8, 1.1))
    lay_near = P.finish(near, 1.5)
    return World([lay_far, lay_g, *dunes], [lay_near], walk=[(0.35, 0.95)])


def lake(P: Painter, scene: Scene, sky: np.ndarray, sun_x: float) -> World:
    geo, rng, U, L = P.geo, P.rng, P.U, P.light
    season = scene.season
    if rng.random() < 0.5:
        far, _ = ridge_layer(P, geo.horizon, rng.uniform(0.2, 0.35) * geo.height, 0.5 * geo.width, rgb(0.42, 0.48, 0.6),
                             snow=0.3, octaves=5)
    else:
        far, _ = ridge_layer(P, geo.horizon, rng.uniform(0.05, 0.12) * geo.height, 0.5 * geo.width, _FOLIAGE_FAR[season] * 1.2,
                             octaves=4, smooth=True)
    far_treeline(P, far, geo.horizon + 0.2 * U, 0.05 * geo.height, _FOLIAGE_FAR[season] * 0.8, conifer=True)
    lay_far = P.finish(far, 0.3, haze=0.3)
    # what the still water mirrors: the sky with the far shore over it (already lit: undo the light)
    mirror = sky[..., :3] * (1 - far[..., 3:4]) + far[..., :3]
    mirror = mirror / np.maximum(L.light, 0.05)
    g = P.new()
    shore_d = 0.62 + 0.1 * P.ridge(0.7 * geo.width, 2)
    shore = geo.horizon + shore_d * (geo.height - geo.horizon)
    water = (P.ys[:, None] >= geo.horizon) & (P.ys[:, None] < shore[None, :])
    water_reflect(P, g, water, mirror, rgb(0.12, 0.25, 0.3), 0.75)
    ripples(P, g, water, 0.8)
    if L.sun_visible:
        glints(P, g, sun_x, geo.horizon + 0.5, float(np.min(shore)), L.sun / np.maximum(L.light, 0.05), 0.05 * geo.width,
               int(geo.width * (0.5 if scene.time_of_day != "day" else 0.15)))
    gf, gn = _GRASS[season]
    ground_fill(P, g, gf, gn, top=shore)
    P.textured(g, 1.5 * U, 0.6)
    pebbles(P, g, shore, int(geo.width / U * 0.8), rgb(0.55, 0.52, 0.48), 0.5)
    if rng.random() < 0.4:  # a wooden pier from the near shore, painted on the ground plane
        x = rng.uniform(0.25, 0.75) * geo.width
        d0, d1 = rng.uniform(0.3, 0.45), 1.3
        half = lambda d: 0.05 * geo.width * d  # noqa: E731 - perspective: width grows with depth
        wood = rgb(0.52, 0.38, 0.24)
        P.poly(g, np.array([[x - half(d0), geo.row_of_depth(d0)], [x + half(d0), geo.row_of_depth(d0)],
                            [x + half(d1), geo.row_of_depth(d1)], [x - half(d1), geo.row_of_depth(d1)]]), wood)
        for d in np.geomspace(d0, d1, 14)[1:]:  # planks, closer together far away
            y = geo.row_of_depth(d)
            P.line(g, (x - half(d), y), (x + half(d), y), wood * 0.7, 0.12 * U * d + 0.15)
        for d in (d0, d0 + 0.5 * (shore_d.min() - d0)):
            y = geo.row_of_depth(d)
            for sx in (-1, 1):
                P.rect(g, x + sx * half(d) - 0.3 * U * d, y, x + sx * half(d) + 0.3 * U * d, y + 4 * U * d, wood * 0.5)
    lay_g = P.finish(g, *GROUND_P, haze=0.15, ground_haze=True)
    mid = P.new()
    sw = _props_sway(P, scene)
    n_trees = int(rng.integers(0, 3))
    if scene.has("swaying_trees"):
        n_trees = max(n_trees, 1)
    for _ in range(n_trees):
        base = geo.row_of_depth(rng.uniform(0.8, 0.95))
        tree(P, mid, sw, rng.choice([0.12, 0.88]) * geo.width, base, _height(geo, base, 3.0), season)
    lay_mid = P.finish(mid, 1.25, sway=sw)  # trees stand at depth 0.8-0.95: the ground's parallax there
    near = P.new()
    reed = rgb(0.35, 0.45, 0.2) if season != "winter" else rgb(0.6, 0.55, 0.45)
    for _ in range(int((geo.x1 - geo.x0) / U * 0.5)):
        x = rng.uniform(geo.x0, geo.x1)
        h = rng.uniform(5, 14) * U
        P.line(near, (x, geo.height + 2 * U), (x + rng.uniform(-1.5, 1.5) * U, geo.height + 2 * U - h), _jit(rng, reed, 0.2), 0.45 * U)
    lay_near = P.finish(near, 1.5)
    return World([lay_far, lay_g, lay_mid], [lay_near], walk=[(0.8, 1.0)], water=(0.05, 0.45))


PAINTERS: dict[str, Callable[[Painter, Scene, np.ndarray, float], World]] = {
    "park": park,
    "beach": beach,
    "city": city,
    "mountains": mountains,
    "forest": forest,
    "field": field,
    "desert": desert,
    "lake": lake,
}
HORIZON = {"park": 0.5, "beach": 0.5, "city": 0.48, "mountains": 0.64, "forest": 0.6, "field": 0.55, "desert": 0.58, "lake": 0.5}
