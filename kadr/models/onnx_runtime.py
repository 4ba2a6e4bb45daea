"""The built-in model's networks on ONNX Runtime: exported once from the shipped weights, cached per weights.

Inference of kadr-tiny's autoencoder and transformer does not need the training framework: on the CPUs
kadr-tiny is made for, ONNX Runtime runs them faster than eager PyTorch (``bench/bench_tiny.py
--runtimes``). The weights still ship once, as ``model.safetensors``; the first load exports the three
graphs (encoder, decoder, transformer) from the PyTorch modules into a user cache folder named after a
hash of the weights, the config and the runtime versions, so a change to any of them exports afresh.
Every later load reads the cached graphs and never builds the PyTorch modules.

Shapes stay dynamic (batch, frames, height, width), so one export serves every tier, aspect and window.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from kadr.models.autoencoder import VideoAutoencoder
    from kadr.models.transformer import VideoDiT

# Bump when the exported graphs change meaning (inputs, outputs, the export recipe): old caches are ignored.
EXPORT_VERSION = 1
OPSET = 18
GRAPHS = ("encoder", "decoder", "transformer")
TRANSFORMER_INPUTS = ("x", "t", "text", "camera", "known", "known_mask", "pos_scale")


def available() -> bool:
    """Whether ONNX Runtime is installed (exporting a cache also needs the ``onnx`` package)."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def machine_threads() -> int:
    """CPU cores this process may run on (its affinity mask, not the whole machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cache_key(weights: Path, config: dict[str, Any]) -> str:
    """A name for the exported graphs of these weights: the weights' and config's hash, the versions."""
    import onnxruntime

    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(config, sort_keys=True).encode())
    digest.update(f"export{EXPORT_VERSION}-opset{OPSET}-ort{onnxruntime.__version__}".encode())
    return digest.hexdigest()[:20]


def default_cache_root() -> Path:
    """The user's kadr cache (see :mod:`kadr.models.cache`), folder ``kadr-tiny-onnx``."""
    from kadr.models.cache import user_cache_dir

    return user_cache_dir("kadr-tiny-onnx")


def cached_folder(root: Path, key: str) -> Path | None:
    folder = root / key
    return folder if all((folder / f"{name}.onnx").is_file() for name in GRAPHS) else None


# ---- export (needs torch and onnx; runs once per weights) -----------------------------------------


def export(vae: "VideoAutoencoder", transformer: "VideoDiT", root: Path, key: str) -> Path:
    """Export the three graphs into ``root/key`` (written beside it, then renamed: never half a cache)."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        _export_all(vae, transformer, staging, torch)
        target = root / key
        try:
            staging.rename(target)
        except OSError:  # another process finished the same export first: theirs is as good
            if cached_folder(root, key) is None:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / key


def _decomposed_rms_norm(norm: Any, torch: Any) -> Any:
    """``nn.RMSNorm`` in elementary ops (opset 18 has no RMSNormalization): same weight, same values."""

    class Decomposed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = norm.weight
            self.eps = norm.eps

        def forward(self, x: Any) -> Any:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    return Decomposed()


def _export_all(vae: "VideoAutoencoder", transformer: "VideoDiT", folder: Path, torch: Any) -> None:
    vae = vae.eval()
    dit = copy.deepcopy(transformer).eval()
    for block in dit.blocks:
        block.q_norm = _decomposed_rms_norm(block.q_norm, torch)
        block.k_norm = _decomposed_rms_norm(block.k_norm, torch)

    class Encode(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vae = vae

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.vae.encode(images)

    class Decode(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vae = vae

        def forward(self, latents: torch.Tensor) -> torch.Tensor:
            return self.vae.decode(latents)

    class Velocity(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dit = dit

        def forward(self, x, t, text, camera, known, known_mask, pos_scale):  # type: ignore[no-untyped-def]
            return self.dit(x, t, text, camera, known, known_mask, pos_scale)

    c = vae.config.latent_channels
    down = vae.config.downsample
    cfg = dit.config
    b, f, h, w = 2, 3, 2 * cfg.patch * 2, 3 * cfg.patch * 2  # a small example; every axis below is dynamic
    image_axes = {0: "batch", 2: "height", 3: "width"}
    common = dict(opset_version=OPSET, dynamo=False, do_constant_folding=True)
    with torch.no_grad():
        torch.onnx.export(Encode(), (torch.zeros(b, 3, h * down, w * down),), str(folder / "encoder.onnx"),
                          input_names=["images"], output_names=["latents"],
                          dynamic_axes={"images": image_axes, "latents": image_axes}, **common)
        torch.onnx.export(Decode(), (torch.zeros(b, c, h, w),), str(folder / "decoder.onnx"),
                          input_names=["latents"], output_names=["images"],
                          dynamic_axes={"latents": image_axes, "images": image_axes}, **common)
        video_axes = {0: "batch", 1: "frames", 3: "height", 4: "width"}
        example = (torch.zeros(b, f, c, h, w), torch.full((b,), 0.5), torch.zeros(b, cfg.text_dim),
                   torch.zeros(b, f, cfg.camera_dim), torch.zeros(b, f, c, h, w), torch.zeros(b, f),
                   torch.tensor(1.0))
        torch.onnx.export(Velocity(), example, str(folder / "transformer.onnx"),
                          input_names=list(TRANSFORMER_INPUTS), output_names=["velocity"],
                          dynamic_axes={"x": video_axes, "known": video_axes, "velocity": video_axes,
                                        "t": {0: "batch"}, "text": {0: "batch"},
                                        "camera": {0: "batch", 1: "frames"}, "known_mask": {0: "batch", 1: "frames"}},
                          **common)


# ---- inference (numpy in, numpy out; no torch needed) ---------------------------------------------


class OnnxTinyNetworks:
    """ONNX Runtime sessions of the encoder, the decoder and the transformer of kadr-tiny."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or machine_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep rather than spin: on a CPU shared with other work (a studio's
        # service, a laptop), spinning threads steal the cores the busy ones need (measured 1.5x slower
        # per transformer call on two loaded cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initializers and the like are not the user's
        self.folder = folder
        self.sessions = {name: ort.InferenceSession(str(folder / f"{name}.onnx"), options,
                                                    providers=["CPUExecutionProvider"]) for name in GRAPHS}

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) in [-1, 1] -> normalised latents (B, C, H/16, W/16)."""
        return self.sessions["encoder"].run(None, {"images": _f32(images)})[0]

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Normalised latents (B, C, h, w) -> images (B, 3, 16h, 16w), not clamped."""
        return self.sessions["decoder"].run(None, {"latents": _f32(latents)})[0]

    def velocity(self, x: np.ndarray, t: np.ndarray, text: np.ndarray, camera: np.ndarray, known: np.ndarray,
                 known_mask: np.ndarray, pos_scale: float) -> np.ndarray:
        """The transformer's velocity (B, F, C, H, W); arguments as in :meth:`VideoDiT.forward`."""
        feeds = {"x": x, "t": t, "text": text, "camera": camera, "known": known, "known_mask": known_mask,
                 "pos_scale": np.asarray(pos_scale, np.float32)}
        return self.sessions["transformer"].run(None, {k: _f32(v) for k, v in feeds.items()})[0]


def _f32(array: Any) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)
