"""Streaming video writer (PyAV): frames in, a finished file out, nothing partial left behind.

Frames arrive chunk by chunk as uint8 (F, H, W, 3) arrays and go straight into the encoder, so memory
does not grow with duration. The file is written under a temporary name in the target folder and
renamed only on success; on an error or a cancel the temporary file is removed.

MP4: H.264, yuv420p, moov atom at the front (``+faststart``) so browsers start playing at once.
WebM: VP9. GIF: palette per file from the first frames. Tags carry prompt, model, seed, kadr version.
Given a ``provenance`` record, MP4, GIF and PNG files are written with a signed C2PA manifest
(kadr.provenance.manifest); WebM has no C2PA binding and carries the watermark only.
"""

from __future__ import annotations

import json
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Sequence

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter
from PIL import Image

if TYPE_CHECKING:
    from kadr.provenance.manifest import GenerationRecord

# MP4: x264 at veryfast/CRF 20 with its grain tune and macroblock-tree off.
# - grain: at x264's defaults (no trellis at veryfast) small residual coefficients fall in a deadzone (21 inter,
#   11 intra) and low-energy blocks are dropped (DCT decimation), so fine detail the camera moves (fur, a night
#   city's lights) is re-predicted by sub-pixel interpolation frame after frame and softens: the last frame of a
#   tilt over skimage's cat kept 0.61 of its detail, a night pan's middle frame fell to 0.61 of the first frame's
#   sharpness (1.0 before encoding). ``grain`` (deadzones 6, no decimation, a flatter qcomp) keeps it, for ~2x the
#   bytes at the same encode time; deadzones and decimation alone left the night pan at 0.69. Figures:
#   ``python bench/bench_post.py --sections encode,t2v`` (the night pan is training/evaluate.py's delivered pan_left).
# - mbtree=0: x264's macroblock-tree rate control reads memory it has not written: with it on, the same frames
#   encode differently from run to run (up to 11 levels apart decoded; constant under MALLOC_PERTURB_), so a seed
#   did not give one video (tests/test_edit_remix.py encodes under two MALLOC_PERTURB_ values). A higher CRF to
#   keep the size was tried: 22-23 lose fine texture and move the extension seams' colour figures.
CODECS: dict[str, dict[str, Any]] = {
    "mp4": {"codec": "libx264", "pix_fmt": "yuv420p",
            "options": {"crf": "20", "preset": "veryfast", "tune": "grain", "x264-params": "mbtree=0"},
            "container_options": {"movflags": "+faststart+use_metadata_tags"}},
    "webm": {"codec": "libvpx-vp9", "pix_fmt": "yuv420p", "options": {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
             "container_options": {}},
    "gif": {"codec": "gif", "pix_fmt": "pal8", "options": {}, "container_options": {}},
}


def h264_roundtrip(runs: Sequence[np.ndarray], fps: int = 24) -> list[np.ndarray]:
    """Runs of uint8 RGB frames (F, H, W, 3), all of one even size, encoded in memory as kadr's MP4 encodes them,
    each run starting on a key frame as a video of its own would, and decoded back: what a file would show (the
    watermark predicts its cost from a few such runs). One encoder for all: each stream has a fixed start-up cost."""
    spec = CODECS["mp4"]
    encoder = av.CodecContext.create(spec["codec"], "w")
    encoder.width, encoder.height, encoder.pix_fmt = runs[0].shape[2], runs[0].shape[1], spec["pix_fmt"]
    encoder.time_base, encoder.framerate = Fraction(1, fps), Fraction(fps, 1)
    encoder.options = dict(spec["options"])
    decoder = av.CodecContext.create("h264", "r")
    convert = VideoReformatter()  # one colour converter for every frame (a fresh one per frame was 2x slower)
    packets = []
    pts = 0
    for run in runs:
        for i, rgb in enumerate(run):
            frame = convert.reformat(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"),
                                     format=spec["pix_fmt"])
            frame.pts, pts = pts, pts + 1
            if i == 0:
                frame.pict_type = PictureType.I
            packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoded = np.stack([convert.reformat(f, format="rgb24").to_ndarray() for packet in [*packets, None]
                        for f in decoder.decode(packet)])  # (sum of F, H, W, 3)
    return np.split(decoded, np.cumsum([len(run) for run in runs])[:-1])


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: round each side down to an even number."""
    return width - width % 2, height - height % 2


class VideoWriter:
    """Context manager writing frames to ``path`` in ``fmt`` (mp4, webm, gif).

    >>> with VideoWriter("out.mp4", fps=24, width=256, height=144, tags={"prompt": "..."}) as w:
    ...     w.write(frames)   # uint8 (F, H, W, 3), any number of calls
    """

    def __init__(self, path: str | Path, *, fps: int, width: int, height: int, fmt: str = "mp4",
                 tags: dict[str, str] | None = None, provenance: "GenerationRecord | None" = None,
                 codec_options: dict[str, str] | None = None) -> None:
        if fmt not in CODECS:
            raise ValueError(f"format must be one of {', '.join(CODECS)}, got {fmt!r}")
        # Encoder options replacing the format's defaults (CODECS): bench/bench_post.py compares settings.
        self.codec_options = dict(CODECS[fmt]["options"] if codec_options is None else codec_options)
        self.path = Path(path)
        self.fmt = fmt
        self.fps = int(fps)
        self.width, self.height = even_size(width, height)
        self.tags = {k: str(v) for k, v in (tags or {}).items()}
        self.frames_written = 0
        self.provenance = provenance
        self._tmp_path: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        self._palette: Image.Image | None = None  # GIF only: one palette for the whole file
        self._argb = np.zeros((256, 4), np.uint8)

    def __enter__(self) -> "VideoWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".part.{self.fmt}", dir=self.path.parent)
        os.close(fd)
        self._tmp_path = Path(tmp)
        settings = CODECS[self.fmt]
        self._container = av.open(str(self._tmp_path), mode="w", format=self.fmt,
                                  options=dict(settings["container_options"]))
        for key, value in self.tags.items():
            self._container.metadata[key] = value
        stream = self._container.add_stream(settings["codec"], rate=Fraction(self.fps, 1))
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = settings["pix_fmt"]
        stream.options = dict(self.codec_options)
        stream.time_base = Fraction(1, self.fps)
        self._stream = stream
        return self

    def write(self, frames: np.ndarray) -> None:
        """Encode uint8 frames (F, H, W, 3) or a single (H, W, 3) frame."""
        if self._stream is None:
            raise RuntimeError("VideoWriter.write called outside its `with` block")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
        frames = frames[:, : self.height, : self.width]  # drop an odd last row/column
        if frames.shape[1:3] != (self.height, self.width):
            raise ValueError(f"frame size {frames.shape[2]}x{frames.shape[1]} != writer size {self.width}x{self.height}")
        for rgb in frames:
            frame = self._gif_frame(rgb, frames) if self.fmt == "gif" else av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self.frames_written
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.frames_written += 1

    def _gif_frame(self, rgb: np.ndarray, chunk: np.ndarray) -> av.VideoFrame:
        """Quantise to one palette per file (swscale cannot make pal8 itself).

        The palette is 160 colours fitted to the first chunk plus a coarse 4x6x4 colour cube, so
        later chunks whose colours drift still find near neighbours.
        """
        if self._palette is None:
            sample = chunk[:: max(1, len(chunk) // 8)]  # up to ~8 frames side by side
            mosaic = Image.fromarray(np.concatenate(list(sample), axis=1))
            fitted = mosaic.quantize(colors=160, method=Image.Quantize.MEDIANCUT).getpalette()[: 160 * 3]
            fitted += [0, 0, 0] * (160 - len(fitted) // 3)
            cube = [c for r in np.linspace(0, 255, 4) for g in np.linspace(0, 255, 6) for b in np.linspace(0, 255, 4)
                    for c in (int(r), int(g), int(b))]
            self._palette = Image.new("P", (1, 1))
            self._palette.putpalette(fitted + cube)
            self._argb = np.zeros((256, 4), np.uint8)  # PyAV wants the palette as ARGB rows
            self._argb[:, 0] = 255  # opaque
            self._argb[:, 1:] = np.asarray(fitted + cube, np.uint8).reshape(256, 3)
        indices = Image.fromarray(rgb).quantize(palette=self._palette, dither=Image.Dither.NONE)
        return av.VideoFrame.from_ndarray((np.asarray(indices, np.uint8), self._argb), format="pal8")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        tmp = self._tmp_path
        try:
            if exc_type is None:
                if self.frames_written == 0:
                    raise ValueError("no frames were written")
                for packet in self._stream.encode():  # flush the encoder
                    self._container.mux(packet)
            self._container.close()
        except BaseException:
            self._discard(tmp)
            raise
        if exc_type is not None:
            self._discard(tmp)
            return
        try:
            _finish(tmp, self.path, self.provenance)
        except BaseException:
            self._discard(tmp)
            raise

    @staticmethod
    def _discard(tmp: Path | None) -> None:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def container_tags(prompt: str, model: str, seed: int, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Metadata written into the container: readable keys plus one JSON ``comment`` for tools."""
    from kadr import __version__

    info = {"prompt": prompt, "model": model, "seed": seed, "kadr_version": __version__, **(extra or {})}
    return {
        "title": prompt[:200],
        "comment": json.dumps(info, ensure_ascii=False),
        "kadr_model": model,
        "kadr_seed": str(seed),
        "kadr_version": __version__,
        "encoder": f"kadr {__version__}",
    }


def save_poster(frame: np.ndarray, path: str | Path, provenance: "GenerationRecord | None" = None) -> Path:
    """Write one uint8 (H, W, 3) frame as a PNG poster (atomically), signed when given ``provenance``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part.png")
    try:
        Image.fromarray(np.ascontiguousarray(frame)).save(tmp, format="PNG")
        _finish(tmp, path, provenance)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _finish(tmp: Path, path: Path, provenance: "GenerationRecord | None") -> None:
    """Move the finished temporary file into place, signing it on the way when it has a record."""
    from kadr.provenance.manifest import SIGNABLE

    if provenance is None or path.suffix.lower() not in SIGNABLE:
        os.replace(tmp, path)
        return
    from kadr.provenance.manifest import sign_file

    sign_file(tmp, path, provenance)
    tmp.unlink(missing_ok=True)
