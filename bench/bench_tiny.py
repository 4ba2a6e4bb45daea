"""Benchmark kadr-tiny on this machine: load time, realtime factor per tier and task, peak memory.

    python bench/bench_tiny.py                 # 5 s clips at 24 fps, 16:9, 2 threads; prints JSON

Realtime factor = wall seconds to make the clip / seconds of video (after load; the first call of each
tier is a warm-up and not counted). Peak memory is the process's maximum resident set size, which
includes the Python interpreter, torch and the sentence encoder.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--aspect", default="16:9")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)

    from kadr.camera import CameraPath
    from kadr.pipelines import tiny

    t0 = time.perf_counter()
    pipe = tiny.load(tiny.SPECS[0], weights_dir=args.weights)
    load_s = time.perf_counter() - t0
    spec = pipe.spec
    fps = spec.native_fps
    n = spec.frame_rule.round(int(round(args.seconds * fps)) + 1)
    duration = (n - 1) / fps
    rng = np.random.default_rng(0)
    picture = Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8))
    results = {}
    for tier in ("fast", "high"):
        width, height = spec.resolution(args.aspect, tier)
        for task, image in (("t2v", None), ("i2v", picture)):
            times = []
            for r in range(args.repeats + 1):
                t = time.perf_counter()
                out = pipe(prompt="Закат над морем, волны, панорама слева направо", negative_prompt=None, image=image,
                           height=height, width=width, num_frames=n, fps=fps, num_inference_steps=spec.steps[tier],
                           guidance_scale=spec.guidance_scale, generator=torch.Generator().manual_seed(r),
                           camera=CameraPath.from_motion("pan_right", n, fps), callback_on_step_end=None)
                if r > 0:
                    times.append(time.perf_counter() - t)
            assert out.frames.shape == (n, height, width, 3)
            wall = float(np.median(times))
            results[f"{tier}_{task}"] = {"resolution": f"{width}x{height}", "frames": n, "fps": fps, "steps": spec.steps[tier],
                                         "wall_s": round(wall, 3), "realtime_factor": round(wall / duration, 3)}
    print(json.dumps({"model": spec.name, "threads": args.threads, "video_s": round(duration, 3), "load_s": round(load_s, 3),
                      "tiers": results, "peak_rss_mb": round(peak_rss_mb(), 1)}, indent=1))


if __name__ == "__main__":
    main()
