"""Rectified-flow sampling as small pure functions (k-diffusion style) plus a set_timesteps/step wrapper.

Convention: x_t = (1 - t) x_0 + t * noise, t from 1 (noise) to 0 (data); the model predicts the velocity
v = noise - x_0, so one Euler step is x_{t'} = x_t + (t' - t) v.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def shifted_timesteps(num_steps: int, shift: float = 3.0) -> torch.Tensor:
    """num_steps + 1 times from 1 to 0, denser near t = 1 for shift > 1 (SD3 / Wan time shift)."""
    if num_steps < 1:
        raise ValueError(f"num_inference_steps must be >= 1, got {num_steps}")
    t = torch.linspace(1.0, 0.0, num_steps + 1)
    return shift * t / (1.0 + (shift - 1.0) * t)


def euler_step(x: torch.Tensor, velocity: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    return x + (t_next - t) * velocity


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for per-sample times t (B,) broadcast over the remaining dims."""
    tt = t.view(-1, *([1] * (x0.dim() - 1)))
    return (1.0 - tt) * x0 + tt * noise


@dataclass
class FlowMatchEulerScheduler:
    """Holds the time grid of one sampling run; ``step`` is the pure Euler update."""

    shift: float = 3.0
    timesteps: torch.Tensor = field(default_factory=lambda: torch.ones(1))

    def set_timesteps(self, num_inference_steps: int, start: float = 1.0) -> None:
        """The shifted grid, scaled to begin at ``start`` (< 1 starts from a partly noised guess)."""
        self.timesteps = shifted_timesteps(num_inference_steps, self.shift) * start

    def step(self, velocity: torch.Tensor, index: int, sample: torch.Tensor) -> torch.Tensor:
        return euler_step(sample, velocity, float(self.timesteps[index]), float(self.timesteps[index + 1]))
