"""``kadr post IN OUT [--upscale 2|4|720p] [--fps N]``: the output post steps on a video file.

Frames stream from the decoder through the steps into the encoder, chunk by chunk (memory stays flat).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from kadr.errors import InvalidRequestError
from kadr.post.steps import PostStage

CHUNK = 16  # frames decoded before they go through the steps


def register(subparsers: Any) -> None:
    """Add ``post`` to the ``kadr`` command's subparsers."""
    post = subparsers.add_parser("post", help="upscale and/or interpolate a video file (post-processing)")
    post.add_argument("input", help="a video file (MP4, WebM, GIF ...)")
    post.add_argument("output", help="the file to write (.mp4, .webm or .gif)")
    post.add_argument("--upscale", help="2, 4, or a short side such as 720p (Real-ESRGAN, on the CPU)")
    post.add_argument("--upscale-method", default="realesrgan", choices=["realesrgan", "lanczos", "bicubic"],
                      help="realesrgan (default) or a plain resample")
    post.add_argument("--fps", type=int, help="interpolate to this frame rate (higher than the input's)")
    post.add_argument("--interpolation", default="flow", choices=["flow", "blend"],
                      help="flow: motion-compensated (default); blend: cross-fade")
    post.add_argument("--json", action="store_true", help="print one JSON object")
    post.set_defaults(func=run)


def build_stage(in_fps: float, upscale: str | None, fps: int | None, upscale_method: str = "realesrgan",
                interpolation: str = "flow") -> PostStage:
    """Interpolate first (on the small frames, cheaper), then upscale."""
    from kadr.post.interpolate import Interpolate
    from kadr.post.upscale import Upscale

    stage = PostStage()
    if fps is not None:
        if fps < in_fps:
            raise InvalidRequestError("fps", fps, f"a frame rate from the input's {in_fps:g} up to 120 (interpolation adds frames)")
        if fps > in_fps:
            stage.append(Interpolate(in_fps, fps, interpolation))  # type: ignore[arg-type]
    if upscale is not None:
        try:
            stage.append(Upscale(upscale, upscale_method))  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidRequestError("upscale", upscale, "2, 4, or a short side such as 720p") from exc
    return stage


def post_file(input_path: str | Path, output_path: str | Path, *, upscale: str | None = None, fps: int | None = None,
              upscale_method: str = "realesrgan", interpolation: str = "flow") -> dict[str, Any]:
    """Run the post steps on a video file; returns what was written."""
    import av
    import numpy as np

    from kadr.video.encode import VideoWriter

    src, dst = Path(input_path), Path(output_path)
    if not src.is_file():
        raise InvalidRequestError("input", str(src), "the path of an existing video file")
    fmt = dst.suffix.lstrip(".").lower() or "mp4"
    t0 = time.perf_counter()
    try:
        container = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise InvalidRequestError("input", f"{src.name} ({exc.__class__.__name__})", "a readable video file") from None
    with container:
        if not container.streams.video:
            raise InvalidRequestError("input", f"{src.name} (no video stream)", "a video file")
        stream = container.streams.video[0]
        in_fps = float(stream.average_rate or stream.guessed_rate or 24)
        width, height = stream.codec_context.width, stream.codec_context.height
        stage = build_stage(in_fps, upscale, fps, upscale_method, interpolation)
        out_w, out_h = stage.output_size(width, height)
        out_fps = stage.output_fps(in_fps)
        frames_in = 0
        with VideoWriter(dst, fps=round(out_fps), width=out_w, height=out_h, fmt=fmt) as writer:
            buffer: list[np.ndarray] = []
            for frame in container.decode(stream):
                buffer.append(frame.to_ndarray(format="rgb24"))
                if len(buffer) == CHUNK:
                    frames_in += len(buffer)
                    writer.write(stage.process(np.stack(buffer)))
                    buffer = []
            if buffer:
                frames_in += len(buffer)
                writer.write(stage.process(np.stack(buffer)))
            tail = stage.flush()
            if tail is not None and len(tail):
                writer.write(tail)
    return {"path": str(dst), "frames_in": frames_in, "frames": writer.frames_written, "fps": writer.fps,
            "width": writer.width, "height": writer.height, "steps": stage.describe(),
            "seconds": round(time.perf_counter() - t0, 2)}


def run(args: argparse.Namespace) -> int:
    report = post_file(args.input, args.output, upscale=args.upscale, fps=args.fps,
                       upscale_method=args.upscale_method, interpolation=args.interpolation)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(report["path"])
        print(f"{report['frames_in']} -> {report['frames']} frames, {report['width']}x{report['height']} @ {report['fps']} fps "
              f"in {report['seconds']:.1f}s", file=sys.stderr)
    return 0
