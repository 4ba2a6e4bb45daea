"""The procedural world: captioned training clips with exact labels for kadr-tiny.

    scene = sample_scene(rng, camera="pan_left")
    frames = render_clip(scene, num_frames=16, width=128, height=72, fps=8)  # uint8 (F, H, W, 3)
    text = caption(scene, rng, "ru")
"""

from training.world.captions import caption
from training.world.render import render_clip
from training.world.scene import (
    ASPECTS,
    MEDIUMS,
    MOVERS,
    SEASONS,
    SETTINGS,
    STYLES,
    TIMES,
    WEATHERS,
    Scene,
    frame_size,
    sample_scene,
)

__all__ = [
    "ASPECTS",
    "MEDIUMS",
    "MOVERS",
    "SEASONS",
    "SETTINGS",
    "STYLES",
    "TIMES",
    "WEATHERS",
    "Scene",
    "caption",
    "frame_size",
    "render_clip",
    "sample_scene",
]
