"""Step caches measured side by side on a trained transformer: speedup and PSNR against the uncached run.

    python bench/bench_acceleration.py                 # 30 steps (the open models' fast tier), prints JSON
    python bench/bench_acceleration.py --steps 12      # kadr-tiny's own high tier

Random weights make a poor judge of a cache (their steps do not resemble each other as a trained
model's do), so the policies run on kadr-tiny's trained DiT, through the same diffusers hooks and
the same code (kadr.pipelines.acceleration.accelerated) that put them on Wan, LTX-Video and
CogVideoX. For each policy and prompt, an uncached and a cached generation run with the same seed,
interleaved; ``speedup`` is the uncached transformer time over the cached one (the time inside the
DiT's forward, summed over the generation, best of ``--repeats``), ``psnr_db`` the mean over prompts
of the PSNR of the cached video against the uncached one (``psnr_db_min`` the worst prompt).

The machine is shared and loaded: absolute seconds are noisy; the ratios, measured in one run, count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

PROMPTS = (
    "a cat walks on the beach at sunset, the camera pans slowly",
    "ночной город под дождём, огни отражаются в лужах",
    "a red car drives along a mountain road, aerial view",
)
SEED = 7


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * float(np.log10(255.0**2 / max(mse, 1e-12)))


def computed_blocks(policy: Any, counts: dict[str, int], depth: int) -> int:
    """Blocks that really ran: First Block Cache runs the first block on every call, the others skip whole passes."""
    if policy.kind == "first-block":
        return counts["forward_passes"] + counts["full_passes"] * (depth - 1)
    return counts["full_passes"] * depth


def timer_hook(total: list[float]) -> Any:
    """Adds the wall time of every call of the module it wraps to ``total[0]``."""
    from diffusers.hooks import ModelHook

    class Timer(ModelHook):  # type: ignore[misc, valid-type]
        def new_forward(self, module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return self.fn_ref.original_forward(*args, **kwargs)
            finally:
                total[0] += time.perf_counter() - start

    return Timer()


def run(pipe: Any, policy: Any, prompt: str, steps: int, size: tuple[int, int], frames: int) -> tuple[np.ndarray, float, dict]:
    """One generation with ``policy`` (None: uncached): frames, seconds inside the DiT, cache counts."""
    from diffusers.hooks import HookRegistry

    from kadr.pipelines.acceleration import accelerated

    spent = [0.0]
    with accelerated(pipe, cache=policy, num_inference_steps=steps) as report:
        registry = HookRegistry.check_if_exists_or_initialize(pipe.transformer)
        registry.register_hook(timer_hook(spent), "bench_timer")  # outermost: the whole forward
        try:
            out = pipe(prompt=prompt, negative_prompt="", image=None, height=size[1], width=size[0], num_frames=frames,
                       fps=pipe.spec.native_fps, num_inference_steps=steps, guidance_scale=pipe.spec.guidance_scale,
                       generator=torch.Generator().manual_seed(SEED), camera=None, callback_on_step_end=None)
        finally:
            registry.remove_hook("bench_timer", recurse=False)
    return out.frames, spent[0], report["cache"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="denoising steps (default 30: the open models' fast tier)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)

    from kadr.pipelines import tiny
    from kadr.pipelines.acceleration import CachePolicy
    from kadr.pipelines.wan import FAST_CACHE

    policies = {p.label: p for p in (
        CachePolicy("first-block", threshold=0.05),
        FAST_CACHE,  # the open models' fast-tier default
        CachePolicy("first-block", threshold=0.2),
        CachePolicy("taylorseer", interval=2, warmup_steps=2, order=1),
        CachePolicy("taylorseer", interval=3, warmup_steps=3, order=2),
    )}
    pipe = tiny.load(tiny.SPECS[0])
    size = pipe.spec.resolution("16:9", "fast")
    depth = len(pipe.transformer.blocks)
    frames = pipe.spec.frame_rule.round(round(args.seconds * pipe.spec.native_fps) + 1)
    run(pipe, None, PROMPTS[0], args.steps, size, frames)  # warm-up: first calls allocate
    run(pipe, FAST_CACHE, PROMPTS[0], args.steps, size, frames)

    base_frames: dict[str, np.ndarray] = {}
    base_time: dict[str, float] = {}
    results: dict[str, dict[str, Any]] = {}
    for label, policy in policies.items():
        plain_s, cached_s, scores, counts = [], [], [], {}
        for prompt in PROMPTS:
            best_plain, best_cached = float("inf"), float("inf")
            for _ in range(args.repeats):  # interleaved, so load on the machine hits both alike
                frames_plain, t_plain, _ = run(pipe, None, prompt, args.steps, size, frames)
                frames_cached, t_cached, counts = run(pipe, policy, prompt, args.steps, size, frames)
                best_plain, best_cached = min(best_plain, t_plain), min(best_cached, t_cached)
            base_frames.setdefault(prompt, frames_plain)
            assert np.array_equal(base_frames[prompt], frames_plain)  # same seed, same uncached video
            base_time[prompt] = min(base_time.get(prompt, float("inf")), best_plain)
            plain_s.append(best_plain)
            cached_s.append(best_cached)
            scores.append(psnr(frames_plain, frames_cached))
        results[label] = {
            "speedup": round(sum(plain_s) / sum(cached_s), 2),
            "psnr_db": round(float(np.mean(scores)), 1),
            "psnr_db_min": round(float(np.min(scores)), 1),
            # Block computations uncached over cached, from the counts: what the speedup would be if the
            # blocks were all of the time, immune to the machine's load.
            "block_ratio": round(counts["forward_passes"] * depth / computed_blocks(policy, counts, depth), 2),
            "full_passes": counts.get("full_passes"),
            "forward_passes": counts.get("forward_passes"),
            "transformer_s_uncached": round(sum(plain_s), 2),
            "transformer_s_cached": round(sum(cached_s), 2),
        }
    print(json.dumps({
        "default_policy": FAST_CACHE.label,
        "policies": results,
        "model": "kadr-tiny DiT, shipped (trained) weights, through diffusers' cache hooks",
        "steps": args.steps,
        "clip": {"width": size[0], "height": size[1], "frames": frames, "prompts": len(PROMPTS), "seed": SEED},
        "threads": args.threads,
        "repeats": args.repeats,
        "note": "shared, loaded CPU: seconds are noisy, ratios from interleaved runs in one process count; "
                "full_passes/forward_passes are of the last prompt's cached run (denoiser calls that ran every block / all calls)",
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
