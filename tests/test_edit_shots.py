"""Shots (kadr.edit.shots): several shots, each with its prompt, camera and duration, in one video file.

The mechanics run over the engine's test double (tests/engine_doubles.py), tinted per prompt so a cut
between two prompts shows in the pixels; every check reads the real file back. The CLI test runs the
built-in model end to end on a shots text file.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from engine_doubles import SPEC, ScrollerBackend
from kadr.edit.shots import CROSSFADE_S, ShotJoiner, load_shots, plan_shots
from kadr.engine import Engine
from kadr.errors import GenerationCancelled, InvalidRequestError
from kadr.pipelines.base import FrameRule
from kadr.request import Shot, VideoRequest
from kadr.video.checks import estimate_camera
from kadr.video.probe import probe, read_frames

FPS = 8
# 256x144 so that a pan moves 2.5 px a frame (the camera estimate reads it); passes of up to 17 frames.
SHOTS_SPEC = dataclasses.replace(SPEC, resolutions={"16:9": {"fast": (256, 144)}}, features=("shots",),
                                 frame_rule=FrameRule(multiple=4, offset=1, minimum=5, maximum=17))
GAINS = {"берег": 1.0, "лес": 0.3, "город": 0.75}  # brightness per prompt: a cut between prompts is visible


@dataclasses.dataclass
class TintedScroller(ScrollerBackend):
    """The scroller, its brightness set by the prompt's subject (a new prompt looks different)."""

    spec: object = SHOTS_SPEC

    def __call__(self, **kwargs):
        out = super().__call__(**kwargs)
        gain = next(g for word, g in GAINS.items() if word in kwargs["prompt"].lower())
        out.frames = (out.frames.astype(np.float32) * gain).astype(np.uint8)
        self.calls[-1]["frames"] = out.frames
        return out


@pytest.fixture
def engine(tmp_path) -> Engine:
    return Engine(output_dir=tmp_path / "out")


def frame_jumps(frames: np.ndarray, block: int = 32) -> np.ndarray:
    """Mean absolute difference between each frame and the next, on 32 px block means: (F - 1,).

    Block means see a change of scene and stay calm while fine texture slides a few pixels with a pan.
    """
    f, h, w, c = frames.shape
    blocks = frames[:, : h - h % block, : w - w % block].astype(np.float32)
    blocks = blocks.reshape(f, h // block, block, w // block, block, c).mean(axis=(2, 4))  # (F, H/b, W/b, C)
    return np.abs(np.diff(blocks, axis=0)).mean(axis=(1, 2, 3))


def test_shots_keep_their_durations_cut_where_asked_and_move_their_own_cameras(engine, tmp_path) -> None:
    shots = (Shot("Берег моря", 1.5, "pan_right"), Shot("Лес", 1.0, "static"), Shot("Город", 2.0, "pan_left"))
    backend = TintedScroller()
    result = engine.generate(VideoRequest(shots=shots, seed=5), tmp_path / "shots.mp4", backend=backend)

    info = probe(result.path)
    assert info.frames == 36 and info.duration == pytest.approx(4.5)  # 1.5 + 1 + 2 s at 8 fps
    starts = [s["start_frame"] for s in result.metadata["shots"]]
    lengths = [s["frames"] for s in result.metadata["shots"]]
    assert starts == [0, 12, 20] and lengths == [12, 8, 16]
    for shot, frames in zip(shots, lengths):
        assert abs(frames / FPS - shot.duration) <= 1 / FPS  # within one frame

    frames = read_frames(result.path)
    jumps = frame_jumps(frames)  # jumps[i]: frame i -> i + 1
    cuts = [start - 1 for start in starts[1:]]
    calm = np.delete(jumps, cuts)
    assert jumps[cuts].min() > 3 * calm.max(), (jumps[cuts], calm.max())  # spikes at the cuts and nowhere else

    # One seed, one model pass per shot here, each given its own camera; the file shows each shot's motion.
    assert len(backend.calls) == 3
    assert [np.sign(call["camera"][-1, 0]) for call in backend.calls] == [1, 0, -1]  # right, static, left
    for shot, start, length in zip(shots, starts, lengths):
        measured = estimate_camera(frames[start: start + length], fps=FPS)
        assert measured.label == shot.camera, (shot, measured)
    assert result.metadata["seed"] == 5 and result.poster_path.is_file()


def test_a_crossfade_blends_the_neighbours_and_keeps_the_total(engine, tmp_path) -> None:
    shots = (Shot("Берег", 1.5, "static"), Shot("Лес", 1.5, "static"))
    backend = TintedScroller()
    result = engine.generate(VideoRequest(shots=shots, transition="crossfade", seed=2), tmp_path / "fade.mp4",
                             backend=backend)
    frames = read_frames(result.path).astype(np.float32)
    assert len(frames) == 24  # 1.5 + 1.5 s: the blend is inside the sum, not added to it

    half, boundary = round(CROSSFADE_S * FPS / 2), 12  # 2 frames each side of the boundary
    assert len(backend.calls) == 2  # one pass per shot, each made 2 frames longer
    outgoing, incoming = (backend.calls[k]["frames"].astype(np.float32) for k in (0, 1))
    # Away from the fade each shot is itself: what the codec loses there is the tolerance inside it.
    codec_loss = max(np.abs(frames[5] - outgoing[5]).mean(), np.abs(frames[20] - incoming[20 - boundary + half]).mean())
    assert codec_loss < 8.0  # a fine random texture at crf 20
    for j in range(2 * half):
        weight = (j + 0.5) / (2 * half)
        expected = (1 - weight) * outgoing[boundary - half + j] + weight * incoming[j]
        shown = frames[boundary - half + j]
        error = np.abs(shown - expected).mean()
        assert error <= 1.1 * codec_loss, (j, error, codec_loss)  # the blend, to within the codec
        assert np.abs(shown - outgoing[boundary - half + j]).mean() > 1.8 * error  # neither neighbour alone
        assert np.abs(shown - incoming[j]).mean() > 1.8 * error


def test_progress_spans_every_shot_and_cancel_leaves_no_file(engine, tmp_path) -> None:
    shots = (Shot("Берег", 3.0), Shot("Лес", 1.0))  # 24 frames: two passes (17 + 8), then one
    reports = []
    engine.generate(VideoRequest(shots=shots, seed=1), tmp_path / "p.mp4", backend=TintedScroller(),
                    on_progress=reports.append)
    generating = [r for r in reports if r.stage == "generate"]
    assert {r.chunks for r in generating} == {3} and generating[-1].chunk == 3
    fractions = [r.fraction for r in generating]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.98)
    assert generating[-1].step == generating[-1].total == 3 * SHOTS_SPEC.steps["fast"]
    assert reports[-1].stage == "done" and reports[-1].fraction == 1.0

    out = tmp_path / "cancelled.mp4"
    seen = []
    with pytest.raises(GenerationCancelled):
        engine.generate(VideoRequest(shots=shots, seed=1), out, backend=TintedScroller(), on_progress=seen.append,
                        cancel=lambda: any(r.stage == "generate" and r.chunk == 3 for r in seen))
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert [p.name for p in tmp_path.iterdir() if "cancelled" in p.name] == []


def test_shots_share_one_seed_the_first_shots_style_and_the_requests_prompt(engine) -> None:
    request = VideoRequest(shots=(Shot("Берег, аниме", 1.0), Shot("Лес", 1.0), Shot("Город", 1.0, style="realistic")),
                           seed=9)
    layouts = plan_shots(engine, request, SHOTS_SPEC)
    assert {layout.plan.seed for layout in layouts} == {9}
    assert [layout.plan.style for layout in layouts] == ["animation", "animation", "realistic"]
    shared = plan_shots(engine, request.with_(prompt="рыжая девочка в жёлтом плаще"), SHOTS_SPEC)
    assert all("рыжая девочка в жёлтом плаще" in layout.plan.prompt for layout in shared)
    assert [layout.plan.prompt.split(".")[0] for layout in shared] == ["Берег, аниме", "Лес", "Город"]


def test_a_model_without_shots_is_refused_with_the_models_that_can(engine) -> None:
    request = VideoRequest(shots=(Shot("Берег", 1.0),))
    with pytest.raises(InvalidRequestError, match="model: .*cannot make several shots.*kadr-tiny"):
        plan_shots(engine, request, SPEC)
    with pytest.raises(InvalidRequestError, match="loop"):
        plan_shots(engine, request.with_(loop=True), SHOTS_SPEC)


def test_the_joiner_refuses_frames_out_of_order() -> None:
    engine = Engine()
    layouts = plan_shots(engine, VideoRequest(shots=(Shot("Берег", 1.0), Shot("Лес", 1.0)), seed=1), SHOTS_SPEC)
    joiner = ShotJoiner(layouts)
    joiner.add(0, np.zeros((3, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="shot 0 gave 3 of 8 frames"):
        joiner.add(1, np.zeros((3, 4, 4, 3), np.uint8))


def test_shots_files_json_and_text(tmp_path) -> None:
    as_json = tmp_path / "shots.json"
    as_json.write_text(json.dumps([{"prompt": "Пляж на закате", "duration": 5, "camera": "pan-left"},
                                   {"prompt": "Лес", "duration": 2.5, "style": "cinematic"}]), encoding="utf-8")
    as_text = tmp_path / "shots.txt"
    as_text.write_text("# a comment\n5s | pan-left | Пляж на закате\n\n2,5 с | cinematic | Лес\n", encoding="utf-8")
    expected = (Shot("Пляж на закате", 5.0, "pan_left"), Shot("Лес", 2.5, style="cinematic"))
    assert load_shots(as_json) == load_shots(as_text) == expected

    bad = tmp_path / "bad.txt"
    bad.write_text("5s | Пляж\n2s | wobble | Лес\n", encoding="utf-8")
    with pytest.raises(InvalidRequestError, match=r"bad.txt: line 2: shots.camera: got 'wobble'"):
        load_shots(bad)
    long = tmp_path / "long.json"
    long.write_text(json.dumps([{"prompt": "Лес", "duration": 45}]), encoding="utf-8")
    with pytest.raises(InvalidRequestError, match=r"long.json: shot 1: shots.duration: got 45"):
        load_shots(long)
    with pytest.raises(InvalidRequestError, match="shots: got .*missing.txt"):
        load_shots(tmp_path / "missing.txt")


def test_cli_generate_shots_with_the_builtin_model(tmp_path) -> None:
    shots = tmp_path / "shots.txt"
    shots.write_text("1s | pan-left | Пляж на закате\n1.5s | static | Лес ночью\n", encoding="utf-8")
    out = tmp_path / "cli.mp4"
    done = subprocess.run([sys.executable, "-m", "kadr", "generate", "--shots", str(shots), "-o", str(out), "--seed", "3",
                           "--quiet", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    meta = json.loads(done.stdout)
    info = probe(out)
    assert info.frames == round(2.5 * info.fps) == meta["frames"] and meta["model"] == "kadr-tiny"
    frames = read_frames(out)
    jumps = frame_jumps(frames)
    cut = round(1.0 * info.fps) - 1
    assert jumps[cut] > 3 * np.delete(jumps, cut).max()  # beach at sunset -> forest at night: a cut
    assert frames[cut + 1:].mean() < frames[:cut + 1].mean()  # the night shot is the darker one

    refused = subprocess.run([sys.executable, "-m", "kadr", "generate", "--shots", str(shots), "--duration", "3",
                              "-o", str(tmp_path / "x.mp4")], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "duration: got 3" in refused.stderr


# ---- characters' reference pictures (kadr.edit.reference) ------------------------------------------

REFERENCE_SPEC = dataclasses.replace(SHOTS_SPEC, features=("shots", "reference"), reference_mode="first-frame")


@dataclasses.dataclass
class ReferenceScroller(TintedScroller):
    """Takes a reference the first-frame way, as the diffusers backends do: a pass without an image starts on it."""

    spec: object = REFERENCE_SPEC
    references: list = dataclasses.field(default_factory=list)

    def __call__(self, *, reference_image=None, **kwargs):
        self.references.append(reference_image)
        if kwargs["image"] is None and reference_image is not None:
            kwargs["image"] = reference_image
        return super().__call__(**kwargs)


def test_every_shot_gets_the_characters_reference(engine, tmp_path) -> None:
    from PIL import Image

    coarse = np.random.default_rng(3).integers(0, 256, (9, 16, 3), dtype=np.uint8)
    character = Image.fromarray(coarse).resize((256, 144), Image.BICUBIC)  # smooth: the codec keeps it
    backend = ReferenceScroller()
    request = VideoRequest(shots=(Shot("Берег", 1.0), Shot("Лес", 1.0)), reference_image=character, seed=1)
    result = engine.generate(request, tmp_path / "character.mp4", backend=backend)
    assert len(backend.references) == 2 and all(ref is not None for ref in backend.references)
    frames = read_frames(result.path).astype(np.float32)
    for start, gain in ((0, GAINS["берег"]), (8, GAINS["лес"])):  # each shot opens on the (tinted) character
        assert np.abs(frames[start] - np.asarray(character, np.float32) * gain).mean() < 8.0
    with pytest.raises(InvalidRequestError, match=r"model: .*cannot take a character's reference picture"):
        engine.generate(request, tmp_path / "refused.mp4", backend=TintedScroller())  # no silent ignore


def test_a_reference_the_model_would_drop_is_refused(engine, tmp_path) -> None:
    from PIL import Image

    from kadr.edit.reference import check_reference

    character = Image.new("RGB", (64, 64), (200, 40, 40))
    clip = tmp_path / "clip.mp4"
    engine.generate(VideoRequest(prompt="Берег", duration=1, seed=1), clip, backend=TintedScroller())
    with pytest.raises(InvalidRequestError, match="reference_image: .*one of them: it takes the reference as the first frame"):
        check_reference(VideoRequest(prompt="Берег", image=character, reference_image=character), REFERENCE_SPEC)
    with pytest.raises(InvalidRequestError, match="reference_image: .*extend a video.*come from the source"):
        check_reference(VideoRequest(prompt="Берег", source_video=clip, mode="extend", reference_image=character),
                        REFERENCE_SPEC)
    check_reference(VideoRequest(prompt="Берег", reference_image=character), REFERENCE_SPEC)  # a clip that starts on it


def test_a_reference_taken_from_a_video_is_its_sharpest_frame(tmp_path) -> None:
    from PIL import Image, ImageFilter

    from kadr.edit.reference import reference_from_video
    from kadr.video.encode import VideoWriter

    rng = np.random.default_rng(0)
    sharp = np.asarray(Image.fromarray(rng.integers(0, 256, (36, 64, 3), dtype=np.uint8)).resize((256, 144), Image.NEAREST))
    blurred = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(4)))
    frames = np.stack([blurred] * 12 + [sharp] + [blurred] * 12)  # frame 12 of 25: one of the 9 looked at
    clip = tmp_path / "character.mp4"
    with VideoWriter(clip, fps=8, width=256, height=144) as writer:
        writer.write(frames)
    picked = np.asarray(reference_from_video(clip), np.float32)
    assert np.abs(picked - sharp).mean() < np.abs(picked - blurred).mean() / 3
    with pytest.raises(InvalidRequestError, match="reference: got .*nothing.mp4"):
        reference_from_video(tmp_path / "nothing.mp4")
