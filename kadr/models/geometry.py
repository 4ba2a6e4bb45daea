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


def view_grid(src_pose: torch.Tensor, dst_pose: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid (B, H, W, 2) that renders the view at ``dst_pose`` from an image seen at ``src_pose``.

    ``src_pose`` and ``dst_pose`` are (B, 3) tensors of (x, y, log_zoom).
    """
    device = src_pose.device
    u = pixel_centres(width, device)  # (W,)
    v = pixel_centres(height, device)  # (H,)
    p = src_pose.float()[:, :, None, None]  # (B, 3, 1, 1)
    q = dst_pose.float()[:, :, None, None]  # (B, 3, 1, 1)
    u_q = u[None, None, :].expand(1, height, width)  # (1, H, W)
    v_q = v[None, :, None].expand(1, height, width)  # (1, H, W)
    u_p = (2.0 * (q[:, 0] - p[:, 0]) + u_q * torch.exp(-q[:, 2])) * torch.exp(p[:, 2])  # (B, H, W)
    v_p = (-2.0 * (q[:, 1] - p[:, 1]) + v_q * torch.exp(-q[:, 2])) * torch.exp(p[:, 2])  # (B, H, W)
    return torch.stack([u_p, v_p], dim=-1)  # (B, H, W, 2)


def warp_view(
    image: torch.Tensor, src_pose: torch.Tensor, dst_pose: torch.Tensor, padding_mode: str = "border"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``image`` (B, C, H, W) seen at ``src_pose`` to ``dst_pose``.

    Returns the warped image (B, C, H, W) and a validity mask (B, 1, H, W): 1 where the destination pixel
    was visible in the source view, 0 where it is newly revealed (filled by ``padding_mode``).
    """
    b, _, h, w = image.shape
    grid = view_grid(src_pose, dst_pose, h, w)  # (B, H, W, 2)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    inside = (grid.abs() <= 1.0).all(dim=-1).to(image.dtype)[:, None]  # (B, 1, H, W)
    return warped, inside


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
