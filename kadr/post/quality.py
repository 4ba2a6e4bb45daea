"""Objective measures of post-processing: how well a later frame keeps the first frame's picture, and
how sharp a frame is. Used by the tests and bench/bench_post.py.

``aligned_fidelity`` aligns the first frame to a later one by a similarity transform (rotation, scale,
shift) fitted to dense optical flow (Farneback), then compares the two over the pixels the moved first
frame covers: PSNR, and sharpness as the variance of the Laplacian, as a ratio to the aligned first
frame's. A camera move is a similarity transform, so a clip that keeps the photograph scores high; a
clip that re-draws it scores low whatever the camera does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Fidelity:
    psnr: float  # dB over covered pixels, later frame vs the aligned first frame
    sharpness_ratio: float  # var(Laplacian) of the later frame / of the aligned first frame (covered pixels)
    covered: float  # share of the later frame's pixels that the aligned first frame covers
    scale: float  # fitted scale of the similarity transform (zoom in > 1)
    shift: tuple[float, float]  # fitted shift in pixels (x, y)

    def as_dict(self) -> dict:
        return asdict(self)


def sharpness(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of the luma (higher: more fine detail), over ``mask`` when given."""
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
    if mask is not None:
        # Only pixels whose 3x3 neighbourhood is fully inside the mask: the mask edge is not detail.
        inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        lap = lap[inner]
    return float(lap.var()) if lap.size else 0.0


def _flow_similarity(g0: np.ndarray, g1: np.ndarray) -> np.ndarray | None:
    """Similarity (2x3) fitted by RANSAC to the dense Farneback flow from ``g0`` to ``g1``."""
    flow = cv2.calcOpticalFlowFarneback(g0, g1, None, pyr_scale=0.5, levels=5, winsize=21, iterations=5,
                                        poly_n=7, poly_sigma=1.5, flags=0)  # (H, W, 2)
    h, w = g0.shape
    step = max(2, min(h, w) // 40)
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]  # a grid of sample points
    src = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)  # (N, 2)
    dst = src + flow[ys.ravel(), xs.ravel()]
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5)
    return matrix


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 matrices: apply ``inner`` then ``outer``."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2]


def similarity_to(first: np.ndarray, later: np.ndarray, rounds: int = 4) -> np.ndarray:
    """The 2x3 similarity transform taking pixel positions in ``first`` to the same content in ``later``.

    A camera can move a third of the frame in a clip, more than one flow pass follows, so the fit is
    refined: from a few starts (a shift by phase correlation, a few zooms), each round fits a similarity
    to the flow between the moved first frame and the later one and composes it in.
    """
    g0 = cv2.cvtColor(np.ascontiguousarray(first), cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(np.ascontiguousarray(later), cv2.COLOR_RGB2GRAY)
    h, w = g0.shape
    (dx, dy), _ = cv2.phaseCorrelate(g0.astype(np.float32), g1.astype(np.float32))
    best, best_error = None, float("inf")
    # Flow alone can miss a zoom on sparse content (thin towers on a dark sky), so the fit also starts
    # from a few scales about the centre; the start whose refined fit matches best wins.
    starts = [np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])]
    for scale in (1.0, 1.2, 1.45, 1 / 1.2, 1 / 1.45):
        starts.append(np.array([[scale, 0.0, (1 - scale) * (w - 1) / 2], [0.0, scale, (1 - scale) * (h - 1) / 2]]))
    for start in starts:
        matrix = _refine(g0, g1, start, rounds)
        error = _aligned_error(g0, g1, matrix)
        if error < best_error:
            best, best_error = matrix, error
    return best


def _refine(g0: np.ndarray, g1: np.ndarray, matrix: np.ndarray, rounds: int) -> np.ndarray:
    h, w = g0.shape
    for _ in range(rounds):
        moved = cv2.warpAffine(g0, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        step = _flow_similarity(moved, g1)
        if step is None:
            break
        matrix = _compose(step, matrix)
        if abs(step[0, 2]) + abs(step[1, 2]) < 0.05 and abs(np.hypot(step[0, 0], step[1, 0]) - 1) < 1e-3:
            break
    return matrix


def _aligned_error(g0: np.ndarray, g1: np.ndarray, matrix: np.ndarray) -> float:
    """Mean absolute difference over the covered pixels of ``g1`` and ``g0`` moved by ``matrix``."""
    h, w = g0.shape
    moved = cv2.warpAffine(g0, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inside = cv2.warpAffine(np.ones((h, w), np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST) > 0
    if inside.mean() < 0.2:  # a fit that leaves most of the frame uncovered is not an alignment
        return float("inf")
    return float(np.abs(moved.astype(np.float32) - g1.astype(np.float32))[inside].mean())


def camera_matrix(first_pose: np.ndarray, later_pose: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 2x3 similarity taking pixel positions of the frame at ``first_pose`` to the same content in the
    frame at ``later_pose`` (camera poses (x, y, log_zoom), kadr.camera), from the camera path itself."""
    from kadr.post.fidelity import relative_matrix

    return cv2.invertAffineTransform(relative_matrix(first_pose, later_pose, width, height))


def aligned_fidelity(first: np.ndarray, later: np.ndarray, matrix: np.ndarray | None = None) -> Fidelity:
    """``later`` (H, W, 3) uint8 against ``first`` moved onto it by ``matrix`` (2x3, first's pixels to later's),
    by default the similarity fitted by optical flow. Give the camera path's (:func:`camera_matrix`) where it
    is known: on soft, low-contrast content (fog) the fit can lock onto a wrong zoom."""
    h, w = first.shape[:2]
    if matrix is None:
        matrix = similarity_to(first, later)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    source = first
    if scale < 1.0:
        # Shrinking: low-pass first, as any correct resampling does, so aliasing does not count as detail.
        source = cv2.GaussianBlur(first, (0, 0), 0.5 * float(np.sqrt(1.0 / scale**2 - 1.0)) + 1e-3)
    # Replicated edges: a black border would put a false edge (Laplacian detail) inside the cubic kernel's reach.
    moved = cv2.warpAffine(source, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones((h, w), np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # Two pixels in from the covered edge: bilinear warping mixes the border into the last pixel.
    covered = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    diff = later.astype(np.float64)[covered] - moved.astype(np.float64)[covered]
    mse = float(np.mean(diff**2)) if diff.size else float("nan")
    psnr = float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
    ref = sharpness(moved, covered)
    ratio = sharpness(later, covered) / ref if ref > 0 else float("nan")
    return Fidelity(psnr=psnr, sharpness_ratio=ratio, covered=float(covered.mean()), scale=scale,
                    shift=(float(matrix[0, 2]), float(matrix[1, 2])))


def clip_fidelity(frames: np.ndarray) -> dict[str, Fidelity]:
    """The middle and last frames of a clip (F, H, W, 3) against its first frame."""
    return {"middle": aligned_fidelity(frames[0], frames[len(frames) // 2]),
            "last": aligned_fidelity(frames[0], frames[-1])}


def interpolation_psnr(frames: np.ndarray, interpolate) -> float:
    """Mean PSNR of held-out odd frames rebuilt by ``interpolate(before, after) -> middle`` from their neighbours."""
    scores = []
    for i in range(1, len(frames) - 1, 2):
        guess = interpolate(frames[i - 1], frames[i + 1])
        mse = float(np.mean((guess.astype(np.float64) - frames[i].astype(np.float64)) ** 2))
        scores.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return float(np.mean(scores))


__all__ = ["Fidelity", "aligned_fidelity", "clip_fidelity", "interpolation_psnr", "sharpness", "similarity_to"]
