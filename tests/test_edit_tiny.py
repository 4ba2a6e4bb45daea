"""kadr-tiny's edit arguments (last_image, video + strength) on tiny random components: offline, a few seconds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kadr.video.checks import psnr
from test_tiny_pipeline import call, pipe  # noqa: F401 (the module fixture)


def _prepared(pipe, image: Image.Image, height: int, width: int) -> np.ndarray:
    target = pipe._prepare_image(image, height, width)[0]  # (3, H, W) in [-1, 1]
    return target.permute(1, 2, 0).add(1).mul(127.5).round().clamp(0, 255).byte().numpy()


def _picture(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((64, 36), Image.BICUBIC)


@pytest.mark.parametrize("fps, frames", [(8, 9), (10, 9), (24, 17)])
def test_the_last_frame_is_the_last_image_at_any_rate(pipe, fps: int, frames: int) -> None:  # noqa: F811
    first, last = _picture(1), _picture(2)
    out = call(pipe, image=first, last_image=last, fps=fps, num_frames=frames).frames
    assert out.shape == (frames, 36, 64, 3)
    assert psnr(out[-1], _prepared(pipe, last, 36, 64)) >= 40.0  # 10 fps: the last keyframe moved onto the last frame
    assert psnr(out[0], _prepared(pipe, first, 36, 64)) >= 40.0
    assert psnr(out[frames // 2], _prepared(pipe, last, 36, 64)) < 30.0  # in between, not already there


def test_remix_keeps_more_of_the_source_the_lower_the_strength(pipe) -> None:  # noqa: F811
    rng = np.random.default_rng(0)
    source = np.repeat(np.asarray(_picture(3))[None], 9, axis=0)
    source = np.clip(source.astype(int) + rng.integers(-8, 9, source.shape), 0, 255).astype(np.uint8)  # (9, 36, 64, 3)
    kept = {s: psnr(call(pipe, video=source, strength=s).frames, source) for s in (0.1, 0.5, 1.0)}
    assert kept[0.1] > kept[0.5] > kept[1.0], kept
    assert call(pipe, video=source, strength=1.0).frames.shape == source.shape


def test_a_remix_continuing_from_a_frame_starts_on_it(pipe) -> None:  # noqa: F811
    source = np.repeat(np.asarray(_picture(3))[None], 9, axis=0)  # (9, 36, 64, 3)
    previous = _picture(4)
    out = call(pipe, video=source, strength=0.6, image=previous).frames
    assert psnr(out[0], _prepared(pipe, previous, 36, 64)) >= 40.0


def test_bad_edit_arguments_are_refused(pipe) -> None:  # noqa: F811
    source = np.zeros((9, 36, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"video must be uint8 \(9, 36, 64, 3\)"):
        call(pipe, video=source[:5], strength=0.5)
    with pytest.raises(ValueError, match="strength must be in"):
        call(pipe, video=source)
    with pytest.raises(ValueError, match="strength must be in"):
        call(pipe, video=source, strength=0.0)


def test_without_edit_arguments_nothing_changes(pipe) -> None:  # noqa: F811
    a = call(pipe).frames
    b = call(pipe, last_image=None, video=None, strength=None).frames
    assert np.array_equal(a, b)
