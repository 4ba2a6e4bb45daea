"""Step caches, distilled tiers, LoRA adapters and attention backends on tiny random diffusers components.

The caches are diffusers' own hooks, put on for one generation by kadr.pipelines.acceleration and
taken off after it. Each case counts what the denoiser really computed (forward passes, and passes
that ran its last block) and compares the frames with the uncached frames of the same seed.
Random weights make a weak judge of a cache's quality (bench/bench_acceleration.py measures that on
kadr-tiny's trained DiT); here the PSNR bounds only catch a cache that breaks the output.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import tiny_components as tiny
from tiny_components import one_torch_thread  # noqa: F401  (autouse: small tensors run faster on one thread)
from kadr.errors import InvalidRequestError
from kadr.pipelines import registry
from kadr.pipelines.acceleration import (
    CACHE_CHOICES,
    CachePolicy,
    LoraRef,
    accelerated,
    check_attention_choice,
    installed_attention_backends,
    resolve_cache,
)
from kadr.pipelines.base import TEXT_TO_VIDEO
from kadr.pipelines.cogvideox import CogVideoXBackend
from kadr.pipelines.diffusers_common import DiffusersBackend, DiffusersSpec, pipelines_per_task
from kadr.pipelines.ltx import LTXBackend
from kadr.pipelines.wan import DISTILLED_STEPS, LIGHTX2V_T2V, WanBackend
from kadr.video.checks import psnr

PROMPT = "a cat walks over the sea at sunset"
STEPS = 10


def backend_for(model: str, backend_class: type[DiffusersBackend], build: Any) -> DiffusersBackend:
    spec = registry.get_spec(model)
    assert isinstance(spec, DiffusersSpec)
    return backend_class(spec, pipelines_per_task(spec, build()))


def generate(backend: DiffusersBackend, size: int, frames: int, cache: CachePolicy | None = None,
             loras: tuple[LoraRef, ...] = (), steps: int = STEPS, guidance: float | None = None,
             seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    with accelerated(backend, cache=cache, loras=loras, num_inference_steps=steps) as report:
        out = backend(
            prompt=PROMPT, negative_prompt="", image=None, height=size, width=size, num_frames=frames,
            fps=backend.spec.native_fps, num_inference_steps=steps,
            guidance_scale=backend.spec.guidance_scale if guidance is None else guidance,
            generator=torch.Generator().manual_seed(seed), camera=None, callback_on_step_end=None,
        )
    return out.frames, report


# ---- step caches -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wan() -> DiffusersBackend:
    return backend_for("wan2.1-t2v-1.3b", WanBackend, tiny.wan21_t2v_pipeline)


def test_uncached_run_computes_every_pass(wan: DiffusersBackend) -> None:
    _, report = generate(wan, 16, 5)
    # Wan runs the guidance branches as two calls per step: 2 x 10 passes, each through every block.
    assert report["cache"] == {"policy": "off", "forward_passes": 2 * STEPS, "full_passes": 2 * STEPS}


# (policy, full passes of the 20 it makes, PSNR floor in dB against the uncached frames)
WAN_CASES = [
    # First Block Cache: the first block always runs; the rest only when its residual moved enough.
    # Measured: 8 full passes at 0.1, 2 at 0.3 (84 and 70 dB).
    (CachePolicy("first-block", threshold=0.1), (4, 12), 60.0),
    (CachePolicy("first-block", threshold=0.3), (1, 6), 50.0),
    # TaylorSeer: full on steps 0-1, then on every 2nd step from step 3 (3, 5, 7, 9): 6 per branch.
    (CachePolicy("taylorseer", interval=2, warmup_steps=2, order=1), (12, 12), 55.0),
]


@pytest.mark.parametrize(("policy", "full", "floor"), WAN_CASES, ids=[c[0].label for c in WAN_CASES])
def test_each_cache_skips_block_computations_and_stays_close(wan: DiffusersBackend, policy: CachePolicy,
                                                             full: tuple[int, int], floor: float) -> None:
    base, _ = generate(wan, 16, 5)
    cached, report = generate(wan, 16, 5, cache=policy)
    assert report["cache"]["policy"] == policy.kind
    assert report["cache"]["forward_passes"] == 2 * STEPS  # the denoiser is still called every step
    assert full[0] <= report["cache"]["full_passes"] <= full[1]
    assert not np.array_equal(base, cached)  # the cache really changed what was computed
    assert psnr(base, cached) >= floor
    # The hooks are gone after the generation: the same call gives the uncached frames again.
    again, report = generate(wan, 16, 5)
    assert np.array_equal(again, base) and report["cache"]["full_passes"] == 2 * STEPS


@pytest.mark.parametrize(("model", "backend_class", "build", "size", "frames"), [
    ("ltx-video-0.9.7", LTXBackend, tiny.ltx_condition_pipeline, 32, 9),
    ("cogvideox-2b", CogVideoXBackend, tiny.cogvideox_pipeline, 16, 9),
], ids=["ltx", "cogvideox"])
def test_first_block_cache_works_on_every_transformer_family(model: str, backend_class: type[DiffusersBackend],
                                                             build: Any, size: int, frames: int) -> None:
    backend = backend_for(model, backend_class, build)
    base, plain = generate(backend, size, frames)
    cached, report = generate(backend, size, frames, cache=CachePolicy("first-block", threshold=0.1))
    # Both run guidance as one batched call per step.
    assert plain["cache"]["full_passes"] == plain["cache"]["forward_passes"] == STEPS
    assert report["cache"]["forward_passes"] == STEPS and report["cache"]["full_passes"] < STEPS
    assert psnr(base, cached) >= 40.0  # measured 62 dB (LTX) and 46 dB (CogVideoX)


def test_cache_choice_follows_the_tier_and_the_request() -> None:
    spec = registry.get_spec("wan2.1-t2v-1.3b")
    assert resolve_cache(spec, "fast", "auto") == spec.cache["fast"] and spec.cache["fast"].kind == "first-block"
    assert resolve_cache(spec, "high", "auto") is None  # the high tier keeps the full recipe
    assert resolve_cache(spec, "fast", "off") is None
    assert resolve_cache(spec, "high", "taylorseer").kind == "taylorseer"
    assert resolve_cache(spec, "high", "first-block") == spec.cache["fast"]  # the model's own setting
    with pytest.raises(InvalidRequestError, match="cache: got 'mag'; allowed: one of auto, off, first-block"):
        resolve_cache(spec, "fast", "mag")  # needs calibrated ratios this model has none of
    with pytest.raises(InvalidRequestError, match="cache: got 'first-block'; allowed: one of auto, off for svd-xt"):
        resolve_cache(registry.get_spec("svd-xt"), "fast", "first-block")  # a UNet
    with pytest.raises(InvalidRequestError, match="cache: got 'turbo'"):
        resolve_cache(spec, "fast", "turbo")
    assert CACHE_CHOICES[:2] == ("auto", "off")


def test_request_takes_a_cache_field_and_refuses_unknown_ones() -> None:
    from kadr.request import VideoRequest

    assert VideoRequest(prompt=PROMPT).cache == "auto"
    assert VideoRequest(prompt=PROMPT, cache=" Off ").cache == "off"
    with pytest.raises(InvalidRequestError, match="cache: got 'fastest'"):
        VideoRequest(prompt=PROMPT, cache="fastest")


# ---- LoRA adapters -----------------------------------------------------------------------------


def make_wan_lora(folder: Path, name: str = "pytorch_lora_weights.safetensors", seed: int = 1) -> Path:
    """A LoRA for the tiny Wan transformer, made with peft (non-zero B so it changes the output)."""
    from diffusers import WanPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = tiny.wan21_t2v_pipeline().transformer
    torch.manual_seed(seed)
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                       target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    WanPipeline.save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(transformer),
                                  weight_name=name)
    return folder / name


def test_a_lora_loads_changes_the_output_scales_and_unloads_to_the_base(wan: DiffusersBackend, tmp_path) -> None:
    path = make_wan_lora(tmp_path)
    base, _ = generate(wan, 16, 5, steps=2)
    full, report = generate(wan, 16, 5, steps=2, loras=(LoraRef(str(path), 1.0),))
    half, _ = generate(wan, 16, 5, steps=2, loras=(LoraRef(str(path), 0.5),))
    zero, _ = generate(wan, 16, 5, steps=2, loras=(LoraRef(str(path), 0.0),))
    after, _ = generate(wan, 16, 5, steps=2)

    assert report["loras"] == [{"path": str(path), "scale": 1.0}]
    assert not np.array_equal(full, base)
    # The scale moves the output towards the base: half-way is closer than full, zero is the base.
    assert psnr(half, base) > psnr(full, base)
    assert np.array_equal(zero, base)
    assert np.array_equal(after, base)  # unloaded between jobs; the base weights never reloaded
    assert wan.pipelines[TEXT_TO_VIDEO].get_list_adapters() == {}


def test_several_loras_stack(wan: DiffusersBackend, tmp_path) -> None:
    one = make_wan_lora(tmp_path, "one.safetensors", seed=1)
    two = make_wan_lora(tmp_path, "two.safetensors", seed=2)
    only_one, _ = generate(wan, 16, 5, steps=2, loras=(LoraRef(str(one)),))
    both, report = generate(wan, 16, 5, steps=2, loras=(LoraRef(str(one)), LoraRef(str(two), 0.7)))
    assert [entry["scale"] for entry in report["loras"]] == [1.0, 0.7]
    assert not np.array_equal(only_one, both)


def test_a_lora_that_does_not_fit_is_a_clear_error(wan: DiffusersBackend, tmp_path) -> None:
    from diffusers import CogVideoXPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    transformer = tiny.cogvideox_pipeline().transformer  # another family's layers
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k"]))
    CogVideoXPipeline.save_lora_weights(tmp_path / "cog", transformer_lora_layers=get_peft_model_state_dict(transformer))
    save_file({"not.a.lora": torch.zeros(3)}, str(tmp_path / "junk.safetensors"))
    base, _ = generate(wan, 16, 5, steps=2)

    for bad in (tmp_path / "cog" / "pytorch_lora_weights.safetensors", tmp_path / "junk.safetensors"):
        with pytest.raises(InvalidRequestError, match=r"lora: got '/.*; allowed: a LoRA made for wan2.1-t2v-1.3b"):
            generate(wan, 16, 5, steps=2, loras=(LoraRef(str(bad)),))
    with pytest.raises(InvalidRequestError, match="lora: got '/nowhere/x.safetensors'; allowed: an existing LoRA"):
        generate(wan, 16, 5, steps=2, loras=(LoraRef("/nowhere/x.safetensors"),))
    assert np.array_equal(generate(wan, 16, 5, steps=2)[0], base)  # nothing left behind


def test_lora_reference_parsing() -> None:
    assert LoraRef.parse("style.safetensors:0.8") == LoraRef("style.safetensors", 0.8)
    assert LoraRef.parse("owner/repo") == LoraRef("owner/repo", 1.0)
    assert LoraRef.parse("C:/loras/a.safetensors") == LoraRef("C:/loras/a.safetensors", 1.0)
    with pytest.raises(InvalidRequestError, match="a scale from -4 to 4"):
        LoraRef.parse("a.safetensors:9")


# ---- tiers that mean speed ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*extra frames are trimmed")
def test_distilled_tier_runs_its_steps_without_guidance_and_its_lora(tmp_path, monkeypatch) -> None:
    """Wan 2.1 14B's fast tier: lightx2v's 4-step LoRA, guidance 1 (no CFG); the high tier the full recipe."""
    from kadr.engine import Engine
    from kadr.request import VideoRequest

    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    real = registry.get_spec("wan2.1-t2v-14b")
    assert isinstance(real, DiffusersSpec)
    assert (real.steps["fast"], real.guidance_for("fast"), real.cache["fast"]) == (DISTILLED_STEPS, 1.0, None)
    assert real.steps["high"] == 50 and real.guidance_for("high") == 5.0
    spec = dataclasses.replace(real, resolutions={"1:1": {"fast": (16, 16), "high": (16, 16)}},
                               steps={"fast": DISTILLED_STEPS, "high": 3})
    tiny.save_pipeline(tiny.wan21_t2v_pipeline(), registry.models_dir() / spec.name)
    lora = LIGHTX2V_T2V.local_path(spec.name)
    make_wan_lora(lora.parent, lora.name)  # stands in for the pulled lightx2v file
    backend = registry.load_backend(spec, device="cpu")
    pipe = backend.pipelines[TEXT_TO_VIDEO]
    calls: list[tuple[int, float]] = []
    original = type(pipe).__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs["num_inference_steps"], kwargs["guidance_scale"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", spy)
    steps: list[int] = []
    engine = Engine(output_dir=tmp_path / "out")
    request = VideoRequest(prompt=PROMPT, duration=1.0, aspect="1:1", seed=3)
    fast = engine.generate(request, tmp_path / "fast.mp4", backend=backend,
                           on_progress=lambda p: steps.append(p.total) if p.stage == "generate" else None)
    assert calls == [(DISTILLED_STEPS, 1.0)] and set(steps) == {DISTILLED_STEPS}
    assert fast.metadata["steps"] == DISTILLED_STEPS
    assert fast.metadata["acceleration"]["loras"] == [{"path": str(lora), "scale": 1.0}]
    assert fast.metadata["acceleration"]["cache"]["policy"] == "off"
    assert pipe.get_list_adapters() == {}  # the tier's adapter is not left on for the next job

    high = engine.generate(request.with_(tier="high"), tmp_path / "high.mp4", backend=backend)
    assert calls[-1] == (3, 5.0) and "loras" not in high.metadata["acceleration"]


@pytest.mark.filterwarnings("ignore:.*extra frames are trimmed")
def test_engine_reports_the_cache_and_attention_in_the_metadata(tmp_path, monkeypatch) -> None:
    from kadr.engine import Engine
    from kadr.request import VideoRequest

    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    spec = dataclasses.replace(registry.get_spec("wan2.1-t2v-1.3b"), resolutions={"1:1": {"fast": (16, 16)}},
                               steps={"fast": 6, "high": 6})
    tiny.save_pipeline(tiny.wan21_t2v_pipeline(), registry.models_dir() / spec.name)
    backend = registry.load_backend(spec, device="cpu", attention="native")
    engine = Engine(output_dir=tmp_path / "out")
    request = VideoRequest(prompt=PROMPT, duration=1.0, aspect="1:1", seed=3)
    cached = engine.generate(request, tmp_path / "a.mp4", backend=backend).metadata["acceleration"]
    plain = engine.generate(request.with_(cache="off"), tmp_path / "b.mp4", backend=backend).metadata["acceleration"]
    assert cached["attention"] == plain["attention"] == "native" and cached["compile"] is None
    assert cached["cache"]["policy"] == "first-block" and cached["cache"]["threshold"] == spec.cache["fast"].threshold
    assert cached["cache"]["full_passes"] < plain["cache"]["full_passes"] == 12
    assert plain["cache"]["policy"] == "off"


def test_attention_choices_are_those_installed() -> None:
    installed = installed_attention_backends()
    assert "native" in installed
    assert check_attention_choice(None) == "auto" and check_attention_choice("NATIVE") == "native"
    if not torch.cuda.is_available():
        assert "flash" not in installed and "sage" not in installed  # CUDA kernels only
    with pytest.raises(InvalidRequestError, match="attention: got 'flash_hub'; allowed: one of auto, native"):
        check_attention_choice("flash_hub")  # downloads kernels at run time: never offered


# ---- the command line and the built-in model ---------------------------------------------------


def run_kadr(*args: str, home: Path) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "KADR_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "kadr", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_cli_caches_kadr_tiny_on_request_and_reports_it(tmp_path) -> None:
    """The same diffusers hooks on kadr-tiny's own DiT, asked for with --cache; a LoRA it cannot take is refused."""
    import json

    out = run_kadr("generate", "a cat walks on the beach at sunset", "--duration", "1", "--seed", "3",
                   "--cache", "taylorseer", "--json", "--quiet", "-o", str(tmp_path / "a.mp4"), home=tmp_path)
    assert out.returncode == 0, out.stderr
    acceleration = json.loads(out.stdout)["acceleration"]
    assert acceleration["cache"]["policy"] == "taylorseer" and acceleration["attention"] == "sdpa"
    # 6 steps per denoising loop (the first keyframe, then the clip): full on steps 0, 1, 3 and 5.
    assert acceleration["cache"]["forward_passes"] == 12 and acceleration["cache"]["full_passes"] == 8
    assert (tmp_path / "a.mp4").is_file()

    refused = run_kadr("generate", "a cat", "--duration", "1", "--lora", str(tmp_path / "a.mp4"), "--quiet",
                       "-o", str(tmp_path / "b.mp4"), home=tmp_path)
    assert refused.returncode == 2
    assert "kadr: error: lora: got" in refused.stderr and "no LoRA for kadr-tiny; models that take one: wan" in refused.stderr
    assert not (tmp_path / "b.mp4").exists()


def test_models_table_shows_each_tier_and_whether_it_fits(tmp_path) -> None:
    out = run_kadr("models", home=tmp_path)
    assert out.returncode == 0, out.stderr
    header, *lines = out.stdout.splitlines()
    assert "FAST TIER" in header and "HIGH TIER" in header and "FITS HERE" in header
    row = next(line for line in lines if line.startswith("wan2.1-t2v-14b "))
    assert "4 steps, lightx2v LoRA, cfg off" in row and "50 steps, cfg 5, no cache" in row
    assert "30 steps, cfg 5, first-block 0.1" in next(line for line in lines if line.startswith("wan2.1-t2v-1.3b "))


# ---- pulling a tier's adapter, hub LoRAs, memory fit -------------------------------------------


def test_pull_fetches_the_tiers_adapter_beside_the_base_weights(tmp_path, monkeypatch) -> None:
    """The hub cannot exist in a test: huggingface_hub's two download functions write what a download would."""
    import huggingface_hub

    from kadr.pipelines.hub import licences, pull

    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    files: list[tuple[str, str]] = []

    def snapshot(repo_id: str, **kwargs: Any) -> str:
        Path(kwargs["local_dir"]).mkdir(parents=True, exist_ok=True)
        (Path(kwargs["local_dir"]) / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
        return str(kwargs["local_dir"])

    def one_file(repo_id: str, filename: str, local_dir: Path, **kwargs: Any) -> str:
        files.append((repo_id, filename))
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        (Path(local_dir) / filename).write_bytes(b"lora")
        return str(Path(local_dir) / filename)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", one_file)
    pull("wan2.1-t2v-14b", progress=False)
    assert files == [(LIGHTX2V_T2V.repo_id, LIGHTX2V_T2V.filename)]
    assert LIGHTX2V_T2V.local_path("wan2.1-t2v-14b").is_file()
    assert licences("wan2.1-t2v-14b") == ["Wan-AI/Wan2.1-T2V-14B-Diffusers: apache-2.0",
                                          f"{LIGHTX2V_T2V.repo_id}/{LIGHTX2V_T2V.filename}: apache-2.0"]
    pull("wan2.1-t2v-1.3b", progress=False)  # no adapter on its tiers
    assert len(files) == 1


def test_a_hub_lora_is_resolved_to_a_local_file_once(tmp_path, monkeypatch) -> None:
    import huggingface_hub

    from kadr.pipelines.hub import resolve_lora

    monkeypatch.setenv("KADR_HOME", str(tmp_path / "home"))
    calls: list[dict[str, Any]] = []

    def snapshot(repo_id: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        (Path(kwargs["local_dir"]) / "style.safetensors").parent.mkdir(parents=True, exist_ok=True)
        (Path(kwargs["local_dir"]) / "style.safetensors").write_bytes(b"lora")
        return str(kwargs["local_dir"])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    local = tmp_path / "mine.safetensors"
    local.write_bytes(b"lora")
    assert resolve_lora(LoraRef(str(local), 0.5)) == LoraRef(str(local), 0.5)
    assert calls == []  # a local file never reaches the hub
    ref = resolve_lora(LoraRef.parse("someone/styles/style.safetensors:0.7"))
    assert ref == LoraRef(str(registry.models_dir() / "loras" / "someone/styles" / "style.safetensors"), 0.7)
    assert calls[0]["repo_id"] == "someone/styles" and calls[0]["allow_patterns"] == ["style.safetensors"]
    with pytest.raises(InvalidRequestError, match="lora: got 'nothing-here'"):
        resolve_lora(LoraRef("nothing-here"))


def test_which_models_fit_this_machine(monkeypatch) -> None:
    from kadr.pipelines import devices

    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "available_memory_bytes", lambda: 64 * devices.GiB)
    assert devices.machine_fit(registry.get_spec("kadr-tiny"), cpu) == "yes"
    assert devices.machine_fit(registry.get_spec("svd-xt"), cpu) == "cpu, very slow (8 of 64 GiB)"  # fp32 on the CPU
    assert devices.machine_fit(registry.get_spec("wan2.1-t2v-14b"), cpu) == "no (74 of 64 GiB)"
    # On a GPU, the memory policy the free memory picks (see test_backends_diffusers for the ladder).
    monkeypatch.setattr(devices, "free_gpu_bytes", lambda device: 40 * devices.GiB)
    assert devices.machine_fit(registry.get_spec("wan2.1-t2v-14b"), cpu) == "with offload"
    monkeypatch.setattr(devices, "free_gpu_bytes", lambda device: 80 * devices.GiB)
    assert devices.machine_fit(registry.get_spec("wan2.1-t2v-14b"), cpu) == "yes"
    for spec in registry.all_specs():
        memory = getattr(spec, "memory", None)
        assert spec.builtin or (memory is not None and memory.source), spec.name  # every figure says where it is from


def test_readme_model_table_matches_the_specs() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| ")}
    for spec in registry.all_specs():
        if spec.builtin:
            continue
        cells = [cell.strip() for cell in rows[spec.name].split("|")[2:4]]
        for tier, cell in zip(("fast", "high"), cells):
            policy = spec.cache.get(tier)
            assert cell.startswith(f"{spec.steps[tier]} steps"), (spec.name, tier)
            assert cell.endswith(policy.label if policy else "no cache"), (spec.name, tier)
            assert ("cfg off" in cell) == (spec.guidance_for(tier) <= 1.0), (spec.name, tier)


def test_caches_sit_on_top_of_group_offload() -> None:
    """Group offload hooks the same blocks (block by block from CPU memory); the caches wrap them and agree."""
    from kadr.pipelines.devices import MemoryPolicy
    from kadr.pipelines.diffusers_common import place_pipelines

    spec = registry.get_spec("wan2.2-ti2v-5b")
    assert isinstance(spec, DiffusersSpec)

    def backend(policy: MemoryPolicy) -> DiffusersBackend:
        pipelines = pipelines_per_task(spec, tiny.wan22_ti2v_pipeline())
        place_pipelines(pipelines, policy, torch.device("cpu"))
        return WanBackend(spec, pipelines, policy=policy)

    resident, streamed = backend(MemoryPolicy()), backend(MemoryPolicy("group_offload", vae_tiling=True))
    cache = CachePolicy("first-block", threshold=0.1)
    a, report_a = generate(resident, 32, 5, cache=cache, steps=6)
    b, report_b = generate(streamed, 32, 5, cache=cache, steps=6)
    assert np.array_equal(a, b) and report_a["cache"] == report_b["cache"]
    assert report_b["cache"]["full_passes"] < report_b["cache"]["forward_passes"] == 12
