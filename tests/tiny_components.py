"""Tiny random diffusers pipelines for every open-model family, built entirely offline.

Shapes follow diffusers' own fast tests (tests/pipelines/{wan,ltx,stable_video_diffusion,cogvideo}),
with one change: those load ``hf-internal-testing/tiny-random-t5`` from the hub, so here the T5/UMT5
encoder is built from a config and the tokenizer is a word-level ``tokenizers`` model made in memory,
wrapped as a transformers fast tokenizer (it saves and loads like the real ones). Every component is
built after ``torch.manual_seed(0)`` so a pipeline is the same on every run.

Plain helpers, not fixtures: tests and benchmarks call them directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import torch

TEXT_DIM = 32  # the tiny text encoder's width; transformers' text_dim / caption_channels match it

# Words the tiny tokenizer knows; anything else maps to <unk>. Ids 0-2 follow T5: pad, eos, unk.
_WORDS = (
    "a an the of in on over under at with and to from camera pans tilts zooms slowly fast static "
    "sunset sea ocean waves beach city street night rain snow forest mountain river sky clouds sun "
    "cat dog bird horse car train man woman child walks runs flies swims dances cinematic realistic "
    "animation artistic shot view light warm cold golden hour smooth motion"
).split()


def tiny_tokenizer() -> Any:
    """A T5-style tokenizer (pad=0, eos=1, unk=2, ``</s>`` appended) built in memory, no hub."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(("<pad>", "</s>", "<unk>", *_WORDS))}
    model = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    model.normalizer = normalizers.Lowercase()
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    model.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def _t5_config_kwargs() -> dict[str, Any]:
    return dict(
        vocab_size=3 + len(_WORDS), d_model=TEXT_DIM, d_ff=37, d_kv=8, num_heads=4, num_layers=2,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )


def tiny_t5() -> Any:
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    return T5EncoderModel(T5Config(**_t5_config_kwargs()))


def tiny_umt5() -> Any:
    """Wan's text encoder class (UMT5), at the tiny T5's size."""
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    return UMT5EncoderModel(UMT5Config(**_t5_config_kwargs()))


def tiny_clip_vision(hidden_size: int, with_projection: bool) -> tuple[Any, Any]:
    """A 2-layer CLIP vision tower (with projection for SVD, without for Wan) and its image processor.

    224x224 input like the real one (SVD resizes to 224 itself before the processor), in 32 px
    patches so it sees only 7x7 tokens.
    """
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=hidden_size, projection_dim=hidden_size, num_hidden_layers=2,
        num_attention_heads=2, image_size=224, intermediate_size=16, patch_size=32,
    )
    model = CLIPVisionModelWithProjection(config) if with_projection else CLIPVisionModel(config)
    return model, CLIPImageProcessor(crop_size=224, size=224)


# ---- Wan ---------------------------------------------------------------------------------------


def _wan_transformer(in_channels: int, out_channels: int, **extra: Any) -> Any:
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=out_channels, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32, **extra,
    )


def _wan_scheduler() -> Any:
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def wan21_vae() -> Any:
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def wan21_t2v_pipeline() -> Any:
    """Wan 2.1 text-to-video: x8 VAE with 16 latent channels; sides a multiple of 16."""
    from diffusers import WanPipeline

    return _ready(WanPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_umt5(), vae=wan21_vae(), scheduler=_wan_scheduler(),
        transformer=_wan_transformer(16, 16),
    ))


def wan21_i2v_pipeline() -> Any:
    """Wan 2.1 image-to-video: CLIP image embeddings plus the first frame's latents (16 + 20 channels in)."""
    from diffusers import WanImageToVideoPipeline

    image_encoder, image_processor = tiny_clip_vision(hidden_size=4, with_projection=False)
    return _ready(WanImageToVideoPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_umt5(), vae=wan21_vae(), scheduler=_wan_scheduler(),
        image_encoder=image_encoder, image_processor=image_processor,
        transformer=_wan_transformer(36, 16, image_dim=4),
    ))


def wan22_ti2v_pipeline() -> Any:
    """Wan 2.2 TI2V-5B's layout: x16 VAE with 48 channels, per-token timesteps; sides a multiple of 32."""
    from diffusers import AutoencoderKLWan, WanPipeline

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
        latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True],
    )
    return _ready(WanPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_umt5(), vae=vae, scheduler=_wan_scheduler(),
        transformer=_wan_transformer(48, 48), transformer_2=None, boundary_ratio=None, expand_timesteps=True,
    ))


# ---- LTX-Video ---------------------------------------------------------------------------------


def ltx_condition_pipeline() -> Any:
    """LTX-Video 0.9.5+ layout (LTXConditionPipeline): x4 spatial / x4 temporal tiny VAE."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=2, caption_channels=TEXT_DIM,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=True,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return _ready(LTXConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=tiny_t5(), tokenizer=tiny_tokenizer(),
        transformer=transformer,
    ))


# ---- Stable Video Diffusion --------------------------------------------------------------------


def svd_pipeline() -> Any:
    """SVD: spatio-temporal UNet (two levels: sides a multiple of 16), temporal VAE, CLIP image encoder."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], latent_channels=4,
    )
    image_encoder, feature_extractor = tiny_clip_vision(hidden_size=32, with_projection=True)
    return _ready(StableVideoDiffusionPipeline(
        vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler, feature_extractor=feature_extractor
    ))


# ---- CogVideoX ---------------------------------------------------------------------------------


def _cogvideox_vae() -> Any:
    from diffusers import AutoencoderKLCogVideoX

    torch.manual_seed(0)
    return AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )


def cogvideox_pipeline() -> Any:
    """CogVideoX text-to-video: sincos position embeddings built for 16x16, 9 frames."""
    from diffusers import CogVideoXPipeline, CogVideoXTransformer3DModel, DDIMScheduler

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=TEXT_DIM, num_layers=2, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16,
    )
    return _ready(CogVideoXPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(), vae=_cogvideox_vae(),
                                    transformer=transformer, scheduler=DDIMScheduler()))


def cogvideox_i2v_pipeline() -> Any:
    """CogVideoX image-to-video: learned position embeddings, so 16x16 is its only size."""
    from diffusers import CogVideoXImageToVideoPipeline, CogVideoXTransformer3DModel, DDIMScheduler

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, time_embed_dim=2,
        text_embed_dim=TEXT_DIM, num_layers=2, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )
    return _ready(CogVideoXImageToVideoPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(),
                                                vae=_cogvideox_vae(), transformer=transformer,
                                                scheduler=DDIMScheduler()))


def _ready(pipe: Any) -> Any:
    """Inference mode, as ``from_pretrained`` leaves a pipeline: modules built directly start in training
    mode, where T5's dropout makes every prompt encoding different."""
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    return pipe


def save_pipeline(pipe: Any, folder: Path, variant: str | None = None) -> Path:
    """Write ``pipe`` as a diffusers folder, the layout `kadr models pull` leaves on disk."""
    pipe.save_pretrained(folder, safe_serialization=True, variant=variant)
    return folder


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tensors this small run faster on one thread (several mostly wait on each other); restored after.

    A module that imports it runs on one torch thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
