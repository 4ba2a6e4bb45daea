"""Objective checks of a video: camera motion (optical flow), brightness and warmth against the time
of day, temporal flicker, PSNR and image-to-video first-frame fidelity, Russian/English agreement.

Everything works on uint8 (F, H, W, 3) RGB frame arrays; ``check_video`` decodes a file with PyAV
and returns a JSON-serialisable dict (``kadr check VIDEO --camera NAME`` prints it).

Camera conventions are those of kadr.camera: ``pan_right`` makes the content move left, ``tilt_up``
makes it move down, ``zoom_in`` makes it grow. Velocities are reported in the CameraPath units: x in
frame widths, y in frame heights and zoom in log-magnification, per second when ``fps`` is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Union

import av
import cv2
import numpy as np
from PIL import Image

from kadr.camera import PAN_RATE_PER_S, ZOOM_RATE_PER_S, validate_motion

ImageLike = Union[np.ndarray, Image.Image, str, Path]

# A camera that moves less than this fraction of the speed-1.0 rate is called static. The slowest
# named speed ("slow") is 0.5, so this leaves a wide margin on both sides.
STATIC_FRACTION = 0.18
_ANALYSIS_WIDTH = 160  # frames are analysed at most this wide: flow is about the whole frame
_MAX_PAIRS = 16
_CHECK_WIDTH = 320  # check_video decodes at most this wide


@dataclass(frozen=True)
class CameraEstimate:
    """The camera motion measured from a video."""

    label: str  # one of kadr.camera.CAMERA_MOTIONS
    vx: float  # camera x velocity: frame widths per second (per frame when fps is unknown); + is right
    vy: float  # camera y velocity: frame heights per second; + is up
    vzoom: float  # log-magnification per second; + is zooming in
    confidence: float  # 0..1: share of pixels agreeing with the fit times the margin of the winning motion
    per_second: bool  # False when fps was unknown and velocities are per frame
    pairs: int  # frame pairs measured

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"{name}: expected a (F, H, W, 3) array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 frames, got {arr.dtype}")
    return arr


def _luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma, float32 (F, H, W) in 0..255."""
    f = frames.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _gray_small(frame: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    h, w = g.shape
    if w > _ANALYSIS_WIDTH:
        g = cv2.resize(g, (_ANALYSIS_WIDTH, max(8, round(h * _ANALYSIS_WIDTH / w))), interpolation=cv2.INTER_AREA)
    return g


def _clean(grays: np.ndarray) -> np.ndarray:
    """Stretch contrast, remove fast transients (rain streaks, flicker), specks (snowflakes) and
    static low-frequency shading.

    The median of three consecutive frames keeps an edge that moves steadily exactly where the middle
    frame has it, but drops anything that is not at the same place in two of the three frames; a
    3x3 grey opening then drops bright specks of a pixel or two (snowflakes, stars) and keeps dark
    outlines. (F, H, W) uint8 in and out.
    """
    # Stretch the clip's contrast (one mapping for all frames) so dark, foggy clips still have texture.
    lo, hi = np.percentile(grays, [0.5, 99.5])
    if hi - lo > 2:
        grays = np.clip((grays.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    if len(grays) >= 3:
        mid = np.median(np.stack([grays[:-2], grays[1:-1], grays[2:]]), axis=0).astype(np.uint8)  # (F-2, H, W)
        grays = np.concatenate([grays[:1], mid, grays[-1:]])
    kernel = np.ones((3, 3), np.uint8)
    sigma = 0.6 + grays.shape[2] / 256  # a light blur favours large structures over any leftover specks
    wide = grays.shape[2] / 12  # and subtracting a wide blur drops static shading (vignette, lens falloff)
    out = []
    for g in grays:
        g = cv2.GaussianBlur(cv2.morphologyEx(g, cv2.MORPH_OPEN, kernel), (0, 0), sigma).astype(np.float32)
        out.append(np.clip(g - cv2.GaussianBlur(g, (0, 0), wide) + 128.0, 0, 255))
    return np.stack(out).astype(np.uint8)


def _pair_motion(g0: np.ndarray, g1: np.ndarray, levels: int = 4, iters: int = 8) -> tuple[np.ndarray, float]:
    """Global motion from g0 to g1 by direct, robust, coarse-to-fine image alignment.

    Content at position (x, y) relative to the frame centre moves by (tx + kx*x, ty + ky*y). Every
    pixel votes through the brightness-constancy equation, so edges help along their normal even in
    fog or flat animation (where corner trackers starve), and Tukey weights drop what moves on its
    own (cars, birds, snowflakes, waves).

    Returns ((tx, ty, zoom), share of pixels that agree with the fit); tx, ty in pixels of g0 and
    zoom in log-scale, all for the whole gap between the two frames.
    """
    p0, p1 = [g0.astype(np.float32)], [g1.astype(np.float32)]
    for _ in range(levels - 1):
        if min(p0[-1].shape) < 24:
            break
        p0.append(cv2.pyrDown(p0[-1]))
        p1.append(cv2.pyrDown(p1[-1]))
    tx = ty = kx = ky = 0.0
    share = 0.0
    info = np.ones(2)
    for lvl in range(len(p0) - 1, -1, -1):
        i0, i1 = p0[lvl], p1[lvl]
        h, w = i0.shape
        s = 2.0**lvl
        cx, cy = (w - 1) / 2, (h - 1) / 2
        xs = np.broadcast_to((np.arange(w, dtype=np.float32) - cx)[None, :], (h, w))  # (H, W)
        ys = np.broadcast_to((np.arange(h, dtype=np.float32) - cy)[:, None], (h, w))
        a, b = tx / s, ty / s
        for _ in range(iters):
            mx = (xs + cx + a + kx * xs).astype(np.float32)
            my = (ys + cy + b + ky * ys).astype(np.float32)
            warped = cv2.remap(i1, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            valid = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
            gx = cv2.Sobel(warped, cv2.CV_32F, 1, 0, ksize=3) / 8
            gy = cv2.Sobel(warped, cv2.CV_32F, 0, 1, ksize=3) / 8
            r = warped - i0
            rv = r[valid]
            if rv.size < 16:
                break
            sigma = 1.4826 * float(np.median(np.abs(rv - np.median(rv)))) + 0.5
            wgt = np.where(valid, np.clip(1 - (r / (4.685 * sigma)) ** 2, 0, None) ** 2, 0.0).reshape(-1)  # Tukey
            jac = np.stack([gx, gy, gx * xs, gy * ys], -1).reshape(-1, 4)  # (N, 4) d residual / d params
            jw = jac * wgt[:, None]
            normal = jw.T @ jac
            normal += np.eye(4) * (1e-3 * float(np.diag(normal).max()) + 1e-6)  # an unseen axis stays put
            delta = np.linalg.solve(normal, -(jw.T @ r.reshape(-1)))
            a, b, kx, ky = a + delta[0], b + delta[1], kx + delta[2], ky + delta[3]
            if max(abs(delta[0]), abs(delta[1])) < 0.01:
                break
        tx, ty = a * s, b * s
        share = float((wgt > 0.5).mean())
        info = np.diag(normal)[2:]  # how well each axis scale is seen (vertical edges show kx ...)
    # A zoom scales both axes alike: combine them by how well each is seen, so a scene of horizontal
    # bands (a foggy desert, a sea at night) still shows its zoom through ky alone.
    zoom = float((info[0] * kx + info[1] * ky) / max(float(info.sum()), 1e-9))
    return np.array([tx, ty, np.log1p(zoom)]), share


def estimate_camera(frames: np.ndarray, fps: float | None = None) -> CameraEstimate:
    """Measure the camera motion of a clip by global optical flow and name it.

    Frame pairs about half a second apart are aligned with a translation + scale model (translation
    => pan/tilt, scale => zoom, see ``_pair_motion``); the median over pairs is robust to movers.
    """
    frames = _check_frames(frames)
    n = frames.shape[0]
    if n < 2:
        return CameraEstimate("static", 0.0, 0.0, 0.0, 0.0, fps is not None, 0)
    grays = _clean(np.stack([_gray_small(f) for f in frames]))
    h, w = grays[0].shape
    # Pairs about half a second apart: slow pans and zooms move a few pixels, which is measured well,
    # while snow and birds move inconsistently and get down-weighted.
    gap = round(0.5 * fps) if fps else n // 4
    gap = int(np.clip(gap, 1, max(1, (n - 1) // 2)))
    starts = np.arange(0, n - gap)
    if len(starts) > _MAX_PAIRS:
        starts = np.linspace(0, n - gap - 1, _MAX_PAIRS).round().astype(int)
    moves, shares = [], []
    for i in starts:
        move, share = _pair_motion(grays[i], grays[i + gap])
        moves.append(move / gap)  # per frame
        shares.append(share)
    mv = np.median(np.array(moves), axis=0)  # (3,) content dx, dy px/frame, log-scale/frame
    # Content moving left means the camera looks right; content moving down means it looks up.
    vel = np.array([-mv[0] / w, mv[1] / h, mv[2]])
    per_second = fps is not None and fps > 0
    if per_second:
        vel = vel * float(fps)
    label, margin = _name_motion(vel, float(fps) if per_second else None)
    conf = float(np.clip(np.mean(shares), 0, 1) * margin)
    return CameraEstimate(label, float(vel[0]), float(vel[1]), float(vel[2]), conf, per_second, len(moves))


def _name_motion(vel: np.ndarray, fps: float | None) -> tuple[str, float]:
    """Pick the dominant axis in units of the speed-1.0 rates; static below STATIC_FRACTION of it."""
    rates = np.array([PAN_RATE_PER_S, PAN_RATE_PER_S, ZOOM_RATE_PER_S])
    if fps is None:
        rates = rates / 8.0  # per-frame velocities: judge them as at kadr-tiny's 8 fps
    score = np.abs(vel) / rates  # (3,) in multiples of the speed-1.0 rate
    k = int(np.argmax(score))
    top = float(score[k])
    if top < STATIC_FRACTION:
        return "static", float(np.clip(1.0 - top / STATIC_FRACTION, 0, 1))
    second = float(np.sort(score)[-2])
    margin = float(np.clip((top - max(second, STATIC_FRACTION)) / top, 0, 1))
    names = (("pan_left", "pan_right"), ("tilt_down", "tilt_up"), ("zoom_out", "zoom_in"))
    return names[k][int(vel[k] > 0)], margin


def brightness_and_warmth(frames: np.ndarray) -> dict[str, float]:
    """Mean luma (0..255), warmth = mean(R) - mean(B) (positive: warm) and mean saturation (0..1)."""
    frames = _check_frames(frames)
    f = frames.astype(np.float32)
    mx, mn = f.max(axis=-1), f.min(axis=-1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    return {
        "luma": float(_luma(frames).mean()),
        "warmth": float(f[..., 0].mean() - f[..., 2].mean()),
        "saturation": float(sat.mean()),
    }


# What each time of day must look like, measured on uint8 video. Night: dark; day: bright; sunset and
# sunrise: warm light (red above blue). Calibrated on the procedural world's clips (tests).
TIME_RULES: dict[str, dict[str, float]] = {
    "night": {"luma_max": 70.0},
    "day": {"luma_min": 80.0},
    "sunset": {"warmth_min": 8.0, "luma_min": 35.0},
    "sunrise": {"warmth_min": 0.0, "luma_min": 40.0},
}


def time_of_day_ok(measure: dict[str, float], time_of_day: str) -> bool:
    """Whether brightness/warmth agree with the requested time of day (see TIME_RULES)."""
    if time_of_day not in TIME_RULES:
        raise ValueError(f"time_of_day: got {time_of_day!r}; allowed: one of {', '.join(TIME_RULES)}")
    rule = TIME_RULES[time_of_day]
    return (
        measure["luma"] <= rule.get("luma_max", 256.0)
        and measure["luma"] >= rule.get("luma_min", -1.0)
        and measure["warmth"] >= rule.get("warmth_min", -256.0)
    )


def flicker(frames: np.ndarray) -> float:
    """Temporal high-frequency luma change: mean |second difference in time| of block-mean luma.

    Smooth motion changes block means almost linearly (small second difference); flicker flips them
    frame to frame. Measured on an 8x8 grid of blocks, in luma levels (0..255).
    """
    frames = _check_frames(frames)
    if frames.shape[0] < 3:
        return 0.0
    y = _luma(frames)  # (F, H, W)
    blocks = np.stack([cv2.resize(f, (8, 8), interpolation=cv2.INTER_AREA) for f in y])  # (F, 8, 8)
    d2 = blocks[2:] - 2 * blocks[1:-1] + blocks[:-2]  # (F-2, 8, 8)
    return float(np.abs(d2).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 arrays of one shape (inf when equal)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _as_rgb(image: ImageLike) -> np.ndarray:
    if isinstance(image, (str, Path)):
        image = Image.open(image)
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 (H, W, 3) RGB, got {arr.dtype} {arr.shape}")
    return arr


def first_frame_fidelity(image: ImageLike, frames: np.ndarray) -> float:
    """PSNR (dB) of frame 0 against the input image resized to the output size (image-to-video)."""
    frames = _check_frames(frames)
    img = _as_rgb(image)
    h, w = frames.shape[1:3]
    if img.shape[:2] != (h, w):
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return psnr(img, frames[0])


def agreement(frames_a: np.ndarray, frames_b: np.ndarray, fps: float | None = None) -> dict[str, Any]:
    """How alike two videos of one request are (e.g. the Russian and the English prompt)."""
    ma, mb = brightness_and_warmth(frames_a), brightness_and_warmth(frames_b)
    ca, cb = estimate_camera(frames_a, fps), estimate_camera(frames_b, fps)
    ha = _hist(frames_a)
    hb = _hist(frames_b)
    return {
        "camera_same": ca.label == cb.label,
        "camera": [ca.label, cb.label],
        "luma_diff": abs(ma["luma"] - mb["luma"]),
        "warmth_diff": abs(ma["warmth"] - mb["warmth"]),
        "colour_similarity": float(cv2.compareHist(ha, hb, cv2.HISTCMP_CORREL)),
    }


def _hist(frames: np.ndarray) -> np.ndarray:
    f = _check_frames(frames)
    step = max(1, f.shape[0] // 8)
    sample = np.ascontiguousarray(f[::step].reshape(-1, f.shape[2], 3))  # (F'*H, W, 3)
    h = cv2.calcHist([sample], [0, 1, 2], None, [8, 8, 8], [0, 256, 0, 256, 0, 256])
    return cv2.normalize(h, h).flatten()


def read_video(path: str | Path, max_frames: int | None = None, max_width: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video file with PyAV: uint8 (F, H, W, 3) RGB frames and the frame rate.

    ``max_width`` shrinks frames while decoding (a 30 s 720p video would be 2 GB at full size).
    """
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        for frame in container.decode(stream):
            if max_width is not None and frame.width > max_width:
                h = max(2, round(frame.height * max_width / frame.width))
                frame = frame.reformat(width=max_width, height=h)
            out.append(frame.to_ndarray(format="rgb24"))
            if max_frames is not None and len(out) >= max_frames:
                break
    if not out:
        raise ValueError(f"{path}: no video frames decoded")
    return np.stack(out), fps


def check_video(path: str | Path, camera: str | None = None, time_of_day: str | None = None,
                image: ImageLike | None = None) -> dict[str, Any]:
    """All measurements of a video file, plus ``camera_ok`` / ``time_ok`` / first-frame PSNR for
    whatever was requested. JSON-serialisable (an exact first frame reports PSNR as None)."""
    camera = validate_motion(camera) if camera is not None else None
    if time_of_day is not None and time_of_day not in TIME_RULES:
        raise ValueError(f"time_of_day: got {time_of_day!r}; allowed: one of {', '.join(TIME_RULES)}")
    frames, fps = read_video(path, max_width=_CHECK_WIDTH)  # measurements are global: a small copy will do
    measure = brightness_and_warmth(frames)
    est = estimate_camera(frames, fps if fps > 0 else None)
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
        width, height = first.width, first.height
        first_rgb = first.to_ndarray(format="rgb24")
    out: dict[str, Any] = {
        "path": str(path),
        "frames": int(frames.shape[0]),
        "width": int(width),
        "height": int(height),
        "fps": fps,
        **{k: round(v, 3) for k, v in measure.items()},
        "flicker": round(flicker(frames), 3),
        "camera": est.label,
        "camera_velocity": {"x": round(est.vx, 4), "y": round(est.vy, 4), "zoom": round(est.vzoom, 4),
                            "per_second": est.per_second},
        "camera_confidence": round(est.confidence, 3),
    }
    if camera is not None:
        out["camera_requested"] = camera
        out["camera_ok"] = est.label == camera
    if time_of_day is not None:
        out["time_requested"] = time_of_day
        out["time_ok"] = time_of_day_ok(measure, time_of_day)
    if image is not None:
        fid = first_frame_fidelity(image, first_rgb[None])
        out["first_frame_psnr"] = None if np.isinf(fid) else round(fid, 2)
    return out


__all__ = [
    "CameraEstimate",
    "agreement",
    "brightness_and_warmth",
    "check_video",
    "estimate_camera",
    "first_frame_fidelity",
    "flicker",
    "psnr",
    "read_video",
    "time_of_day_ok",
]
