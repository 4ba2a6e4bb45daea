"""The procedural world: exact labels, captions true to them, frames, light, parallax, speed."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from kadr.camera import CAMERA_MOTIONS
from training.world import (
    MOVERS,
    SETTINGS,
    TIMES,
    WEATHERS,
    Scene,
    caption,
    frame_size,
    render_clip,
    sample_scene,
)
from training.world.canvas import Layer, make_geometry
from training.world.captions import _CAM_EN, _CAM_RU
from training.world.movers import Pose, project

PROMPTS = Path(__file__).resolve().parents[1] / "eval" / "prompts.json"


def _luma(frames: np.ndarray) -> float:
    f = frames.astype(np.float32)
    return float((0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]).mean())


def test_sample_scene_labels_are_valid_and_pinnable() -> None:
    rng = np.random.default_rng(0)
    seen: dict[str, set] = {"setting": set(), "time_of_day": set(), "weather": set(), "style": set(), "camera": set()}
    for _ in range(400):
        s = sample_scene(rng)
        for k in seen:
            seen[k].add(getattr(s, k))
        assert set(s.movers) <= set(MOVERS)
        # rain and snow are movers exactly when the weather says so
        assert ("rain" in s.movers) == (s.weather == "rain")
        assert ("snow" in s.movers) == (s.weather == "snow")
        assert "cars" not in s.movers or s.setting == "city"
        assert (s.medium != "") == (s.style == "artistic")
    assert seen["setting"] == set(SETTINGS) and seen["time_of_day"] == set(TIMES)
    assert seen["weather"] == set(WEATHERS) and seen["camera"] == set(CAMERA_MOTIONS)
    assert seen["style"] == {"realistic", "animation", "artistic"}
    s = sample_scene(rng, camera="pan_left", setting="beach", weather="rain", camera_speed=2.0, seed=7)
    assert (s.camera, s.setting, s.weather, s.camera_speed, s.seed) == ("pan_left", "beach", "rain", 2.0, 7)
    with pytest.raises(ValueError, match="unknown fields"):
        sample_scene(rng, colour="red")
    with pytest.raises(ValueError, match="camera"):
        sample_scene(rng, camera="orbit")


def test_render_shape_dtype_determinism_and_aspects() -> None:
    rng = np.random.default_rng(1)
    for aspect in ("16:9", "9:16", "1:1"):
        w, h = frame_size(aspect, 72)
        s = sample_scene(rng, aspect=aspect)
        a = render_clip(s, 5, w, h, 8.0)
        assert a.shape == (5, h, w, 3) and a.dtype == np.uint8
        assert np.array_equal(a, render_clip(s, 5, w, h, 8.0))  # same scene, same pixels
        assert a.std() > 5  # a picture, not a flat fill
    assert frame_size("16:9", 72) == (128, 72) and frame_size("9:16", 72) == (72, 128)


def test_render_speed_sanity() -> None:
    """Far looser than the 20 ms/frame target: it only catches an order-of-magnitude slowdown."""
    rng = np.random.default_rng(2)
    scenes = [sample_scene(rng, setting=st) for st in ("city", "forest", "beach")]
    render_clip(scenes[0], 2, 128, 72, 8.0)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    for s in scenes:
        render_clip(s, 16, 128, 72, 8.0)
    per_frame = (time.perf_counter() - t0) / (16 * len(scenes))
    assert per_frame < 0.08, f"{per_frame * 1000:.1f} ms/frame"


def _pair(setting: str, seed: int, **kw: object) -> Scene:
    base = dict(setting=setting, weather="clear", style="realistic", camera="static", camera_speed=1.0,
                movers=(), seed=seed, season="summer")
    base.update(kw)
    return Scene(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("setting", SETTINGS)
def test_night_darker_and_sunset_warmer_than_day(setting: str) -> None:
    frames = {t: render_clip(_pair(setting, 11, time_of_day=t), 2, 96, 54, 8.0) for t in ("day", "sunset", "night")}
    day, night = _luma(frames["day"]), _luma(frames["night"])
    assert night < 0.55 * day, (day, night)

    def warmth(f: np.ndarray) -> float:
        return float(f[..., 0].astype(np.float32).mean() - f[..., 2].astype(np.float32).mean())

    assert warmth(frames["sunset"]) > warmth(frames["day"]) + 15, (warmth(frames["sunset"]), warmth(frames["day"]))


def test_layers_follow_camera_path_with_parallax() -> None:
    """A pan moves near layers more than far ones, in the kadr.camera sense (pan_right: content left,
    tilt_up: content down), and movers are projected exactly as layers are warped."""
    w, h = 128, 72
    poses = np.array([[0, 0, 0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.3]], np.float32)
    geo = make_geometry(w, h, poses, 8.0, 0.5, 0.0)
    far = Layer(np.zeros((geo.ch, geo.cw, 4), np.float32), 0.2, 0.2)
    near = Layer(np.zeros((geo.ch, geo.cw, 4), np.float32), 1.4, 1.4)
    centre = (h // 2, w // 2)

    def world_x(layer: Layer, pose: np.ndarray) -> float:
        mx, _, _ = layer.maps(geo, pose, 0.0)
        return float(mx[centre]) / geo.cs + geo.x0

    def world_y(layer: Layer, pose: np.ndarray) -> float:
        _, my, _ = layer.maps(geo, pose, 0.0)
        return float(my[centre]) / geo.cs + geo.y0

    # pan right: the frame centre looks further right in the world, more so for the near layer
    dx_far = world_x(far, poses[1]) - world_x(far, poses[0])
    dx_near = world_x(near, poses[1]) - world_x(near, poses[0])
    assert 0 < dx_far < dx_near
    # tilt up: the frame centre looks at a higher world row (smaller y), more so for the near layer
    dy_far = world_y(far, poses[2]) - world_y(far, poses[0])
    dy_near = world_y(near, poses[2]) - world_y(near, poses[0])
    assert dy_near < dy_far < 0
    # zoom in: the frame spans less of the world
    mx0, _, _ = far.maps(geo, poses[0], 0.0)
    mx3, _, _ = far.maps(geo, poses[3], 0.0)
    assert np.ptp(mx3) < 0.8 * np.ptp(mx0)
    # a mover at a world point appears where the layer shows that world point
    for pose in poses:
        for layer, p in ((far, 0.2), (near, 1.4)):
            u, v, _ = project(geo, Pose(*map(float, pose), 0.0), 70.0, 30.0, p)
            mx, my, _ = layer.maps(geo, pose, 0.0)
            iu, iv = int(round(u)), int(round(v))
            if 0 <= iu < w and 0 <= iv < h:
                assert abs(mx[iv, iu] / geo.cs + geo.x0 - 70.0) < 1.0 / min(1.0, geo.cs) + 0.6
                assert abs(my[iv, iu] / geo.cs + geo.y0 - 30.0) < 1.0 / min(1.0, geo.cs) + 0.6


def test_pan_moves_content_left_in_rendered_frames() -> None:
    """pan_right: what was at the frame centre is found to its left later (measured by template match)."""
    import cv2

    s = _pair("city", 5, time_of_day="day", camera="pan_right", camera_speed=2.0)
    f = render_clip(s, 9, 128, 72, 8.0)
    g0 = cv2.cvtColor(f[0], cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(f[-1], cv2.COLOR_RGB2GRAY)
    tpl = g0[10:40, 44:84]  # facades (mid-ground)
    res = cv2.matchTemplate(g1, tpl, cv2.TM_CCOEFF_NORMED)
    _, _, _, loc = cv2.minMaxLoc(res)
    shift = loc[0] - 44
    expected = -0.08 * 2.0 * 1.0 * 128  # 1 s of pan at speed 2, mid-ground parallax about 1
    assert shift < 0 and abs(shift - expected) < 0.35 * abs(expected), shift


_CYR = re.compile("[а-яё]", re.IGNORECASE)


def test_captions_languages_and_camera_words() -> None:
    rng = np.random.default_rng(3)
    for cam in CAMERA_MOTIONS:
        others_ru = [p for c, ps in _CAM_RU.items() if c != cam for p in ps if "{" not in p]
        others_en = [p for c, ps in _CAM_EN.items() if c != cam for p in ps if "{" not in p]
        mentioned = 0
        for _ in range(60):
            s = sample_scene(rng, camera=cam)
            ru, en = caption(s, rng, "ru"), caption(s, rng, "en")
            assert _CYR.search(ru) and not _CYR.search(en)
            assert ru[0].isupper() and en[0].isupper()
            # never a phrase that names a different camera motion
            assert not any(p in ru.lower() for p in others_ru if len(p) > 9), (cam, ru)
            assert not any(p in en.lower() for p in others_en if len(p) > 9), (cam, en)
            mentioned += any(p.replace("{adv}", "").replace("{adj}", "").replace("{adj_f}", "").replace("{adj_n}", "") in ru.lower()
                             for p in _CAM_RU[cam])
        assert 20 < mentioned < 60  # usually said, sometimes left to the explicit camera signal
    with pytest.raises(ValueError):
        caption(sample_scene(rng), rng, "de")


def test_captions_vary() -> None:
    rng = np.random.default_rng(4)
    s = sample_scene(rng, setting="city", time_of_day="night", movers=("cars", "people"))
    texts = {caption(s, rng, "ru") for _ in range(40)} | {caption(s, rng, "en") for _ in range(40)}
    assert len(texts) > 60


def test_eval_prompt_phrasings_are_in_domain() -> None:
    """Every comma-separated part of each labelled eval prompt is produced verbatim by caption() for
    scenes with that prompt's labels."""
    prompts = json.loads(PROMPTS.read_text())["prompts"]
    rng = np.random.default_rng(5)
    lateral = ("pan_left", "pan_right")
    for p in prompts:
        if p.get("vague"):
            continue
        fixed: dict = {"setting": p["setting"], "time_of_day": p["time"]}
        if "style" in p:
            fixed["style"] = p["style"]
        low = p["text"].lower()
        for word, weather in (("rain", "rain"), ("fog", "fog"), ("туман", "fog")):
            if word in low:
                fixed["weather"] = weather  # the prompt says so, though its labels leave weather out
        texts = []
        for i in range(2500):
            cam = p["camera"]
            if cam in ("any", "any_motion"):
                cam = CAMERA_MOTIONS[(i % 6) + 1] if cam == "any_motion" or i % 7 else "static"
            elif cam == "lateral":
                cam = lateral[i % 2]
            if p["lang"] == "en" and "watercolor" in p["text"]:
                fixed["medium"] = "watercolor"
            texts.append(caption(sample_scene(rng, camera=cam, **fixed), rng, p["lang"]).lower())
        blob = "\n".join(texts)
        for part in p["text"].split(","):
            part = part.strip().lower()
            assert part in blob, (p["text"], part)
