"""kadr-tiny pipeline contract on tiny random components (offline, a few seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from kadr.camera import CameraPath
from kadr.errors import GenerationCancelled
from kadr.models.autoencoder import AutoencoderConfig
from kadr.models.transformer import DiTConfig
from kadr.pipelines import tiny
from kadr.pipelines.base import PipelineOutput


class HashTextEncoder:
    """A stand-in sentence encoder: a fixed random vector per text (the real one is tested separately)."""

    def embed(self, text: str) -> torch.Tensor:
        seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(text)) % (2**31)
        return torch.randn(512, generator=torch.Generator().manual_seed(seed))


def tiny_config() -> tiny.KadrTinyConfig:
    return tiny.KadrTinyConfig(
        vae=AutoencoderConfig(latent_channels=4, channels=(8, 8, 8, 8)),
        dit=DiTConfig(latent_channels=4, dim=32, depth=2, heads=2),
        max_window=4,
        overlap=1,
    )


@pytest.fixture(scope="module")
def pipe() -> tiny.KadrTinyPipeline:
    torch.manual_seed(0)
    pipe = tiny.load(tiny.SPECS[0], random_init=True, config=tiny_config(), text_encoder=HashTextEncoder())
    # A fresh DiT is zero-initialised at its output and modulations (AdaLN-Zero); give those weights
    # some values so the seed, the prompt and the camera all reach the output.
    with torch.no_grad():
        for name, param in pipe.transformer.named_parameters():
            if "modulation" in name or "patch_out" in name:
                torch.nn.init.normal_(param, std=0.2)
    return pipe


def call(pipe: tiny.KadrTinyPipeline, **kw) -> PipelineOutput:
    args = dict(prompt="Ночной город, огни", negative_prompt=None, image=None, height=36, width=64, num_frames=9,
                fps=8, num_inference_steps=2, guidance_scale=1.0, generator=torch.Generator().manual_seed(1),
                camera=None, callback_on_step_end=None)
    args.update(kw)
    return pipe(**args)


def test_spec_is_the_builtin_default_shape() -> None:
    spec = tiny.SPECS[0]
    assert spec.name == "kadr-tiny" and spec.builtin
    assert set(spec.tasks) == {"text-to-video", "image-to-video"}
    assert spec.parameters == tiny.parameter_count(tiny.KadrTinyConfig())
    for aspect in ("16:9", "9:16", "1:1"):
        fw, fh = spec.resolution(aspect, "fast")
        hw, hh = spec.resolution(aspect, "high")
        assert hw * hh > fw * fh and fw * fh >= 192 * 144
    assert spec.steps["high"] > spec.steps["fast"]
    assert spec.frame_rule.is_valid(121) and spec.native_fps == 24


def test_shape_dtype_and_determinism(pipe) -> None:
    a = call(pipe).frames
    b = call(pipe).frames
    assert a.shape == (9, 36, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_seeds_and_prompts_change_the_video(pipe) -> None:
    a = call(pipe).frames.astype(np.float32)
    b = call(pipe, generator=torch.Generator().manual_seed(2)).frames.astype(np.float32)
    c = call(pipe, prompt="Sunny beach").frames.astype(np.float32)
    assert np.abs(a - b).mean() > 1.0
    assert np.abs(a - c).mean() > 0.1


def test_callback_counts_every_step_and_can_cancel(pipe) -> None:
    seen: list[tuple[int, int]] = []
    # 3 s at 8 fps -> 10 keyframes -> keyframe 0 alone, then windows of 4 with overlap 1: (0,4) (3,7) (6,10)
    # -> 4 passes x 2 steps
    call(pipe, num_frames=25, callback_on_step_end=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 8) for i in range(8)]
    # With a first frame given there is no keyframe-0 pass: 3 windows x 2 steps.
    seen.clear()
    call(pipe, num_frames=25, image=Image.new("RGB", (64, 36)), callback_on_step_end=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 6) for i in range(6)]

    def cancel(i: int, n: int) -> None:
        raise GenerationCancelled("stop")

    with pytest.raises(GenerationCancelled):
        call(pipe, callback_on_step_end=cancel)


def test_guidance_runs_and_differs(pipe) -> None:
    a = call(pipe).frames.astype(np.float32)
    b = call(pipe, guidance_scale=3.0, negative_prompt="blurry").frames.astype(np.float32)
    assert a.shape == b.shape and np.abs(a - b).mean() > 0.05


def test_image_conditioning_reproduces_the_first_frame(pipe) -> None:
    rng = np.random.default_rng(0)
    picture = (rng.random((36, 64, 3)) * 255).astype(np.uint8)
    out = call(pipe, image=Image.fromarray(picture), camera=CameraPath.from_motion("pan_right", 9, 8, speed=2.0)).frames
    # The autoencoder is random, so all of the picture's content rides on the carried residual.
    err = np.abs(out[0].astype(np.int16) - picture.astype(np.int16))
    assert err.max() <= 1
    assert np.abs(out[-1].astype(np.int16) - picture.astype(np.int16)).mean() > 10  # the camera moved
    # A picture of another shape is resized to cover the frame and centre-cropped.
    tall = call(pipe, image=Image.fromarray(np.zeros((200, 100, 3), np.uint8))).frames
    assert tall.shape == (9, 36, 64, 3) and tall[0].max() <= 1


def test_odd_size_is_refused(pipe) -> None:
    with pytest.raises(ValueError, match="even"):
        call(pipe, height=35)
