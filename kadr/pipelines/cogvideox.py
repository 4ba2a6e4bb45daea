"""CogVideoX (THUDM / Zhipu AI) through diffusers: text-to-video (2B, 5B) and image-to-video (5B-I2V).

Constraints (the CogVideoX model cards, diffusers' CogVideoX docs): 49 frames (8k+1) at 8 fps, 720x480,
226 text tokens, guidance 6. The 2B model is meant for fp16 and the DDIM scheduler; the 5B models for
bf16 with the DPM scheduler and dynamic guidance. The I2V model's position embeddings are learned
for 720x480, so it runs at that size only. Parameters: transformer 1.69B / 5.57B, T5-XXL encoder
4.76B, VAE 0.22B.

Features (issue 18): the text-to-video models remix through CogVideoXVideoToVideoPipeline over their
own modules (the source re-noised to ``strength``); the I2V model extends a video from its last frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kadr.errors import InvalidRequestError
from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, FrameRule, ModelSpec
from kadr.pipelines.devices import GiB, MemoryPolicy, MemoryProfile
from kadr.pipelines.acceleration import CachePolicy
from kadr.pipelines.diffusers_common import Call, DiffusersBackend, DiffusersSpec, load_diffusers_backend

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    import torch  # annotations only: listing models must not import torch

T5_XXL_ENCODER = 4_760_000_000
COGVIDEOX_VAE = 216_000_000
NATIVE_SIZE = (720, 480)

# No step-distilled CogVideoX is published; the fast tier caches steps (diffusers registers CogVideoXBlock).
FAST_CACHE = CachePolicy("first-block", threshold=0.1, source="ParaAttention First Block Cache; bench_acceleration.py")

_COMMON: dict[str, Any] = dict(
    family="cogvideox",
    cache={"fast": FAST_CACHE, "high": None},
    licence="CogVideoX licence (2B: apache-2.0; 5B: CogVideoX LICENSE, model card)",
    native_fps=8,
    frame_rule=FrameRule(multiple=8, offset=1, minimum=9, maximum=49),
    size_multiple=16,
    # The one trained size (3:2); other aspects get the same pixel count from the engine (t2v only).
    resolutions={"16:9": {"fast": NATIVE_SIZE, "high": NATIVE_SIZE}},
    guidance_scale=6.0,
    english_only=True,
    loader="kadr.pipelines.cogvideox:load",
    fps_range=(8, 24),
    presets={"480p": 480},
)

_T2V_FEATURES: dict[str, Any] = dict(features=("shots", "remix"),
                                     feature_pipelines={"remix": "CogVideoXVideoToVideoPipeline"})

SPECS: list[ModelSpec] = [
    DiffusersSpec(
        name="cogvideox-2b",
        tasks=(TEXT_TO_VIDEO,),
        description="CogVideoX 2B text-to-video: 6 s at 720x480, fits consumer GPUs",
        parameters=1_690_000_000 + T5_XXL_ENCODER + COGVIDEOX_VAE,
        steps={"fast": 30, "high": 50},
        repo_id="THUDM/CogVideoX-2b",
        expected_time={"high": "~90 s, A100 (CogVideoX-2b model card: 50 steps; ~45 s on an H100)"},
        pipelines={TEXT_TO_VIDEO: "CogVideoXPipeline"},
        **_T2V_FEATURES,
        cuda_dtype="float16",
        memory=MemoryProfile(largest_component=T5_XXL_ENCODER, working_bytes=4 * GiB, vae_decode_bytes=10 * GiB,
                             source="CogVideoX-2b model card: 18 GB (SAT, fp16), from 4 GB in diffusers with offload and VAE tiling"),
        call_defaults={"use_dynamic_cfg": False},
        **_COMMON,
    ),
    DiffusersSpec(
        name="cogvideox-5b",
        tasks=(TEXT_TO_VIDEO,),
        description="CogVideoX 5B text-to-video: 6 s at 720x480",
        parameters=5_570_000_000 + T5_XXL_ENCODER + COGVIDEOX_VAE,
        steps={"fast": 30, "high": 50},
        repo_id="THUDM/CogVideoX-5b",
        expected_time={"high": "~180 s, A100 (CogVideoX-5b model card: 50 steps; ~90 s on an H100)"},
        pipelines={TEXT_TO_VIDEO: "CogVideoXPipeline"},
        **_T2V_FEATURES,
        memory=MemoryProfile(largest_component=5_570_000_000, working_bytes=6 * GiB, vae_decode_bytes=10 * GiB,
                             source="CogVideoX-5b model card: 26 GB (SAT, bf16), from 5 GB in diffusers with offload and VAE tiling"),
        call_defaults={"use_dynamic_cfg": True},
        **_COMMON,
    ),
    DiffusersSpec(
        name="cogvideox-5b-i2v",
        tasks=(IMAGE_TO_VIDEO,),
        description="CogVideoX 5B image-to-video: 6 s at 720x480 only",
        parameters=5_570_000_000 + T5_XXL_ENCODER + COGVIDEOX_VAE,
        steps={"fast": 30, "high": 50},
        repo_id="THUDM/CogVideoX-5b-I2V",
        pipelines={IMAGE_TO_VIDEO: "CogVideoXImageToVideoPipeline"},
        features=("extend",),
        memory=MemoryProfile(largest_component=5_570_000_000, working_bytes=6 * GiB, vae_decode_bytes=10 * GiB,
                             source="CogVideoX-5b model card: 26 GB (SAT, bf16), from 5 GB in diffusers with offload and VAE tiling"),
        call_defaults={"use_dynamic_cfg": True},
        **_COMMON,
    ),
]


class CogVideoXBackend(DiffusersBackend):
    """CogVideoX reads a fixed number of text tokens, and its I2V model runs at one size only."""

    def pipeline_arguments(self, pipe: "DiffusionPipeline", call: Call) -> dict[str, Any]:
        config = pipe.transformer.config
        if config.use_learned_positional_embeddings:
            scale = pipe.vae_scale_factor_spatial
            size = (config.sample_width * scale, config.sample_height * scale)
            if (call.width, call.height) != size:
                raise InvalidRequestError(
                    "resolution", f"{call.width}x{call.height}",
                    f"{size[0]}x{size[1]} only for {self.spec.name} (its position embeddings are learned for it)",
                )
        kwargs = super().pipeline_arguments(pipe, call)
        kwargs["max_sequence_length"] = config.max_text_seq_length  # 226: what the transformer was built for
        return kwargs


def load(spec: ModelSpec, device: str | torch.device | None = None, *,
         folder: str | Path | None = None, memory: MemoryPolicy | str | None = None,
         attention: str | None = None, compile: bool = False) -> CogVideoXBackend:
    """Build the CogVideoX backend from ``models_dir()/spec.name``."""
    return load_diffusers_backend(CogVideoXBackend, spec, device, folder=folder, memory=memory,
                                  attention=attention, compile=compile)
