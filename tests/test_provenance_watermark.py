"""The frame watermark: read back from real files after the transformations it survives, absent from
clips made without it, found by `kadr verify` when the manifest was stripped.

A textured clip (which gets the strongest step) is read back after each transformation; kadr-tiny's own
video, whose flat picture allows only a weak mark, after a crop and a GIF. What the weak mark does not survive
yet (a half-size copy: see bench/bench_watermark.py and the README) is not asserted here; its error-correcting
code is, and so is matching a mark too faint to decode against a studio's jobs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import kadr_env
from kadr.provenance import attacks
from kadr.provenance.watermark import (CHECK_BITS, CODED_BITS, WatermarkEmbedder, WatermarkPayload, _codeword, _message_bits,
                                       _payload_of, _viterbi, codeword_signs, detect_in_file, detect_watermark, embed_watermark,
                                       STEPS, match_threshold)
from kadr.video.checks import psnr
from kadr.video.encode import VideoWriter
from training.world import render_clip, sample_scene

PAYLOAD = WatermarkPayload(studio=0xA1B2, job=0x0C3D)
STUDIO = "test-studio"
# Stand-ins for a studio's other jobs, to match a faint mark against.
OTHERS = [WatermarkPayload(int(a), int(b)) for a, b in np.random.default_rng(8).integers(0, 1 << 16, (9999, 2))]


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    scene = sample_scene(np.random.default_rng(3), setting="beach", camera="pan_right", time_of_day="day")
    return render_clip(scene, 48, 256, 144, 24.0)


def write(frames: np.ndarray, path: Path) -> Path:
    with VideoWriter(path, fps=24, width=frames.shape[2], height=frames.shape[1]) as writer:
        writer.write(frames)
    return path


@pytest.fixture(scope="module")
def kadr_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A fast-tier kadr-tiny video made by the CLI with the watermark on, and the CLI's environment."""
    home = tmp_path_factory.mktemp("wm-home")
    env = kadr_env(KADR_HOME=str(home), KADR_WATERMARK="1", KADR_STUDIO_ID=STUDIO)
    made = subprocess.run([sys.executable, "-m", "kadr", "generate", "Закат над морем, волны", "--seed", "4",
                           "-o", str(home / "job-42.mp4"), "--quiet"], capture_output=True, text=True, env=env, timeout=300,
                          cwd=home)
    assert made.returncode == 0, made.stderr
    return home / "job-42.mp4", env


EXPECTED = WatermarkPayload.for_job(STUDIO, "job-42")


def test_payload_read_back_from_the_engines_file(kadr_video: tuple[Path, dict]) -> None:
    reading = detect_in_file(kadr_video[0])
    assert reading.found and reading.payload == EXPECTED


@pytest.mark.parametrize("transformation", ["crop_4_percent", "gif"])
def test_payload_survives(transformation: str, kadr_video: tuple[Path, dict], tmp_path: Path) -> None:
    reading = detect_in_file(attacks.apply(transformation, kadr_video[0], tmp_path))
    assert reading.found and reading.payload == EXPECTED, reading


@pytest.mark.parametrize("transformation", sorted(attacks.TRANSFORMATIONS))
def test_a_textured_clips_payload_survives_each_transformation(transformation: str, clip: np.ndarray,
                                                               tmp_path: Path) -> None:
    """Decoded, not matched: no candidates are given."""
    marked = write(embed_watermark(clip, PAYLOAD), tmp_path / "marked.mp4")
    reading = detect_in_file(attacks.apply(transformation, marked, tmp_path))
    assert reading.found and reading.payload == PAYLOAD and not reading.matched, reading


def test_world_clip_marked_and_encoded_reads_back(clip: np.ndarray, tmp_path: Path) -> None:
    marked = write(embed_watermark(clip, PAYLOAD), tmp_path / "marked.mp4")
    assert detect_in_file(marked).payload == PAYLOAD
    frames, _ = attacks.read_frames(marked)
    assert np.abs(frames.astype(int) - clip).mean() < 3  # invisible: a few levels at most, on average


def test_not_found_in_unmarked_clips(clip: np.ndarray, tmp_path: Path) -> None:
    """Neither decoded nor matched to any of 10,000 candidate payloads."""
    assert not detect_in_file(write(clip, tmp_path / "plain.mp4"), OTHERS).found
    other = render_clip(sample_scene(np.random.default_rng(11)), 48, 256, 144, 24.0)
    assert not detect_watermark(other, OTHERS).found


def test_a_half_size_copy_too_faint_to_decode_is_matched_among_the_studios_jobs(clip: np.ndarray, tmp_path: Path) -> None:
    """At the step a plain picture gets, a half-size copy of this short pan keeps too little of the mark to decode
    one of 2^44 messages, but enough to tell which of 1,000 known payloads it carries (and no other of them)."""
    copy = attacks.apply("downscale_half", write(embed_watermark(clip, PAYLOAD, step=2.3), tmp_path / "marked.mp4"), tmp_path)
    candidates = [*OTHERS[:500], PAYLOAD, *OTHERS[500:999]]
    listed = []  # the candidates may come from a function, called only when nothing decodes
    reading = detect_in_file(copy, lambda: listed.append(1) or candidates)
    assert reading.found and reading.payload == PAYLOAD and listed == [1], reading
    assert detect_in_file(write(embed_watermark(clip, PAYLOAD), tmp_path / "plain.mp4"), lambda: listed.append(2) or []).found
    assert listed == [1]
    assert reading.to_dict().get("matched", False) is reading.matched
    # Without its own payload among them, none of the others is matched in its place.
    assert not detect_in_file(copy, OTHERS[:999]).matched


@pytest.mark.parametrize("picture", ["flat", "textured"])
def test_the_step_follows_the_picture_and_the_cost_stays_under_1_db(picture: str, clip: np.ndarray, tmp_path: Path) -> None:
    """A smooth, still picture (which x264 keeps almost exactly) gets a small lattice step; a textured pan, whose
    encoding error hides more, a larger one; on both the encoded file's PSNR falls by less than 1 dB."""
    if picture == "flat":
        y, x = np.mgrid[0:144, 0:256].astype(np.float32)
        sky = np.stack([90 + 0.3 * x + 0.2 * y, 120 + 0.2 * x, 170 + 0.1 * y], axis=-1)  # a still gradient
        frames = np.repeat(np.clip(sky, 0, 255).astype(np.uint8)[None], 48, axis=0)
    else:
        frames = clip
    embedder = WatermarkEmbedder(PAYLOAD, 256, 144)
    marked = embedder.embed(frames)
    assert embedder.step == (STEPS[0] if picture == "flat" else STEPS[-1])
    clean, _ = attacks.read_frames(write(frames, tmp_path / "clean.mp4"))
    carried, _ = attacks.read_frames(path := write(marked, tmp_path / "marked.mp4"))
    assert psnr(clean, frames) - psnr(carried, frames) < 1.0
    assert detect_in_file(path).payload == PAYLOAD


def test_codeword_signs_are_each_payloads_code_and_the_threshold_grows_with_the_candidates() -> None:
    payloads = OTHERS[:40]
    assert np.array_equal(codeword_signs(payloads), np.stack([1.0 - 2.0 * _codeword(p) for p in payloads]))
    assert codeword_signs([]).shape == (0, CODED_BITS)
    assert 4.0 < match_threshold(100, 4) < match_threshold(10_000, 4) < match_threshold(100_000, 4) < 6.5


@pytest.mark.parametrize("kind", ["flat", "noise"])
def test_not_found_in_textureless_or_noisy_clips(kind: str, tmp_path: Path) -> None:
    """No picture structure at all (a flat grey, fresh noise every frame): nothing to mistake for a mark."""
    rng = np.random.default_rng(5)
    frames = (np.full((48, 144, 256, 3), 128, np.uint8) if kind == "flat"
              else rng.integers(0, 256, (48, 144, 256, 3), dtype=np.uint8))
    reading = detect_in_file(write(frames, tmp_path / f"{kind}.mp4"))
    assert not reading.found and reading.payload is None, reading


def test_streamed_chunks_carry_the_payload(clip: np.ndarray) -> None:
    embedder = WatermarkEmbedder(PAYLOAD, 256, 144)
    chunks = [embedder.embed(clip[i: i + 16]) for i in range(0, len(clip), 16)]
    assert detect_watermark(iter(chunks)).payload == PAYLOAD
    with pytest.raises(ValueError, match="frame size"):
        embedder.embed(clip[:, :100])


def test_verify_finds_the_watermark_when_the_manifest_is_stripped(kadr_video: tuple[Path, dict], tmp_path: Path) -> None:
    source, env = kadr_video
    # Remux the packets into a new MP4: the same pictures, no C2PA box.
    stripped = tmp_path / "stripped.mp4"
    with av.open(str(source)) as src, av.open(str(stripped), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    proc = subprocess.run([sys.executable, "-m", "kadr", "verify", str(stripped), "--json"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["manifest"] is None
    assert report["watermark"] == {"found": True, "payload": EXPECTED.to_dict()}
    for studio, whose in ((STUDIO, "this studio"), ("someone-else", "another studio")):  # the one-line verdict says whose mark
        line = subprocess.run([sys.executable, "-m", "kadr", "verify", str(stripped)], capture_output=True, text=True,
                              env={**env, "KADR_STUDIO_ID": studio}, timeout=120).stdout
        assert f"watermark found (studio {EXPECTED.studio:04x}, {whose}; job {EXPECTED.job:04x})" in line, line
    signed = json.loads(subprocess.run([sys.executable, "-m", "kadr", "verify", str(source), "--json"], capture_output=True,
                                       text=True, env=env, timeout=120).stdout)
    assert signed["manifest"]["valid"] is True and signed["watermark"]["found"] is True


def test_verify_matches_a_half_size_copy_to_a_job_in_the_folder_given(clip: np.ndarray, kadr_video: tuple[Path, dict],
                                                                     tmp_path: Path) -> None:
    """`kadr verify --jobs-from FOLDER`: the studio's own outputs are the candidates (their file names, as the
    engine named their marks)."""
    _, env = kadr_video
    outputs = tmp_path / "kadr-outputs"
    outputs.mkdir()
    payload = WatermarkPayload.for_job(STUDIO, "beach-pan")
    marked = write(embed_watermark(clip, payload, step=2.3), outputs / "beach-pan.mp4")  # a plain picture's step
    for i in range(3):  # other jobs of the studio
        write(clip[:4], outputs / f"other-{i}.mp4")
    copy = attacks.apply("downscale_half", marked, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "kadr", "verify", str(copy), "--json", "--jobs-from", str(outputs)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["watermark"] == {"found": True, "payload": payload.to_dict(), "matched": True}
    line = subprocess.run([sys.executable, "-m", "kadr", "verify", str(copy), "--job", "beach-pan"], capture_output=True,
                          text=True, env=env, timeout=120).stdout
    assert f"watermark matched to a job of this studio (studio {payload.studio:04x}; job {payload.job:04x})" in line, line
    missing = subprocess.run([sys.executable, "-m", "kadr", "verify", str(copy), "--jobs-from", str(tmp_path / "nope")],
                             capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 2 and "--jobs-from" in missing.stderr and "no such folder" in missing.stderr


def test_the_code_corrects_bit_errors_and_its_check_rejects_noise() -> None:
    rng = np.random.default_rng(0)
    sent = 1.0 - 2.0 * _codeword(PAYLOAD)  # +1 for a 0
    # 8 of the 112 code bits read wrong (7%; 97% of such patterns decode), every bit's certainty blurred.
    soft = sent * rng.uniform(0.2, 1.0, CODED_BITS)
    soft[rng.choice(CODED_BITS, 8, replace=False)] *= -1
    bits, agreement = _viterbi(soft)
    assert (bits[0] == _message_bits(PAYLOAD)).all() and _payload_of(bits[0]) == PAYLOAD and agreement[0] > 0.3
    # Reading noise: the decoder always answers with some message, but its check rarely fits (1 in 4096 by design).
    rows = 20000
    messages, _ = _viterbi(np.cos(rng.uniform(0, 2 * np.pi, (rows, CODED_BITS))))
    passed = sum(_payload_of(row) is not None for row in messages)
    assert passed < 3 * rows / 2 ** CHECK_BITS  # about 5 expected
