"""The built-in model's video autoencoder.

Spatial compression is learned: a convolutional autoencoder maps each keyframe to a latent 16x smaller
on each side (``latent_channels`` channels). Temporal compression is structural: only keyframes, every
``1 / key_fps`` seconds (every 8th frame at 24 fps, Wan-style 1 + 8k frames), are encoded; the decoder
rebuilds the frames in between by warping the two neighbouring decoded keyframes along the known camera
path to the in-between time and blending them with their visibility masks (newly revealed borders come
from the keyframe that saw them). The camera path is part of the latent video's description, so this is
exact for the global motion and a cross-fade only for the scene's own motion between keyframes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from kadr.models.geometry import interpolate_poses, warp_view


@dataclass(frozen=True)
class AutoencoderConfig:
    in_channels: int = 3
    latent_channels: int = 8
    # Channels at /2, /4, /8, /16 of the input size.
    channels: tuple[int, ...] = (32, 64, 96, 128)
    key_fps: float = 3.0  # keyframes (latent frames) per second

    @property
    def downsample(self) -> int:
        return 2 ** len(self.channels)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AutoencoderConfig":
        data = dict(data)
        data["channels"] = tuple(data.get("channels", cls.channels))
        return cls(**data)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, channels), channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(min(8, channels), channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class Encoder(nn.Module):
    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        ch = config.channels
        layers: list[nn.Module] = [nn.Conv2d(config.in_channels * 4, ch[0], 3, padding=1)]  # after pixel-unshuffle
        for i, c in enumerate(ch):
            layers.append(ResBlock(c))
            if i + 1 < len(ch):
                layers.append(nn.Conv2d(c, ch[i + 1], 3, stride=2, padding=1))
        layers += [nn.GroupNorm(min(8, ch[-1]), ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], config.latent_channels, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(x, 2)  # (B, 3, H, W) -> (B, 12, H/2, W/2)
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        ch = list(reversed(config.channels))
        layers: list[nn.Module] = [nn.Conv2d(config.latent_channels, ch[0], 3, padding=1)]
        for i, c in enumerate(ch):
            layers.append(ResBlock(c))
            if i + 1 < len(ch):
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, ch[i + 1], 3, padding=1)]
        layers += [nn.GroupNorm(min(8, ch[-1]), ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], config.in_channels * 4, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z)  # (B, 12, H/2, W/2)
        return F.pixel_shuffle(x, 2)  # (B, 3, H, W)


class VideoAutoencoder(nn.Module):
    """Keyframe autoencoder with camera-compensated temporal decoding. Images are in [-1, 1]."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        # Per-channel statistics of the latents over the training set: the diffusion model sees
        # (z - mean) / std. Identity until measured.
        self.register_buffer("latent_mean", torch.zeros(config.latent_channels))
        self.register_buffer("latent_std", torch.ones(config.latent_channels))

    # -- spatial -------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1], H and W multiples of 16 -> normalised latents (B, C, H/16, W/16)."""
        z = self.encoder(images)
        return (z - self.latent_mean[None, :, None, None]) / self.latent_std[None, :, None, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, C, h, w) -> images (B, 3, 16h, 16w) in [-1, 1] (not clamped)."""
        z = latents * self.latent_std[None, :, None, None] + self.latent_mean[None, :, None, None]
        return self.decoder(z)

    # -- temporal ------------------------------------------------------------------------------------
    def keyframe_times(self, num_frames: int, fps: float) -> np.ndarray:
        """Times (s) of the keyframes that cover ``num_frames`` frames at ``fps``: 0, 1/key_fps, ..."""
        return keyframe_times(num_frames, fps, self.config.key_fps)

    def expand_time(self, keyframes: torch.Tensor, key_poses: np.ndarray, frame_poses: np.ndarray,
                    fps: float) -> torch.Tensor:
        """See :func:`expand_time` (which needs no weights, only the keyframe rate)."""
        return expand_time(keyframes, key_poses, frame_poses, fps, self.config.key_fps)

    def key_poses(self, frame_poses: np.ndarray, fps: float, times: np.ndarray) -> np.ndarray:
        return interpolate_poses(frame_poses, fps, times)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def keyframe_times(num_frames: int, fps: float, key_fps: float) -> np.ndarray:
    """Times (s) of the keyframes that cover ``num_frames`` frames at ``fps``: 0, 1/key_fps, ..."""
    duration = (num_frames - 1) / float(fps)
    count = int(np.ceil(duration * key_fps - 1e-6)) + 1
    return np.arange(count, dtype=np.float64) / key_fps


@torch.no_grad()
def expand_time(keyframes: torch.Tensor, key_poses: np.ndarray, frame_poses: np.ndarray, fps: float,
                key_fps: float, key_times: np.ndarray | None = None) -> torch.Tensor:
    """Decoded keyframes (K, 3, H, W) at times k / key_fps (or ``key_times``, increasing, in seconds) ->
    frames (F, 3, H, W) at i / fps.

    Each frame blends the two neighbouring keyframes warped along the camera path to its pose,
    weighted by temporal distance and by visibility in each keyframe.
    """
    k = keyframes.shape[0]
    num_frames = frame_poses.shape[0]
    times = np.arange(k, dtype=np.float64) / key_fps if key_times is None else np.asarray(key_times, np.float64)
    frame_times = np.arange(num_frames, dtype=np.float64) / float(fps)  # (F,)
    left = np.clip(np.searchsorted(times, frame_times + 1e-9, side="right") - 1, 0, max(k - 2, 0))  # (F,)
    right = np.minimum(left + 1, k - 1)  # (F,)
    span = np.maximum(times[right] - times[left], 1e-9)
    alpha = np.clip((frame_times - times[left]) / span, 0.0, 1.0) if k > 1 else np.zeros(num_frames)  # (F,)
    dst = torch.from_numpy(np.asarray(frame_poses, np.float32))  # (F, 3)
    kp = torch.from_numpy(np.asarray(key_poses, np.float32))  # (K, 3)
    idx_l = torch.from_numpy(left)
    idx_r = torch.from_numpy(right)
    out = torch.empty(num_frames, *keyframes.shape[1:], dtype=keyframes.dtype)
    chunk = 32
    for s in range(0, num_frames, chunk):
        sl = slice(s, min(num_frames, s + chunk))
        img_l, vis_l = warp_view(keyframes[idx_l[sl]], kp[idx_l[sl]], dst[sl])
        img_r, vis_r = warp_view(keyframes[idx_r[sl]], kp[idx_r[sl]], dst[sl])
        a = torch.from_numpy(alpha[sl]).float()[:, None, None, None]  # (f, 1, 1, 1)
        w_l = (1.0 - a) * (vis_l + 1e-3)  # (f, 1, H, W)
        w_r = a * (vis_r + 1e-3)
        # (img_l w_l + img_r w_r) / (w_l + w_r), with the weights divided once per pixel, not per channel.
        out[sl] = torch.lerp(img_l, img_r, w_r / (w_l + w_r))
    return out


__all__ = ["AutoencoderConfig", "VideoAutoencoder", "count_parameters", "expand_time", "keyframe_times"]
