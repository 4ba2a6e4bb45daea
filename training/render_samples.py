"""Write a contact sheet of procedural-world stills (one row per setting) to look at the renderer.

    python training/render_samples.py --out docs/world_samples.png
    python training/render_samples.py --out /tmp/motion.png --strip --setting beach --camera pan_right
    python training/render_samples.py --bench   # render speed as JSON (ms per frame)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.world import SETTINGS, render_clip, sample_scene  # noqa: E402

# Columns of the sheet: the variations each setting is shown in.
COLUMNS: list[dict] = [
    dict(time_of_day="day", weather="clear", style="realistic"),
    dict(time_of_day="sunset", style="realistic"),
    dict(time_of_day="night", style="realistic"),
    dict(time_of_day="sunrise", weather="fog", style="realistic"),
    dict(style="animation", time_of_day="day"),
    dict(style="artistic", medium="watercolor"),
    dict(style="artistic", medium="oil"),
]


def _label(img: Image.Image, text: str) -> None:
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 6 * len(text) + 4, 11], fill=(0, 0, 0))
    d.text((2, 0), text, fill=(255, 255, 255))


def sheet(width: int, height: int, seed: int, settings: list[str], frame: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    out = Image.new("RGB", (width * len(COLUMNS), height * len(settings)))
    for r, setting in enumerate(settings):
        for c, fixed in enumerate(COLUMNS):
            scene = sample_scene(rng, setting=setting, camera="static", **fixed)
            img = Image.fromarray(render_clip(scene, frame + 1, width, height, 8.0)[frame])
            _label(img, f"{setting} {scene.time_of_day} {scene.weather} {scene.medium or scene.style} {scene.season}")
            out.paste(img, (c * width, r * height))
    return out


def strip(width: int, height: int, seed: int, fixed: dict, frames: int, fps: float) -> Image.Image:
    """Several frames of one clip side by side, to see the camera and the movers move."""
    scene = sample_scene(np.random.default_rng(seed), **fixed)
    clip = render_clip(scene, frames, width, height, fps)
    idx = np.linspace(0, frames - 1, 6).round().astype(int)
    out = Image.new("RGB", (width * len(idx), height))
    for i, k in enumerate(idx):
        img = Image.fromarray(clip[k])
        _label(img, f"{scene.camera} f{k}")
        out.paste(img, (i * width, 0))
    print(scene)
    return out


def bench(clips: int, frames: int, seed: int) -> dict:
    """Milliseconds per frame, averaged over random scenes (all settings, styles, weathers)."""
    out = {}
    for w, h in ((128, 72), (256, 144)):
        rng = np.random.default_rng(seed)
        scenes = [sample_scene(rng) for _ in range(clips)]
        render_clip(scenes[0], 2, w, h, 8.0)  # warm-up
        t0 = time.perf_counter()
        for s in scenes:
            render_clip(s, frames, w, h, 8.0)
        out[f"{w}x{h}_ms_per_frame"] = round((time.perf_counter() - t0) * 1000 / (clips * frames), 2)
    out.update(clips=clips, frames_per_clip=frames)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/world_samples.png")
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--height", type=int, default=108)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frame", type=int, default=4, help="which frame of each clip goes on the sheet")
    ap.add_argument("--strip", action="store_true", help="one clip's frames instead of the sheet")
    ap.add_argument("--setting", choices=SETTINGS)
    ap.add_argument("--camera")
    ap.add_argument("--style")
    ap.add_argument("--time")
    ap.add_argument("--weather")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--colors", type=int, default=0, help="palette size for a smaller PNG (0: full colour)")
    ap.add_argument("--bench", action="store_true", help="print render speed as JSON and exit")
    ap.add_argument("--clips", type=int, default=24)
    args = ap.parse_args()
    if args.bench:
        print(json.dumps(bench(args.clips, 16, args.seed)))
        return
    if args.strip:
        fixed = {k: v for k, v in dict(setting=args.setting, camera=args.camera, style=args.style,
                                        time_of_day=args.time, weather=args.weather).items() if v}
        img = strip(args.width, args.height, args.seed, fixed, args.frames, 8.0)
    else:
        settings = [args.setting] if args.setting else list(SETTINGS)
        img = sheet(args.width, args.height, args.seed, settings, args.frame)
    if args.colors:
        img = img.quantize(colors=args.colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    img.save(args.out, optimize=True)
    print(args.out, Path(args.out).stat().st_size // 1024, "KB")


if __name__ == "__main__":
    main()
