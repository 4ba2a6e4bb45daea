"""The frame watermark, measured in one run; prints one JSON object.

    python bench/bench_watermark.py                       # 8 marked clips, 50 unmarked, 2 fast-tier videos
    python bench/bench_watermark.py --marked 3 --unmarked 10 --tiny 1   # a quick look

- ``transformations``: for marked procedural-world clips (256x144, 5 s, written by kadr's encoder),
  per transformation: bit accuracy of the 64 coded bits at the crop detection chose, and the share of
  clips whose payload came back exactly.
- ``false_positives``: unmarked world clips in which a payload was reported, and the highest score.
- ``fast_tier``: kadr-tiny fast-tier videos made here (watermark off), then marked: the mark's time
  against the generation's, and PSNR against the model's frames of the encoded file without and with
  the mark (the cost in dB), and the share of them whose payload came back exactly per transformation. Timings on a loaded 2-core machine are noisy; the ratio is the figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kadr.provenance import attacks  # noqa: E402
from kadr.provenance.watermark import WatermarkEmbedder, WatermarkPayload, _codeword, detect_in_file  # noqa: E402
from kadr.video.encode import VideoWriter  # noqa: E402
from kadr.video.checks import psnr
from training.world import render_clip, sample_scene  # noqa: E402

WIDTH, HEIGHT, FPS, FRAMES = 256, 144, 24, 120


def write(frames: np.ndarray, path: Path) -> Path:
    with VideoWriter(path, fps=FPS, width=frames.shape[2], height=frames.shape[1]) as writer:
        writer.write(frames)
    return path


def robustness(clips: int, out: Path) -> dict:
    rng = np.random.default_rng(19)
    per: dict[str, dict[str, list[float]]] = {name: {"bits": [], "exact": []} for name in ("none", *attacks.TRANSFORMATIONS)}
    for i in range(clips):
        frames = render_clip(sample_scene(rng), FRAMES, WIDTH, HEIGHT, float(FPS))
        payload = WatermarkPayload(int(rng.integers(1 << 16)), int(rng.integers(1 << 16)))
        truth = _codeword(payload).astype(np.uint8)
        marked = write(WatermarkEmbedder(payload, WIDTH, HEIGHT).embed(frames), out / f"marked{i}.mp4")
        for name in per:
            path = marked if name == "none" else attacks.apply(name, marked, out)
            reading = detect_in_file(path)
            per[name]["bits"].append(float(np.mean(reading.bits == truth)))
            per[name]["exact"].append(float(reading.found and reading.payload == payload))
    return {name: {"bit_accuracy": round(float(np.mean(v["bits"])), 3), "payload_exact": round(float(np.mean(v["exact"])), 3)}
            for name, v in per.items()}


def false_positives(clips: int, out: Path) -> dict:
    rng = np.random.default_rng(7)
    found, scores = 0, []
    for i in range(clips):
        frames = render_clip(sample_scene(rng), FRAMES, WIDTH, HEIGHT, float(FPS))
        reading = detect_in_file(write(frames, out / "plain.mp4"))
        found += reading.found
        scores.append(reading.score)
    return {"clips": clips, "found": found, "rate": round(found / clips, 4), "max_score": round(max(scores), 4),
            "mean_score": round(float(np.mean(scores)), 4)}


def fast_tier(videos: int, out: Path) -> dict:
    from kadr.engine import Engine
    from kadr.request import VideoRequest

    engine = Engine()
    engine.generate(VideoRequest(prompt="Горы", duration=1, seed=0), out / "warm.mp4")  # load once
    prompts = ["Закат над морем, волны, панорама слева направо", "Ночной город, огни, машины едут",
               "A forest in fog, camera zooms in slowly", "Поле пшеницы на рассвете, наезд камеры"]
    gen_s, mark_s, cost_db, clean_db, marked_db = [], [], [], [], []
    exact: dict[str, list[float]] = {name: [] for name in ("none", *attacks.TRANSFORMATIONS)}
    for i in range(videos):
        t0 = time.perf_counter()
        result = engine.generate(VideoRequest(prompt=prompts[i % len(prompts)], seed=i, tier="fast"), out / f"t{i}.mp4")
        gen_s.append(time.perf_counter() - t0)
        frames, _ = attacks.read_frames(result.path)  # the model's frames (through crf 20)
        t0 = time.perf_counter()
        payload = WatermarkPayload(1, i)
        marked = WatermarkEmbedder(payload, frames.shape[2], frames.shape[1]).embed(frames)
        mark_s.append(time.perf_counter() - t0)
        plain_file, _ = attacks.read_frames(write(frames, out / "plain.mp4"))
        marked_path = write(marked, out / f"marked-tiny{i}.mp4")
        marked_file, _ = attacks.read_frames(marked_path)
        for name in exact:
            reading = detect_in_file(marked_path if name == "none" else attacks.apply(name, marked_path, out))
            exact[name].append(float(reading.found and reading.payload == payload))
        clean_db.append(psnr(plain_file, frames))
        marked_db.append(psnr(marked_file, frames))
        cost_db.append(clean_db[-1] - marked_db[-1])
    return {"videos": videos, "generate_s": round(float(np.mean(gen_s)), 3), "watermark_s": round(float(np.mean(mark_s)), 3),
            "time_ratio": round(float(np.sum(mark_s) / np.sum(gen_s)), 4),
            "psnr_file_without_db": round(float(np.mean(clean_db)), 2), "psnr_file_with_db": round(float(np.mean(marked_db)), 2),
            "psnr_cost_db": round(float(np.mean(cost_db)), 3), "psnr_cost_db_max": round(float(np.max(cost_db)), 3),
            "payload_exact": {name: round(float(np.mean(v)), 3) for name, v in exact.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marked", type=int, default=8)
    parser.add_argument("--unmarked", type=int, default=50)
    parser.add_argument("--tiny", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        report = {
            "transformations": robustness(args.marked, out),
            "false_positives": false_positives(args.unmarked, out),
            "fast_tier": fast_tier(args.tiny, out) if args.tiny else None,
            "targets": {"psnr_cost_db": "<= 1", "time_ratio": "<= 0.10", "payload_exact": "1.0 after each transformation"},
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
