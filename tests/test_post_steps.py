"""The post-processing stage (kadr.post.steps), its output steps, and ``kadr post IN OUT`` on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kadr.post.continuity import LoopBlender
from kadr.post.interpolate import Interpolate, interpolate_middle
from kadr.post.quality import interpolation_psnr
from kadr.post.steps import FrameFunction, LoopBlend, PostStage
from kadr.post.upscale import Upscale, parse_target, upscaled_size
from kadr.video.encode import VideoWriter
from kadr.video.probe import probe, read_frames


def _scene(n: int = 24, width: int = 96, height: int = 54, speed: float = 2.0) -> np.ndarray:
    """A smooth texture panning right by ``speed`` px a frame: (n, H, W, 3) uint8."""
    rng = np.random.default_rng(0)
    import cv2

    big = cv2.resize(rng.integers(0, 256, (height // 3, width, 3), dtype=np.uint8), (width * 3, height), interpolation=cv2.INTER_CUBIC)
    return np.stack([big[:, round(i * speed): round(i * speed) + width] for i in range(n)])


def test_stage_runs_steps_in_order_and_an_appended_step_sees_every_frame() -> None:
    frames = _scene(30)
    seen: list[int] = []

    def mark(chunk: np.ndarray) -> np.ndarray:  # a watermark-like step: same shape out
        seen.append(len(chunk))
        out = chunk.copy()
        out[:, 0, 0] = 255
        return out

    stage = PostStage([LoopBlend(24, 6)])
    stage.append(FrameFunction("watermark", mark))
    out = np.concatenate([stage.process(frames[:13]), stage.process(frames[13:])])
    reference = LoopBlender(24, 6)
    expected = np.concatenate([reference.process(frames[:13]), reference.process(frames[13:])])
    assert len(out) == 24 and sum(seen) == 24
    assert np.array_equal(out[:, 1:], expected[:, 1:]) and (out[:, 0, 0] == 255).all()
    assert [s["step"] for s in stage.describe()] == ["loop", "watermark"]


def test_interpolation_keeps_duration_and_beats_a_blend_on_motion() -> None:
    frames = _scene(25)
    step = Interpolate(12, 30)
    out = [step.process(frames[:7]), step.process(frames[7:])]
    out.append(step.flush())
    out = np.concatenate(out)
    assert len(out) == round(25 * 30 / 12) and step.output_fps(12) == 30
    assert np.array_equal(out[0], frames[0]) and np.array_equal(out[5], frames[2])  # 2 in = 5 out exactly
    flow = interpolation_psnr(frames, lambda a, b: interpolate_middle(a, b, "flow"))
    blend = interpolation_psnr(frames, lambda a, b: interpolate_middle(a, b, "blend"))
    assert flow > blend + 3, (flow, blend)
    with pytest.raises(ValueError, match="fps"):
        Interpolate(24, 12)


def test_upscale_sizes_and_choices() -> None:
    assert upscaled_size(256, 144, "720p") == (1280, 720)
    assert upscaled_size(144, 256, "720p") == (720, 1280)
    assert upscaled_size(256, 144, 2) == (512, 288) and upscaled_size(256, 144, "x4") == (1024, 576)
    assert upscaled_size(256, 144, "4x") == (1024, 576)  # as `kadr generate --upscale 4x` spells it
    with pytest.raises(ValueError, match="upscale"):
        parse_target("8")
    frames = _scene(2, 32, 18)
    out = Upscale(4, "lanczos").process(frames)
    assert out.shape == (2, 72, 128, 3)


def test_realesrgan_upscales_on_the_cpu_and_is_sharper_than_bicubic() -> None:
    from kadr.post.quality import sharpness

    frames = _scene(2, 64, 36)
    step = Upscale(2, "realesrgan")
    assert step.output_size(64, 36) == (128, 72)
    net = step.process(frames)
    bicubic = Upscale(2, "bicubic").process(frames)
    assert net.shape == bicubic.shape == (2, 72, 128, 3)
    assert sharpness(net[0]) > sharpness(bicubic[0])
    # Same content, same result: no randomness frame to frame.
    assert np.array_equal(step.process(frames[:1])[0], net[0])


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, "-m", "kadr", "post", *args], capture_output=True, text=True, env=env, timeout=300)


def test_kadr_post_interpolates_and_upscales_a_video_file(tmp_path) -> None:
    src = tmp_path / "in.mp4"
    with VideoWriter(src, fps=12, width=96, height=54) as writer:
        writer.write(_scene(24))
    dst = tmp_path / "out.mp4"
    done = _run_cli(str(src), str(dst), "--fps", "24", "--upscale", "2", "--upscale-method", "lanczos", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    info = probe(dst)
    assert (info.width, info.height, round(info.fps)) == (192, 108, 24) == (report["width"], report["height"], report["fps"])
    assert info.frames == 48 == report["frames"]
    # The decoded output still shows the input's frames at the even indices (codec loss aside).
    out, original = read_frames(dst), read_frames(src)
    import cv2

    small = cv2.resize(out[10], (96, 54), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - original[5].astype(int)).mean() < 8


def test_kadr_post_names_a_bad_input(tmp_path) -> None:
    missing = _run_cli(str(tmp_path / "none.mp4"), str(tmp_path / "o.mp4"))
    assert missing.returncode == 2 and "input" in missing.stderr and "none.mp4" in missing.stderr
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    bad = _run_cli(str(junk), str(tmp_path / "o.mp4"))
    assert bad.returncode == 2 and "junk.mp4" in bad.stderr and "readable video" in bad.stderr
    src = tmp_path / "in.mp4"
    with VideoWriter(src, fps=12, width=96, height=54) as writer:
        writer.write(_scene(4))
    wrong = _run_cli(str(src), str(tmp_path / "o.mp4"), "--upscale", "9")
    assert wrong.returncode == 2 and "upscale" in wrong.stderr
