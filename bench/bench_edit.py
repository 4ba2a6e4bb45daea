"""Extend, remix and first-and-last-frame figures for kadr-tiny (shipped weights), printed as one JSON object.

Timings on a shared machine are noisy: compare the ratios within one run.

    python bench/bench_edit.py                  # every section, the fast tier's 256x144 at 24 fps
    python bench/bench_edit.py --quick          # the tests' small sizes (160x96 / 256x144 at 8 fps)
    python bench/bench_edit.py --sections remix

Sections:
  extend      a 5 s text-to-video clip extended five times by 5 s (one camera move per part): each part's
              camera check, each seam's frame-difference and colour-jump z-scores and ratio to the largest
              change within 2 s of it (kadr.edit.seam), a jump cut as the measure's control; seconds of
              work per added second
  remix       a day beach remixed to night at strengths 0.5 / 0.6 / 0.7: luma before and after, edge-map
              similarity (kadr.edit.layout) against the source, against another scene and against the
              same prompt with another seed; photographs' image-to-video clips remixed the same way; the seam
              of a remix made in two passes
  first_last  two photograph pairs, static and panning: first and last frame PSNR on the decoded MP4,
              the largest frame-to-frame change over the mean one, guided (the default) against the
              last frame pinned alone; image-to-video's first-frame PSNR beside it; time against i2v
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import skimage.data
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kadr.edit.layout import edge_similarity  # noqa: E402
from kadr.edit.seam import measure_seam  # noqa: E402
from kadr.engine import Engine  # noqa: E402
from kadr.picture import fit_picture  # noqa: E402
from kadr.request import VideoRequest  # noqa: E402
from kadr.video import checks  # noqa: E402
from kadr.video.probe import read_frames  # noqa: E402

CAMERAS = ("pan_right", "tilt_up", "zoom_in", "pan_left", "tilt_down")


def _timed(engine: Engine, request: VideoRequest, path: Path) -> tuple[np.ndarray, float, dict[str, Any]]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = engine.generate(request, path).metadata
    return read_frames(path), time.perf_counter() - start, meta


def bench_extend(engine: Engine, folder: Path, size: str, fps: int) -> dict[str, Any]:
    part_s = 5
    source = folder / "ext0.mp4"
    _, first_s, _ = _timed(engine, VideoRequest(prompt="Горы, снег, голубое небо", duration=part_s, seed=3,
                                                camera="pan_right", resolution=size, fps=fps), source)
    seconds = []
    for i, camera in enumerate(CAMERAS, start=1):
        out = folder / f"ext{i}.mp4"
        _, took, _ = _timed(engine, VideoRequest(source_video=source, mode="extend", duration=part_s, seed=10 + i,
                                                 camera=camera), out)
        seconds.append(took)
        source = out
    frames = read_frames(source)
    n = part_s * fps
    parts = [checks.estimate_camera(frames[k * n:(k + 1) * n], fps=fps).label for k in range(6)]
    seams = [measure_seam(frames, k * n, fps).as_dict() for k in range(1, 6)]
    jump = np.concatenate([frames[: 2 * n], frames[2 * n + 2 * fps:]])
    return {
        "size": size, "fps": fps, "frames": int(len(frames)), "duration_s": len(frames) / fps,
        "camera_asked": ["pan_right", *CAMERAS], "camera_measured": parts,
        "camera_right": sum(a == b for a, b in zip(parts, ["pan_right", *CAMERAS])),
        "seams": seams,
        "max_seam_z": {"frame_difference": max(s["frame_difference"]["z"] for s in seams),
                       "colour_jump": max(s["colour_jump"]["z"] for s in seams)},
        "jump_cut_control_z": measure_seam(jump, 2 * n, fps).frame_difference.z,
        "source_psnr_after_5_extensions_db": round(checks.psnr(frames[:n], read_frames(folder / "ext0.mp4")), 2),
        "timings_s": {"first_5s_clip": round(first_s, 2), "each_extension": [round(s, 2) for s in seconds],
                      "per_added_second": round(float(np.mean(seconds)) / part_s, 3)},
    }


def bench_remix(engine: Engine, folder: Path, size: str, fps: int) -> dict[str, Any]:
    luma = lambda f: round(checks.brightness_and_warmth(f)["luma"], 1)  # noqa: E731
    day_path = folder / "day.mp4"
    day, _, _ = _timed(engine, VideoRequest(prompt="Солнечный день, пляж, волны", duration=2, seed=1, camera="static",
                                            resolution=size, fps=fps), day_path)
    city, _, _ = _timed(engine, VideoRequest(prompt="Ночной город, огни", duration=2, seed=5, camera="static",
                                             resolution=size, fps=fps), folder / "city.mp4")
    beach, _, _ = _timed(engine, VideoRequest(prompt="Солнечный день, пляж, волны", duration=2, seed=9,
                                              camera="static", resolution=size, fps=fps), folder / "beach9.mp4")
    out: dict[str, Any] = {"size": size, "fps": fps, "source_luma": luma(day),
                           "edge_similarity_controls": {"another_scene": round(edge_similarity(day, city), 3),
                                                        "same_prompt_other_seed": round(edge_similarity(day, beach), 3)},
                           "night_from_day": {}}
    for strength in (0.5, 0.6, 0.7):
        night, took, _ = _timed(engine, VideoRequest(prompt="Ночной пляж, волны, луна", source_video=day_path,
                                                     mode="remix", strength=strength, seed=2), folder / "night.mp4")
        out["night_from_day"][str(strength)] = {"luma": luma(night), "luma_ratio": round(luma(night) / luma(day), 3),
                                                "edge_similarity": round(edge_similarity(day, night), 3),
                                                "seconds": round(took, 2)}
    photos: dict[str, np.ndarray] = {}
    for name in ("astronaut", "coffee", "chelsea"):
        photos[name], _, _ = _timed(engine, VideoRequest(prompt="солнечный день", duration=2, seed=1, resolution=size, fps=fps,
                                                         image=Image.fromarray(getattr(skimage.data, name)())),
                                    folder / f"photo_{name}.mp4")
    # A remix longer than one pass (6 s at 24 fps: 121 + 24 frames): the seam where the second pass continues.
    long_path = folder / "day6.mp4"
    _timed(engine, VideoRequest(prompt="Солнечный день, пляж, волны", duration=6, seed=1, camera="pan_right",
                                resolution=size, fps=24), long_path)
    two, _, meta = _timed(engine, VideoRequest(prompt="Ночной пляж, волны, луна", source_video=long_path, mode="remix",
                                               seed=2), folder / "night6.mp4")
    out["two_pass_seam"] = {"passes": meta["chunks"], **measure_seam(two, 121, 24).as_dict()}
    out["photographs"] = {}
    for name in ("astronaut", "coffee"):
        night, _, _ = _timed(engine, VideoRequest(prompt="ночь, темно, луна", source_video=folder / f"photo_{name}.mp4",
                                                  mode="remix", seed=2), folder / "photo_night.mp4")
        out["photographs"][name] = {
            "luma": [luma(photos[name]), luma(night)], "edge_similarity": round(edge_similarity(photos[name], night), 3),
            "edge_similarity_other_photographs": [round(edge_similarity(photos[name], v), 3)
                                                  for k, v in photos.items() if k != name]}
    return out


def bench_first_last(engine: Engine, folder: Path, size: str, fps: int) -> dict[str, Any]:
    model = engine.backend(engine.plan(VideoRequest(prompt="x")).spec)
    base = model.config
    out: dict[str, Any] = {"size": size, "fps": fps, "cases": []}
    for first_name, last_name in (("chelsea", "coffee"), ("astronaut", "rocket")):
        first = Image.fromarray(getattr(skimage.data, first_name)()).convert("RGB")
        last = Image.fromarray(getattr(skimage.data, last_name)()).convert("RGB")
        for camera in ("static", "pan_right"):
            case: dict[str, Any] = {"pictures": [first_name, last_name], "camera": camera}
            for label, guidance in (("guided", base.last_frame_guidance), ("pinned_alone", 0.0)):
                model.config = dataclasses.replace(base, last_frame_guidance=guidance)
                try:
                    frames, took, _ = _timed(engine, VideoRequest(prompt="", image=first, last_image=last, duration=2,
                                                                  seed=1, camera=camera, resolution=size, fps=fps),
                                             folder / "fl.mp4")
                finally:
                    model.config = base
                h, w = frames.shape[1:3]
                change = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
                case[label] = {"first_psnr_db": round(checks.psnr(frames[0], np.asarray(fit_picture(first, w, h).frame)), 2),
                               "last_psnr_db": round(checks.psnr(frames[-1], np.asarray(fit_picture(last, w, h).frame)), 2),
                               "max_change_over_mean": round(float(change.max() / change.mean()), 2),
                               "seconds": round(took, 2)}
            i2v, took, _ = _timed(engine, VideoRequest(prompt="", image=first, duration=2, seed=1, camera=camera,
                                                       resolution=size, fps=fps), folder / "i2v.mp4")
            h, w = i2v.shape[1:3]
            case["image_to_video"] = {"first_psnr_db": round(checks.psnr(i2v[0], np.asarray(fit_picture(first, w, h).frame)), 2),
                                      "seconds": round(took, 2)}
            out["cases"].append(case)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="extend,remix,first_last")
    parser.add_argument("--quick", action="store_true", help="the tests' sizes: 160x96 (extend, first_last), 256x144 (remix), 8 fps")
    args = parser.parse_args()
    engine = Engine()
    sizes = {"extend": "160x96", "remix": "256x144", "first_last": "160x96"} if args.quick else \
        {"extend": "256x144", "remix": "256x144", "first_last": "256x144"}
    fps = 8 if args.quick else 24
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _timed(engine, VideoRequest(prompt="лес", duration=1, seed=0, resolution="160x96", fps=8),
               Path(tempfile.mkdtemp()) / "warm.mp4")  # load (and export) before anything is timed
    report: dict[str, Any] = {"quick": args.quick}
    benches = {"extend": bench_extend, "remix": bench_remix, "first_last": bench_first_last}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sections.split(","):
            report[name] = benches[name](engine, Path(tmp), sizes[name], fps)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
