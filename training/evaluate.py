"""Evaluate kadr-tiny: camera agreement by optical flow, night vs day, sunset warmth, Russian/English
agreement, image-to-video fidelity on real photographs, the setting in a still frame, determinism. Prints one JSON object.

    python -m training.evaluate                                  # the weights shipped in the package
    python -m training.evaluate --weights checkpoints/export/kadr-tiny --sheet docs/contact_sheet.png

Sections 1-5 measure the model's own frames (pre-post): each clip is made as the engine's model pass
makes it (a CameraPath for the requested motion, the tier's resolution and steps, 24 fps) and is read
before the post stage. They score the weights (``score``, which training.export compares to decide
what to install), and the post stage would hide what they measure: it replaces an image-to-video clip's
pixels with the moved photograph (kadr.post.fidelity) and carries text-to-video's first keyframe along
the camera path. Section 6, ``delivered``, measures what a person gets: the engine's ``generate()`` with
the same weights, its post stage and the H.264 MP4 decoded back. Prompts come from eval/prompts.json plus
parallel Russian and English scene descriptions with each camera phrase.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from kadr.camera import CAMERA_MOTIONS, CameraPath
from kadr.video import checks

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "eval" / "prompts.json"

CAMERA_PHRASES: dict[str, dict[str, str]] = {
    "ru": {"static": "статичная камера", "pan_left": "камера движется справа налево", "pan_right": "панорама слева направо",
           "tilt_up": "камера поднимается вверх", "tilt_down": "камера опускается вниз", "zoom_in": "камера приближается",
           "zoom_out": "камера отдаляется"},
    "en": {"static": "static camera", "pan_left": "the camera pans from right to left", "pan_right": "the camera pans from left to right",
           "tilt_up": "tilt up", "tilt_down": "tilt down", "zoom_in": "zoom in", "zoom_out": "zoom out"},
}
SCENES: list[dict[str, str]] = [
    {"ru": "Закат над морем, волны", "en": "Sunset over the sea, waves"},
    {"ru": "Ночной город, огни, машины", "en": "Night city with lights and cars"},
    {"ru": "Горы, снег, голубое небо", "en": "Snowy mountains under a blue sky"},
    {"ru": "Лес утром, туман", "en": "Forest in the morning with fog"},
    {"ru": "Поле с цветами, солнечный день", "en": "A field of flowers on a sunny day"},
    {"ru": "Пустыня днём, жара", "en": "Desert during the day, heat"},
]
SETTING_PROMPTS: dict[str, dict[str, str]] = {
    "park": {"ru": "Парк летом, солнечный день", "en": "A park on a sunny summer day"},
    "beach": {"ru": "Пляж и море, солнечный день", "en": "A beach by the sea on a sunny day"},
    "city": {"ru": "Городская улица днём", "en": "A city street during the day"},
    "mountains": {"ru": "Горы днём, ясное небо", "en": "Mountains on a clear day"},
    "forest": {"ru": "Лес днём", "en": "A forest during the day"},
    "field": {"ru": "Поле, летний день", "en": "A field on a summer day"},
    "desert": {"ru": "Пустыня днём", "en": "A desert during the day"},
    "lake": {"ru": "Озеро днём, ясно", "en": "A lake on a clear day"},
}
PHOTOS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket")


# ---- objective checks: the package's own (kadr.video.checks), so the evaluation measures what `kadr check` does


def estimate_camera(frames: np.ndarray, fps: float = 24.0) -> str:
    return checks.estimate_camera(frames, fps).label


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR over the pixels where ``mask`` is set (the part of a moved frame that is still in view)."""
    return checks.psnr(a[mask], b[mask])


# ---- the suite -----------------------------------------------------------------------------------


def make(pipe: Any, prompt: str, motion: str, seed: int, tier: str = "fast", aspect: str = "16:9",
         image: Image.Image | None = None, seconds: float = 5.0) -> np.ndarray:
    spec = pipe.spec
    width, height = spec.resolution(aspect, tier)
    fps = spec.native_fps
    n = spec.frame_rule.round(int(round(seconds * fps)) + 1)
    return pipe(prompt=prompt, negative_prompt=None, image=image, height=height, width=width, num_frames=n, fps=fps,
                num_inference_steps=spec.steps[tier], guidance_scale=spec.guidance_scale,
                generator=torch.Generator().manual_seed(seed), camera=CameraPath.from_motion(motion, n, fps),
                callback_on_step_end=None).frames


def photo(name: str) -> Image.Image:
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def evaluate(pipe: Any, quick: bool = False, sheet: Path | None = None) -> dict[str, Any]:
    t0 = time.time()
    report: dict[str, Any] = {}
    stills: list[tuple[str, np.ndarray]] = []

    # 1. Camera, text-to-video: 7 motions x 2 languages x 2 scenes.
    rows = []
    scenes_per = 1 if quick else 2
    for mi, motion in enumerate(CAMERA_MOTIONS):
        for lang in ("ru", "en"):
            for j in range(scenes_per):
                scene = SCENES[(mi + 2 * j + (lang == "en")) % len(SCENES)][lang]
                text = f"{scene}, {CAMERA_PHRASES[lang][motion]}"
                frames = make(pipe, text, motion, seed=100 + mi * 7 + j)
                got = estimate_camera(frames)
                rows.append({"prompt": text, "motion": motion, "estimated": got})
                if lang == "ru" and j == 0:
                    stills.append((f"{motion}", frames))
    report["camera_t2v"] = {"agreement": float(np.mean([r["motion"] == r["estimated"] for r in rows])), "clips": len(rows),
                            "misses": [r for r in rows if r["motion"] != r["estimated"]]}

    # 2. Camera and fidelity, image-to-video on real photographs.
    rows = []
    first_psnr, last_psnr = [], []
    photos = PHOTOS[:2] if quick else PHOTOS
    for pi, name in enumerate(photos):
        picture = photo(name)
        for mi, motion in enumerate(CAMERA_MOTIONS):
            frames = make(pipe, "", motion, seed=300 + mi, image=picture)
            target = np.asarray(pipe._prepare_image(picture, frames.shape[1], frames.shape[2])[0].permute(1, 2, 0).add(1).mul(127.5).round().clamp(0, 255).byte())
            first_psnr.append(checks.psnr(frames[0], target))
            last_psnr.append(_moved_psnr(frames[-1], target, motion, len(frames)))
            rows.append({"photo": name, "motion": motion, "estimated": estimate_camera(frames)})
            if mi == 1:
                stills.append((f"i2v {name}", frames))
    report["camera_i2v"] = {"agreement": float(np.mean([r["motion"] == r["estimated"] for r in rows])), "clips": len(rows),
                            "misses": [r for r in rows if r["motion"] != r["estimated"]]}
    report["i2v"] = {"first_frame_psnr_min": float(np.min(first_psnr)), "first_frame_psnr_mean": float(np.mean(first_psnr)),
                     "last_frame_psnr_vs_moved_input_mean": float(np.mean(last_psnr))}

    # 3. Time of day over the public prompts: luma and warmth per time label, and Russian/English pairs.
    prompts = json.loads(PROMPTS.read_text(encoding="utf-8"))["prompts"] if PROMPTS.is_file() else []
    by_time: dict[str, list[np.ndarray]] = {}
    for i, p in enumerate(prompts):
        if "time" not in p:
            continue
        motion = p.get("camera") if p.get("camera") in CAMERA_MOTIONS else "static"
        for seed in ((0,) if quick else (0, 1)):
            frames = make(pipe, p["text"], motion, seed=seed, seconds=2.0)
            by_time.setdefault(p["time"], []).append(frames)
            if seed == 0:
                stills.append((p["text"][:28], frames))
    measured = {k: [checks.brightness_and_warmth(f) for f in v] for k, v in by_time.items()}  # once per clip
    lum = {k: float(np.mean([m["luma"] for m in ms])) for k, ms in measured.items()}
    warm = {k: float(np.mean([m["warmth"] for m in ms])) for k, ms in measured.items()}
    report["time_of_day"] = {"luma": lum, "warmth_r_minus_b": warm,
                             "night_over_day_luma": lum.get("night", 0) / max(1e-6, lum.get("day", 1)),
                             "sunset_minus_day_warmth": warm.get("sunset", 0) - warm.get("day", 0)}

    pairs = [(s["ru"], s["en"]) for s in SCENES]
    means = [(make(pipe, ru, "static", 5, seconds=1.0).mean(axis=(0, 1, 2)), make(pipe, en, "static", 5, seconds=1.0).mean(axis=(0, 1, 2)))
             for ru, en in pairs]
    same = np.mean([np.abs(a - b).mean() for a, b in means])
    cross = np.mean([np.abs(means[i][0] - means[j][1]).mean() for i in range(len(means)) for j in range(len(means)) if i != j])
    report["ru_en"] = {"same_scene_color_gap": float(same), "other_scene_color_gap": float(cross), "ratio": float(same / max(cross, 1e-6))}

    # 4. The setting in a still frame: a probe fitted on daytime renders of the world names the setting
    #    of each clip's middle frame (training.setting_probe).
    from training.setting_probe import fitted

    probe, probe_accuracy = fitted(24 if quick else 40, time_of_day="day")
    rows = []
    for si, (setting, texts) in enumerate(SETTING_PROMPTS.items()):
        for lang in ("ru", "en"):
            for seed in ((400,) if quick else (400, 500)):  # 32 clips: two samples of each prompt, not one
                frames = make(pipe, texts[lang], "static", seed=seed + si, seconds=2.0)
                rows.append({"prompt": texts[lang], "seed": seed + si, "setting": setting,
                             "named": probe.name(frames[len(frames) // 2])})
    report["setting"] = {"agreement": float(np.mean([r["setting"] == r["named"] for r in rows])), "clips": len(rows),
                         "probe_accuracy_on_held_out_renders": probe_accuracy, "chance": 1.0 / len(SETTING_PROMPTS),
                         "misses": [r for r in rows if r["setting"] != r["named"]]}

    # 5. Determinism and seed sensitivity.
    a = make(pipe, "Sunset over the sea", "pan_right", 7, seconds=1.0)
    b = make(pipe, "Sunset over the sea", "pan_right", 7, seconds=1.0)
    c = make(pipe, "Sunset over the sea", "pan_right", 8, seconds=1.0)
    report["determinism"] = {"same_seed_identical": bool(np.array_equal(a, b)),
                             "other_seed_mean_abs_diff": float(np.abs(a.astype(np.float32) - c.astype(np.float32)).mean())}

    # 6. What a person gets (through the post stage and the encoder); not part of the score.
    report["delivered"] = delivered(pipe, quick)

    t = report["time_of_day"]
    report["score"] = float(report["camera_t2v"]["agreement"] + report["camera_i2v"]["agreement"]
                            + min(1.0, max(0.0, 1.0 - t["night_over_day_luma"]) * 2)
                            + min(1.0, max(0.0, t["sunset_minus_day_warmth"]) / 20.0)
                            + min(1.0, max(0.0, 1.0 - report["ru_en"]["ratio"]))
                            + report["setting"]["agreement"])
    report["seconds"] = round(time.time() - t0, 1)
    if sheet is not None:
        contact_sheet(stills, sheet)
        report["contact_sheet"] = str(sheet)
    return report


def delivered(pipe: Any, quick: bool = False) -> dict[str, Any]:
    """Clips made by the engine's ``generate()`` with ``pipe`` (post stage, H.264 MP4), decoded and measured.

    Image-to-video: the photographs x camera moves given as the request's ``camera`` (as the page sends
    them); text-to-video: a Russian scene with each camera phrase and no ``camera`` field (the prompt's
    words decide). Each: the camera read back from the MP4 against the move, and the last and middle
    frames against the first frame aligned to them by the camera path the engine planned (kadr.post.quality:
    PSNR over covered pixels, sharpness as the variance of the Laplacian; an optical-flow fit can lock onto
    a wrong zoom on fog, so it is reported beside, not used).
    """
    from kadr.engine import Engine
    from kadr.post.quality import aligned_fidelity, camera_matrix
    from kadr.request import VideoRequest

    engine = Engine()
    motions = ("pan_right", "zoom_in", "tilt_down") if quick else CAMERA_MOTIONS

    def measured(request: VideoRequest, path: Path, motion: str) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = engine.plan(request, pipe.spec)  # pure: the same plan generate() makes
            engine.generate(request, path, backend=pipe)
        frames, _ = checks.read_video(path)
        covered = plan.chunk_frames[0] + sum(n - 1 for n in plan.chunk_frames[1:])
        poses = CameraPath.from_motion(plan.camera, covered, plan.fps, plan.camera_speed).poses
        h, w = frames.shape[1:3]
        middle, last = len(frames) // 2, len(frames) - 1
        fid = {i: aligned_fidelity(frames[0], frames[i], camera_matrix(poses[0], poses[i], w, h)) for i in (middle, last)}
        check = checks.check_video(path, camera=motion)
        return {"motion": motion, "camera": check["camera"], "camera_ok": bool(check["camera_ok"]),
                "last_psnr": round(fid[last].psnr, 2), "middle_psnr": round(fid[middle].psnr, 2),
                "last_sharpness_ratio": round(fid[last].sharpness_ratio, 3),
                "middle_sharpness_ratio": round(fid[middle].sharpness_ratio, 3),
                "flow_fit_last_psnr": round(aligned_fidelity(frames[0], frames[last]).psnr, 2)}

    i2v, t2v = [], []
    with tempfile.TemporaryDirectory() as folder:
        for name in PHOTOS[:2] if quick else PHOTOS:
            picture = photo(name)
            for mi, motion in enumerate(motions):
                request = VideoRequest(prompt="", image=picture, camera=motion, seed=300 + mi, duration=5)
                i2v.append({"photo": name, **measured(request, Path(folder) / f"{name}-{motion}.mp4", motion)})
        for mi, motion in enumerate(motions):
            text = f"{SCENES[mi % len(SCENES)]['ru']}, {CAMERA_PHRASES['ru'][motion]}"
            request = VideoRequest(prompt=text, seed=100 + mi, duration=5)
            t2v.append({"prompt": text, **measured(request, Path(folder) / f"t2v-{motion}.mp4", motion)})

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"clips": len(rows), "camera_agreement": float(np.mean([r["camera_ok"] for r in rows])),
                "last_psnr_min": min(r["last_psnr"] for r in rows),
                "sharpness_ratio_min": min(min(r["last_sharpness_ratio"], r["middle_sharpness_ratio"]) for r in rows),
                "rows": rows}

    return {"what": "engine.generate() with these weights: post stage, H.264 MP4 decoded",
            "i2v": summary(i2v), "t2v": summary(t2v)}


def _moved_psnr(frame: np.ndarray, target: np.ndarray, motion: str, n: int) -> float:
    """PSNR of ``frame`` against the input moved along the camera to the clip's last pose (visible part)."""
    from kadr.models.geometry import warp_view

    pose = torch.from_numpy(CameraPath.from_motion(motion, n, 24).poses[-1:])
    img = torch.from_numpy(target).permute(2, 0, 1)[None].float()
    moved, vis = warp_view(img, torch.zeros_like(pose), pose)
    moved_np = moved[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    mask = np.repeat((vis[0, 0].numpy() > 0.5)[..., None], 3, axis=2)
    return masked_psnr(frame, moved_np, mask)


def contact_sheet(stills: list[tuple[str, np.ndarray]], path: Path, columns: int = 6) -> None:
    """Each clip as three frames (start, middle, end) side by side, with its label; saved as a PNG."""
    from PIL import ImageDraw, ImageFont

    # Pillow's built-in font has no Cyrillic; DejaVu (Debian's fonts-dejavu-core) has.
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 11)
    except OSError:
        font = ImageFont.load_default()
    label_h = 14
    cells = []
    for label, frames in stills:
        picks = [frames[0], frames[len(frames) // 2], frames[-1]]
        strip = np.concatenate([np.asarray(Image.fromarray(f).resize((128, 72) if f.shape[1] >= f.shape[0] else (72, 128))) for f in picks], axis=1)
        canvas = Image.new("RGB", (3 * 128, strip.shape[0] + label_h), (20, 20, 20))
        canvas.paste(Image.fromarray(strip), (0, label_h))
        ImageDraw.Draw(canvas).text((2, 1), label[:60], fill=(230, 230, 230), font=font)
        cells.append(canvas)
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    heights = [max(cell.height for cell in row) for row in rows]  # a row of 16:9 strips is not as tall as 9:16
    sheet = Image.new("RGB", (columns * 3 * 128, sum(heights)), (0, 0, 0))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            sheet.paste(cell, (c * 3 * 128, sum(heights[:r])))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet = sheet.resize((sheet.width * 2 // 3, sheet.height * 2 // 3), Image.Resampling.LANCZOS)
    sheet.save(path, optimize=True)


def evaluate_folder(folder: Path | None, quick: bool = False, sheet: Path | None = None) -> dict[str, Any]:
    from kadr.pipelines import tiny

    pipe = tiny.load(tiny.SPECS[0], weights_dir=folder)
    return evaluate(pipe, quick=quick, sheet=sheet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None, help="folder with config.json + model.safetensors")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    report = evaluate_folder(args.weights, quick=args.quick, sheet=args.sheet)
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
