"""Post-processing figures, printed as one JSON object (timings on a shared machine are noisy: compare
the ratios within one run).

    python bench/bench_post.py                         # every section
    python bench/bench_post.py --sections upscale,interpolate --quick

Sections:
  fidelity     image-to-video on skimage photographs (never trained on), every camera move: the last and
               middle frames against the first frame aligned to them (PSNR over covered pixels, sharpness
               ratio), kadr-tiny's own frames vs the photo-keeping post step
  t2v          text-to-video on the public evaluation prompts (eval/prompts.json) through the engine: the
               camera check on the MP4 against the request, sharpness of the middle and last frames vs the
               first (decoded; before encoding; the same frames through the baseline H.264 settings), and
               the delivered first frame's detail vs the model's own first keyframe
  encode       image-to-video clips as training/evaluate.py delivers them, their frames through the MP4
               writer with today's H.264 settings and the baseline's: the decoded sharpness ratio, detail
               each frame keeps through the codec, PSNR, bytes, encode time
  upscale      seconds per output second at x2, x4, 720p; sharpness (variance of the Laplacian) and
               flicker against bicubic
  interpolate  seconds per output second doubling 24 fps; PSNR of held-out middle frames of rendered
               clips, flow vs a plain blend
  costs        seconds a frame of each choice the page offers (upscale 2x / 4x / 720p, smooth motion) at
               each tier's 16:9 size; --write-costs kadr/web/post_costs.json writes what the page shows
  generate     whole 5 s generations through the engine: each tier plain and with smooth motion, the fast
               tier with --upscale 720p, each against its tier's budget (fast <= 1.0x, high <= 3x the
               video's length; --upscale 720p within 2 minutes)
  cli          `kadr generate ... --upscale 720p` on a 5 s clip in a cold process: wall time (target 2 min)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kadr.camera import CAMERA_MOTIONS, CameraPath  # noqa: E402
from kadr.post.quality import clip_fidelity, interpolation_psnr, sharpness  # noqa: E402

W, H, FPS, N = 256, 144, 24, 121  # the fast tier's 16:9 size, 5 s


def photographs() -> dict[str, Image.Image]:
    """A face, a product cut out on transparency (composited by the loader), a cat, an outdoor scene."""
    import io

    import skimage.data

    from kadr.picture import load_image

    rgb = skimage.data.coffee()[:, 50:550]
    yy, xx = np.mgrid[:400, :500]
    alpha = ((((xx - 250) / 200.0) ** 2 + ((yy - 200) / 160.0) ** 2) < 1).astype(np.uint8) * 255
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buffer, format="PNG")
    return {"astronaut": Image.fromarray(skimage.data.astronaut()), "product_rgba": load_image(buffer.getvalue()),
            "chelsea": Image.fromarray(skimage.data.chelsea()), "rocket": Image.fromarray(skimage.data.rocket())}


def _pipeline():
    from kadr.pipelines import registry

    return registry.load_backend(registry.get_spec("kadr-tiny"))


def _render(pipe, image, motion: str, prompt: str = "", seed: int = 1, frames: int = N) -> np.ndarray:
    return pipe(prompt=prompt, negative_prompt=None, image=image, height=H, width=W, num_frames=frames, fps=FPS,
                num_inference_steps=6, guidance_scale=4.0, generator=torch.Generator().manual_seed(seed),
                camera=CameraPath.from_motion(motion, frames, FPS), callback_on_step_end=None).frames


def _fid(frames: np.ndarray) -> dict[str, float]:
    f = clip_fidelity(frames)
    return {"middle_psnr": round(f["middle"].psnr, 2), "last_psnr": round(f["last"].psnr, 2),
            "last_sharpness_ratio": round(f["last"].sharpness_ratio, 3)}


SHEET_MOTION = {"astronaut": "zoom_in", "product_rgba": "pan_right", "chelsea": "zoom_out", "rocket": "tilt_up"}


def bench_fidelity(quick: bool, sheet: Path | None = None) -> dict[str, Any]:
    from kadr.picture import fit_picture
    from kadr.post.fidelity import PhotoAnchor, keep_photo

    pipe = _pipeline()
    rows = []
    stills: list[tuple[str, np.ndarray]] = []
    pictures = photographs()
    for name, picture in (list(pictures.items())[:2] if quick else pictures.items()):
        fitted = fit_picture(picture, W, H)
        for motion in (("pan_right", "zoom_out") if quick else CAMERA_MOTIONS):
            raw = _render(pipe, fitted.frame, motion)
            camera = CameraPath.from_motion(motion, N, FPS)
            t = time.perf_counter()
            anchor = PhotoAnchor.from_image(fitted.picture, (W, H), max_zoom=float(camera.poses[:, 2].max()), mode=fitted.mode)
            kept = keep_photo(raw, anchor, camera.poses)
            seconds = time.perf_counter() - t
            if SHEET_MOTION.get(name) == motion:
                stills += [(f"before: {name}, {motion}", raw), (f"after: {name}, {motion}", kept)]
            rows.append({"photo": name, "motion": motion, "model": _fid(raw), "kept": _fid(kept),
                         "keep_photo_s_per_output_s": round(seconds / (N / FPS), 3)})
    if sheet is not None and stills:
        from training.evaluate import contact_sheet

        contact_sheet(stills, sheet, columns=2)  # each row: a photograph before | after, frames 0, middle, last
    kept_last = [r["kept"]["last_psnr"] for r in rows]
    return {"clips": len(rows), "kept_last_psnr_min": min(kept_last),
            "model_last_psnr_min": min(r["model"]["last_psnr"] for r in rows),
            "kept_sharpness_ratio_min": min(r["kept"]["last_sharpness_ratio"] for r in rows),
            "kept_middle_psnr_min": min(r["kept"]["middle_psnr"] for r in rows), "rows": rows}


def _eval_prompts() -> list[dict[str, Any]]:
    data = json.loads((ROOT / "eval" / "prompts.json").read_text(encoding="utf-8"))
    return [p for p in data["prompts"] if p.get("camera")]


def _camera_agrees(wanted: str, measured: str) -> bool:
    if wanted == "any":
        return True
    if wanted == "any_motion":
        return measured != "static"
    if wanted == "lateral":
        return measured in ("pan_left", "pan_right")
    return wanted == measured


def bench_t2v(quick: bool) -> dict[str, Any]:
    from kadr.engine import Engine
    from kadr.post.quality import aligned_fidelity, camera_matrix
    from kadr.request import VideoRequest
    from kadr.video.checks import check_video, read_video
    from kadr.video.encode import VideoWriter

    engine = Engine()
    rows = []
    prompts = _eval_prompts()[:4] if quick else _eval_prompts()
    with tempfile.TemporaryDirectory() as folder:
        for i, p in enumerate(prompts):
            request = VideoRequest(prompt=p["text"], seed=200 + i, duration=5)
            path = Path(folder) / f"{i}.mp4"
            delivered = _delivered_frames(engine, request, path)
            handed, poses = delivered.frames, delivered.poses  # poses: the path the first keyframe was moved along
            plan = engine.plan(request)
            report = check_video(path)
            frames, _ = read_video(path)  # the decoded MP4: what a person gets
            h, w = frames.shape[1:3]
            old_path = Path(folder) / f"{i}-baseline.mp4"  # the same frames through the old H.264 settings
            with VideoWriter(old_path, fps=plan.fps, width=w, height=h, codec_options=BASELINE_H264) as writer:
                writer.write(handed)
            old_frames, _ = read_video(old_path)
            row = {"prompt": p["text"], "wanted": p["camera"], "planned": plan.camera,
                   "measured": report["camera"], "agrees": _camera_agrees(p["camera"], report["camera"]),
                   # the delivered first frame's detail against the model's own first keyframe
                   "first_frame_vs_keyframe": round(sharpness(handed[0]) / sharpness(delivered.keyframe), 3)}
            for which, index in (("middle", len(frames) // 2), ("last", len(frames) - 1)):
                fitted = aligned_fidelity(frames[0], frames[index])
                known = aligned_fidelity(frames[0], frames[index], camera_matrix(poses[0], poses[index], w, h))
                before = aligned_fidelity(handed[0], handed[index], camera_matrix(poses[0], poses[index], w, h))
                old = aligned_fidelity(old_frames[0], old_frames[index], camera_matrix(poses[0], poses[index], w, h))
                row[which] = {"sharpness_ratio": round(known.sharpness_ratio, 3), "psnr": round(known.psnr, 2),
                              "covered": round(known.covered, 3),
                              "before_encoding": {"sharpness_ratio": round(before.sharpness_ratio, 3),
                                                  "psnr": round(before.psnr, 2)},
                              "baseline_h264": {"sharpness_ratio": round(old.sharpness_ratio, 3)},
                              "flow_fit": {"sharpness_ratio": round(fitted.sharpness_ratio, 3), "psnr": round(fitted.psnr, 2),
                                           "scale": round(fitted.scale, 3)}}
            rows.append(row)
    ratios = [min(r["middle"]["sharpness_ratio"], r["last"]["sharpness_ratio"]) for r in rows]
    return {"clips": len(rows), "camera_agreement": round(float(np.mean([r["agrees"] for r in rows])), 3),
            "aligned_by": "the camera path the engine used (flow_fit: the similarity fitted by optical flow)",
            "first_frame_vs_keyframe_min": min(r["first_frame_vs_keyframe"] for r in rows),
            "baseline_h264_sharpness_ratio_min": min(min(r["middle"]["baseline_h264"]["sharpness_ratio"],
                                                         r["last"]["baseline_h264"]["sharpness_ratio"]) for r in rows),
            "before_encoding_sharpness_ratio_min": min(min(r["middle"]["before_encoding"]["sharpness_ratio"],
                                                           r["last"]["before_encoding"]["sharpness_ratio"]) for r in rows),
            "sharpness_ratio_min": min(ratios), "sharpness_ratio_at_least_0.8": sum(x >= 0.8 for x in ratios),
            "psnr_min": min(min(r["middle"]["psnr"], r["last"]["psnr"]) for r in rows), "rows": rows}


BASELINE_H264 = {"crf": "20", "preset": "veryfast"}  # the MP4 settings before the grain tune (7121b7a)


@dataclass
class Delivered:
    frames: np.ndarray  # (F, H, W, 3) uint8: what engine.generate() hands its MP4 writer (before H.264)
    poses: np.ndarray  # (F', 3): the camera path the engine planned (x, y, log_zoom)
    keyframe: np.ndarray | None  # (H, W, 3): the model's first frame as it reached the keep-photo step


def _delivered_frames(engine: Any, request: Any, output: Path | None = None) -> Delivered:
    """What ``engine.generate(request)`` hands its MP4 writer, the camera poses it planned and the model's
    first frame; the MP4 is written to ``output`` when given. The engine's writer is swapped for one that
    also keeps what it is given, and the keep-photo step records the first frame it receives."""
    from unittest import mock

    from kadr import engine as engine_module
    from kadr.post.steps import KeepPhoto
    from kadr.video.encode import VideoWriter

    kept: list[np.ndarray] = []
    model_first: list[np.ndarray] = []

    class KeepingWriter(VideoWriter):
        def write(self, frames: np.ndarray) -> None:
            kept.append(np.array(frames))
            super().write(frames)

    keep_photo = KeepPhoto.process

    def recording(step: KeepPhoto, frames: np.ndarray, info: Any = None) -> np.ndarray:
        if not model_first:
            model_first.append(frames[0].copy())
        return keep_photo(step, frames, info)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = engine.plan(request)  # pure: the same plan generate() makes
        with tempfile.TemporaryDirectory() as folder, mock.patch.object(engine_module, "VideoWriter", KeepingWriter), \
                mock.patch.object(KeepPhoto, "process", recording):
            engine.generate(request, output or Path(folder) / "clip.mp4")
    covered = plan.chunk_frames[0] + sum(n - 1 for n in plan.chunk_frames[1:])
    poses = CameraPath.from_motion(plan.camera, covered, plan.fps, plan.camera_speed).poses
    return Delivered(np.concatenate(kept), poses, model_first[0] if model_first else None)


def bench_encode(quick: bool) -> dict[str, Any]:
    """Image-to-video clips as training/evaluate.py's ``delivered`` makes them (the engine, its photographs,
    seeds and moves), their frames encoded with today's MP4 settings and the baseline's, decoded back: the
    aligned sharpness ratio the evaluation reads, the detail each frame keeps through the codec (decoded /
    pre-encode variance of the Laplacian), PSNR, bytes and encode seconds."""
    from kadr.engine import Engine
    from kadr.post.quality import aligned_fidelity, camera_matrix
    from kadr.request import VideoRequest
    from kadr.video.checks import read_video
    from kadr.video.encode import CODECS, VideoWriter
    from training.evaluate import PHOTOS, photo

    settings = {"baseline": BASELINE_H264, "current": CODECS["mp4"]["options"]}
    engine = Engine()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in (("chelsea",) if quick else PHOTOS):
            for mi, motion in enumerate(CAMERA_MOTIONS):
                if quick and motion not in ("tilt_up", "tilt_down"):
                    continue
                request = VideoRequest(prompt="", image=photo(name), camera=motion, seed=300 + mi, duration=5)
                delivered = _delivered_frames(engine, request)
                clip, poses = delivered.frames, delivered.poses
                h, w = clip.shape[1:3]
                row: dict[str, Any] = {"photo": name, "motion": motion}
                for label, options in settings.items():
                    path = Path(folder) / f"{name}-{motion}-{label}.mp4"
                    t = time.perf_counter()
                    with VideoWriter(path, fps=FPS, width=w, height=h, codec_options=options) as writer:
                        writer.write(clip)
                    seconds = time.perf_counter() - t
                    decoded, _ = read_video(path)
                    picks = {"middle": len(clip) // 2, "last": len(clip) - 1}
                    fid = {k: aligned_fidelity(decoded[0], decoded[i], camera_matrix(poses[0], poses[i], w, h))
                           for k, i in picks.items()}
                    kept = {k: sharpness(decoded[i]) / sharpness(clip[i]) for k, i in {"first": 0, **picks}.items()}
                    row[label] = {"sharpness_ratio": round(min(f.sharpness_ratio for f in fid.values()), 3),
                                  "psnr_min": round(min(f.psnr for f in fid.values()), 2),
                                  "detail_kept": {k: round(v, 3) for k, v in kept.items()},
                                  "kB": round(path.stat().st_size / 1024, 1), "encode_s": round(seconds, 3)}
                rows.append(row)

    def total(label: str, key: str) -> float:
        return sum(r[label][key] for r in rows)

    out: dict[str, Any] = {"settings": settings, "clips": len(rows), "size": f"{W}x{H}"}
    for label in settings:
        out[label] = {"sharpness_ratio_min": min(r[label]["sharpness_ratio"] for r in rows),
                      "sharpness_ratio_at_least_0.8": sum(r[label]["sharpness_ratio"] >= 0.8 for r in rows),
                      "psnr_min": min(r[label]["psnr_min"] for r in rows),
                      "detail_kept_min": {k: min(r[label]["detail_kept"][k] for r in rows) for k in ("first", "middle", "last")},
                      "kB_mean": round(total(label, "kB") / len(rows), 1)}
    out["size_vs_baseline"] = round(total("current", "kB") / total("baseline", "kB"), 2)
    out["encode_time_vs_baseline"] = round(total("current", "encode_s") / total("baseline", "encode_s"), 2)
    out["rows"] = rows
    return out


def _rendered_clip(frames: int) -> np.ndarray:
    """A kadr-tiny image-to-video clip with its photograph kept (what the upscaler receives)."""
    from kadr.picture import fit_picture
    from kadr.post.fidelity import PhotoAnchor, keep_photo

    picture = photographs()["astronaut"]
    fitted = fit_picture(picture, W, H)
    camera = CameraPath.from_motion("zoom_in", frames, FPS)
    raw = _render(_pipeline(), fitted.frame, "zoom_in", frames=frames)
    anchor = PhotoAnchor.from_image(fitted.picture, (W, H), max_zoom=float(camera.poses[:, 2].max()))
    return keep_photo(raw, anchor, camera.poses)


def bench_upscale(quick: bool) -> dict[str, Any]:
    from kadr.post.upscale import Upscale, realesrgan_available
    from kadr.video.checks import flicker

    clip = _rendered_clip(9 if quick else 25)
    out: dict[str, Any] = {"input": f"{W}x{H}", "frames": len(clip), "realesrgan": realesrgan_available() or "available"}
    for target in ("2", "4", "720p"):
        row: dict[str, Any] = {}
        results = {}
        for method in ("bicubic", "lanczos", "realesrgan"):
            step = Upscale(target, method)  # type: ignore[arg-type]
            size = step.output_size(W, H)
            step.process(clip[:1])  # loads the network once
            t = time.perf_counter()
            results[method] = step.process(clip)
            seconds = time.perf_counter() - t
            row[method] = {"s_per_output_s": round(seconds / (len(clip) / FPS), 2),
                           "sharpness": round(float(np.mean([sharpness(f) for f in results[method]])), 1),
                           "flicker": round(flicker(results[method]), 3)}
        row["size"] = f"{size[0]}x{size[1]}"
        row["realesrgan_sharpness_vs_bicubic"] = round(row["realesrgan"]["sharpness"] / row["bicubic"]["sharpness"], 2)
        row["realesrgan_flicker_vs_bicubic"] = round(row["realesrgan"]["flicker"] / max(row["bicubic"]["flicker"], 1e-6), 2)
        row["realesrgan_5s_clip_s"] = round(row["realesrgan"]["s_per_output_s"] * 5, 1)
        out[f"x{target}" if target.isdigit() else target] = row
    return out


def bench_interpolate(quick: bool) -> dict[str, Any]:
    from kadr.post.interpolate import Interpolate, interpolate_middle

    pipe = _pipeline()
    rows = []
    for motion in (("pan_right", "zoom_in") if quick else ("static", "pan_right", "tilt_up", "zoom_in", "zoom_out")):
        clip = _render(pipe, None, motion, prompt="Закат над морем, волны", seed=7, frames=49)
        rows.append({"motion": motion,
                     "flow_psnr": round(interpolation_psnr(clip, lambda a, b: interpolate_middle(a, b, "flow")), 2),
                     "blend_psnr": round(interpolation_psnr(clip, lambda a, b: interpolate_middle(a, b, "blend")), 2)})
    step = Interpolate(FPS, 2 * FPS, "flow")
    t = time.perf_counter()
    made = len(step.process(clip))
    tail = step.flush()
    made += 0 if tail is None else len(tail)
    seconds = time.perf_counter() - t
    return {"held_out": "odd frames of 49-frame text-to-video clips rebuilt from their neighbours",
            "flow_psnr_mean": round(float(np.mean([r["flow_psnr"] for r in rows])), 2),
            "blend_psnr_mean": round(float(np.mean([r["blend_psnr"] for r in rows])), 2),
            "flow_s_per_output_s_48fps": round(seconds / (made / (2 * FPS)), 3), "rows": rows}


TIER_BUDGET = {"fast": 1.0, "high": 3.0}  # the README's speed targets: wall time over the video's length


def _frames_at(clip: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA if width <= f.shape[1] else cv2.INTER_CUBIC)
                     for f in clip])


def bench_costs(quick: bool, write: Path | None = None) -> dict[str, Any]:
    """Seconds a frame for each page choice at each tier's 16:9 size (the page multiplies by its frames)."""
    import os
    import platform
    from datetime import date

    from kadr.pipelines import registry
    from kadr.post.interpolate import Interpolate
    from kadr.post.upscale import Upscale

    spec = registry.get_spec("kadr-tiny")
    clip = _rendered_clip(25)
    n_up = 3 if quick else 8
    tiers: dict[str, Any] = {}
    for tier in ("fast", "high"):
        width, height = spec.resolution("16:9", tier)
        frames = _frames_at(clip, width, height)
        upscale: dict[str, float] = {}
        for target in ("2x", "4x", "720p"):
            step = Upscale(target.removesuffix("x"), "realesrgan")
            step.output_size(width, height)
            step.process(frames[:1])  # loads the network once
            per_frame = []
            for frame in frames[1:1 + n_up]:  # the median frame: a shared machine's load comes in bursts
                t = time.perf_counter()
                step.process(frame[None])
                per_frame.append(time.perf_counter() - t)
            upscale[target] = round(float(np.median(per_frame)), 3)
        step = Interpolate(FPS, 2 * FPS, "flow")
        t = time.perf_counter()
        made = len(step.process(frames))
        tail = step.flush()
        made += 0 if tail is None else len(tail)
        tiers[tier] = {"size": f"{width}x{height}", "upscale_s_per_frame": upscale,
                       "smooth_s_per_output_frame": round((time.perf_counter() - t) / made, 4)}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    costs = {"date": date.today().isoformat(), "cores": os.cpu_count(), "machine": platform.machine(),
             "load": None if load is None else round(load, 1), "by": "python bench/bench_post.py --sections costs",
             "fps": FPS, "tiers": tiers}
    if write is not None:
        write.write_text(json.dumps(costs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {**costs, "written": str(write) if write is not None else None}


def bench_generate(quick: bool) -> dict[str, Any]:
    """5 s generations through the engine, each tier against its budget; the fast tier upscaled to 720p."""
    from kadr.engine import Engine
    from kadr.request import VideoRequest
    from kadr.video.probe import probe

    engine = Engine()
    prompt = "Закат над морем, волны, панорама слева направо"
    runs = [("fast", None, False), ("fast", None, True), ("high", None, False), ("high", None, True),
            ("fast", "720p", False)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engine.generate(VideoRequest(prompt=prompt, duration=1, seed=1), Path(folder) / "warm.mp4")  # loads the model
            for i, (tier, upscale, smooth) in enumerate(runs[:3] + runs[4:] if quick else runs):
                t = time.perf_counter()
                result = engine.generate(VideoRequest(prompt=prompt, duration=5, seed=9, tier=tier, upscale=upscale,
                                                      smooth=smooth), Path(folder) / f"{i}.mp4")
                wall = time.perf_counter() - t
                info = probe(result.path)
                rows.append({"tier": tier, "upscale": upscale, "smooth": smooth, "wall_s": round(wall, 2),
                             "x_video_length": round(wall / 5.0, 3), "tier_budget_x": TIER_BUDGET[tier],
                             "within_tier_budget": wall / 5.0 <= TIER_BUDGET[tier],
                             "output": f"{info.width}x{info.height}@{round(info.fps)}", "frames": info.frames,
                             "timings": result.metadata["timings"]})
    upscaled = [r for r in rows if r["upscale"] == "720p"]
    return {"rows": rows, "upscale_720p_5s_within_2_min": all(r["wall_s"] <= 120 for r in upscaled)}


def bench_cli(quick: bool) -> dict[str, Any]:
    """``kadr generate ... --upscale 720p`` on a 5 s clip as a person runs it: a cold process, wall time."""
    import os
    import subprocess

    prompt = "Закат над морем, волны, панорама слева направо"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "720p.mp4"
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "kadr", "generate", prompt, "--upscale", "720p", "--seed", "9",
                               "-o", str(out), "--json", "--quiet"], capture_output=True, text=True, env=env, timeout=900)
        wall = time.perf_counter() - t
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    report = json.loads(done.stdout)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"command": f"kadr generate {prompt!r} --upscale 720p", "wall_s": round(wall, 1),
            "within_2_min": wall <= 120, "output": f"{report['width']}x{report['height']}@{report['fps']}",
            "frames": report["frames"], "timings": report["timings"], "load_after": load}


SECTIONS = {"fidelity": bench_fidelity, "t2v": bench_t2v, "encode": bench_encode, "upscale": bench_upscale, "interpolate": bench_interpolate,
            "costs": bench_costs, "generate": bench_generate, "cli": bench_cli}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sheet", type=Path, default=None, help="fidelity: write the before/after contact sheet PNG here")
    parser.add_argument("--write-costs", type=Path, default=None, help="costs: write the page's figures here "
                                                                        "(kadr/web/post_costs.json)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    report: dict[str, Any] = {}
    for name in args.sections.split(","):
        t = time.perf_counter()
        if name == "fidelity":
            report[name] = bench_fidelity(args.quick, args.sheet)
        elif name == "costs":
            report[name] = bench_costs(args.quick, args.write_costs)
        else:
            report[name] = SECTIONS[name](args.quick)
        report[name]["seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
