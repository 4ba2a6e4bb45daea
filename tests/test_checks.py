"""Objective checks of a video, validated on procedurally rendered clips whose labels are exact."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from kadr.camera import CAMERA_MOTIONS
from kadr.video.checks import (
    agreement,
    brightness_and_warmth,
    check_video,
    estimate_camera,
    first_frame_fidelity,
    flicker,
    psnr,
    time_of_day_ok,
)
from training.world import SETTINGS, STYLES, WEATHERS, Scene, render_clip, sample_scene

FPS = 8.0


def _clips(n: int, seed: int) -> list[tuple[Scene, np.ndarray]]:
    """Clips cycling through every camera motion, style, setting and weather (with their movers:
    rain, snow, birds, cars are distractors for the camera estimate)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        s = sample_scene(rng, camera=CAMERA_MOTIONS[i % 7], style=STYLES[i % 3], setting=SETTINGS[i % 8],
                         weather=WEATHERS[i % 5])
        out.append((s, render_clip(s, 16, 128, 72, FPS)))
    return out


def test_camera_estimate_on_rendered_clips() -> None:
    clips = _clips(56, seed=100)
    wrong = []
    for s, frames in clips:
        est = estimate_camera(frames, FPS)
        if est.label != s.camera:
            wrong.append((s.camera, est.label, s.setting, s.style, s.weather, s.time_of_day, s.camera_speed))
    accuracy = 1 - len(wrong) / len(clips)
    assert accuracy >= 0.95, wrong


def test_camera_estimate_units_and_signs() -> None:
    s = Scene(setting="city", time_of_day="day", weather="clear", style="realistic", camera="pan_right",
              camera_speed=2.0, movers=(), seed=3)
    frames = render_clip(s, 16, 128, 72, FPS)
    est = estimate_camera(frames, FPS)
    assert est.label == "pan_right" and est.per_second
    # mid-ground moves at the CameraPath rate (0.08 frame widths per second per unit speed)
    assert 0.6 * 0.16 < est.vx < 1.5 * 0.16 and abs(est.vy) < 0.03 and abs(est.vzoom) < 0.03
    assert 0 < est.confidence <= 1
    per_frame = estimate_camera(frames)
    assert per_frame.label == "pan_right" and not per_frame.per_second
    assert per_frame.vx == pytest.approx(est.vx / FPS, rel=1e-6)
    still = np.repeat(frames[:1], 10, axis=0)
    assert estimate_camera(still, FPS).label == "static"
    with pytest.raises(ValueError):
        estimate_camera(frames.astype(np.float32))


def test_flicker_higher_on_flickering_clip() -> None:
    s = Scene(setting="park", time_of_day="day", weather="clear", style="realistic", camera="pan_left",
              camera_speed=1.0, movers=("people",), seed=4)
    frames = render_clip(s, 16, 128, 72, FPS)
    gain = np.where(np.arange(16) % 2 == 0, 1.0, 0.85)[:, None, None, None]  # every other frame darker
    flick = np.clip(frames.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    smooth = flicker(frames)
    assert flicker(flick) > 4 * smooth + 3
    assert smooth < 3  # a steady pan barely moves the block means' second difference


def test_psnr_and_first_frame_fidelity() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 250, (36, 64, 3), dtype=np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 5) == pytest.approx(10 * np.log10(255**2 / 25), abs=1e-6)
    with pytest.raises(ValueError):
        psnr(a, a[:10])
    s = sample_scene(rng, setting="lake", camera="zoom_in")
    frames = render_clip(s, 4, 128, 72, FPS)
    big = np.repeat(np.repeat(frames[0], 2, axis=0), 2, axis=1)  # the "input image" at twice the size
    assert first_frame_fidelity(big, frames) > 35
    other = render_clip(sample_scene(rng, setting="desert", time_of_day="night"), 1, 128, 72, FPS)[0]
    assert first_frame_fidelity(other, frames) < 20


@pytest.mark.parametrize("setting", ["park", "city", "beach"])
def test_brightness_and_warmth_follow_time_of_day(setting: str) -> None:
    def render(t: str) -> np.ndarray:
        return render_clip(Scene(setting=setting, time_of_day=t, weather="clear", style="realistic", camera="static",
                                 camera_speed=1.0, movers=(), seed=9), 3, 96, 54, FPS)

    night, day, sunset = brightness_and_warmth(render("night")), brightness_and_warmth(render("day")), brightness_and_warmth(render("sunset"))
    assert time_of_day_ok(night, "night") and not time_of_day_ok(night, "day")
    assert time_of_day_ok(day, "day") and not time_of_day_ok(day, "night")
    assert time_of_day_ok(sunset, "sunset") and sunset["warmth"] > day["warmth"]


def _write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        st.options = {"crf": "18"}
        for f in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)


def test_check_video_on_an_encoded_file(tmp_path: Path) -> None:
    s = Scene(setting="mountains", time_of_day="night", weather="clear", style="animation", camera="tilt_up",
              camera_speed=1.5, movers=("clouds",), seed=21)
    frames = render_clip(s, 24, 128, 72, FPS)
    path = tmp_path / "clip.mp4"
    _write_mp4(path, frames, int(FPS))
    res = check_video(path, camera="tilt_up", time_of_day="night", image=frames[0])
    json.dumps(res)  # print-friendly
    assert res["frames"] == 24 and res["fps"] == pytest.approx(FPS)
    assert res["camera"] == "tilt_up" and res["camera_ok"] is True and res["time_ok"] is True
    assert res["first_frame_psnr"] > 30
    assert check_video(path, camera="zoom_out")["camera_ok"] is False
    with pytest.raises(ValueError):
        check_video(path, camera="spin")


def test_agreement_of_two_videos() -> None:
    rng = np.random.default_rng(8)
    s = sample_scene(rng, setting="beach", time_of_day="sunset", camera="pan_left", weather="clear")
    a = render_clip(s, 12, 128, 72, FPS)
    same = agreement(a, a, FPS)
    assert same["camera_same"] and same["luma_diff"] == 0 and same["colour_similarity"] > 0.999
    night = render_clip(Scene(**{**s.__dict__, "time_of_day": "night", "camera": "zoom_in"}), 12, 128, 72, FPS)
    diff = agreement(a, night, FPS)
    assert not diff["camera_same"] and diff["luma_diff"] > 20 and diff["colour_similarity"] < same["colour_similarity"]
