"""CameraPath: the per-frame camera motion every stage speaks.

Conventions follow the repository's eval/prompts.json: ``pan_right`` means the camera turns right, so the
view sweeps left to right and the content moves left in the frame; ``tilt_up`` means the camera turns
upward, so the content moves down; ``zoom_in`` means the content grows.

A path is three numbers per frame, relative to the first frame:
  x: horizontal offset of the view centre, in frame widths (positive: camera looks further right)
  y: vertical offset of the view centre, in frame heights (positive: camera looks further up)
  zoom: log of the magnification (positive: closer)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kadr.errors import InvalidRequestError

CameraMotion = Literal["static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out"]
CAMERA_MOTIONS: tuple[str, ...] = (
    "static",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "zoom_in",
    "zoom_out",
)

# Rates per second at speed 1.0: gentle enough to read as a deliberate camera move on a 5 s clip.
PAN_RATE_PER_S = 0.08  # frame widths (or heights, for tilt) per second
ZOOM_RATE_PER_S = 0.07  # log-magnification per second (about 1.42x over 5 s)

# Unit velocity (x, y, zoom) of each motion.
_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "static": (0.0, 0.0, 0.0),
    "pan_left": (-1.0, 0.0, 0.0),
    "pan_right": (1.0, 0.0, 0.0),
    "tilt_up": (0.0, 1.0, 0.0),
    "tilt_down": (0.0, -1.0, 0.0),
    "zoom_in": (0.0, 0.0, 1.0),
    "zoom_out": (0.0, 0.0, -1.0),
}

SPEEDS: dict[str, float] = {"slow": 0.5, "normal": 1.0, "fast": 2.0}


def validate_motion(name: str | None, field: str = "camera") -> str | None:
    """Return the canonical motion name, or raise InvalidRequestError naming the field."""
    if name is None:
        return None
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _DIRECTIONS:
        raise InvalidRequestError(field, name, "one of " + ", ".join(CAMERA_MOTIONS))
    return key


@dataclass(frozen=True)
class CameraPath:
    """Camera pose per frame: ``poses`` has shape (F, 3) holding (x, y, log_zoom)."""

    motion: str
    poses: np.ndarray  # (F, 3) float32
    fps: float
    speed: float = 1.0

    @classmethod
    def from_motion(cls, motion: str, num_frames: int, fps: float, speed: float = 1.0) -> "CameraPath":
        motion = validate_motion(motion) or "static"
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        vx, vy, vz = _DIRECTIONS[motion]
        t = np.arange(num_frames, dtype=np.float32) / float(fps)  # (F,) seconds since frame 0
        rate = np.array([vx * PAN_RATE_PER_S, vy * PAN_RATE_PER_S, vz * ZOOM_RATE_PER_S], np.float32)
        poses = t[:, None] * rate[None, :] * speed  # (F, 3)
        return cls(motion=motion, poses=poses.astype(np.float32), fps=float(fps), speed=float(speed))

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    def slice(self, start: int, stop: int) -> "CameraPath":
        """Frames [start, stop), re-based so the first returned pose is the origin."""
        part = self.poses[start:stop]
        return CameraPath(self.motion, (part - part[:1]).astype(np.float32), self.fps, self.speed)

    def velocity(self) -> np.ndarray:
        """Per-frame velocity (x, y, zoom) per second: shape (3,), constant for the built-in motions."""
        vx, vy, vz = _DIRECTIONS[self.motion]
        return np.array([vx * PAN_RATE_PER_S, vy * PAN_RATE_PER_S, vz * ZOOM_RATE_PER_S], np.float32) * self.speed
