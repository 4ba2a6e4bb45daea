"""The built-in model's diffusion transformer (flow matching, velocity prediction).

Tokens are 2x2 patches of the latent video (one token covers 32x32 pixels); every token attends to
every other token of the window (full 3D attention) with rotary position embeddings over (frame, row,
column). Positions along rows and columns are scaled by ``pos_scale`` so a token grid at a higher
resolution spans the same field of view as the training grid.

Conditioning goes through AdaLN-Zero, per latent frame: the flow-matching time, the pooled sentence
embedding of the prompt (or a learned null embedding, for classifier-free guidance) and the camera signal
of that frame (pose relative to the window's first frame and velocity, see
:func:`kadr.models.geometry.camera_features`). Image conditioning (image-to-video and continuation)
concatenates the known latent frames and a mask channel to the noisy input.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class DiTConfig:
    latent_channels: int = 8
    patch: int = 2
    dim: int = 256
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 512
    camera_dim: int = 6
    rope_theta: float = 100.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DiTConfig":
        return cls(**data)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def rope_split(self) -> tuple[int, int, int]:
        """Rotary dims (even) given to (frame, row, column)."""
        hd = self.head_dim
        t = (hd // 4) // 2 * 2
        y = ((hd - t) // 2) // 2 * 2
        x = hd - t - y
        return t, y, x


REFERENCE_AREA = 256 * 160  # generation-grid pixels the position scale is calibrated on


def position_scale(grid_height: int, grid_width: int) -> float:
    """Spacing of token positions for a generation grid: 1 at the reference area, smaller for larger
    grids, so a higher resolution spans the same field of view in position space."""
    return math.sqrt(REFERENCE_AREA / float(grid_height * grid_width))


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of flow times t in [0, 1] (scaled by 1000)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * 1000.0 * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)


def rope_angles(positions: torch.Tensor, dim: int, theta: float) -> torch.Tensor:
    """Angles (N, dim/2) for continuous positions (N,)."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim))  # (dim/2,)
    return positions.float()[:, None] * freqs[None, :]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of ``x`` (B, heads, N, D) by angles given as cos/sin (N, D/2)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (B, h, N, D/2) each
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, h, N, D/2, 2)
    return out.flatten(-2)  # (B, h, N, D)


class Block(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        d = config.dim
        self.heads = config.heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
        self.k_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * config.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, tokens_per_frame: int) -> torch.Tensor:
        b, n, d = x.shape
        f = n // tokens_per_frame
        mod = self.modulation(F.silu(cond))  # (B, F, 6d)
        mod = mod[:, :, None, :].expand(b, f, tokens_per_frame, 6 * d).reshape(b, n, 6 * d)  # (B, N, 6d)
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)  # each (B, N, d)

        h = self.norm1(x) * (1.0 + scale1) + shift1
        qkv = self.qkv(h).view(b, n, 3, self.heads, d // self.heads)  # (B, N, 3, heads, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, hd)
        q = apply_rope(self.q_norm(q), cos, sin)
        k = apply_rope(self.k_norm(k), cos, sin)
        attn = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, hd)
        attn = attn.transpose(1, 2).reshape(b, n, d)  # (B, N, d)
        x = x + gate1 * self.proj(attn)

        h = self.norm2(x) * (1.0 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class VideoDiT(nn.Module):
    """Velocity model v(x_t, t | text, camera, known frames) over a window of latent frames."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        c, p, d = config.latent_channels, config.patch, config.dim
        self.patch_in = nn.Linear((2 * c + 1) * p * p, d)
        self.time_mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.text_mlp = nn.Sequential(nn.Linear(config.text_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.camera_mlp = nn.Sequential(nn.Linear(config.camera_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.null_text = nn.Parameter(torch.zeros(config.text_dim))
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.depth)])
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.modulation_out = nn.Linear(d, 2 * d)
        self.patch_out = nn.Linear(d, c * p * p)
        nn.init.zeros_(self.modulation_out.weight)
        nn.init.zeros_(self.modulation_out.bias)
        nn.init.zeros_(self.patch_out.weight)
        nn.init.zeros_(self.patch_out.bias)

    def rope(self, f: int, h: int, w: int, pos_scale: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        dt, dy, dx = self.config.rope_split()
        ft = torch.arange(f, device=device, dtype=torch.float32)
        fy = torch.arange(h, device=device, dtype=torch.float32) * pos_scale
        fx = torch.arange(w, device=device, dtype=torch.float32) * pos_scale
        at = rope_angles(ft, dt, self.config.rope_theta)[:, None, None, :].expand(f, h, w, dt // 2)  # (F, h, w, dt/2)
        ay = rope_angles(fy, dy, self.config.rope_theta)[None, :, None, :].expand(f, h, w, dy // 2)  # (F, h, w, dy/2)
        ax = rope_angles(fx, dx, self.config.rope_theta)[None, None, :, :].expand(f, h, w, dx // 2)  # (F, h, w, dx/2)
        angles = torch.cat([at, ay, ax], dim=-1).reshape(f * h * w, -1)  # (N, hd/2)
        return torch.cos(angles), torch.sin(angles)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        camera: torch.Tensor,
        known: torch.Tensor,
        known_mask: torch.Tensor,
        pos_scale: float = 1.0,
    ) -> torch.Tensor:
        """x, known: (B, F, C, H, W); t: (B,); text: (B, text_dim); camera: (B, F, camera_dim);
        known_mask: (B, F) with 1 where a frame's latent is given. H and W are multiples of the patch.
        Returns the velocity (B, F, C, H, W)."""
        b, f, c, h, w = x.shape
        p = self.config.patch
        hp, wp = h // p, w // p
        mask = known_mask.to(x.dtype)[:, :, None, None, None].expand(b, f, 1, h, w)  # (B, F, 1, H, W)
        inp = torch.cat([x, known * mask, mask], dim=2)  # (B, F, 2C+1, H, W)
        ci = inp.shape[2]
        inp = inp.view(b, f, ci, hp, p, wp, p)  # (B, F, Ci, hp, p, wp, p)
        inp = inp.permute(0, 1, 3, 5, 2, 4, 6).reshape(b, f * hp * wp, ci * p * p)  # (B, N, Ci*p*p)
        tokens = self.patch_in(inp)  # (B, N, d)

        cond = self.time_mlp(timestep_embedding(t, 256)) + self.text_mlp(text)  # (B, d)
        cond = cond[:, None, :] + self.camera_mlp(camera)  # (B, F, d)
        cos, sin = self.rope(f, hp, wp, pos_scale, x.device)
        for block in self.blocks:
            tokens = block(tokens, cond, cos, sin, hp * wp)

        shift, scale = self.modulation_out(F.silu(cond)).chunk(2, dim=-1)  # (B, F, d) each
        tokens = tokens.view(b, f, hp * wp, -1)  # (B, F, hp*wp, d)
        tokens = self.norm_out(tokens) * (1.0 + scale[:, :, None]) + shift[:, :, None]
        out = self.patch_out(tokens)  # (B, F, hp*wp, C*p*p)
        out = out.view(b, f, hp, wp, c, p, p).permute(0, 1, 4, 2, 5, 3, 6)  # (B, F, C, hp, p, wp, p)
        return out.reshape(b, f, c, h, w)  # (B, F, C, H, W)
