"""Peak memory of a 5 s and a 30 s generation with the same model and resolution.

Each generation runs in a fresh subprocess and reports its own peak resident set size, so the two
figures are comparable. The engine streams chunks into the encoder, so the 30 s figure should stay
within 20% of the 5 s one.

    python bench/bench_memory.py [--model kadr-tiny] [--quality fast] [--durations 5 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from kadr.engine import Engine
from kadr.request import VideoRequest
model, quality, duration, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
engine = Engine()
t0 = time.perf_counter()
result = engine.generate(VideoRequest(prompt="Закат над морем, волны, панорама слева направо", duration=duration,
                                      model=model, tier=quality, seed=1), out)
wall = time.perf_counter() - t0
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
m = result.metadata
print(json.dumps({"duration_s": duration, "frames": m["frames"], "chunks": m["chunks"], "size": f"{m['width']}x{m['height']}",
                  "peak_rss_mb": round(peak_kib / 1024, 1), "wall_s": round(wall, 2), "timings": m["timings"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="kadr-tiny")
    parser.add_argument("--quality", default="fast")
    parser.add_argument("--durations", type=float, nargs="+", default=[5.0, 30.0])
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for duration in args.durations:
            out = f"{tmp}/bench-{duration:g}.mp4"
            proc = subprocess.run([sys.executable, "-c", CHILD, args.model, args.quality, str(duration), out],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base, longest = runs[0], runs[-1]
    print(json.dumps({
        "benchmark": "peak_memory_vs_duration",
        "model": args.model,
        "quality": args.quality,
        "runs": runs,
        "ratio_longest_to_shortest": round(longest["peak_rss_mb"] / base["peak_rss_mb"], 3),
        "target_ratio_at_most": 1.2,
    }, indent=2))


if __name__ == "__main__":
    main()
