"""The engine's mechanics: planning, chunked continuation, streaming, progress, cancel, loops.

Runs over a deterministic test double of the backend contract (tests/engine_doubles.py) so every
frame is predictable; the real models run through the same engine in their own test files.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from engine_doubles import SPEC, ScrollerBackend
from kadr.engine import Engine, _chunk_frames
from kadr.errors import GenerationCancelled, InvalidRequestError
from kadr.pipelines.base import TEXT_TO_VIDEO, FrameRule
from kadr.request import VideoRequest
from kadr.video.probe import probe, read_frames


@pytest.fixture
def engine(tmp_path) -> Engine:
    return Engine(output_dir=tmp_path / "out")


def test_chunking_covers_duration_with_continuations() -> None:
    assert _chunk_frames(SPEC, 40) == [17, 17, 9]  # 17 + 16 + 8 = 41 >= 40 (each continuation repeats one frame)
    assert _chunk_frames(SPEC, 10) == [13]
    assert _chunk_frames(SPEC, 3) == [5]
    for wanted in range(1, 200):
        chunks = _chunk_frames(SPEC, wanted)
        assert all(SPEC.frame_rule.is_valid(n) for n in chunks)
        assert chunks[0] + sum(n - 1 for n in chunks[1:]) >= wanted


def test_frame_rule_rounding() -> None:
    rule = FrameRule(multiple=4, offset=1, minimum=5, maximum=81)
    assert [rule.round(n) for n in (1, 5, 6, 7, 8, 80, 81, 200)] == [5, 5, 5, 9, 9, 81, 81, 81]
    assert [rule.ceil(n) for n in (1, 5, 6, 9, 10, 90)] == [5, 5, 9, 9, 13, 81]


def test_long_video_is_made_in_continuing_chunks(engine: Engine, tmp_path) -> None:
    backend = ScrollerBackend()
    out = tmp_path / "long.mp4"
    result = engine.generate(VideoRequest(prompt="Закат над морем", duration=5, seed=3, camera="pan_right"), out,
                             backend=backend)
    info = probe(out)
    assert (info.frames, info.fps, info.width, info.height) == (40, 8, 64, 32)
    assert info.duration == pytest.approx(5.0)
    assert [c["num_frames"] for c in backend.calls] == [17, 17, 9]
    # Each continuation is conditioned on the previous pass's last frame, which is also what the file shows there.
    written = read_frames(out).astype(int)
    assert backend.calls[0]["image"] is None
    for k in (1, 2):
        cond = backend.calls[k]["image"]
        assert np.array_equal(cond, backend.calls[k - 1]["frames"][-1])
        end_of_previous = 17 + 16 * (k - 1) - 1
        assert np.abs(cond.astype(int) - written[end_of_previous]).mean() < 10  # lossy codec at 64x32
    # The camera path continues: every pass starts at the origin and moves at the same speed.
    for call in backend.calls:
        poses = call["camera"]
        assert poses.shape == (call["num_frames"], 3)
        assert np.allclose(poses[0], 0)
        assert np.allclose(np.diff(poses[:, 0]), np.diff(backend.calls[0]["camera"][:, 0])[0])
        assert (np.diff(poses[:, 0]) > 0).all()  # pan_right: the view centre moves right
    meta = result.metadata
    assert (meta["frames"], meta["chunks"], meta["seed"], meta["camera"]) == (40, 3, 3, "pan_right")
    assert set(meta["timings"]) == {"load", "generate", "post", "encode", "total"}
    assert result.poster_path.is_file()


def test_same_seed_same_video_different_seed_different(engine: Engine, tmp_path) -> None:
    paths = []
    for i, seed in enumerate((1, 1, 2)):
        paths.append(tmp_path / f"{i}.mp4")
        engine.generate(VideoRequest(prompt="Лес", duration=1, seed=seed), paths[-1], backend=ScrollerBackend())
    a, b, c = (read_frames(p).astype(int) for p in paths)
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 20


def test_progress_reports_stages_steps_and_eta(engine: Engine, tmp_path) -> None:
    seen = []
    engine.generate(VideoRequest(prompt="Горы", duration=5, seed=1), tmp_path / "p.mp4", backend=ScrollerBackend(),
                    on_progress=seen.append)
    stages = [p.stage for p in seen]
    assert stages[0] == "plan" and stages[-1] == "done"
    steps = [p for p in seen if p.stage == "generate" and p.step > 0]
    assert sorted({p.step for p in steps}) == list(range(1, 10))  # 3 passes x 3 steps
    assert [p.step for p in steps] == sorted(p.step for p in steps)
    assert all(p.total == 9 for p in steps)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert steps[-1].eta_s is not None and steps[0].eta_s is not None


def test_upscaling_reports_its_own_stage_and_timing(engine: Engine, tmp_path) -> None:
    # Real-ESRGAN takes about a second a frame on a CPU: the page must not sit at 98% with an ETA of 0 for
    # minutes, and the upscaling must not be counted as encoding.
    seen = []
    result = engine.generate(VideoRequest(prompt="Горы", duration=2, seed=1, upscale="2x"), tmp_path / "up.mp4",
                             backend=ScrollerBackend(), on_progress=seen.append)
    frames = result.metadata["frames"]
    assert (result.metadata["width"], frames, result.metadata["chunks"]) == (128, 16, 1)
    post = [p for p in seen if p.stage == "post"]
    done = [p.step for p in post]  # frames upscaled, a few at a time, pass by pass
    assert done == sorted(set(done)) and done[-1] == frames and all(p.total == frames for p in post)
    assert all(p.eta_s is not None for p in post) and post[-1].eta_s == 0.0
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions)  # never back
    generated = [p for p in seen if p.stage == "generate"]
    # Before any frame is upscaled (one pass here), the upscaling is counted as long as the generation.
    assert generated[-1].fraction <= 0.5 and generated[-1].eta_s > 0
    assert post[-1].fraction == pytest.approx(0.98)
    timings = result.metadata["timings"]
    assert set(timings) == {"load", "generate", "post", "encode", "total"}
    assert timings["post"] > timings["encode"]
    assert timings["load"] + timings["generate"] + timings["post"] + timings["encode"] == pytest.approx(timings["total"], abs=0.01)


class _TwoPassBackend(ScrollerBackend):
    """Reports twice the steps it was asked for, as kadr-tiny does with its keyframe-0 pass."""

    def __call__(self, *, callback_on_step_end, num_inference_steps, **kwargs):
        def doubled(i: int, total: int) -> None:
            for k in (2 * i, 2 * i + 1):
                callback_on_step_end(k, 2 * total)

        return super().__call__(callback_on_step_end=doubled, num_inference_steps=num_inference_steps, **kwargs)


def test_progress_follows_the_steps_the_pipeline_reports(engine: Engine, tmp_path) -> None:
    seen = []
    engine.generate(VideoRequest(prompt="Горы", duration=5, seed=1), tmp_path / "p.mp4", backend=_TwoPassBackend(),
                    on_progress=seen.append)
    generate = [p for p in seen if p.stage == "generate"]
    assert all(0.0 <= p.fraction <= 0.98 and p.step <= p.total for p in generate)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert generate[-1].step == generate[-1].total == 9 and generate[-1].fraction == pytest.approx(0.98)


def test_cancel_stops_within_one_step_and_leaves_nothing(engine: Engine, tmp_path) -> None:
    cancel = threading.Event()
    steps_done = []

    def on_progress(p) -> None:
        if p.stage == "generate" and p.step:
            steps_done.append(p.step)
            if p.step == 4:
                cancel.set()

    out_dir = tmp_path / "cancelled"
    with pytest.raises(GenerationCancelled):
        engine.generate(VideoRequest(prompt="Город ночью", duration=5, seed=1), out_dir / "c.mp4",
                        backend=ScrollerBackend(), on_progress=on_progress, cancel=cancel)
    assert steps_done[-1] == 4  # the step after the cancel never completed
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_cancel_accepts_a_callable(engine: Engine, tmp_path) -> None:
    with pytest.raises(GenerationCancelled):
        engine.generate(VideoRequest(prompt="x", duration=1), tmp_path / "c.mp4", backend=ScrollerBackend(),
                        cancel=lambda: True)
    assert not (tmp_path / "c.mp4").exists()


def test_image_to_video_starts_on_the_image(engine: Engine, tmp_path) -> None:
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)).resize((640, 360))
    backend = ScrollerBackend()
    engine.generate(VideoRequest(prompt="волны", image=picture, duration=1, seed=0), tmp_path / "i.mp4", backend=backend)
    cond = backend.calls[0]["image"]
    assert cond.shape == (32, 64, 3)  # fitted to the output size (cover + centre crop)
    expected = np.asarray(picture.resize((64, 36), Image.LANCZOS))[2:34]
    assert np.abs(cond.astype(int) - expected.astype(int)).mean() < 6


def test_loop_end_flows_into_start(engine: Engine, tmp_path) -> None:
    out = tmp_path / "loop.mp4"
    engine.generate(VideoRequest(prompt="облака", duration=4, seed=5, camera="pan_left", loop=True), out,
                    backend=ScrollerBackend())
    frames = read_frames(out).astype(int)
    assert len(frames) == 32
    step = np.abs(frames[1:] - frames[:-1]).mean(axis=(1, 2, 3))  # ordinary frame-to-frame change
    wrap = np.abs(frames[0] - frames[-1]).mean()
    assert wrap <= np.median(step) * 1.5


def test_plan_rounds_soft_constraints_with_warning(engine: Engine) -> None:
    with pytest.warns(UserWarning, match="rounded to 96x48"):
        plan = engine.plan(VideoRequest(prompt="x", resolution="100x50"), SPEC)
    assert (plan.width, plan.height) == (96, 48)
    plan = engine.plan(VideoRequest(prompt="x", resolution="tiny", aspect="1:1"), SPEC)
    assert (plan.width, plan.height) == (32, 32)
    with pytest.warns(UserWarning, match="outside"):
        plan = engine.plan(VideoRequest(prompt="x", fps=60), SPEC.__class__(**{**SPEC.__dict__, "fps_range": (4, 30)}))
    assert plan.fps == 30


def test_plan_hard_errors_name_the_field(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError, match="resolution: got '720p'.*tiny"):
        engine.plan(VideoRequest(prompt="x", resolution="720p"), SPEC)
    t2v_only = SPEC.__class__(**{**SPEC.__dict__, "tasks": (TEXT_TO_VIDEO,), "name": "t2v-only"})
    with pytest.raises(InvalidRequestError, match="duration: got 10.*cannot continue"):
        engine.plan(VideoRequest(prompt="x", duration=10), t2v_only)
    with pytest.raises(InvalidRequestError, match="model: got 't2v-only'.*image-to-video"):
        engine.plan(VideoRequest(prompt="", image=Image.new("RGB", (32, 32))), t2v_only)


def test_unknown_model_is_a_request_error(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError, match="model: got 'no-such-model'"):
        engine.plan(VideoRequest(prompt="x", model="no-such-model"))


def test_prompt_hints_fill_unset_fields_and_explicit_fields_win(engine: Engine) -> None:
    hinted = engine.plan(VideoRequest(prompt="Закат над морем для сторис, 3 секунды, панорама слева направо"), SPEC)
    assert (hinted.aspect, hinted.duration, hinted.camera) == ("9:16", 3.0, "pan_right")
    assert hinted.num_frames == 24 and not hinted.warnings
    with pytest.warns(UserWarning):
        explicit = engine.plan(VideoRequest(prompt="Закат над морем для сторис, статичная камера", aspect="1:1",
                                            camera="zoom_in", duration=2), SPEC)
    assert (explicit.aspect, explicit.duration, explicit.camera) == ("1:1", 2.0, "zoom_in")
    assert any("static" in w or "статич" in w for w in explicit.warnings)  # the conflict is shown to the person
    plain = engine.plan(VideoRequest(prompt="Горы"), SPEC)
    assert (plain.aspect, plain.duration, plain.camera) == ("16:9", 5.0, "static")
