"""kadr-tiny's model spec, importable without torch (``kadr models`` lists it without loading anything).

The model itself is :mod:`kadr.pipelines.tiny`.
"""

from __future__ import annotations

from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, FrameRule, ModelSpec

NAME = "kadr-tiny"


def _spec(parameters: int) -> ModelSpec:
    return ModelSpec(
        name=NAME,
        family="kadr-tiny",
        tasks=(TEXT_TO_VIDEO, IMAGE_TO_VIDEO),
        description="built-in offline model: keyframe latent DiT with explicit camera path, runs on a CPU",
        parameters=parameters,
        native_fps=24,
        frame_rule=FrameRule(multiple=8, offset=1, minimum=1, maximum=121),
        size_multiple=8,
        resolutions={
            "16:9": {"fast": (256, 144), "high": (384, 216)},
            "9:16": {"fast": (144, 256), "high": (216, 384)},
            "1:1": {"fast": (192, 192), "high": (288, 288)},
            "4:3": {"fast": (224, 168), "high": (320, 240)},
            "3:4": {"fast": (168, 224), "high": (240, 320)},
        },
        steps={"fast": 6, "high": 12},
        # Measured on the shipped weights: 4.0 separates night from day and sunset from day more than 2.0
        # (luma 32 vs 185, warmth +13 against 40 vs 152, +7), at the same cost.
        guidance_scale=4.0,
        negative_prompt="",
        english_only=False,
        loader="kadr.pipelines.tiny:load",
        fps_range=(1, 60),
        presets={"144p": 144, "216p": 216},
        builtin=True,
        # shots: several clips joined by kadr.edit.shots; no reference (kadr.edit.reference)
        features=("extend", "remix", "first-last-frame", "shots"),
    )


# Autoencoder + transformer of the default configuration (tests check it against parameter_count());
# the sentence encoder ships separately with its package.
SPECS: list[ModelSpec] = [_spec(9_152_500)]
