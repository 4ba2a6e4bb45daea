"""What platforms do to a video, as functions of a file: the transformations the watermark must survive.

Each takes a video file and writes a new one (PyAV and Pillow only, no ffmpeg binary), so the tests
and ``bench/bench_watermark.py`` measure the same thing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np
from PIL import Image


def read_frames(path: str | Path) -> tuple[np.ndarray, int]:
    """All frames of a video as uint8 (F, H, W, 3) and its frame rate (rounded)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 24
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames), max(1, round(float(rate)))


def write_h264(frames: np.ndarray, path: str | Path, fps: int, *, bitrate: int | None = None, crf: int = 23) -> Path:
    """Encode frames as H.264 MP4 at a fixed bitrate (bits/s) or a CRF."""
    path = Path(path)
    h, w = frames.shape[1] - frames.shape[1] % 2, frames.shape[2] - frames.shape[2] % 2
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if bitrate is not None:
            stream.bit_rate = bitrate
            stream.options = {"preset": "veryfast"}
        else:
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def reencode_low_bitrate(src: Path, dst: Path) -> Path:
    """H.264 again at half the source's bitrate."""
    frames, fps = read_frames(src)
    source_bps = src.stat().st_size * 8 / (len(frames) / fps)
    return write_h264(frames, dst, fps, bitrate=int(source_bps / 2))


def downscale_half(src: Path, dst: Path) -> Path:
    """Half width and height (area filter), then H.264."""
    frames, fps = read_frames(src)
    h, w = frames.shape[1] // 2, frames.shape[2] // 2
    small = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    return write_h264(small, dst, fps)


def crop_percent(src: Path, dst: Path, left: float = 0.03, right: float = 0.01, top: float = 0.02, bottom: float = 0.02) -> Path:
    """Cut a few percent off the sides (4% of the width, 4% of the height, off-centre), then H.264."""
    frames, fps = read_frames(src)
    h, w = frames.shape[1:3]
    x0, x1 = round(w * left), w - round(w * right)
    y0, y1 = round(h * top), h - round(h * bottom)
    return write_h264(frames[:, y0:y1, x0:x1], dst, fps)


def to_gif(src: Path, dst: Path) -> Path:
    """An animated GIF as Pillow makes one (adaptive 256-colour palette per frame, dithered)."""
    frames, fps = read_frames(src)
    images = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
              for f in frames]
    images[0].save(dst, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return Path(dst)


TRANSFORMATIONS: dict[str, Callable[[Path, Path], Path]] = {
    "h264_low_bitrate": reencode_low_bitrate,
    "downscale_half": downscale_half,
    "crop_4_percent": crop_percent,
    "gif": to_gif,
}
SUFFIX = {"gif": ".gif"}


def apply(name: str, src: Path, out_dir: Path) -> Path:
    """Apply one named transformation to ``src``, writing into ``out_dir``."""
    if name not in TRANSFORMATIONS:
        raise ValueError(f"transformation must be one of {', '.join(TRANSFORMATIONS)}, got {name!r}")
    return TRANSFORMATIONS[name](src, out_dir / f"{src.stem}.{name}{SUFFIX.get(name, '.mp4')}")
