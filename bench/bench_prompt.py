"""Prompt parsing: the share of the public camera list read right, and plan_prompt() latency, as JSON.

    python bench/bench_prompt.py [--repeats 20]

"camera_words" scores eval/camera_phrases.json (the labels tests/test_prompt_camera.py asserts): the
share of phrasings given their label, overall, per language and per set; how many got the opposite
direction; how many of the moves kadr has no preset for got their note; how many stated speeds were read.

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


CAMERA_PHRASES = ROOT / "eval" / "camera_phrases.json"
_OPPOSITE = {"pan_left": "pan_right", "pan_right": "pan_left", "tilt_up": "tilt_down", "tilt_down": "tilt_up",
             "zoom_in": "zoom_out", "zoom_out": "zoom_in"}
_SPEEDS = {"slow": 0.5, "fast": 2.0}


def _camera_phrases() -> list[dict]:
    return json.loads(CAMERA_PHRASES.read_text(encoding="utf-8"))["phrases"]


def _prompts() -> list[str]:
    texts = [p["text"] for p in _camera_phrases()]
    vague = json.loads((ROOT / "tests" / "data" / "vague_prompts.json").read_text(encoding="utf-8"))
    texts += [p["text"] for p in vague["prompts"]]
    texts += [p["text"] for p in json.loads((ROOT / "eval" / "prompts.json").read_text(encoding="utf-8"))["prompts"]]
    return list(dict.fromkeys(texts))


def camera_words() -> dict[str, object]:
    """How much of the public camera list kadr.prompt reads right."""
    from kadr.prompt import plan_prompt
    from kadr.prompt.advice import move_note

    def share(rows: list[bool]) -> dict[str, float | int]:
        return {"phrases": len(rows), "right": sum(rows), "share": round(sum(rows) / len(rows), 4) if rows else 0.0}

    phrases = _camera_phrases()
    plans = {p["text"]: plan_prompt(p["text"]) for p in phrases}
    right = {p["text"]: plans[p["text"]].camera == p["camera"] for p in phrases}
    notes = [p for p in phrases if "note" in p]
    speeds = [p for p in phrases if "speed" in p]
    return {
        "list": str(CAMERA_PHRASES.relative_to(ROOT)),
        **share(list(right.values())),
        "per_language": {lang: share([right[p["text"]] for p in phrases if p["lang"] == lang])
                         for lang in sorted({p["lang"] for p in phrases})},
        "per_set": {s: share([right[p["text"]] for p in phrases if p["set"] == s])
                    for s in dict.fromkeys(p["set"] for p in phrases)},
        "opposite_direction": sum(p["camera"] in _OPPOSITE and plans[p["text"]].camera == _OPPOSITE[p["camera"]]
                                  for p in phrases),
        "no_preset_notes": share([plans[p["text"]].camera_move == p["note"] and
                                  move_note(p["note"], plans[p["text"]].camera, plans[p["text"]].advice_language)
                                  in plans[p["text"]].suggestions for p in notes]),
        "speeds": share([plans[p["text"]].camera_speed == _SPEEDS[p["speed"]] for p in speeds]),
        "wrong": [{"text": p["text"], "expected": p["camera"], "got": plans[p["text"]].camera}
                  for p in phrases if not right[p["text"]]],
    }


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
        "camera_words": camera_words(),
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
