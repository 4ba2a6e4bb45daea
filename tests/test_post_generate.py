"""Upscaling and smooth motion inside generation: the request's fields, the tier's choice, the engine and
``kadr generate --upscale/--smooth``, each checked on a real MP4 read back (tiny sizes: 64x64, 1 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import cv2
import pytest

from kadr.errors import InvalidRequestError
from kadr.post.choices import TIER_CHOICES, PostChoice, choose_post
from kadr.request import UPSCALES, VideoRequest
from kadr.video.checks import psnr
from kadr.video.probe import probe, read_frames


def test_request_reads_upscale_and_smooth_and_names_a_bad_value() -> None:
    assert VideoRequest(prompt="waves").upscale is None and VideoRequest(prompt="waves").smooth is None
    for given, read in (("2", "2x"), ("x2", "2x"), ("4X", "4x"), (" 720P ", "720p"), ("off", "off")):
        assert VideoRequest(prompt="waves", upscale=given).upscale == read
    assert set(UPSCALES) == {"off", "2x", "4x", "720p"}
    for bad in ("3x", "1080p", "", 2, True):
        with pytest.raises(InvalidRequestError, match="upscale") as err:
            VideoRequest(prompt="waves", upscale=bad)
        assert "720p" in str(err.value)
    for bad in ("yes", 1, 0.0):
        with pytest.raises(InvalidRequestError, match="smooth"):
            VideoRequest(prompt="waves", smooth=bad)


def test_the_request_wins_over_the_tier_and_off_means_none() -> None:
    assert choose_post("fast", None, None) == TIER_CHOICES["fast"] == PostChoice()
    assert choose_post("high", None, None) == TIER_CHOICES["high"]
    assert choose_post("fast", "off", None).upscale is None
    chosen = choose_post("high", "720p", True)
    assert chosen.upscale_target == "720p" and chosen.output_size(256, 144) == (1280, 720)
    assert chosen.output_fps(24) == 48 and chosen.output_fps(40) == 60 and chosen.output_fps(60) == 60
    assert choose_post("fast", "2x", False).output_size(64, 64) == (128, 128)


@pytest.fixture(scope="module")
def engine():
    from kadr.engine import Engine

    return Engine()


def _make(engine, tmp_path, name: str, **fields):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request = VideoRequest(prompt="Закат над морем, волны, панорама слева направо", resolution="64x64",
                               duration=1, seed=3, **fields)
        return engine.generate(request, tmp_path / f"{name}.mp4")


def test_generate_upscales_and_smooths_what_the_model_made(engine, tmp_path) -> None:
    plain = _make(engine, tmp_path, "plain")
    post = _make(engine, tmp_path, "post", upscale="2x", smooth=True)
    info, plain_info = probe(post.path), probe(plain.path)
    assert (plain_info.width, plain_info.height, round(plain_info.fps), plain_info.frames) == (64, 64, 24, 24)
    assert (info.width, info.height, round(info.fps), info.frames) == (128, 128, 48, 48)
    meta = post.metadata
    assert (meta["width"], meta["height"], meta["fps"], meta["frames"]) == (128, 128, 48, 48)
    steps = {step["step"]: step for step in meta["post"]}
    assert steps["upscale"]["target"] == "2" and steps["upscale"]["method"] == "realesrgan"
    assert steps["interpolate"]["fps"] == 48
    # The same video, larger and with in-between frames: the even frames shrunk back match the plain clip.
    big, small = read_frames(post.path), read_frames(plain.path)
    for i in (0, 10, 23):
        shrunk = cv2.resize(big[2 * i], (64, 64), interpolation=cv2.INTER_AREA)
        assert psnr(shrunk, small[i]) > 25, i


def test_the_fast_tier_adds_no_post_steps_unless_asked(engine, tmp_path) -> None:
    result = _make(engine, tmp_path, "tier")
    assert {step["step"] for step in result.metadata["post"]} == {"match_colours", "keep_photo"}


def _kadr(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, "-m", "kadr", *args], capture_output=True, text=True, env=env, timeout=300)


def test_kadr_generate_upscale_and_smooth(tmp_path) -> None:
    out = tmp_path / "cli.mp4"
    done = _kadr("generate", "waves at sunset", "--resolution", "64x64", "--duration", "1", "--seed", "2",
                 "--upscale", "2x", "--smooth", "-o", str(out), "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    info = probe(out)
    assert (info.width, info.height, round(info.fps)) == (128, 128, 48) == (report["width"], report["height"], report["fps"])
    bad = _kadr("generate", "waves", "--upscale", "8x", "-o", str(tmp_path / "bad.mp4"), "--quiet")
    assert bad.returncode == 2 and "upscale" in bad.stderr and "720p" in bad.stderr
    assert not (tmp_path / "bad.mp4").exists()


def test_cancel_stops_the_upscaler_within_a_frame(engine, tmp_path, monkeypatch) -> None:
    from kadr.errors import GenerationCancelled
    from kadr.post import upscale

    done: list[int] = []
    real = upscale.upscale_frame
    monkeypatch.setattr(upscale, "upscale_frame", lambda *a, **k: (done.append(1), real(*a, **k))[1])
    request = VideoRequest(prompt="waves", resolution="64x64", duration=1, seed=3, upscale="2x")
    out = tmp_path / "cancelled.mp4"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GenerationCancelled):
            engine.generate(request, out, cancel=lambda: len(done) >= 3)
    assert len(done) == 3  # 24 frames to upscale; asked before each, it stopped at the fourth
    assert not out.exists()
