"""The contract between the engine and every model backend.

A backend is a plain object, built by its loader with its components already on their device, that
makes one chunk of frames per call. The engine owns chunking, continuation, progress, cancel and
encoding; a backend owns only "prompt (+ image) -> frames".

Call arguments are named as in diffusers pipelines so each backend maps them one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

import sys

import numpy as np
from PIL import Image

from kadr.camera import CameraPath

if TYPE_CHECKING:
    import torch  # annotations only: specs and listing models must not import torch

TEXT_TO_VIDEO = "text-to-video"
IMAGE_TO_VIDEO = "image-to-video"
# What a model can do beyond its tasks; a request asking for one the model lacks is refused with the
# models that have it (VideoRequest.features names what a request asks for).
FEATURES: dict[str, str] = {
    "extend": "continue a video from its last frames",
    "remix": "remake a video with a changed prompt, keeping its layout and motion",
    "first-last-frame": "end the clip on a given picture",
    "shots": "make several shots, each with its own prompt, in one video",
    "reference": "take a character's reference picture",
}

# callback_on_step_end(step_index, total_steps) -> None; may raise GenerationCancelled.
StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FrameRule:
    """Frame counts a model accepts in one pass: ``multiple * k + offset`` within [minimum, maximum]."""

    multiple: int = 1
    offset: int = 0
    minimum: int = 1
    maximum: int = 10_000

    def is_valid(self, n: int) -> bool:
        return self.minimum <= n <= self.maximum and (n - self.offset) % self.multiple == 0

    def round(self, n: int) -> int:
        """The nearest accepted frame count (ties go up), clamped to [minimum, maximum]."""
        n = max(self.minimum, min(self.maximum, n))
        k = round((n - self.offset) / self.multiple)
        candidates = [self.multiple * kk + self.offset for kk in (k - 1, k, k + 1)]
        valid = [c for c in candidates if self.minimum <= c <= self.maximum]
        if not valid:
            return self.minimum
        return min(valid, key=lambda c: (abs(c - n), -c))

    def ceil(self, n: int) -> int:
        """The smallest accepted frame count >= n (or the maximum)."""
        n = max(self.minimum, n)
        k = -(-(n - self.offset) // self.multiple)
        return min(self.maximum, self.multiple * k + self.offset)


@dataclass(frozen=True)
class ModelSpec:
    """What the engine and `kadr models` need to know about a model, without loading it."""

    name: str
    family: str  # "kadr-tiny", "wan", "ltx", "svd", "cogvideox"
    tasks: tuple[str, ...]
    description: str
    parameters: int  # total parameter count, all components
    native_fps: int
    frame_rule: FrameRule
    size_multiple: int
    # Per aspect ratio and tier: (width, height). "high" falls back to "fast" where missing.
    resolutions: dict[str, dict[str, tuple[int, int]]]
    steps: dict[str, int]  # per tier
    guidance_scale: float = 5.0
    negative_prompt: str = ""
    english_only: bool = False
    repo_id: str | None = None  # hub repository for `kadr models pull`
    loader: str = ""  # "module:function" building the backend; imported lazily
    fps_range: tuple[int, int] = (1, 60)
    presets: dict[str, int] = field(default_factory=dict)  # resolution preset name -> short side
    builtin: bool = False
    # Per tier: the step cache it runs by default (a kadr.pipelines.acceleration.CachePolicy) or None.
    cache: dict[str, Any] = field(default_factory=dict)
    # Per tier, where it differs from guidance_scale (a step-distilled tier runs without CFG: 1.0).
    tier_guidance: dict[str, float] = field(default_factory=dict)
    cacheable: bool = True  # False for denoisers without transformer blocks (SVD's UNet)
    takes_lora: bool = False  # whether LoRA adapters load into it (diffusers' LoRA loaders)
    features: tuple[str, ...] = ()  # FEATURES the model supports (extend, remix, first-last-frame, ...)
    reference_mode: str | None = None  # with "reference": how it takes the picture (kadr.edit.reference.REFERENCE_MODES)

    def guidance_for(self, tier: str) -> float:
        return self.tier_guidance.get(tier, self.guidance_scale)

    @property
    def max_frames(self) -> int:
        return self.frame_rule.maximum

    @property
    def longest_clip_s(self) -> float:
        return self.frame_rule.maximum / self.native_fps

    def resolution(self, aspect: str, tier: str) -> tuple[int, int] | None:
        per_aspect = self.resolutions.get(aspect)
        if per_aspect is None:
            return None
        return per_aspect.get(tier) or per_aspect.get("fast")


@dataclass
class PipelineOutput:
    """Frames of one chunk, uint8 RGB of shape (F, H, W, 3)."""

    frames: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


class VideoBackend(Protocol):
    """What a loader returns. ``__call__`` makes one chunk; ``num_frames`` already obeys the frame rule.

    The engine passes three more keyword arguments ONLY when the request uses the feature (so a backend
    without it keeps working); a backend whose spec lists the feature takes them:

    - ``last_image: PIL.Image.Image`` ("first-last-frame"): the clip's last frame, fitted to
      (width, height); given on the last pass only, ``image`` being the first frame;
    - ``video: np.ndarray`` ("remix"): uint8 (num_frames, height, width, 3), the source's frames this
      pass remakes, fitted to the output size (past the source's end its last frame is repeated);
    - ``strength: float`` ("remix", with ``video``): in (0, 1], how far the source is re-noised
      (0 keeps it, 1 is all new).

    An extension ("extend") needs no argument of its own: the engine writes the source's frames and
    continues from its last frame as ``image``, the way every long video continues from pass to pass.
    """

    spec: ModelSpec
    device: torch.device

    def __call__(
        self,
        *,
        prompt: str,
        negative_prompt: str | None,
        image: Image.Image | None,
        height: int,
        width: int,
        num_frames: int,
        fps: int,
        num_inference_steps: int,
        guidance_scale: float,
        generator: torch.Generator,
        camera: CameraPath | None,
        callback_on_step_end: StepCallback | None,
    ) -> PipelineOutput: ...


def to_uint8_frames(video: Any) -> np.ndarray:
    """Normalise what a diffusers pipeline returns into uint8 (F, H, W, 3).

    Accepts float arrays/tensors in [0, 1] shaped (F, H, W, C) or (1, F, H, W, C), and lists of PIL images.
    """
    if isinstance(video, (list, tuple)) and video and isinstance(video[0], (list, tuple)):
        video = video[0]  # batch of one
    if isinstance(video, (list, tuple)) and video and isinstance(video[0], Image.Image):
        return np.stack([np.asarray(im.convert("RGB")) for im in video])
    torch = sys.modules.get("torch")  # a tensor can only come from a process that imported torch
    if torch is not None and isinstance(video, torch.Tensor):
        video = video.detach().float().cpu().numpy()
    array = np.asarray(video)
    if array.ndim == 5:
        array = array[0]  # (1, F, H, W, C) -> (F, H, W, C)
    if array.ndim != 4:
        raise ValueError(f"expected video frames of rank 4 or 5, got shape {array.shape}")
    if array.shape[-1] not in (1, 3) and array.shape[1] in (1, 3):
        array = array.transpose(0, 2, 3, 1)  # (F, C, H, W) -> (F, H, W, C)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array)
