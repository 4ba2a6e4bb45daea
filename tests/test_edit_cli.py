"""`kadr generate --last-image`, `kadr extend` and `kadr remix` as a person runs them: real subprocesses, real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.data
from PIL import Image

from test_cli import run_kadr
from kadr.video.probe import probe, read_frames


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["extend", "/no/such.mp4", "--seconds", "2"], "video: got '/no/such.mp4'; allowed: an existing video file"),
        (["remix", "/no/such.mp4", "ночь"], "video: got '/no/such.mp4'"),
        (["generate", "Горы", "--last-image", "/no/such.png"], "last_image: got 'a last frame without a first'"),
    ],
)
def test_bad_input_exits_with_one_line(tmp_path, args: list[str], fragment: str) -> None:
    proc = run_kadr(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


@pytest.mark.parametrize("argv", [
    ["extend", "v.mp4", "--seconds", "5", "машины уезжают", "-o", "x.mp4"],  # the prompt after the options
    ["extend", "v.mp4", "машины уезжают", "--seconds", "5", "-o", "x.mp4"],
])
def test_the_prompt_may_come_before_or_after_the_options(argv: list[str]) -> None:
    from kadr.cli import build_parser

    args = build_parser().parse_args(argv)
    assert (args.video, args.prompt, args.seconds, args.output) == ("v.mp4", "машины уезжают", 5.0, "x.mp4")
    assert build_parser().parse_args(["extend", "v.mp4", "--seconds", "2"]).prompt == ""
    remix = build_parser().parse_args(["remix", "v.mp4", "--strength", "0.4", "ночь"])
    assert (remix.prompt, remix.strength) == ("ночь", 0.4)


def test_first_last_then_extend_then_remix(tmp_path) -> None:
    first, last = tmp_path / "first.png", tmp_path / "last.png"
    Image.fromarray(skimage.data.chelsea()).save(first)
    Image.fromarray(skimage.data.coffee()).save(last)
    clip = tmp_path / "fl.mp4"
    proc = run_kadr("generate", "кошка", "-i", str(first), "--last-image", str(last), "--duration", "1",
                    "--resolution", "128x72", "--seed", "1", "-o", str(clip), "--json", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert (made["frames"], made["width"], made["height"]) == (25, 128, 72)  # 1 s and the frame showing the last picture

    longer = tmp_path / "longer.mp4"
    proc = run_kadr("extend", str(clip), "--seconds", "1", "кофе остывает", "-o", str(longer), "--seed", "2", "--json",
                    "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["frames"] == 49 and probe(longer).frames == 49  # 25 frames + 1 s, exactly
    assert (summary["width"], summary["height"]) == (128, 72)  # the source's size, not the tier's default
    assert np.abs(read_frames(longer)[:25].astype(int) - read_frames(clip).astype(int)).mean() < 4

    night = tmp_path / "night.mp4"
    proc = run_kadr("remix", str(longer), "ночь", "--strength", "0.5", "-o", str(night), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == str(night)
    assert probe(night).frames == 49
    proc = run_kadr("remix", str(longer), "ночь", "--strength", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "strength: got 2; allowed: a number from 0.05" in proc.stderr
