"""Wan 2.1 / 2.2 (Wan-AI) through diffusers: text-to-video and image-to-video.

Constraints (diffusers docs, Wan-AI/Wan2.1 and Wan2.2 READMEs): frames 4k+1 up to 81 at 16 fps for
Wan 2.1 and the A14B models, up to 121 at 24 fps for Wan2.2-TI2V-5B; sides a multiple of 16 (VAE x8,
patch x2), of 32 for TI2V-5B (VAE x16, patch x2). Scheduler shift 3.0 at 480p and 5.0 at 720p.
Parameter counts are totals of the published component sizes: UMT5-XXL encoder 5.68B, Wan 2.1 VAE
0.13B, Wan 2.2 VAE about 0.7B, CLIP ViT-H image encoder 0.63B (Wan2.1-I2V only).

Features (issue 18), each where diffusers runs it and the weights were made for it:
- first and last frame: Wan2.1-FLF2V-14B-720P (trained for it; its image embedder reads both pictures'
  CLIP tokens) and Wan2.2-I2V-A14B (its latent conditioning takes the last frame; used so in ComfyUI's
  Wan 2.2 FLF2V workflow). Not the Wan 2.1 I2V models (their image embedder reads one picture) nor
  TI2V-5B (diffusers' ``expand_timesteps`` path drops ``last_image``).
- remix: WanVideoToVideoPipeline over a Wan 2.1 text-to-video model's modules (1.3B, 14B). Not the
  A14B pair: that pipeline runs one transformer, and the experts split the steps between them; not
  TI2V-5B: that pipeline sizes its latents for the x8 Wan 2.1 VAE (diffusers 0.42), TI2V-5B's is x16.
- extend: every image-to-video model continues from the source's last frame.
- reference: TI2V-5B starts a clip that has no image on the character's picture (its first frame).
  Not the Wan 2.1 I2V models: their CLIP image tokens could carry a reference beside the first frame,
  but diffusers' pipeline takes ``image_embeds`` only instead of the image, never with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, FrameRule, ModelSpec
from kadr.pipelines.devices import GiB, MemoryPolicy, MemoryProfile
from kadr.pipelines.acceleration import CachePolicy
from kadr.errors import InvalidRequestError
from kadr.pipelines.diffusers_common import Call, DiffusersBackend, DiffusersSpec, HubLora, load_diffusers_backend

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    import torch  # annotations only: listing models must not import torch

# The negative prompt Wan-AI ship in their repositories and examples (Chinese; the text encoder is multilingual).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)

UMT5_XXL_ENCODER = 5_680_000_000
WAN21_VAE = 127_000_000
WAN22_VAE = 705_000_000
CLIP_VIT_H = 632_000_000

# Scheduler flow shift by output area: 5.0 from 720p, 3.0 below (diffusers' Wan docs).
SHIFT_720P, SHIFT_480P = 5.0, 3.0
AREA_720P = 1280 * 704  # TI2V-5B's 720p size, the smallest "720p" any Wan model uses

_SIZES_480P = {"16:9": (832, 480), "9:16": (480, 832), "1:1": (624, 624)}
_SIZES_720P = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}
_SIZES_720P_32 = {"16:9": (1280, 704), "9:16": (704, 1280), "1:1": (960, 960)}
_SIZES_480P_32 = {"16:9": (832, 480), "9:16": (480, 832), "1:1": (640, 640)}


# Step caches per tier. First Block Cache at 0.1 (ParaAttention uses 0.08 on FLUX, about 2x there and on
# HunyuanVideo); bench/bench_acceleration.py measures this policy on kadr-tiny's trained DiT (README).
FAST_CACHE = CachePolicy("first-block", threshold=0.1, source="ParaAttention First Block Cache; bench_acceleration.py")

# lightx2v's step- and CFG-distilled LoRAs for Wan 2.1 14B: 4 steps, guidance off (their model card).
LIGHTX2V = "lightx2v/Wan2.1-Distill-Loras"
LIGHTX2V_T2V = HubLora(LIGHTX2V, "wan2.1_t2v_14b_lora_rank64_lightx2v_4step.safetensors", "apache-2.0")
LIGHTX2V_I2V = HubLora(LIGHTX2V, "wan2.1_i2v_lora_rank64_lightx2v_4step.safetensors", "apache-2.0")
DISTILLED_STEPS = 4
_DISTILLED = dict(tier_guidance={"fast": 1.0}, cache={"fast": None, "high": None})
_CACHED_FAST = dict(cache={"fast": FAST_CACHE, "high": None})
# What each kind of Wan model takes beyond its task (see the module docstring).
_REMIX = {"remix": "WanVideoToVideoPipeline"}
_T2V_FEATURES = dict(features=("shots", "remix"), feature_pipelines=_REMIX)
_I21_FEATURES = dict(features=("extend",))


def _tiers(fast: dict[str, tuple[int, int]], high: dict[str, tuple[int, int]]) -> dict[str, dict[str, tuple[int, int]]]:
    return {aspect: {"fast": fast[aspect], "high": high[aspect]} for aspect in fast}


_WAN21_FRAMES = FrameRule(multiple=4, offset=1, minimum=5, maximum=81)
_COMMON: dict[str, Any] = dict(
    family="wan",
    native_fps=16,
    frame_rule=_WAN21_FRAMES,
    size_multiple=16,
    negative_prompt=WAN_NEGATIVE_PROMPT,
    english_only=False,  # UMT5 is multilingual; kadr.prompt passes Russian through to Wan (its MULTILINGUAL set)
    loader="kadr.pipelines.wan:load",
    fps_range=(8, 30),
    licence="apache-2.0",
)

SPECS: list[ModelSpec] = [
    DiffusersSpec(
        name="wan2.1-t2v-1.3b",
        tasks=(TEXT_TO_VIDEO,),
        description="Wan 2.1 text-to-video, 1.3B: 480p, runs in about 8 GB with offload",
        parameters=1_300_000_000 + UMT5_XXL_ENCODER + WAN21_VAE,
        resolutions=_tiers(_SIZES_480P, _SIZES_480P),
        steps={"fast": 30, "high": 50},
        guidance_scale=5.0,
        repo_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        expected_time={"high": "~4 min, RTX 4090 (Wan2.1 README: 5 s of 480p, with offload)"},
        **_CACHED_FAST,
        presets={"480p": 480},
        pipelines={TEXT_TO_VIDEO: "WanPipeline"},
        **_T2V_FEATURES,
        memory=MemoryProfile(largest_component=UMT5_XXL_ENCODER, working_bytes=4 * GiB, vae_decode_bytes=4 * GiB,
                             source="Wan2.1 README: T2V-1.3B needs 8.19 GB of VRAM (RTX 4090, with model offload and the T5 on the CPU)"),
        **_COMMON,
    ),
    DiffusersSpec(
        name="wan2.1-t2v-14b",
        tasks=(TEXT_TO_VIDEO,),
        description="Wan 2.1 text-to-video, 14B: 480p (fast) and 720p (high)",
        parameters=14_000_000_000 + UMT5_XXL_ENCODER + WAN21_VAE,
        resolutions=_tiers(_SIZES_480P, _SIZES_720P),
        steps={"fast": DISTILLED_STEPS, "high": 50},
        guidance_scale=5.0,
        repo_id="Wan-AI/Wan2.1-T2V-14B-Diffusers",
        tier_loras={"fast": (LIGHTX2V_T2V,)},
        **_DISTILLED,
        presets={"480p": 480, "720p": 720},
        pipelines={TEXT_TO_VIDEO: "WanPipeline"},
        **_T2V_FEATURES,
        memory=MemoryProfile(largest_component=14_000_000_000, working_bytes=10 * GiB, vae_decode_bytes=8 * GiB),
        **_COMMON,
    ),
    DiffusersSpec(
        name="wan2.1-i2v-14b-480p",
        tasks=(IMAGE_TO_VIDEO,),
        description="Wan 2.1 image-to-video, 14B, 480p",
        parameters=14_000_000_000 + UMT5_XXL_ENCODER + WAN21_VAE + CLIP_VIT_H,
        resolutions=_tiers(_SIZES_480P, _SIZES_480P),
        steps={"fast": DISTILLED_STEPS, "high": 50},
        guidance_scale=5.0,
        repo_id="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        expected_time={"fast": "~14 s, H200 (lightx2v: 4-step distilled, as quoted in issue 17)",
                       "high": "~366 s, H200 (lightx2v's undistilled baseline, as quoted in issue 17)"},
        tier_loras={"fast": (LIGHTX2V_I2V,)},
        **_DISTILLED,
        presets={"480p": 480},
        pipelines={IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        **_I21_FEATURES,
        memory=MemoryProfile(largest_component=14_000_000_000, working_bytes=6 * GiB, vae_decode_bytes=4 * GiB),
        **_COMMON,
    ),
    DiffusersSpec(
        name="wan2.1-i2v-14b-720p",
        tasks=(IMAGE_TO_VIDEO,),
        description="Wan 2.1 image-to-video, 14B, 720p",
        parameters=14_000_000_000 + UMT5_XXL_ENCODER + WAN21_VAE + CLIP_VIT_H,
        resolutions=_tiers(_SIZES_720P, _SIZES_720P),
        steps={"fast": 30, "high": 50},
        guidance_scale=5.0,
        repo_id="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        **_CACHED_FAST,
        presets={"720p": 720},
        pipelines={IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        **_I21_FEATURES,
        memory=MemoryProfile(largest_component=14_000_000_000, working_bytes=10 * GiB, vae_decode_bytes=8 * GiB),
        **_COMMON,
    ),
    DiffusersSpec(
        name="wan2.1-flf2v-14b-720p",
        tasks=(IMAGE_TO_VIDEO,),
        description="Wan 2.1 first-last-frame-to-video, 14B, 720p: a clip from one picture to another",
        parameters=14_000_000_000 + UMT5_XXL_ENCODER + WAN21_VAE + CLIP_VIT_H,
        resolutions=_tiers(_SIZES_720P, _SIZES_720P),
        steps={"fast": 30, "high": 50},
        guidance_scale=5.0,
        repo_id="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        **_CACHED_FAST,
        presets={"720p": 720},
        pipelines={IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        features=("first-last-frame",),  # only with a last frame: its image embedder reads two pictures
        memory=MemoryProfile(largest_component=14_000_000_000, working_bytes=10 * GiB, vae_decode_bytes=8 * GiB),
        **_COMMON,
    ),
    DiffusersSpec(
        name="wan2.2-ti2v-5b",
        tasks=(TEXT_TO_VIDEO, IMAGE_TO_VIDEO),
        description="Wan 2.2 text- and image-to-video, 5B dense: 720p at 24 fps with a x16 VAE",
        parameters=5_000_000_000 + UMT5_XXL_ENCODER + WAN22_VAE,
        resolutions=_tiers(_SIZES_480P_32, _SIZES_720P_32),
        steps={"fast": 30, "high": 50},
        guidance_scale=5.0,
        repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        **_CACHED_FAST,
        presets={"480p": 480, "720p": 704},
        pipelines={TEXT_TO_VIDEO: "WanPipeline", IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        features=("shots", "extend", "reference"), reference_mode="first-frame",
        memory=MemoryProfile(largest_component=UMT5_XXL_ENCODER, working_bytes=8 * GiB, vae_decode_bytes=10 * GiB,
                             source="Wan2.2 README: TI2V-5B makes 5 s of 720p on one 24 GB GPU (RTX 4090) with offload"),
        **{**_COMMON, "native_fps": 24, "frame_rule": FrameRule(4, 1, 5, 121), "size_multiple": 32},
    ),
    DiffusersSpec(
        name="wan2.2-t2v-a14b",
        tasks=(TEXT_TO_VIDEO,),
        description="Wan 2.2 text-to-video, two 14B experts (high- and low-noise): 480p and 720p",
        parameters=2 * 14_000_000_000 + UMT5_XXL_ENCODER + WAN21_VAE,
        resolutions=_tiers(_SIZES_480P, _SIZES_720P),
        steps={"fast": 30, "high": 40},
        guidance_scale=4.0,
        repo_id="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        **_CACHED_FAST,
        presets={"480p": 480, "720p": 720},
        pipelines={TEXT_TO_VIDEO: "WanPipeline"},
        memory=MemoryProfile(largest_component=14_000_000_000, working_bytes=10 * GiB, vae_decode_bytes=8 * GiB),
        call_defaults={"guidance_scale_2": 3.0},  # the low-noise expert's scale (Wan2.2 t2v-A14B config)
        features=("shots",),
        **_COMMON,
    ),
    DiffusersSpec(
        name="wan2.2-i2v-a14b",
        tasks=(IMAGE_TO_VIDEO,),
        description="Wan 2.2 image-to-video, two 14B experts (high- and low-noise): 480p and 720p",
        parameters=2 * 14_000_000_000 + UMT5_XXL_ENCODER + WAN21_VAE,
        resolutions=_tiers(_SIZES_480P, _SIZES_720P),
        steps={"fast": 30, "high": 40},
        guidance_scale=3.5,
        repo_id="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        **_CACHED_FAST,
        presets={"480p": 480, "720p": 720},
        pipelines={IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        memory=MemoryProfile(largest_component=14_000_000_000, working_bytes=10 * GiB, vae_decode_bytes=8 * GiB),
        call_defaults={"guidance_scale_2": 3.5},
        features=("extend", "first-last-frame"),
        **_COMMON,
    ),
]


class WanBackend(DiffusersBackend):
    """Wan pipelines take kadr's arguments as they are (``last_image``, remix's ``video`` and ``strength``
    included); the scheduler's shift follows the output size."""

    def pipeline_arguments(self, pipe: "DiffusionPipeline", call: Call) -> dict[str, Any]:
        _set_flow_shift(pipe, SHIFT_720P if call.width * call.height >= AREA_720P else SHIFT_480P)
        embedder = getattr(getattr(pipe, "transformer", None), "condition_embedder", None)
        reads_two_pictures = getattr(getattr(embedder, "image_embedder", None), "pos_embed", None) is not None
        if reads_two_pictures and call.last_image is None:
            raise InvalidRequestError("last_image", None, f"a last frame: {self.spec.name} makes clips between two pictures")
        return super().pipeline_arguments(pipe, call)


def _set_flow_shift(pipe: "DiffusionPipeline", shift: float) -> None:
    """Swap in the same scheduler with ``flow_shift`` = shift (UniPC's name for it), if it differs."""
    config = pipe.scheduler.config
    if "flow_shift" in config and config.get("use_flow_sigmas") and config["flow_shift"] != shift:
        pipe.scheduler = type(pipe.scheduler).from_config(config, flow_shift=shift)


def load(spec: ModelSpec, device: str | torch.device | None = None, *,
         folder: str | Path | None = None, memory: MemoryPolicy | str | None = None,
         attention: str | None = None, compile: bool = False) -> WanBackend:
    """Build the Wan backend from ``models_dir()/spec.name`` (see diffusers_common.load_diffusers_backend)."""
    return load_diffusers_backend(WanBackend, spec, device, folder=folder, memory=memory,
                                  attention=attention, compile=compile)
