"""The open-model backends (Wan, LTX-Video, SVD, CogVideoX) on the real diffusers pipeline classes.

Components are tiny and random, built offline in tests/tiny_components.py (no hub: tokenizers are
made in memory). Three layers are checked:
- the adapter: kadr's call -> the family's pipeline call -> uint8 frames, seeds, step callbacks, cancel;
- the loader: a diffusers folder as `kadr models pull` leaves it -> device, dtype, memory policy;
- end to end: folder -> loader -> kadr's engine -> a real video file, decoded back and measured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
import torch
from PIL import Image

import tiny_components as tiny
from tiny_components import one_torch_thread  # noqa: F401  (autouse: small tensors run faster on one thread)
from kadr.errors import GenerationCancelled, InvalidRequestError, ModelNotAvailableError
from kadr.pipelines import registry
from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, FrameRule
from kadr.pipelines.cogvideox import CogVideoXBackend
from kadr.pipelines.devices import GiB, MemoryPolicy, choose_device, choose_dtype, choose_memory_policy
from kadr.pipelines.diffusers_common import Call, DiffusersBackend, DiffusersSpec, pipelines_per_task
from kadr.pipelines.ltx import DISTILLED_TIMESTEPS, LTXBackend
from kadr.pipelines.svd import DECODE_CHUNK, DECODE_CHUNK_LOW_MEMORY, SVDBackend
from kadr.pipelines.wan import SHIFT_480P, SHIFT_720P, WanBackend, _set_flow_shift

PROMPT = "a cat walks over the sea at sunset camera pans slowly"


@dataclass(frozen=True)
class Family:
    """One model of a family with the tiny pipeline standing in for its weights."""

    model: str  # a real spec name from the registry
    backend: type[DiffusersBackend]
    build: Callable[[], Any]  # tiny pipeline of the class the model's folder holds
    size: int  # square side the tiny components work at
    frames: int  # frames per direct call, few to keep runs short (frame rules are the engine's to apply)
    variant: str | None = None

    @property
    def spec(self) -> DiffusersSpec:
        spec = registry.get_spec(self.model)
        assert isinstance(spec, DiffusersSpec)
        return spec

    def tiny_spec(self, **changes: Any) -> DiffusersSpec:
        """The real spec (frame rule, fps, prompts, call defaults) at the tiny size, in 2 steps.

        Without the tiers' distillation adapters: those belong to their own step counts
        (tests/test_acceleration.py runs a distilled tier with its adapter).
        """
        size = (self.size, self.size)
        return dataclasses.replace(self.spec, resolutions={"1:1": {"fast": size, "high": size}},
                                   steps={"fast": 2, "high": 2}, tier_loras={}, **changes)

    def pipelines(self) -> dict[str, Any]:
        """One pipeline per task over one set of modules, as the loader arranges them."""
        return pipelines_per_task(self.spec, self.build())


FAMILIES = {
    "wan2.1-t2v": Family("wan2.1-t2v-1.3b", WanBackend, tiny.wan21_t2v_pipeline, 16, 5),
    "wan2.1-i2v": Family("wan2.1-i2v-14b-480p", WanBackend, tiny.wan21_i2v_pipeline, 16, 5),
    "wan2.2-ti2v": Family("wan2.2-ti2v-5b", WanBackend, tiny.wan22_ti2v_pipeline, 32, 5),
    "ltx": Family("ltx-video-0.9.7", LTXBackend, tiny.ltx_condition_pipeline, 32, 9),
    "svd": Family("svd-xt", SVDBackend, tiny.svd_pipeline, 32, 4, variant="fp16"),
    "cogvideox-t2v": Family("cogvideox-2b", CogVideoXBackend, tiny.cogvideox_pipeline, 16, 9),
    "cogvideox-i2v": Family("cogvideox-5b-i2v", CogVideoXBackend, tiny.cogvideox_i2v_pipeline, 16, 9),
}
# Every (family, task) the models serve: Wan t2v + i2v, LTX t2v + i2v, SVD i2v, CogVideoX t2v + i2v.
FAMILY_TASKS = [(key, task) for key, family in FAMILIES.items() for task in family.spec.tasks]


def picture(size: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def run(backend: DiffusersBackend, family: Family, task: str, seed: int = 0,
        callback: Callable[[int, int], None] | None = None, steps: int = 2, **changes: Any) -> np.ndarray:
    arguments: dict[str, Any] = dict(
        prompt=PROMPT, negative_prompt=family.spec.negative_prompt,
        image=picture(family.size) if task == IMAGE_TO_VIDEO else None,
        height=family.size, width=family.size, num_frames=family.frames, fps=family.spec.native_fps,
        num_inference_steps=steps, guidance_scale=family.spec.guidance_scale,
        generator=torch.Generator().manual_seed(seed), camera=None, callback_on_step_end=callback,
    )
    arguments.update(changes)
    return backend(**arguments).frames


# ---- specs ---------------------------------------------------------------------------------------

DIFFUSERS_SPECS = [spec for spec in registry.all_specs() if isinstance(spec, DiffusersSpec)]


@pytest.mark.parametrize("spec", DIFFUSERS_SPECS, ids=[spec.name for spec in DIFFUSERS_SPECS])
def test_spec_is_consistent_with_its_own_constraints(spec: DiffusersSpec) -> None:
    import diffusers

    module, _, function = spec.loader.partition(":")
    assert callable(getattr(__import__(module, fromlist=[function]), function))
    assert spec.repo_id and spec.repo_id.count("/") == 1
    assert set(spec.pipelines) == set(spec.tasks)
    for name in spec.pipelines.values():
        assert issubclass(getattr(diffusers, name), diffusers.DiffusionPipeline)
    rule = spec.frame_rule
    assert rule.is_valid(rule.maximum) and rule.is_valid(rule.minimum)
    assert spec.longest_clip_s == pytest.approx(rule.maximum / spec.native_fps)
    for aspect, tiers in spec.resolutions.items():
        for tier, (width, height) in tiers.items():
            assert width % spec.size_multiple == 0 and height % spec.size_multiple == 0, (aspect, tier)
            assert (width > height) == (aspect == "16:9") or aspect == "1:1"
    assert set(spec.steps) == {"fast", "high"}
    assert spec.fps_range[0] <= spec.native_fps <= spec.fps_range[1]
    assert spec.memory is not None and spec.memory.largest_component <= spec.parameters


def test_tier_preferences_name_registered_models() -> None:
    names = {spec.name for spec in registry.all_specs()}
    for tier, preferred in registry.TIER_PREFERENCE.items():
        assert set(preferred) <= names, tier


def test_listing_models_imports_neither_diffusers_nor_transformers() -> None:
    import subprocess
    import sys

    code = ("import sys; from kadr.pipelines import registry; rows = registry.model_rows(); "
            "assert len(rows) >= 15, len(rows); "
            "print(sorted(m for m in ('diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- devices and memory ------------------------------------------------------------------------


def mode(spec: DiffusersSpec, free_bytes: int | None) -> tuple[str, bool]:
    policy = choose_memory_policy(spec, free_bytes)
    return policy.offload, policy.vae_tiling


def test_memory_policy_steps_down_as_free_memory_shrinks() -> None:
    spec = registry.get_spec("wan2.1-t2v-14b")  # 19.8B parameters: 37 GiB of bf16 weights
    assert mode(spec, 80 * GiB) == ("none", False)
    assert mode(spec, 50 * GiB) == ("none", True)  # resident, but decode in tiles
    assert mode(spec, 40 * GiB) == ("model_offload", True)  # 26 GiB transformer fits
    assert mode(spec, 24 * GiB) == ("group_offload", True)
    assert mode(spec, None) == ("none", False)  # CPU: nothing to offload to


@pytest.mark.parametrize("spec", DIFFUSERS_SPECS, ids=[spec.name for spec in DIFFUSERS_SPECS])
def test_less_free_memory_never_gets_a_lighter_policy(spec: DiffusersSpec) -> None:
    weight = {("none", False): 0, ("none", True): 1, ("model_offload", True): 2, ("group_offload", True): 3}
    ladder = [weight[mode(spec, gib * GiB)] for gib in range(160, -1, -2)]
    assert ladder == sorted(ladder) and ladder[0] == 0 and ladder[-1] == 3


def test_dtype_is_half_on_cuda_and_float32_elsewhere() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert choose_dtype(cpu, torch.bfloat16) == torch.float32
    assert choose_dtype(cuda, torch.bfloat16, bf16_supported=True) == torch.bfloat16
    assert choose_dtype(cuda, torch.bfloat16, bf16_supported=False) == torch.float16  # pre-Ampere GPUs
    assert choose_dtype(cuda, torch.float16) == torch.float16  # SVD, CogVideoX-2B


def test_device_choice_follows_what_torch_sees() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device(None).type == expected
    assert choose_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device: got 'cuda'"):
            choose_device("cuda")
    with pytest.raises(ValueError, match="offload: got 'swap'"):
        MemoryPolicy("swap")  # type: ignore[arg-type]


# ---- the adapter -------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "task"), FAMILY_TASKS, ids=[f"{k}-{t[:5]}" for k, t in FAMILY_TASKS])
def test_backend_makes_seeded_frames_and_reports_every_step(key: str, task: str) -> None:
    family = FAMILIES[key]
    backend = family.backend(family.spec, family.pipelines())
    steps: list[tuple[int, int]] = []
    first = run(backend, family, task, seed=1, callback=lambda i, total: steps.append((i, total)))
    again = run(backend, family, task, seed=1)
    other = run(backend, family, task, seed=2)

    assert first.dtype == np.uint8
    assert first.shape == (family.frames, family.size, family.size, 3)
    assert first.std() > 1.0  # a decoded random video, not a blank
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert steps == [(0, 2), (1, 2)]


def test_cancel_from_the_step_callback_propagates_and_the_backend_stays_usable() -> None:
    family = FAMILIES["wan2.1-t2v"]
    backend = family.backend(family.spec, family.pipelines())
    seen: list[int] = []

    def cancel_at_first_step(i: int, total: int) -> None:
        seen.append(i)
        raise GenerationCancelled("cancelled")

    with pytest.raises(GenerationCancelled):
        run(backend, family, TEXT_TO_VIDEO, callback=cancel_at_first_step, steps=4)
    assert seen == [0]  # stopped inside the first of four steps
    assert run(backend, family, TEXT_TO_VIDEO).shape[0] == family.frames


def test_a_task_the_model_lacks_is_a_request_error() -> None:
    t2v = FAMILIES["cogvideox-t2v"]
    with pytest.raises(InvalidRequestError, match="image: .*text-to-video only"):
        run(t2v.backend(t2v.spec, t2v.pipelines()), t2v, IMAGE_TO_VIDEO)
    i2v = FAMILIES["svd"]
    with pytest.raises(InvalidRequestError, match="image: .*an image"):
        run(i2v.backend(i2v.spec, i2v.pipelines()), i2v, TEXT_TO_VIDEO)


def test_cogvideox_i2v_refuses_sizes_its_learned_embeddings_lack() -> None:
    family = FAMILIES["cogvideox-i2v"]
    backend = family.backend(family.spec, family.pipelines())
    with pytest.raises(InvalidRequestError, match="resolution: got '32x16'; allowed: 16x16 only"):
        run(backend, family, IMAGE_TO_VIDEO, width=32)


def test_ltx_distilled_runs_its_own_timesteps_when_the_step_count_matches() -> None:
    family = dataclasses.replace(FAMILIES["ltx"], model="ltx-video-0.9.7-distilled")
    backend = family.backend(family.spec, family.pipelines())
    totals: list[int] = []
    run(backend, family, TEXT_TO_VIDEO, steps=len(DISTILLED_TIMESTEPS), callback=lambda i, total: totals.append(total))
    assert totals == [len(DISTILLED_TIMESTEPS)] * len(DISTILLED_TIMESTEPS)

    pipe = backend.pipelines[TEXT_TO_VIDEO]
    kwargs = backend.pipeline_arguments(pipe, _call(family, steps=8))  # what reaches the pipeline
    assert kwargs["timesteps"] == list(DISTILLED_TIMESTEPS) and kwargs["guidance_scale"] == 1.0
    assert kwargs["frame_rate"] == 24 and kwargs["decode_timestep"] == 0.05
    assert "timesteps" not in backend.pipeline_arguments(pipe, _call(family, steps=3))  # the scheduler spaces them


def test_svd_maps_guidance_fps_and_decode_chunk() -> None:
    family = FAMILIES["svd"]
    pipelines = family.pipelines()
    roomy = SVDBackend(family.spec, pipelines)
    kwargs = roomy.pipeline_arguments(pipelines[IMAGE_TO_VIDEO], _call(family, steps=2, image=picture(32), fps=12))
    assert "prompt" not in kwargs and "negative_prompt" not in kwargs  # SVD has no text encoder
    assert (kwargs["fps"], kwargs["min_guidance_scale"], kwargs["max_guidance_scale"]) == (12, 1.0, 3.0)
    assert kwargs["motion_bucket_id"] == 127 and kwargs["decode_chunk_size"] == DECODE_CHUNK
    tight = SVDBackend(family.spec, pipelines, policy=MemoryPolicy("model_offload", vae_tiling=True))
    assert tight.pipeline_arguments(pipelines[IMAGE_TO_VIDEO], _call(family, 2, picture(32)))["decode_chunk_size"] \
        == DECODE_CHUNK_LOW_MEMORY


def test_wan_scheduler_shift_follows_the_output_size() -> None:
    pipe = tiny.wan21_t2v_pipeline()
    _set_flow_shift(pipe, SHIFT_720P)
    assert pipe.scheduler.config.flow_shift == SHIFT_720P and type(pipe.scheduler).__name__ == "UniPCMultistepScheduler"
    backend = WanBackend(FAMILIES["wan2.1-t2v"].spec, {TEXT_TO_VIDEO: pipe})
    backend.pipeline_arguments(pipe, _call(FAMILIES["wan2.1-t2v"], steps=2))  # 16x16: a 480p-class size
    assert pipe.scheduler.config.flow_shift == SHIFT_480P


def _call(family: Family, steps: int, image: Image.Image | None = None, fps: int | None = None) -> Call:
    return Call(PROMPT, family.spec.negative_prompt, image, family.size, family.size, family.frames,
                fps or family.spec.native_fps, steps, family.spec.guidance_scale)


# ---- the loader --------------------------------------------------------------------------------


@pytest.fixture
def kadr_home(tmp_path, monkeypatch) -> Any:
    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def pulled(family: Family, **changes: Any) -> DiffusersSpec:
    """Save the family's tiny pipeline where `kadr models pull` puts weights; return its tiny spec."""
    tiny.save_pipeline(family.build(), registry.models_dir() / family.model, variant=family.variant)
    return family.tiny_spec(**changes)


def test_loader_builds_cpu_fp32_backends_from_a_pulled_folder(kadr_home) -> None:
    family = FAMILIES["wan2.2-ti2v"]
    spec = pulled(family)
    backend = registry.load_backend(spec, device="cpu")
    assert isinstance(backend, WanBackend) and backend.device == torch.device("cpu")
    assert backend.policy.offload == "none"
    t2v, i2v = backend.pipelines[TEXT_TO_VIDEO], backend.pipelines[IMAGE_TO_VIDEO]
    assert (type(t2v).__name__, type(i2v).__name__) == ("WanPipeline", "WanImageToVideoPipeline")
    assert i2v.transformer is t2v.transformer  # one copy of the weights serves both tasks
    assert i2v.config.expand_timesteps is True  # Wan 2.2's per-token timesteps carried over
    assert t2v.transformer.dtype == torch.float32


def test_group_offload_policy_gives_the_same_frames(kadr_home) -> None:
    """On the CPU the offload target is the CPU itself; the hooks still run around every block.

    Run through the image-to-video pipeline, which shares the hooked modules of the loaded one.
    """
    family = FAMILIES["wan2.2-ti2v"]
    spec = pulled(family)
    plain = registry.load_backend(spec, device="cpu")
    streamed = registry.load_backend(spec, device="cpu", memory=MemoryPolicy("group_offload", vae_tiling=True))
    assert streamed.pipelines[IMAGE_TO_VIDEO].vae.use_tiling
    assert np.array_equal(run(plain, family, IMAGE_TO_VIDEO), run(streamed, family, IMAGE_TO_VIDEO))


def test_loader_errors_say_what_to_do(kadr_home) -> None:
    family = FAMILIES["cogvideox-t2v"]
    with pytest.raises(ModelNotAvailableError, match="kadr models pull cogvideox-2b"):
        registry.load_backend(family.spec, device="cpu")
    # A folder holding another model's pipeline is refused rather than run.
    tiny.save_pipeline(tiny.cogvideox_pipeline(), registry.models_dir() / "wan2.1-t2v-1.3b")
    with pytest.raises(ModelNotAvailableError, match="holds a CogVideoXPipeline, expected WanPipeline"):
        registry.load_backend(registry.get_spec("wan2.1-t2v-1.3b"), device="cpu")
    with pytest.raises(ValueError, match="offload: got 'fastest'"):
        registry.load_backend(registry.get_spec("wan2.1-t2v-1.3b"), device="cpu", memory="fastest")


# ---- end to end: folder -> loader -> engine -> file --------------------------------------------


# (family, task, duration s, spec changes, passes the engine makes)
E2E: list[tuple[str, str, float, dict[str, Any], int]] = [
    ("wan2.1-t2v", TEXT_TO_VIDEO, 1.0, {}, 1),  # 16 frames at 16 fps: one pass of 17, trimmed
    # Passes capped at 9 frames so 16 frames take two, the second continuing from the first's last frame.
    ("wan2.1-i2v", IMAGE_TO_VIDEO, 1.0, {"frame_rule": FrameRule(4, 1, 5, 9)}, 2),
    ("wan2.2-ti2v", TEXT_TO_VIDEO, 1.0, {}, 1),
    ("wan2.2-ti2v", IMAGE_TO_VIDEO, 1.0, {}, 1),
    ("ltx", TEXT_TO_VIDEO, 1.0, {}, 1),
    ("ltx", IMAGE_TO_VIDEO, 1.0, {}, 1),
    ("svd", IMAGE_TO_VIDEO, 1.0, {}, 1),  # 7 frames at 7 fps, from a pass of 14 (img2vid-xt's minimum)
    ("cogvideox-t2v", TEXT_TO_VIDEO, 1.0, {}, 1),
    ("cogvideox-i2v", IMAGE_TO_VIDEO, 1.0, {}, 1),
]


@pytest.mark.filterwarnings("ignore:.*extra frames are trimmed")  # the engine's note on the frame rule
@pytest.mark.parametrize(("key", "task", "duration", "changes", "passes"), E2E,
                         ids=[f"{k}-{t[:5]}" for k, t, *_ in E2E])
def test_engine_writes_a_video_of_the_planned_length_size_and_rate(kadr_home, tmp_path, key: str, task: str,
                                                                    duration: float, changes: dict[str, Any],
                                                                    passes: int) -> None:
    from kadr.engine import Engine
    from kadr.request import VideoRequest
    from kadr.video.probe import probe

    family = FAMILIES[key]
    backend = registry.load_backend(pulled(family, **changes), device="cpu")
    request = VideoRequest(prompt=PROMPT, image=picture(64, seed=3) if task == IMAGE_TO_VIDEO else None,
                           duration=duration, aspect="1:1", seed=11)
    steps: list[Any] = []
    result = Engine(output_dir=tmp_path / "out").generate(
        request, tmp_path / f"{key}.mp4", backend=backend,
        on_progress=lambda p: steps.append(p) if p.stage == "generate" else None,
    )

    fps = family.spec.native_fps
    info = probe(result.path)
    assert (info.width, info.height) == (family.size, family.size)
    assert info.frames == round(duration * fps) == result.metadata["frames"]
    assert info.fps == pytest.approx(fps)
    assert info.duration == pytest.approx(duration, abs=1e-6)
    assert result.metadata["model"] == family.model and result.metadata["task"] == task
    assert result.metadata["chunks"] == passes
    assert steps[-1].step == steps[-1].total == 2 * passes  # every denoising step of every pass reported
    assert result.poster_path.is_file()


@pytest.mark.filterwarnings("ignore:.*extra frames are trimmed")
def test_engine_cancel_mid_denoising_leaves_no_file(kadr_home, tmp_path) -> None:
    from kadr.engine import Engine
    from kadr.request import VideoRequest

    family = FAMILIES["wan2.2-ti2v"]
    backend = registry.load_backend(pulled(family), device="cpu")
    reports: list[Any] = []
    out = tmp_path / "cancelled.mp4"
    with pytest.raises(GenerationCancelled):
        Engine(output_dir=tmp_path / "out").generate(
            VideoRequest(prompt=PROMPT, duration=1.0, aspect="1:1", seed=1), out, backend=backend,
            on_progress=reports.append, cancel=lambda: any(r.stage == "generate" and r.step >= 1 for r in reports),
        )
    assert [r.step for r in reports if r.stage == "generate"] == [0, 1]  # stopped after the first of two steps
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert [p.name for p in tmp_path.iterdir() if "cancelled" in p.name] == []  # no temporary file either


# ---- going on from existing material (issue 18): first-last frame, remix, reference, shots --------


def source_video(frames: int, size: int, seed: int = 0) -> np.ndarray:
    """A smooth moving test clip: uint8 (F, H, W, 3)."""
    rng = np.random.default_rng(seed)
    base = np.asarray(Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((2 * size, size),
                                                                                             Image.BICUBIC))
    return np.stack([np.roll(base, shift, axis=1)[:, :size] for shift in range(frames)])


def wan_flf2v_pipeline() -> Any:
    """Wan2.1-FLF2V's layout: Wan 2.1 I2V whose image embedder reads two pictures' CLIP tokens (pos_embed)."""
    from diffusers import WanImageToVideoPipeline

    encoder, processor = tiny.tiny_clip_vision(hidden_size=4, with_projection=False)
    tokens = (224 // 32) ** 2 + 1  # CLIP patches + class token of one picture
    return tiny._ready(WanImageToVideoPipeline(
        tokenizer=tiny.tiny_tokenizer(), text_encoder=tiny.tiny_umt5(), vae=tiny.wan21_vae(),
        scheduler=tiny._wan_scheduler(), image_encoder=encoder, image_processor=processor,
        transformer=tiny._wan_transformer(36, 16, image_dim=4, pos_embed_seq_len=2 * tokens),
    ))


def wan22_i2v_a14b_pipeline() -> Any:
    """Wan2.2-I2V-A14B's layout: two experts split at boundary_ratio, no CLIP image encoder."""
    from diffusers import WanImageToVideoPipeline

    return tiny._ready(WanImageToVideoPipeline(
        tokenizer=tiny.tiny_tokenizer(), text_encoder=tiny.tiny_umt5(), vae=tiny.wan21_vae(),
        scheduler=tiny._wan_scheduler(), transformer=tiny._wan_transformer(36, 16),
        transformer_2=tiny._wan_transformer(36, 16), boundary_ratio=0.9,
    ))


FEATURE_FAMILIES = {
    **FAMILIES,
    "wan-flf2v": Family("wan2.1-flf2v-14b-720p", WanBackend, wan_flf2v_pipeline, 16, 5),
    "wan2.2-i2v-a14b": Family("wan2.2-i2v-a14b", WanBackend, wan22_i2v_a14b_pipeline, 16, 5),
}


@pytest.mark.parametrize("spec", DIFFUSERS_SPECS, ids=[spec.name for spec in DIFFUSERS_SPECS])
def test_features_name_pipelines_this_diffusers_has(spec: DiffusersSpec) -> None:
    import diffusers

    from kadr.edit.reference import reference_mode
    from kadr.pipelines.base import FEATURES

    assert set(spec.features) <= set(FEATURES)
    for feature, name in spec.feature_pipelines.items():
        assert feature in spec.features and issubclass(getattr(diffusers, name), diffusers.DiffusionPipeline)
    assert ("remix" in spec.features) == ("remix" in spec.feature_pipelines)
    assert ("extend" in spec.features) == (IMAGE_TO_VIDEO in spec.tasks and spec.name != "wan2.1-flf2v-14b-720p")
    assert ("shots" in spec.features) <= (TEXT_TO_VIDEO in spec.tasks)  # shots are made from their prompts
    assert (reference_mode(spec) == "first-frame") == ("reference" in spec.features)
    if "reference" in spec.features:  # first-frame: a clip without an image starts on the reference
        assert set(spec.tasks) == {TEXT_TO_VIDEO, IMAGE_TO_VIDEO}


REMIX = [("wan2.1-t2v", "WanVideoToVideoPipeline"), ("ltx", "LTXConditionPipeline"),
         ("cogvideox-t2v", "CogVideoXVideoToVideoPipeline")]


@pytest.mark.parametrize(("key", "pipeline"), REMIX, ids=[key for key, _ in REMIX])
def test_remix_runs_the_video_to_video_pipeline_over_the_same_modules(key: str, pipeline: str, monkeypatch) -> None:
    family = FAMILIES[key]
    backend = family.backend(family.spec, family.pipelines())
    remix = backend.pipelines["remix"]
    assert type(remix).__name__ == pipeline
    assert remix.transformer is backend.pipelines[TEXT_TO_VIDEO].transformer  # no second copy of the weights
    # What the VAE encodes: the tiny random VAE maps any clip to nearly the same latents, so the
    # source's use is checked where it enters the pipeline rather than in the (near-identical) output.
    encoded: list[torch.Tensor] = []
    encode = remix.vae.encode
    monkeypatch.setattr(remix.vae, "encode", lambda x, *a, **k: (encoded.append(x.detach().clone()), encode(x, *a, **k))[1])
    source = source_video(family.frames, family.size)
    totals: list[int] = []
    out = run(backend, family, TEXT_TO_VIDEO, steps=4, callback=lambda i, total: totals.append(total),
              video=source, strength=0.5)
    assert out.shape == (family.frames, family.size, family.size, 3) and backend._active == "remix"
    assert totals == [2, 2]  # strength 0.5 of 4 steps: the source re-noised half way, two steps back
    assert len(encoded) == 1
    expected = torch.from_numpy(source).float().permute(3, 0, 1, 2)[None] / 127.5 - 1.0  # (1, C, F, H, W) in [-1, 1]
    assert torch.allclose(encoded[0].float(), expected, atol=1e-5)  # the source, frame for frame
    assert np.array_equal(out, run(backend, family, TEXT_TO_VIDEO, steps=4, video=source, strength=0.5))  # seeded
    totals.clear()
    run(backend, family, TEXT_TO_VIDEO, steps=4, callback=lambda i, total: totals.append(total), video=source,
        strength=0.05)
    assert totals == [1]  # a strength under one step's worth still runs one step with the new prompt
    with pytest.raises(ValueError, match=f"video: 3 source frames for a pass of {family.frames}"):
        run(backend, family, TEXT_TO_VIDEO, video=source[:3], strength=0.5)


FIRST_LAST = [("wan-flf2v", "last_image"), ("wan2.2-i2v-a14b", "last_image"), ("ltx", "conditions")]


@pytest.mark.parametrize(("key", "argument"), FIRST_LAST, ids=[key for key, _ in FIRST_LAST])
def test_first_and_last_frame_reach_the_pipeline(key: str, argument: str, monkeypatch) -> None:
    family = FEATURE_FAMILIES[key]
    backend = family.backend(family.spec, pipelines_per_task(family.spec, family.build()))
    pipe = backend.pipelines[IMAGE_TO_VIDEO]
    encoded: list[torch.Tensor] = []  # what the VAE encodes: the conditioning pictures (see the remix test)
    encode = pipe.vae.encode
    monkeypatch.setattr(pipe.vae, "encode", lambda x, *a, **k: (encoded.append(x.detach().clone()), encode(x, *a, **k))[1])
    first, last = picture(family.size, seed=1), picture(family.size, seed=2)
    out = run(backend, family, IMAGE_TO_VIDEO, image=first, last_image=last)
    assert out.shape == (family.frames, family.size, family.size, 3)

    def as_input(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.array(image)).float().permute(2, 0, 1) / 127.5 - 1.0  # (C, H, W) in [-1, 1]

    # The first picture conditions the first frame, the last picture the last frame.
    starts = [x[0, :, 0] for x in encoded]
    ends = [x[0, :, -1] for x in encoded]
    assert any(torch.allclose(frame, as_input(first), atol=1e-5) for frame in starts)
    assert any(torch.allclose(frame, as_input(last), atol=1e-5) for frame in ends)
    kwargs = backend.pipeline_arguments(pipe, Call(PROMPT, "", first, family.size, family.size, family.frames,
                                                   family.spec.native_fps, 2, 3.0, last_image=last))
    assert argument in kwargs
    if key == "ltx":  # keyframe conditions: the first picture at frame 0, the last at the pass's last frame
        assert [(c.image, c.frame_index) for c in kwargs["conditions"]] == [(first, 0), (last, family.frames - 1)]
    if key == "wan-flf2v":  # trained with two pictures only
        with pytest.raises(InvalidRequestError, match="last_image: got None; allowed: a last frame"):
            run(backend, family, IMAGE_TO_VIDEO, image=first)


def test_a_feature_a_model_lacks_is_refused_naming_the_field_and_the_models_that_can() -> None:
    wan = FAMILIES["wan2.1-i2v"]
    backend = wan.backend(wan.spec, wan.pipelines())
    with pytest.raises(InvalidRequestError, match="last_image: .*wan2.1-flf2v-14b-720p, wan2.2-i2v-a14b, ltx"):
        run(backend, wan, IMAGE_TO_VIDEO, last_image=picture(16))
    svd = FAMILIES["svd"]
    with pytest.raises(InvalidRequestError, match="video: got 'given to svd-xt'"):
        run(svd.backend(svd.spec, svd.pipelines()), svd, IMAGE_TO_VIDEO, video=source_video(4, 32), strength=0.5)
    with pytest.raises(InvalidRequestError, match="reference_image: .*wan2.2-ti2v-5b"):
        run(backend, wan, IMAGE_TO_VIDEO, reference_image=picture(16))


def test_a_reference_starts_a_clip_without_an_image_on_the_reference() -> None:
    family = FAMILIES["wan2.2-ti2v"]
    backend = family.backend(family.spec, family.pipelines())
    character = picture(family.size, seed=7)
    out = run(backend, family, TEXT_TO_VIDEO, seed=4, reference_image=character)  # a call without an image
    assert backend._active == IMAGE_TO_VIDEO  # it ran on the image-to-video pipeline, on the reference
    as_first_frame = run(backend, family, IMAGE_TO_VIDEO, seed=4, image=character)
    assert np.array_equal(out, as_first_frame)  # exactly the reference as first frame, nothing dropped


def test_engine_refuses_a_reference_the_model_would_drop() -> None:
    from kadr.engine import Engine
    from kadr.request import VideoRequest

    engine = Engine()
    character = picture(64, seed=7)
    with pytest.raises(InvalidRequestError, match=r"model: got \"kadr-tiny \(cannot take a character.*wan2.2-ti2v-5b, ltx-video"):
        engine.plan(VideoRequest(prompt=PROMPT, reference_image=character), registry.get_spec("kadr-tiny"))
    with pytest.raises(InvalidRequestError, match="reference_image: .*one of them: it takes the reference as the first"):
        engine.plan(VideoRequest(prompt=PROMPT, image=picture(64), reference_image=character),
                    registry.get_spec("ltx-video-0.9.5"))
    plan = engine.plan(VideoRequest(prompt=PROMPT, reference_image=character), registry.get_spec("ltx-video-0.9.5"))
    assert plan.task == TEXT_TO_VIDEO


@pytest.mark.filterwarnings("ignore:.*extra frames are trimmed")
def test_shots_on_an_open_model_end_to_end(kadr_home, tmp_path) -> None:
    from kadr.engine import Engine
    from kadr.request import Shot, VideoRequest
    from kadr.video.probe import probe

    family = FAMILIES["wan2.1-t2v"]
    backend = registry.load_backend(pulled(family), device="cpu")
    request = VideoRequest(shots=(Shot("a cat walks on the beach", 1.0), Shot("a dog runs in the snow", 0.5 + 0.5)),
                           transition="crossfade", aspect="1:1", seed=3)
    result = Engine(output_dir=tmp_path / "out").generate(request, tmp_path / "shots.mp4", backend=backend)
    info = probe(result.path)
    assert info.frames == 32 and info.fps == 16  # 1 + 1 s at Wan's 16 fps, the cross-fade inside
    assert [s["frames"] for s in result.metadata["shots"]] == [16, 16]
