"""Camera geometry shared by the built-in model: warping a view rendered at one camera pose to another.

A pose is (x, y, log_zoom) as in :class:`kadr.camera.CameraPath`: x in frame widths (positive: looking
further right), y in frame heights (positive: looking further up), log_zoom positive when closer.
A point at normalised frame coordinates (u, v) in [-1, 1] (``grid_sample`` convention, v downwards) seen
at pose p sits in the world at

    X = p.x + u / 2 * exp(-p.z)        Y = p.y - v / 2 * exp(-p.z)

so the view at pose q samples the image seen at pose p at

    u_p = (2 (q.x - p.x) + u_q exp(-q.z)) exp(p.z)
    v_p = (-2 (q.y - p.y) + v_q exp(-q.z)) exp(p.z)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def pixel_centres(n: int, device: torch.device | None = None) -> torch.Tensor:
    """Normalised coordinates in [-1, 1] of the centres of ``n`` pixels (align_corners=False)."""
    return (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n * 2.0 - 1.0


def view_coords(src_pose: torch.Tensor, dst_pose: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the view at ``dst_pose`` samples the image seen at ``src_pose``, one axis at a time.

    A pose move is a scale and a shift per axis, so column u of the destination reads column u_p of the
    source whatever the row (and row v reads v_p whatever the column). Returns u_p (B, W) and v_p (B, H).
    """
    device = src_pose.device
    p = src_pose.float()  # (B, 3)
    q = dst_pose.float()  # (B, 3)
    scale = torch.exp(p[:, 2:3] - q[:, 2:3])  # (B, 1): exp(-q.z) exp(p.z)
    u_p = 2.0 * (q[:, 0:1] - p[:, 0:1]) * torch.exp(p[:, 2:3]) + pixel_centres(width, device)[None] * scale  # (B, W)
    v_p = -2.0 * (q[:, 1:2] - p[:, 1:2]) * torch.exp(p[:, 2:3]) + pixel_centres(height, device)[None] * scale  # (B, H)
    return u_p, v_p


def view_grid(src_pose: torch.Tensor, dst_pose: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid (B, H, W, 2) that renders the view at ``dst_pose`` from an image seen at ``src_pose``.

    ``src_pose`` and ``dst_pose`` are (B, 3) tensors of (x, y, log_zoom).
    """
    u_p, v_p = view_coords(src_pose, dst_pose, height, width)
    grid = torch.empty(u_p.shape[0], height, width, 2, device=u_p.device)  # (B, H, W, 2)
    grid[..., 0] = u_p[:, None, :]
    grid[..., 1] = v_p[:, :, None]
    return grid


def warp_view(
    image: torch.Tensor, src_pose: torch.Tensor, dst_pose: torch.Tensor, padding_mode: str = "border"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``image`` (B, C, H, W) seen at ``src_pose`` to ``dst_pose``.

    Returns the warped image (B, C, H, W) and a validity mask (B, 1, H, W): 1 where the destination pixel
    was visible in the source view, 0 where it is newly revealed (filled by ``padding_mode``).
    """
    b, _, h, w = image.shape
    u_p, v_p = view_coords(src_pose, dst_pose, h, w)
    grid = torch.empty(b, h, w, 2, device=image.device)  # (B, H, W, 2)
    grid[..., 0] = u_p[:, None, :]
    grid[..., 1] = v_p[:, :, None]
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    # Visible where both coordinates fall inside the source: an outer product of the two axes' tests.
    inside = (v_p.abs() <= 1.0).to(image.dtype)[:, None, :, None] * (u_p.abs() <= 1.0).to(image.dtype)[:, None, None, :]
    return warped, inside  # (B, C, H, W), (B, 1, H, W)


def interpolate_poses(poses: np.ndarray, fps: float, times: np.ndarray) -> np.ndarray:
    """Poses (T, 3) at ``times`` (seconds) from a per-frame path ``poses`` (F, 3) at ``fps``.

    Linear in between; past either end the path is extended with its end velocity.
    """
    poses = np.asarray(poses, dtype=np.float64)
    frame_pos = np.asarray(times, dtype=np.float64) * float(fps)  # (T,) fractional frame index
    n = poses.shape[0]
    if n == 1:
        return np.repeat(poses[:1], len(frame_pos), axis=0).astype(np.float32)
    idx = np.clip(np.floor(frame_pos).astype(np.int64), 0, n - 2)  # (T,)
    frac = (frame_pos - idx)[:, None]  # (T, 1), may fall outside [0, 1] when extrapolating
    out = poses[idx] * (1.0 - frac) + poses[idx + 1] * frac  # (T, 3)
    return out.astype(np.float32)


def pose_velocity(poses: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame velocity (F, 3) per second of a pose path (F, 3) by central differences."""
    poses = np.asarray(poses, dtype=np.float32)
    if poses.shape[0] < 2:
        return np.zeros_like(poses)
    return (np.gradient(poses, axis=0) * float(fps)).astype(np.float32)


def camera_features(poses: np.ndarray, fps: float) -> np.ndarray:
    """Per-latent-frame camera signal (F, 6): pose relative to the first frame and velocity per second,
    scaled to order one for speeds from slow to fast."""
    poses = np.asarray(poses, dtype=np.float32)
    rel = poses - poses[:1]  # (F, 3)
    vel = pose_velocity(poses, fps)  # (F, 3)
    return np.concatenate([rel * 4.0, vel * 10.0], axis=1).astype(np.float32)  # (F, 6)
