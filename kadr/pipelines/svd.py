"""Stable Video Diffusion (Stability AI) through diffusers: image-to-video, no text.

Constraints (the SVD model cards, diffusers' SVD docs): the img2vid model makes 14 frames, img2vid-xt
25, at 1024x576; the frame rate is conditioning (``fps``, default 7), as are the motion bucket (127)
and the noise added to the conditioning image (0.02). Guidance ramps linearly across frames from
``min_guidance_scale`` 1.0 to ``max_guidance_scale``, which is what kadr's guidance_scale sets. The
UNet downsamples three times over the x8 VAE, so sides are a multiple of 64. Weights are pulled and
loaded as the repositories' fp16 variant. Parameters: UNet 1.52B, CLIP ViT-H image encoder 0.63B,
temporal VAE 0.1B. The prompt and negative prompt are ignored: SVD has no text encoder.

Features (issue 18): extend, continuing a video from its last frame (its one task). No remix, shots
or reference: without a text encoder there is no new prompt to follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kadr.pipelines.base import IMAGE_TO_VIDEO, FrameRule, ModelSpec
from kadr.pipelines.devices import GiB, MemoryPolicy, MemoryProfile
from kadr.pipelines.diffusers_common import (
    DIFFUSERS_LAYOUT_FP16,
    Call,
    DiffusersBackend,
    DiffusersSpec,
    load_diffusers_backend,
)

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    import torch  # annotations only: listing models must not import torch

SVD_PARAMETERS = 1_520_000_000 + 632_000_000 + 98_000_000
_SIZES = {"16:9": (1024, 576), "9:16": (576, 1024), "1:1": (768, 768)}
# Frames decoded at once: fewer under memory pressure (the temporal VAE has no tiling).
DECODE_CHUNK, DECODE_CHUNK_LOW_MEMORY = 8, 2

_COMMON: dict[str, Any] = dict(
    family="svd",
    cacheable=False,  # a UNet: the step caches here work on transformer blocks
    takes_lora=False,  # StableVideoDiffusionPipeline has no LoRA loader
    licence="Stability AI Community License (model card)",
    tasks=(IMAGE_TO_VIDEO,),
    parameters=SVD_PARAMETERS,
    native_fps=7,
    size_multiple=64,
    resolutions={aspect: {"fast": size, "high": size} for aspect, size in _SIZES.items()},
    steps={"fast": 20, "high": 30},
    guidance_scale=3.0,
    loader="kadr.pipelines.svd:load",
    fps_range=(3, 30),
    presets={"576p": 576},
    pipelines={IMAGE_TO_VIDEO: "StableVideoDiffusionPipeline"},
    cuda_dtype="float16",
    variant="fp16",
    allow_patterns=DIFFUSERS_LAYOUT_FP16,
    memory=MemoryProfile(largest_component=1_520_000_000, working_bytes=6 * GiB, vae_decode_bytes=4 * GiB),
    call_defaults={"min_guidance_scale": 1.0, "motion_bucket_id": 127, "noise_aug_strength": 0.02},
    features=("extend",),
)

SPECS: list[ModelSpec] = [
    DiffusersSpec(
        name="svd-xt",
        description="Stable Video Diffusion img2vid-xt: 25 frames from one image, no text",
        frame_rule=FrameRule(multiple=1, offset=0, minimum=14, maximum=25),
        repo_id="stabilityai/stable-video-diffusion-img2vid-xt",
        **_COMMON,
    ),
    DiffusersSpec(
        name="svd",
        description="Stable Video Diffusion img2vid: 14 frames from one image, no text",
        frame_rule=FrameRule(multiple=1, offset=0, minimum=14, maximum=14),
        repo_id="stabilityai/stable-video-diffusion-img2vid",
        **_COMMON,
    ),
]


class SVDBackend(DiffusersBackend):
    """SVD is conditioned on the image, the frame rate and a motion bucket, never on text."""

    def pipeline_arguments(self, pipe: "DiffusionPipeline", call: Call) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "image": call.image,
            "height": call.height,
            "width": call.width,
            "num_frames": call.num_frames,
            "num_inference_steps": call.num_inference_steps,
            "fps": call.fps,
            "decode_chunk_size": DECODE_CHUNK_LOW_MEMORY if self.policy.vae_tiling else DECODE_CHUNK,
        }
        kwargs.update(self.spec.call_defaults)
        # Guidance grows from min_guidance_scale on the first frame to kadr's guidance on the last.
        kwargs["max_guidance_scale"] = max(call.guidance_scale, kwargs["min_guidance_scale"])
        return kwargs


def load(spec: ModelSpec, device: str | torch.device | None = None, *,
         folder: str | Path | None = None, memory: MemoryPolicy | str | None = None,
         attention: str | None = None, compile: bool = False) -> SVDBackend:
    """Build the SVD backend from ``models_dir()/spec.name`` (fp16 weights, upcast to fp32 on the CPU)."""
    return load_diffusers_backend(SVDBackend, spec, device, folder=folder, memory=memory,
                                  attention=attention, compile=compile)
