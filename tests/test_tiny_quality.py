"""The shipped kadr-tiny weights, measured: camera, time of day, image-to-video fidelity, seeds.

These run the trained model exactly as `kadr generate` does (fast tier, the tier's resolution and
steps), on short clips so the whole file stays within about a minute on two cores. The full
evaluation over eval/prompts.json is `python -m training.evaluate`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from kadr.camera import CAMERA_MOTIONS, CameraPath
from kadr.pipelines import registry, tiny
from kadr.video import checks


@pytest.fixture(scope="module")
def pipe() -> tiny.KadrTinyPipeline:
    spec = tiny.SPECS[0]
    assert registry.weights_present(spec), "kadr-tiny's weights must ship in kadr/weights/kadr-tiny/"
    return tiny.load(spec)


def make(pipe: tiny.KadrTinyPipeline, prompt: str, motion: str = "static", seed: int = 0, seconds: float = 2.0,
         image: Image.Image | None = None, aspect: str = "16:9") -> np.ndarray:
    spec = pipe.spec
    width, height = spec.resolution(aspect, "fast")
    fps = spec.native_fps
    n = spec.frame_rule.round(int(round(seconds * fps)) + 1)
    return pipe(prompt=prompt, negative_prompt=None, image=image, height=height, width=width, num_frames=n, fps=fps,
                num_inference_steps=spec.steps["fast"], guidance_scale=spec.guidance_scale,
                generator=torch.Generator().manual_seed(seed), camera=CameraPath.from_motion(motion, n, fps),
                callback_on_step_end=None).frames


def test_weights_fit_the_package_budget() -> None:
    folder = registry.builtin_weights_dir("kadr-tiny")
    total = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    assert total <= 40 * 1024 * 1024


@pytest.mark.parametrize("motion", CAMERA_MOTIONS)
def test_camera_motion_is_what_was_asked(pipe, motion: str) -> None:
    # Zooms at the default 5 s: over a clip's first 2 s they read weaker (0.010-0.033 log-zoom/s of
    # the 0.07 asked, 5 of these 12 mountain zooms below the static line at 2 s, none at 5 s).
    seconds = 5.0 if motion.startswith("zoom") else 2.0
    frames = make(pipe, "Горы, снег, голубое небо", motion, seed=3, seconds=seconds)
    assert checks.estimate_camera(frames, fps=pipe.spec.native_fps).label == motion


def test_night_is_darker_than_day_and_sunset_warmer(pipe) -> None:
    day = checks.brightness_and_warmth(make(pipe, "Солнечный день, пляж, волны", seed=1))
    night = checks.brightness_and_warmth(make(pipe, "Ночной пляж, волны, луна", seed=1))
    sunset = checks.brightness_and_warmth(make(pipe, "Закат на пляже, волны", seed=1))
    assert night["luma"] < 0.6 * day["luma"]
    assert sunset["warmth"] > day["warmth"] + 5.0


def test_russian_and_english_prompts_agree(pipe) -> None:
    ru = make(pipe, "Ночной город, огни, машины", seed=2)
    en = make(pipe, "Night city with lights and cars", seed=2)
    day = make(pipe, "Поле с цветами, солнечный день", seed=2)
    same = checks.agreement(ru, en)
    other = checks.agreement(ru, day)
    assert same["luma_diff"] < other["luma_diff"]


def test_image_to_video_starts_on_the_photograph(pipe) -> None:
    photo = Image.fromarray(skimage.data.chelsea()).convert("RGB")
    frames = make(pipe, "кошка, камера приближается", "zoom_in", image=photo)
    target = pipe._prepare_image(photo, frames.shape[1], frames.shape[2])[0]  # (3, H, W) in [-1, 1]
    target = target.permute(1, 2, 0).add(1).mul(127.5).round().clamp(0, 255).byte().numpy()
    assert checks.psnr(frames[0], target) >= 28.0
    assert checks.estimate_camera(frames, fps=pipe.spec.native_fps).label == "zoom_in"


@pytest.mark.parametrize("motion", ("zoom_out", "pan_left", "tilt_up"))
def test_image_to_video_follows_the_camera(pipe, motion: str) -> None:
    photo = Image.fromarray(skimage.data.astronaut()).convert("RGB")
    frames = make(pipe, "", motion, image=photo)
    assert checks.estimate_camera(frames, fps=pipe.spec.native_fps).label == motion


def test_same_seed_same_video_other_seed_other_video(pipe) -> None:
    a = make(pipe, "Лес утром, туман", seed=5, seconds=1.0)
    b = make(pipe, "Лес утром, туман", seed=5, seconds=1.0)
    c = make(pipe, "Лес утром, туман", seed=6, seconds=1.0)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(np.float32) - c.astype(np.float32)).mean() > 2.0


@pytest.mark.parametrize("name", ("astronaut", "coffee"))
def test_the_known_keyframe_moved_in_pixels_keeps_a_zoom(pipe, name: str) -> None:
    """Later keyframes start from the known one moved along the camera path. Moved in pixels and
    re-encoded it keeps a zoom (0.95-0.98 of it measured); moved as a latent, 0.5-0.66 of it, since
    the decoder is not scale-equivariant. This is why text-to-video zooms read back (0.89 -> 1.0)."""
    photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    base = pipe.config
    with torch.no_grad():
        latent = pipe.vae.encode(pipe._prepare_image(photo, 160, 256))[0]  # (C, h, w)
        poses = np.zeros((9, 3), np.float32)
        poses[:, 2] = np.linspace(0.0, 0.4, 9)  # log-zoom 0.05 per keyframe
        read = {}
        try:
            for pixel in (True, False):
                pipe.config = dataclasses.replace(base, pixel_anchor=pixel)
                moved = pipe._anchored(latent, poses[0], poses, torch.zeros(1, 9, *latent.shape), 0.0)[0]  # (9, C, h, w)
                frames = ((pipe.vae.decode(moved).clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(0, 2, 3, 1).numpy()
                read[pixel] = checks.estimate_camera(frames).vzoom / 0.05
        finally:
            pipe.config = base
    assert 0.85 < read[True] < 1.15, read
    assert read[True] > read[False] + 0.2, read


def test_the_setting_is_named_from_a_still_frame(pipe) -> None:
    """The probe fitted on the world's daytime renders (training.setting_probe) names the setting of
    the middle frame for the 8 settings in Russian and English. Chance is 2 of 16; the weights shipped
    before joint image-video training got 2 of 16 here, the ones that came out of it 8 of 16."""
    from training.evaluate import SETTING_PROMPTS
    from training.setting_probe import fitted

    probe, probe_accuracy = fitted(24, time_of_day="day")
    assert probe_accuracy >= 0.7
    named = []
    for i, (setting, texts) in enumerate(SETTING_PROMPTS.items()):
        for lang in ("ru", "en"):
            frames = make(pipe, texts[lang], seed=400 + i, seconds=1.0)
            named.append(probe.name(frames[len(frames) // 2]) == setting)
    assert sum(named) >= 6, f"{sum(named)} of 16 settings named (3x chance is 6)"
