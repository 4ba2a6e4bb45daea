"""Benchmark kadr-tiny on this machine: load time, realtime factor per runtime, tier and task, peak memory.

    python bench/bench_tiny.py                          # both runtimes (onnx, torch), both tiers, t2v and i2v
    python bench/bench_tiny.py --tiers high --tasks t2v --baseline 33cdd77   # and a commit's package beside them

Realtime factor = wall seconds to make the clip / seconds of video (after load; the first call of each
case is a warm-up and not counted). The runtimes are loaded side by side in one process and take turns
call by call, so a change in the machine's load hits them alike. ``--baseline REV`` also runs the same
cases on the package as it was at git revision REV (extracted with ``git archive`` into a temporary
folder, run in a child process right after this one's runs). Peak memory is the process's maximum
resident set size (interpreter, torch, ONNX Runtime, the sentence encoder and both runtimes' networks).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "Закат над морем, волны, панорама слева направо"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_cases(pipes: dict, tiers: list[str], tasks: list[str], seconds: float, aspect: str, repeats: int) -> dict:
    """Median wall seconds per (runtime, tier, task); pipelines take turns call by call."""
    import numpy as np
    import torch
    from PIL import Image

    from kadr.camera import CameraPath

    spec = next(iter(pipes.values())).spec
    fps = spec.native_fps
    n = spec.frame_rule.round(int(round(seconds * fps)) + 1)
    duration = (n - 1) / fps
    rng = np.random.default_rng(0)
    picture = Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8))
    results: dict = {}
    for tier in tiers:
        width, height = spec.resolution(aspect, tier)
        for task in tasks:
            image = picture if task == "i2v" else None
            times: dict[str, list[float]] = {name: [] for name in pipes}
            for r in range(repeats + 1):
                for name, pipe in pipes.items():
                    t = time.perf_counter()
                    out = pipe(prompt=PROMPT, negative_prompt=None, image=image, height=height, width=width,
                               num_frames=n, fps=fps, num_inference_steps=spec.steps[tier],
                               guidance_scale=spec.guidance_scale, generator=torch.Generator().manual_seed(r),
                               camera=CameraPath.from_motion("pan_right", n, fps), callback_on_step_end=None)
                    if r > 0:
                        times[name].append(time.perf_counter() - t)
                    assert out.frames.shape == (n, height, width, 3)
            for name, values in times.items():
                wall = float(np.median(values))
                results.setdefault(name, {})[f"{tier}_{task}"] = {
                    "resolution": f"{width}x{height}", "frames": n, "steps": spec.steps[tier],
                    "wall_s": round(wall, 3), "runs_s": [round(v, 3) for v in values],
                    "realtime_factor": round(wall / duration, 3)}
    return {"video_s": round(duration, 3), "results": results}


def baseline(rev: str, args: argparse.Namespace) -> dict:
    """The same cases on the package at git revision ``rev``, in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "kadr"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        code = (
            "import json, sys, time, warnings; warnings.simplefilter('ignore')\n"
            f"sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
            "import bench_tiny\n"
            f"sys.path[:] = [{tmp!r}] + [p for p in sys.path if p != {str(ROOT)!r}]  # that revision's kadr, not ours\n"
            "from kadr.pipelines import tiny\n"
            f"assert tiny.__file__.startswith({tmp!r}), tiny.__file__\n"
            "t = time.perf_counter(); pipe = tiny.load(tiny.SPECS[0]); load_s = time.perf_counter() - t\n"
            f"out = bench_tiny.run_cases({{'baseline': pipe}}, {args.tiers!r}, {args.tasks!r}, {args.seconds!r}, "
            f"{args.aspect!r}, {args.repeats!r})\n"
            "out['load_s'] = round(load_s, 3)\n"
            "print(json.dumps(out))\n"
        )
        env = {**os.environ, "PYTHONPATH": tmp, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp,
                              timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"baseline {rev} failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--aspect", default="16:9")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--runtimes", default="onnx,torch", help="comma-separated: onnx, torch")
    parser.add_argument("--tiers", default="fast,high")
    parser.add_argument("--tasks", default="t2v,i2v")
    parser.add_argument("--baseline", default=None, help="a git revision whose package also runs the cases")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()
    args.tiers = args.tiers.split(",")
    args.tasks = args.tasks.split(",")
    warnings.simplefilter("ignore")

    from kadr.pipelines import tiny

    pipes, load_s = {}, {}
    text_encoder = None
    for name in args.runtimes.split(","):
        t0 = time.perf_counter()
        pipes[name] = tiny.load(tiny.SPECS[0], weights_dir=args.weights, runtime=name, text_encoder=text_encoder)
        load_s[name] = round(time.perf_counter() - t0, 3)
        text_encoder = pipes[name].text_encoder  # loaded once, shared
    load_before = os.getloadavg()
    measured = run_cases(pipes, args.tiers, args.tasks, args.seconds, args.aspect, args.repeats)
    report = {"model": tiny.NAME, "cpus": len(os.sched_getaffinity(0)), "video_s": measured["video_s"],
              "load_s": load_s, "runtimes": measured["results"]}
    if args.baseline:
        base = baseline(args.baseline, args)
        report["baseline"] = {"revision": args.baseline, "load_s": base["load_s"], **base["results"]}
    names = list(report["runtimes"]) + (["baseline"] if args.baseline else [])
    speedups = {}
    if "onnx" in report["runtimes"]:
        for case, figures in report["runtimes"]["onnx"].items():
            for other in names:
                source = report["baseline"]["baseline"] if other == "baseline" else report["runtimes"][other]
                if other != "onnx" and case in source:
                    speedups[f"{case}: {other} / onnx"] = round(source[case]["wall_s"] / figures["wall_s"], 2)
    report["speedup"] = speedups
    report["load_average"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
