"""Photo fidelity under camera motion: the known camera path moves the photograph itself, and the
model's frames supply only what changes.

A camera move over a still picture is a similarity transform per frame (kadr.camera: pan/tilt shift the
view, zoom scales it), so every output frame can be rendered from the full-resolution photograph, sharp
and true to it. The model's contribution is its *motion residual*: each model frame minus the model's
own first frame moved by the same camera, i.e. what the model changed beyond the camera move (water,
clouds, people). That residual is low-passed (its fine detail is where a small model re-draws the
picture) and added to the moved photograph. Where the camera reveals what the photograph does not hold
(a zoom out, a pan past its edge) the model's frame is used, feathered into the photograph.

Text-to-video grows its clip from its first keyframe the same way: the first frame stands in for the
photograph (:class:`PhotoAnchor` built from it at the output size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class FidelityConfig:
    """How the moved photograph and the model's frames are combined (figures: bench/bench_post.py)."""

    residual_sigma: float = 2.0  # Gaussian low-pass (output pixels) of the model's motion residual
    # Share of the low-passed residual added to the moved photograph. 0 for kadr-tiny: measured on four
    # skimage photographs its residual is re-drawing, not scene motion (each 0.25 of it cost 2-5 dB).
    residual_gain: float = 0.0
    feather_px: float = 8.0  # width of the blend from photograph to model fill at an uncovered edge
    max_oversample: float = 8.0  # working photograph at most this many times the output size


class PhotoAnchor:
    """A photograph and the region of it that frame 0 shows; renders the view at any camera pose.

    ``picture`` (H, W, 3) uint8 may be larger than the frame and extend beyond ``crop`` (the region
    (left, top, width, height), in picture pixels, that frame 0 shows): a tilt then reveals the real
    picture instead of model fill. Rendering is antialiased where the view shrinks the picture: a pyramid
    level is picked so that the warp never shrinks by more than 2x, the view is rendered at twice the output
    size and area-averaged down; where it does not shrink, one cubic warp at the output size.
    """

    def __init__(self, picture: np.ndarray, crop: tuple[float, float, float, float], size: tuple[int, int],
                 max_zoom: float = 0.0, max_oversample: float = 8.0) -> None:
        width, height = size
        left, top, cw, ch = crop
        if cw <= 0 or ch <= 0:
            raise ValueError(f"crop must have a positive size, got {crop}")
        # Keep at most what the largest zoom can use (the view is rendered at twice the output size):
        # a 6000 px photo for a 256 px frame is mostly waste.
        need = min(max_oversample, 2.0 * math.exp(max(0.0, max_zoom)))
        keep = min(1.0, need * width / cw)
        if keep < 1.0:
            picture = cv2.resize(picture, (max(1, round(picture.shape[1] * keep)), max(1, round(picture.shape[0] * keep))),
                                 interpolation=cv2.INTER_AREA)
            left, top, cw, ch = left * keep, top * keep, cw * keep, ch * keep
        self.size = (width, height)
        self.crop = (left, top, cw, ch)
        self.levels = [np.ascontiguousarray(picture)]  # pyramid: each level half the previous
        while min(self.levels[-1].shape[:2]) > 16:
            self.levels.append(cv2.pyrDown(self.levels[-1]))

    @classmethod
    def from_image(cls, image: Image.Image | np.ndarray, size: tuple[int, int], max_zoom: float = 0.0,
                   mode: str = "fill") -> "PhotoAnchor":
        """The anchor for a picture shown as the engine shows it: ``fill`` covers the frame (centre crop),
        ``fit`` shows all of it (the picture must already be letterboxed to the frame's aspect)."""
        array = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)
        ph, pw = array.shape[:2]
        width, height = size
        if mode == "fill":
            scale = max(width / pw, height / ph)
            cw, ch = width / scale, height / scale
        else:
            cw, ch = float(pw), float(ph)
        return cls(array, ((pw - cw) / 2, (ph - ch) / 2, cw, ch), size, max_zoom)

    def render(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The view at ``pose`` (x, y, log_zoom): image (H, W, 3) float32 and coverage (H, W) float32 in [0, 1]."""
        width, height = self.size
        x, y, z = (float(v) for v in pose)
        left, top, cw, ch = self.crop
        if math.exp(-z) * max(cw / width, ch / height) <= 1.0 + 1e-6:
            # Not shrinking (text-to-video's first keyframe, a zoom in, a small photo): one cubic warp at the
            # output size, the identity at frame 0. Rendering at twice the size and area-averaging down would
            # low-pass it (a keyframe's variance of the Laplacian fell to 0.72 of itself at frame 0).
            image = cv2.warpAffine(self.levels[0], self._matrix(x, y, z, width, height, 0),
                                   (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        else:
            # Shrinking: a pyramid level such that the warp never shrinks by more than 2x, rendered at twice
            # the output size and area-averaged down (antialiased).
            ax = math.exp(-z) * cw / (2 * width)
            level = 0
            while level + 1 < len(self.levels) and ax / 2 ** (level + 1) >= 1.0:
                level += 1
            big = cv2.warpAffine(self.levels[level], self._matrix(x, y, z, 2 * width, 2 * height, level),
                                 (2 * width, 2 * height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
            image = cv2.resize(big.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        # Coverage, exactly: the share of each output pixel's footprint inside the picture (edges 0..size).
        ph, pw = self.levels[0].shape[:2]
        cover_x = _inside_share(left + cw * (x + 0.5), math.exp(-z) * cw, width, pw)  # (W,)
        cover_y = _inside_share(top + ch * (-y + 0.5), math.exp(-z) * ch, height, ph)  # (H,)
        cover = (cover_y[:, None] * cover_x[None, :]).astype(np.float32)  # (H, W)
        return image, cover

    def _matrix(self, x: float, y: float, z: float, out_w: int, out_h: int, level: int) -> np.ndarray:
        """2x3 inverse map: output pixel (i, j) of an ``out_w`` x ``out_h`` view samples pyramid-``level`` pixel
        (a i + bx, a j + by) (geometry.py's convention: u_src = 2 x + u exp(-z), v_src = -2 y + v exp(-z),
        pixel centres at +0.5)."""
        left, top, cw, ch = self.crop
        ax = math.exp(-z) * cw / out_w
        ay = math.exp(-z) * ch / out_h
        bx = left + cw * (x + 0.5) + (0.5 / out_w - 0.5) * math.exp(-z) * cw - 0.5
        by = top + ch * (-y + 0.5) + (0.5 / out_h - 0.5) * math.exp(-z) * ch - 0.5
        f = 2.0**level  # at pyramid level L a picture pixel p sits at (p + 0.5) / 2^L - 0.5
        return np.array([[ax / f, 0.0, (bx + 0.5) / f - 0.5], [0.0, ay / f, (by + 0.5) / f - 0.5]], np.float64)


def _inside_share(centre: float, span: float, n: int, size: int) -> np.ndarray:
    """For ``n`` output pixels spanning [centre - span/2, centre + span/2] of a picture axis of ``size``
    pixels: the share of each output pixel's interval that lies inside [0, size]."""
    edges = centre + (np.arange(n + 1, dtype=np.float64) / n - 0.5) * span  # (n + 1,)
    lo, hi = edges[:-1], edges[1:]
    inside = np.clip(np.minimum(hi, size) - np.maximum(lo, 0.0), 0.0, None)
    return inside / np.maximum(hi - lo, 1e-9)


def relative_matrix(src_pose: np.ndarray, dst_pose: np.ndarray, width: int, height: int) -> np.ndarray:
    """2x3 matrix mapping output pixels of the view at ``dst_pose`` to pixels of the view at ``src_pose``."""
    px, py, pz = (float(v) for v in src_pose)
    qx, qy, qz = (float(v) for v in dst_pose)
    s = math.exp(pz - qz)
    # u_p = (2 (qx - px) + u_q e^-qz) e^pz, pixels: X = (u + 1) W / 2 - 0.5
    tx = (qx - px) * math.exp(pz) * width + (1 - s) * width / 2 - 0.5 * (1 - s)
    ty = -(qy - py) * math.exp(pz) * height + (1 - s) * height / 2 - 0.5 * (1 - s)
    return np.array([[s, 0.0, tx], [0.0, s, ty]], np.float64)


def _feathered(cover: np.ndarray, feather_px: float) -> np.ndarray:
    """Coverage (H, W) -> blend weight that ramps from 0 at an uncovered edge to 1 ``feather_px`` inside."""
    if cover.min() >= 0.999:
        return np.ones_like(cover)
    solid = (cover >= 0.999).astype(np.uint8)
    dist = cv2.distanceTransform(solid, cv2.DIST_L2, 3)  # pixels to the nearest not-fully-covered pixel
    return np.clip(dist / max(feather_px, 1e-3), 0.0, 1.0).astype(np.float32)


def keep_photo(frames: np.ndarray, anchor: PhotoAnchor, poses: np.ndarray, reference_pose: np.ndarray | None = None,
               config: FidelityConfig = FidelityConfig()) -> np.ndarray:
    """Model frames (F, H, W, 3) uint8 at camera ``poses`` (F, 3) -> frames that keep the photograph.

    The model's motion residual is measured against ``frames[0]`` seen at ``reference_pose`` (default
    ``poses[0]``): a continuation pass's first frame repeats the previous pass's last one.
    """
    height, width = frames.shape[1:3]
    if anchor.size != (width, height):
        raise ValueError(f"anchor renders {anchor.size[0]}x{anchor.size[1]}, frames are {width}x{height}")
    ref_pose = poses[0] if reference_pose is None else reference_pose
    reference = frames[0].astype(np.float32)
    out = np.empty_like(frames)
    for i, (frame, pose) in enumerate(zip(frames, poses)):
        model = frame.astype(np.float32)
        photo, cover = anchor.render(pose)
        if config.residual_gain > 0:
            matrix = relative_matrix(ref_pose, pose, width, height)
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            moved_ref = cv2.warpAffine(reference, matrix, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            seen = cv2.warpAffine(np.ones((height, width), np.float32), matrix, (width, height), flags=flags,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            residual = (model - moved_ref) * (seen >= 0.999)[..., None]
            residual = cv2.GaussianBlur(residual, (0, 0), config.residual_sigma)
            photo = photo + config.residual_gain * residual
        weight = _feathered(cover, config.feather_px)[..., None]  # (H, W, 1)
        out[i] = np.clip(weight * photo + (1.0 - weight) * model + 0.5, 0, 255).astype(np.uint8)
    return out


__all__ = ["FidelityConfig", "PhotoAnchor", "keep_photo"]
