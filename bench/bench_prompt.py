"""Prompt parsing latency: plan_prompt() per prompt, after warm-up, printed as JSON.

    python bench/bench_prompt.py [--repeats 20]

"warm" times prompts whose words the per-word caches have seen (the steady state of a service);
"unseen_words" clears those caches before every prompt (a prompt of words never seen before, with
the analyser itself already loaded). "first_call_ms" includes loading the pymorphy3 dictionaries.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _prompts() -> list[str]:
    texts: list[str] = []
    for name, key in (("camera_phrases.json", "phrases"), ("vague_prompts.json", "prompts")):
        texts += [p["text"] for p in json.loads((ROOT / "tests" / "data" / name).read_text(encoding="utf-8"))[key]]
    texts += [p["text"] for p in json.loads((ROOT / "eval" / "prompts.json").read_text(encoding="utf-8"))["prompts"]]
    return list(dict.fromkeys(texts))


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "median_ms": round(statistics.median(ordered), 4),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "max_ms": round(ordered[-1], 4),
        "mean_ms": round(statistics.fmean(ordered), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from kadr.prompt import plan_prompt
    from kadr.prompt.morph import analyse_ru, en_stem

    import_ms = (time.perf_counter() - t0) * 1000
    prompts = _prompts()
    t0 = time.perf_counter()
    plan_prompt(prompts[0])
    first_ms = (time.perf_counter() - t0) * 1000

    for text in prompts:  # warm-up: every word seen once
        plan_prompt(text)
    warm: list[float] = []
    for text in prompts:
        runs = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            plan_prompt(text)
            runs.append((time.perf_counter() - t) * 1000)
        warm.append(statistics.median(runs))

    unseen: list[float] = []
    for text in prompts:
        analyse_ru.cache_clear()
        en_stem.cache_clear()
        t = time.perf_counter()
        plan_prompt(text)
        unseen.append((time.perf_counter() - t) * 1000)

    # Long prompts: four prompts joined (about 25-70 words), warm.
    long_prompts = [". ".join(prompts[i:i + 4]) for i in range(0, len(prompts) - 4, 4)]
    for text in long_prompts:
        plan_prompt(text)
    long_ms: list[float] = []
    for text in long_prompts:
        runs = []
        for _ in range(max(1, args.repeats // 4)):
            t = time.perf_counter()
            plan_prompt(text)
            runs.append((time.perf_counter() - t) * 1000)
        long_ms.append(statistics.median(runs))

    words = [len(t.split()) for t in prompts]
    print(json.dumps({
        "bench": "prompt_parse",
        "prompts": len(prompts),
        "words_per_prompt": {"mean": round(statistics.fmean(words), 1), "max": max(words)},
        "repeats": args.repeats,
        "import_ms": round(import_ms, 1),
        "first_call_ms": round(first_ms, 1),
        "warm": _summary(warm),
        "unseen_words": _summary(unseen),
        "long_warm": {"prompts": len(long_prompts), "max_words": max(len(t.split()) for t in long_prompts),
                      **_summary(long_ms)},
        "target_ms": 5.0,
        "warm_p95_under_target": _summary(warm)["p95_ms"] < 5.0,
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
    }, indent=2))


if __name__ == "__main__":
    main()
