"""Camera-warped initial noise ("Go-with-the-Flow" style, specialised to a known global camera path).

The noise of every latent frame is read from one white-noise canvas fixed in world coordinates, so a pan
slides the noise and a zoom scales it exactly as the camera moves the content. Each latent pixel averages
S x S sample points over a canvas S times finer than a latent pixel (nearest canvas pixel per sample). At
the first pose every sample lands on its own canvas pixel, so the average of S^2 independent unit
Gaussians times S is again a unit Gaussian; a sub-pixel move shifts the samples by a fraction of the
latent pixel, so consecutive frames share most of their noise and the noise slides with the content.
Zooming in makes samples repeat canvas pixels (a little more variance), zooming out skips some; each
frame is finally renormalised to unit variance to absorb that.
"""

from __future__ import annotations

import math

import torch

SUPERSAMPLE = 8  # sample points per latent pixel along each axis


def warped_noise(
    poses: torch.Tensor,
    channels: int,
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    supersample: int = SUPERSAMPLE,
) -> torch.Tensor:
    """Unit Gaussian noise (F, C, H, W) for latent frames seen at ``poses`` (F, 3), moving with the camera."""
    poses = poses.detach().float().cpu()
    s = supersample
    res_x = s * width  # canvas pixels per frame width
    res_y = s * height  # canvas pixels per frame height
    half_w = 0.5 * torch.exp(-poses[:, 2])  # (F,) half view extent in widths/heights
    x0 = float((poses[:, 0] - half_w).min()) - 1.0 / res_x
    x1 = float((poses[:, 0] + half_w).max()) + 1.0 / res_x
    y0 = float((poses[:, 1] + half_w).max()) + 1.0 / res_y  # top edge (y up)
    y1 = float((poses[:, 1] - half_w).min()) - 1.0 / res_y
    cw = int(math.ceil((x1 - x0) * res_x)) + 1
    ch = int(math.ceil((y0 - y1) * res_y)) + 1
    canvas = torch.randn(channels, ch * cw, generator=generator)  # (C, Hc*Wc)

    sub = (torch.arange(s, dtype=torch.float32) + 0.5) / s  # (S,)
    u = ((torch.arange(width, dtype=torch.float32)[:, None] + sub[None, :]) / width * 2.0 - 1.0).reshape(-1)  # (W*S,)
    v = ((torch.arange(height, dtype=torch.float32)[:, None] + sub[None, :]) / height * 2.0 - 1.0).reshape(-1)  # (H*S,)
    scale = torch.exp(-poses[:, 2])[:, None]  # (F, 1)
    wx = poses[:, 0:1] + u[None, :] * 0.5 * scale  # (F, W*S) world x in widths
    wy = poses[:, 1:2] - v[None, :] * 0.5 * scale  # (F, H*S) world y in heights
    cols = ((wx - x0) * res_x).floor().long().clamp(0, cw - 1)  # (F, W*S)
    rows = ((y0 - wy) * res_y).floor().long().clamp(0, ch - 1)  # (F, H*S)
    index = rows[:, :, None] * cw + cols[:, None, :]  # (F, H*S, W*S)
    f = poses.shape[0]
    samples = canvas[:, index.reshape(-1)]  # (C, F*H*S*W*S)
    samples = samples.view(channels, f, height, s, width, s)  # (C, F, H, S, W, S)
    noise = samples.mean(dim=(3, 5)) * s  # (C, F, H, W)
    noise = noise.permute(1, 0, 2, 3).contiguous()  # (F, C, H, W)
    std = noise.flatten(1).std(dim=1).clamp_min(1e-6)  # (F,)
    return noise / std[:, None, None, None]
