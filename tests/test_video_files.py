"""The encoder writes real files that decode back with the right frames, size, fps, tags; nothing partial on error."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.video.encode import VideoWriter, container_tags, save_poster
from kadr.video.probe import probe, read_frames


def _gradient_frames(n: int, h: int, w: int) -> np.ndarray:
    frames = np.zeros((n, h, w, 3), np.uint8)
    frames[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, None, :]
    frames[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[None, :, None]
    frames[..., 2] = (np.arange(n) * 7 % 256).astype(np.uint8)[:, None, None]
    return frames


@pytest.mark.parametrize("fmt, codec", [("mp4", "h264"), ("webm", "vp9"), ("gif", "gif")])
def test_formats_round_trip(tmp_path, fmt: str, codec: str) -> None:
    path = tmp_path / f"clip.{fmt}"
    frames = _gradient_frames(30, 64, 96)
    with VideoWriter(path, fps=10, width=96, height=64, fmt=fmt, tags=container_tags("Закат над морем", "m", 42)) as w:
        w.write(frames[:12])
        w.write(frames[12:])
    info = probe(path)
    assert info.codec == codec
    assert (info.width, info.height, info.frames) == (96, 64, 30)
    assert info.fps == pytest.approx(10, rel=0.01)
    assert info.duration == pytest.approx(3.0, rel=0.01)
    decoded = read_frames(path)
    assert decoded.shape == (30, 64, 96, 3)
    # Lossy, but close. GIF has one 256-colour palette for a clip whose colours span a 3-D cube,
    # so its error is larger than the video codecs'.
    limit = 20 if fmt == "gif" else 8
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < limit
    if fmt == "mp4":
        assert info.pix_fmt == "yuv420p"
        assert info.moov_at_front is True
    if fmt != "gif":  # GIF has no metadata tags
        assert info.kadr == {"prompt": "Закат над морем", "model": "m", "seed": 42, "kadr_version": info.kadr["kadr_version"]}


def test_odd_size_is_made_even(tmp_path) -> None:
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, fps=8, width=97, height=65) as w:
        w.write(_gradient_frames(8, 65, 97))
    info = probe(path)
    assert (info.width, info.height) == (96, 64)


def test_error_leaves_no_file(tmp_path) -> None:
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(path, fps=8, width=32, height=32) as w:
            w.write(_gradient_frames(4, 32, 32))
            raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_wrong_frames_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        with VideoWriter(tmp_path / "x.mp4", fps=8, width=32, height=32) as w:
            w.write(np.zeros((2, 32, 32, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_poster(tmp_path) -> None:
    from PIL import Image

    frame = _gradient_frames(1, 20, 30)[0]
    path = save_poster(frame, tmp_path / "p.png")
    assert np.array_equal(np.asarray(Image.open(path)), frame)
