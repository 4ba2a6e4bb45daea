"""A deterministic test double of the VideoBackend contract, for the engine's own mechanics.

It is not a model: it paints a textured scene and moves it along the camera path it is given,
starting from the conditioning image when there is one, so tests can see chunking, continuation,
camera slicing, progress and cancel exactly. The real models are exercised end to end in
tests/test_tiny_pipeline.py and tests/test_backends_diffusers.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from kadr.camera import CameraPath
from kadr.pipelines.base import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, FrameRule, ModelSpec, PipelineOutput

SPEC = ModelSpec(
    name="test-scroller",
    family="kadr-tiny",
    tasks=(TEXT_TO_VIDEO, IMAGE_TO_VIDEO),
    description="engine test double",
    parameters=0,
    native_fps=8,
    frame_rule=FrameRule(multiple=4, offset=1, minimum=5, maximum=17),
    size_multiple=16,
    resolutions={"16:9": {"fast": (64, 32), "high": (96, 48)}, "1:1": {"fast": (48, 48)}},
    steps={"fast": 3, "high": 5},
    presets={"tiny": 32},
)


@dataclass
class ScrollerBackend:
    spec: ModelSpec = SPEC
    device: torch.device = torch.device("cpu")
    calls: list[dict] = field(default_factory=list)

    def __call__(self, *, prompt, negative_prompt, image, height, width, num_frames, fps, num_inference_steps,
                 guidance_scale, generator, camera: CameraPath | None, callback_on_step_end):
        self.calls.append({"num_frames": num_frames, "image": None if image is None else np.asarray(image).copy(),
                           "camera": None if camera is None else camera.poses.copy(), "prompt": prompt})
        # A smooth random texture twice the frame size (codecs keep it nearly intact).
        coarse = torch.rand((height // 4, width // 4, 3), generator=generator).numpy()
        noise = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((width * 2, height * 2), Image.BICUBIC)) / 255.0
        for i in range(num_inference_steps):
            if callback_on_step_end is not None:
                callback_on_step_end(i, num_inference_steps)
        base = (noise * 255).astype(np.uint8)
        if image is not None:
            base[:height, :width] = np.asarray(image)
        frames = []
        for pose in (camera.poses if camera is not None else np.zeros((num_frames, 3))):
            dx, dy = int(round(pose[0] * width)), int(round(-pose[1] * height))
            frames.append(np.roll(base, (-dy, -dx), axis=(0, 1))[:height, :width])
        out = np.stack(frames)
        self.calls[-1]["frames"] = out
        return PipelineOutput(out)

