"""A character's reference picture: where it comes from, and how (whether) each model takes it.

A reference is a picture of a character (or a frame taken from a video of it, :func:`reference_from_video`)
that a request names through ``VideoRequest.reference_image``. A model takes it only where it has image
conditioning, and the way it does is in its spec (``reference_mode``, one of :data:`REFERENCE_MODES`);
a model without "reference" in its ``features`` is refused with the models that have it
(``kadr.engine.check_features``), never run without the picture.

The one way here, ``first-frame``: the clip starts on the reference and the model's image-to-video
carries the character on from it (Wan2.2-TI2V-5B, LTX-Video). It is the first frame, honestly named:
a request with both an image and a reference is refused (there is one first frame), and so are extend
and remix (their first frames come from the source video).

kadr-tiny does not take a reference. Its only picture conditioning is the first frame, and then the
engine keeps that photograph through the whole clip as the camera moves (kadr.post.fidelity's
KeepPhoto, 31-37 dB on the last frame): the character's picture would become the whole video, moved,
rather than a character in the scene the prompt describes. So "reference" stays out of its features
and a request naming a character on it gets a clear error naming the models that can.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from kadr.errors import InvalidRequestError

if TYPE_CHECKING:
    from kadr.pipelines.base import ModelSpec
    from kadr.request import VideoRequest

REFERENCE_MODES: dict[str, str] = {
    "first-frame": "the clip starts on the character's picture (the model's image-to-video)",
}
REFERENCE_CANDIDATES = 9  # frames of a video looked at when picking one as a reference


def reference_mode(spec: "ModelSpec") -> str | None:
    """How ``spec`` takes a reference picture (a key of REFERENCE_MODES), or None when it does not."""
    if "reference" not in spec.features:
        return None
    mode = spec.reference_mode
    if mode not in REFERENCE_MODES:
        raise ValueError(f"{spec.name}: lists 'reference' without a reference_mode from {', '.join(REFERENCE_MODES)}")
    return mode


def check_reference(request: "VideoRequest", spec: "ModelSpec") -> None:
    """Refuse a reference that ``spec`` would have to drop (run after check_features, before anything loads)."""
    if request.reference_image is None or reference_mode(spec) != "first-frame":
        return
    if request.image is not None:
        raise InvalidRequestError("reference_image", f"a reference and an image for {spec.name}",
                                  "one of them: it takes the reference as the first frame")
    if request.mode != "generate":
        raise InvalidRequestError("reference_image", f"a reference to {request.mode} a video with {spec.name}",
                                  f"none: the {request.mode}ed video's frames come from the source")


def reference_from_video(path: str | Path, candidates: int = REFERENCE_CANDIDATES) -> Image.Image:
    """The sharpest of ``candidates`` frames spread over the video: a character's picture taken from a clip.

    Sharpness is the mean squared Laplacian of the grey image (blurred and motion-smeared frames score low).
    """
    from kadr.video.probe import iter_frames, probe

    file = Path(path)
    if not file.is_file():
        raise InvalidRequestError("reference", str(file), "an existing video file")
    try:
        total = probe(file).frames
    except Exception as exc:  # PyAV raises its own error types for files it cannot read
        raise InvalidRequestError("reference", file.name, f"a video file kadr can decode ({type(exc).__name__})") from None
    if total < 1:
        raise InvalidRequestError("reference", file.name, "a video with at least one frame")
    wanted = set(np.linspace(0, total - 1, min(candidates, total)).round().astype(int).tolist())
    best, best_score = None, -1.0
    for index, frame in enumerate(iter_frames(file)):
        if index in wanted:
            score = sharpness(frame)
            if score > best_score:
                best, best_score = frame, score
    assert best is not None
    return Image.fromarray(best)


def sharpness(frame: np.ndarray) -> float:
    """Mean squared Laplacian of the frame's grey image (uint8 (H, W, 3))."""
    grey = frame.astype(np.float32).mean(axis=-1)  # (H, W)
    laplacian = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1])
    return float((laplacian ** 2).mean())


__all__ = ["REFERENCE_MODES", "check_reference", "reference_from_video", "reference_mode", "sharpness"]
