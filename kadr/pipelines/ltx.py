"""LTX-Video (Lightricks) through diffusers: text-to-video and image-to-video in one pipeline.

LTX-Video 0.9.5 and later load as ``LTXConditionPipeline``, which takes the first frame through
``image`` and runs without one for text-to-video. Constraints (diffusers' LTX docs, the LTX-Video
README): frames 8k+1 (kept to 161 here: quality falls off past it), sides a multiple of 32, 24 fps
(passed to the model as ``frame_rate``), best below 720x1280. Timestep-aware VAE: decode_timestep
0.05, decode_noise_scale 0.025. The distilled 0.9.7 model wants guidance 1.0 and its own 8
timesteps. Parameter counts: 13B (0.9.7) or 2B (0.9.5) transformer, T5-XXL encoder 4.76B, VAE
about 0.4B. kadr runs one pass at the target size; the 0.9.7 latent upscaler is not used.

Features (issue 18) through the same pipeline's conditions (LTX-Video 0.9.5 added keyframes and video
conditioning): first and last frame as two image conditions at frames 0 and N-1; remix as the source's
encoded latents re-noised to ``denoise_strength`` and denoised with the new prompt; extend by
continuing from the source's last frame (image-to-video); a reference picture as the first frame of a
clip that has none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, FrameRule, ModelSpec
from kadr.pipelines.devices import GiB, MemoryPolicy, MemoryProfile
from kadr.pipelines.acceleration import CachePolicy
from kadr.pipelines.diffusers_common import Call, DiffusersBackend, DiffusersSpec, load_diffusers_backend

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    import torch  # annotations only: listing models must not import torch

LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
# Timesteps of the 0.9.7 distilled model's first pass (diffusers' LTX docs); used when the step count matches.
DISTILLED_TIMESTEPS: tuple[float, ...] = (1000, 993, 987, 981, 975, 909, 725, 0.03)

T5_XXL_ENCODER = 4_760_000_000
LTX_VAE = 420_000_000

_SIZES_FAST = {"16:9": (832, 480), "9:16": (480, 832), "1:1": (640, 640)}
_SIZES_HIGH = {"16:9": (1216, 704), "9:16": (704, 1216), "1:1": (928, 928)}
_RESOLUTIONS = {aspect: {"fast": _SIZES_FAST[aspect], "high": _SIZES_HIGH[aspect]} for aspect in _SIZES_FAST}
_VAE_DECODE = {"decode_timestep": 0.05, "decode_noise_scale": 0.025}

# First Block Cache on the full-step tiers (diffusers registers LTX's blocks for it); none on the 8 distilled steps.
FAST_CACHE = CachePolicy("first-block", threshold=0.1, source="ParaAttention First Block Cache; bench_acceleration.py")

_COMMON: dict[str, Any] = dict(
    family="ltx",
    licence="LTX-Video open weights licence (model card)",
    tasks=(TEXT_TO_VIDEO, IMAGE_TO_VIDEO),
    native_fps=24,
    frame_rule=FrameRule(multiple=8, offset=1, minimum=9, maximum=161),
    size_multiple=32,
    resolutions=_RESOLUTIONS,
    negative_prompt=LTX_NEGATIVE_PROMPT,
    english_only=True,
    loader="kadr.pipelines.ltx:load",
    fps_range=(8, 30),
    presets={"480p": 480, "704p": 704},
    pipelines={TEXT_TO_VIDEO: "LTXConditionPipeline", IMAGE_TO_VIDEO: "LTXConditionPipeline"},
    features=("shots", "extend", "remix", "first-last-frame", "reference"),
    feature_pipelines={"remix": "LTXConditionPipeline"},  # the same pipeline: remix is its denoise_strength
    reference_mode="first-frame",
)

SPECS: list[ModelSpec] = [
    DiffusersSpec(
        name="ltx-video-0.9.7-distilled",
        description="LTX-Video 0.9.7 13B, guidance- and timestep-distilled: 8 steps, near real time on a big GPU",
        parameters=13_000_000_000 + T5_XXL_ENCODER + LTX_VAE,
        steps={"fast": 8, "high": 8},
        guidance_scale=1.0,
        cache={"fast": None, "high": None},
        repo_id="Lightricks/LTX-Video-0.9.7-distilled",
        memory=MemoryProfile(largest_component=13_000_000_000, working_bytes=6 * GiB, vae_decode_bytes=6 * GiB),
        call_defaults={**_VAE_DECODE, "image_cond_noise_scale": 0.0, "timesteps": DISTILLED_TIMESTEPS},
        **_COMMON,
    ),
    DiffusersSpec(
        name="ltx-video-0.9.7",
        description="LTX-Video 0.9.7 13B dev: the full model, classifier-free guidance",
        parameters=13_000_000_000 + T5_XXL_ENCODER + LTX_VAE,
        steps={"fast": 30, "high": 40},
        guidance_scale=5.0,
        cache={"fast": FAST_CACHE, "high": None},
        repo_id="Lightricks/LTX-Video-0.9.7-dev",
        memory=MemoryProfile(largest_component=13_000_000_000, working_bytes=6 * GiB, vae_decode_bytes=6 * GiB),
        call_defaults={**_VAE_DECODE, "image_cond_noise_scale": 0.0, "guidance_rescale": 0.7},
        **_COMMON,
    ),
    DiffusersSpec(
        name="ltx-video-0.9.5",
        description="LTX-Video 0.9.5 2B: small and fast, fits consumer GPUs",
        parameters=1_900_000_000 + T5_XXL_ENCODER + LTX_VAE,
        steps={"fast": 30, "high": 40},
        guidance_scale=3.0,
        cache={"fast": FAST_CACHE, "high": None},
        repo_id="Lightricks/LTX-Video-0.9.5",
        memory=MemoryProfile(largest_component=T5_XXL_ENCODER, working_bytes=4 * GiB, vae_decode_bytes=6 * GiB),
        call_defaults={**_VAE_DECODE, "image_cond_noise_scale": 0.025},
        **_COMMON,
    ),
]


class LTXBackend(DiffusersBackend):
    """LTX takes the frame rate as conditioning and, when distilled, a fixed timestep list; the last
    frame and the remix source become its conditions and initial latents."""

    def pipeline_arguments(self, pipe: "DiffusionPipeline", call: Call) -> dict[str, Any]:
        kwargs = super().pipeline_arguments(pipe, call)
        kwargs["frame_rate"] = call.fps
        last = kwargs.pop("last_image", None)
        if last is not None:
            # Keyframe conditions: the first picture at frame 0, the last at the pass's last frame. As
            # `conditions`: diffusers 0.42 keeps only the first of a list passed as `image` without `video`.
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            kwargs["conditions"] = [LTXVideoCondition(image=kwargs.pop("image"), frame_index=0),
                                    LTXVideoCondition(image=last, frame_index=call.num_frames - 1)]
        if call.video is not None:
            # Remix: start from the source's latents noised to denoise_strength (the pipeline's video-to-video).
            del kwargs["video"]
            kwargs["num_frames"] = call.num_frames
            kwargs["denoise_strength"] = kwargs.pop("strength")
            kwargs["latents"] = _source_latents(pipe, call)
        timesteps = kwargs.get("timesteps")
        if timesteps is not None and len(timesteps) != call.num_inference_steps:
            # A caller asked for another step count: let the scheduler space the steps itself.
            del kwargs["timesteps"]
        elif timesteps is not None:
            kwargs["timesteps"] = list(timesteps)  # a fresh list: the spec's tuple stays untouched
        return kwargs


def _source_latents(pipe: "DiffusionPipeline", call: Call) -> "torch.Tensor":
    """The remix source encoded as LTX's normalised (B, C, F', H', W') latents, before packing."""
    import torch

    video = pipe.video_processor.preprocess_video(call.source_frames(), call.height, call.width)  # (1, C, F, H, W)
    with torch.no_grad():
        encoded = pipe.vae.encode(video.to(pipe._execution_device, dtype=pipe.vae.dtype)).latent_dist.mode()
    return pipe._normalize_latents(encoded, pipe.vae.latents_mean, pipe.vae.latents_std).float()


def load(spec: ModelSpec, device: str | torch.device | None = None, *,
         folder: str | Path | None = None, memory: MemoryPolicy | str | None = None,
         attention: str | None = None, compile: bool = False) -> LTXBackend:
    """Build the LTX-Video backend from ``models_dir()/spec.name``."""
    return load_diffusers_backend(LTXBackend, spec, device, folder=folder, memory=memory,
                                  attention=attention, compile=compile)
