"""The README's first command, timed as a person runs it: a cold `kadr generate` process, start to exit.

    python bench/bench_cold_cli.py                  # 1 warm-up + 3 timed runs, breakdown, light commands; JSON
    python bench/bench_cold_cli.py --runs 5 --runtime torch

Each timed run is a fresh process of the `kadr` console script (fast tier, 5 s, 16:9, the README prompt).
The warm-up run is not counted: it fills the user caches a first run makes once (the ONNX graphs
exported from the weights, the built sentence encoder), so the timed runs are what every later run costs.
One more process, instrumented, breaks a run down: interpreter and imports, sentence encoder, weights
(the networks' sessions), the first denoising step (from the pipeline's start), the rest of the generation,
encoding, and what is left (planning, the prompt, writing the poster, exit). Then `kadr --help`,
`kadr prompt` and `kadr models` are timed the same way and checked for importing torch.

The machine may be shared: the load average before and after, and each run's CPU time (user + system,
which load inflates far less than wall time), are in the JSON; compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Закат над морем, волны, панорама слева направо"

# Runs inside the instrumented child: times each phase on the system-wide monotonic clock, which the
# parent also reads when it starts the process (time.perf_counter is CLOCK_MONOTONIC on Linux).
PROBE = r"""
import json, os, sys, time
spawned = float(os.environ["KADR_BENCH_SPAWNED"])
marks = {"python_started": time.perf_counter()}
import kadr.cli, kadr.engine, kadr.pipelines.tiny as tiny, kadr.models.text as text
marks["imported"] = time.perf_counter()
encoder_init = text.TextEncoder.__init__
def timed_encoder(self, *a, **k):
    t = time.perf_counter(); encoder_init(self, *a, **k); marks["encoder_s"] = time.perf_counter() - t
text.TextEncoder.__init__ = timed_encoder
load = tiny.load
def timed_load(*a, **k):
    t = time.perf_counter(); pipe = load(*a, **k); marks["load_s"] = time.perf_counter() - t
    marks["runtime"] = pipe.runtime; return pipe
tiny.load = timed_load
call = tiny.KadrTinyPipeline.__call__
def timed_call(self, **kw):
    marks["pipeline_start"] = time.perf_counter()
    step = kw.get("callback_on_step_end")
    def on_step(i, n):
        marks.setdefault("first_step_end", time.perf_counter())
        if step is not None: step(i, n)
    kw["callback_on_step_end"] = on_step
    out = call(self, **kw); marks["pipeline_end"] = time.perf_counter(); return out
tiny.KadrTinyPipeline.__call__ = timed_call
generate = kadr.engine.Engine.generate
def timed_generate(self, *a, **k):
    result = generate(self, *a, **k); marks["encode_s"] = result.metadata["timings"]["encode"]; return result
kadr.engine.Engine.generate = timed_generate
code = kadr.cli.main(sys.argv[1:])
marks["done"] = time.perf_counter()
marks["spawned"] = spawned
with open(os.environ["KADR_BENCH_OUT"], "w") as f:
    json.dump(marks, f)
sys.exit(code)
"""


def kadr_command() -> list[str]:
    """The `kadr` console script of this interpreter (what the README runs), else `python -m kadr`."""
    script = Path(sys.executable).with_name("kadr")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kadr"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds (user + system) of one process, and its result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return wall, cpu, proc


def summary(values: list[float]) -> dict[str, float | list[float]]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "runs": [round(v, 3) for v in values]}


def breakdown(args_: list[str], env: dict[str, str]) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "marks.json"
        child = {**env, "KADR_BENCH_OUT": str(out), "KADR_BENCH_SPAWNED": repr(time.perf_counter())}
        wall, cpu, _ = timed([sys.executable, "-c", PROBE, *args_], child)
        m = json.loads(out.read_text())
    load_s, encoder_s = m["load_s"], m["encoder_s"]
    parts = {
        "interpreter_and_imports": m["imported"] - m["spawned"],
        "sentence_encoder": encoder_s,
        "weights": load_s - encoder_s,
        "first_denoising_step": m["first_step_end"] - m["pipeline_start"],
        "rest_of_generation": m["pipeline_end"] - m["first_step_end"],
        "encode": m["encode_s"],
    }
    parts["other"] = (m["done"] - m["spawned"]) - sum(parts.values())
    result: dict[str, float | str] = {k: round(v, 3) for k, v in parts.items()}
    result.update({"total_s": round(wall, 3), "cpu_s": round(cpu, 3), "runtime": m["runtime"]})
    return result


def imports_torch(args_: list[str], env: dict[str, str]) -> bool:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kadr", *args_], env=env, capture_output=True,
                          text=True, timeout=120)
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in proc.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runtime", choices=("onnx", "torch"), default=None, help="KADR_TINY_RUNTIME for the runs")
    parser.add_argument("--light-runs", type=int, default=5, help="runs of each light command")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    if args.runtime:
        env["KADR_TINY_RUNTIME"] = args.runtime
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        output = str(Path(tmp) / "sunset.mp4")
        gen_args = ["generate", PROMPT, "-o", output, "--quiet"]
        cmd = kadr_command() + gen_args
        warm_wall, _, _ = timed(cmd, env)
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu, proc = timed(cmd, env)
            walls.append(wall)
            cpus.append(cpu)
        parts = breakdown(gen_args, env)
    video_s = 5.0
    light = {}
    for name, light_args in (("help", ["--help"]), ("prompt", ["prompt", PROMPT]), ("models", ["models"])):
        runs = [timed(kadr_command() + light_args, env)[0] for _ in range(args.light_runs)]
        light[name] = {**summary(runs), "imports_torch": imports_torch(light_args, env)}
    median = statistics.median(walls)
    print(json.dumps({
        "command": " ".join(["kadr"] + gen_args[:2] + ["-o", "sunset.mp4"]),
        "executable": cmd[0],
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "video_s": video_s,
        "warmup_run_s": round(warm_wall, 3),
        "wall_s": summary(walls),
        "cpu_s": summary(cpus),
        "realtime_factor": round(median / video_s, 3),
        "breakdown_s": parts,
        "light_commands_s": light,
        "summary_line": proc.stdout.strip().splitlines()[-1],
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
