"""The command line as a person uses it: a real subprocess, real files, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kadr.video.probe import probe


def run_kadr(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KADR_HOME": str(cwd or Path.cwd()), "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "kadr", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "Горы", "--duration", "45"], "duration: got 45; allowed: a number of seconds from 1 to 30"),
        (["generate", "Горы", "--aspect", "21:9"], "aspect: got '21:9'"),
        (["generate", "Горы", "--camera", "sideways"], "camera: got 'sideways'"),
        (["generate", "Горы", "--quality", "ultra"], "tier: got 'ultra'"),
        (["generate", "Горы", "--format", "avi"], "format: got 'avi'"),
        (["generate", "Горы", "--model", "nope"], "model: got 'nope'"),
        (["generate", "", "--duration", "5"], "prompt: got ''"),
        (["generate", "Горы", "-i", "/no/such.png"], "image: got '/no/such.png'"),
        (["check", "/no/such.mp4"], "video: no such file"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(tmp_path, args: list[str], fragment: str) -> None:
    proc = run_kadr(*args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.glob("**/*.mp4")) == []


def test_generate_json_writes_a_real_file(tmp_path) -> None:
    out = tmp_path / "clip.mp4"
    proc = run_kadr("generate", "Ночной город, огни, статичная камера", "-o", str(out), "--duration", "2",
                    "--seed", "7", "--json", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["path"] == str(out) and summary["model"] == "kadr-tiny" and summary["seed"] == 7
    info = probe(out)
    assert (info.frames, info.width, info.height) == (summary["frames"], summary["width"], summary["height"])
    assert info.fps == summary["fps"]
    assert info.duration == pytest.approx(2.0, abs=1 / summary["fps"])
    assert Path(summary["poster"]).is_file()
    assert set(summary["timings"]) >= {"load", "generate", "encode"}


def test_generate_summary_and_progress_bar(tmp_path) -> None:
    out = tmp_path / "loop.gif"
    proc = run_kadr("generate", "Forest at dawn with fog, tilt down", "-o", str(out), "--duration", "1",
                    "--aspect", "9:16", "--loop", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == str(out)
    assert "kadr-tiny" in proc.stdout.splitlines()[1] and "tilt_down" in proc.stdout.splitlines()[1]
    assert "100%" in proc.stderr  # the progress bar reached the end
    info = probe(out)
    assert info.codec == "gif" and info.height > info.width


def test_models_lists_every_model(tmp_path) -> None:
    proc = run_kadr("models", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["kadr-tiny"]["present"] is True
    assert "fast" in rows["kadr-tiny"]["tiers"] and "high" in rows["kadr-tiny"]["tiers"]
    families = " ".join(rows)
    for family in ("wan", "ltx", "svd", "cogvideox"):
        assert family in families
    table = run_kadr("models", cwd=tmp_path).stdout
    assert table.splitlines()[0].split()[:8] == ["NAME", "TASKS", "TIER", "PARAMS", "RESOLUTION", "FPS", "LONGEST", "WEIGHTS"]
    assert "not pulled" in table


def test_prompt_command_json(tmp_path) -> None:
    proc = run_kadr("prompt", "Закат над морем, волны, панорама слева направо", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["language"] == "ru" and plan["camera"] == "pan_right" and plan["time_of_day"] == "sunset"
