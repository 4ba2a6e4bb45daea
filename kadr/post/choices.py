"""What post-processing a generation gets: the request's ``upscale`` / ``smooth``, else its tier's choice.

One place decides it, for the engine (which builds the steps) and the service (which records the size and
frame rate of the video it will deliver before the job runs). Torch-free, so the API process imports it.

Each tier's choice must fit the tier's speed budget (README: fast <= 1.0x the video's length, high <= 3x).
Measured by ``python bench/bench_post.py --sections costs`` on 2 CPU cores: Real-ESRGAN costs 11-20 s per
output second (a 5 s clip: 57-101 s), far past both budgets, so no tier upscales unless asked. Smooth
motion (flow interpolation to twice the frame rate) costs about 0.3 s per output second at the fast
tier's size; it is cheap, but it doubles every file's frames and the motion it adds is made up, so it
stays a choice too.
"""

from __future__ import annotations

from dataclasses import dataclass

SMOOTH_MAX_FPS = 60  # the highest frame rate smooth motion goes to (the request's own limit)


@dataclass(frozen=True)
class PostChoice:
    """The output post steps of one generation: ``upscale`` None (off) or "2x" / "4x" / "720p"; ``smooth``."""

    upscale: str | None = None
    smooth: bool = False

    @property
    def upscale_target(self) -> str | None:
        """The target :class:`kadr.post.upscale.Upscale` takes: "2x" -> "2", "720p" -> "720p"."""
        return None if self.upscale is None else self.upscale.removesuffix("x")

    def output_fps(self, fps: int) -> int:
        """The frame rate of the delivered file for a model pass at ``fps``."""
        return min(2 * fps, max(fps, SMOOTH_MAX_FPS)) if self.smooth else fps

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The size of the delivered file for model frames of ``width`` x ``height``."""
        if self.upscale_target is None:
            return width, height
        from kadr.post.upscale import upscaled_size

        return upscaled_size(width, height, self.upscale_target)


# Each tier's choice when the request leaves a field out (see the module's docstring for why).
TIER_CHOICES: dict[str, PostChoice] = {"fast": PostChoice(), "high": PostChoice()}


def choose_post(tier: str, upscale: str | None, smooth: bool | None) -> PostChoice:
    """The request's fields (already validated by kadr.request) over the tier's choice; "off" is no upscale."""
    default = TIER_CHOICES[tier]
    chosen = default.upscale if upscale is None else (None if upscale == "off" else upscale)
    return PostChoice(upscale=chosen, smooth=default.smooth if smooth is None else smooth)


__all__ = ["PostChoice", "SMOOTH_MAX_FPS", "TIER_CHOICES", "choose_post"]
