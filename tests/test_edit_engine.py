"""The engine's side of extend, remix and first-last frame, over the deterministic backend double.

Every frame of the double is predictable (tests/engine_doubles.py), so these check the mechanics
exactly: what is written first, what each pass is given, how durations add up. kadr-tiny's own
conditioning is measured in tests/test_edit_extend.py, test_edit_remix.py and test_edit_first_last.py.
"""

from __future__ import annotations

import dataclasses
import json

import av
import numpy as np
import pytest
from PIL import Image

from engine_doubles import SPEC, ScrollerBackend
from kadr.edit.source import fit_frame, read_source_info
from kadr.engine import Engine, _continuation_chunks
from kadr.errors import GenerationCancelled, InvalidRequestError
from kadr.request import VideoRequest
from kadr.video.probe import probe, read_frames

EDIT_SPEC = dataclasses.replace(SPEC, features=("extend", "remix", "first-last-frame"))


@dataclasses.dataclass
class EditingBackend(ScrollerBackend):
    """The double, taking the edit arguments: records them; a remix returns the source it was given."""

    spec: object = EDIT_SPEC

    def __call__(self, *, last_image=None, video=None, strength=None, **kwargs):
        out = super().__call__(**kwargs)
        self.calls[-1].update(last_image=None if last_image is None else np.asarray(last_image).copy(),
                              video=None if video is None else video.copy(), strength=strength)
        if video is not None:
            out.frames = video.copy()
        return out


@pytest.fixture
def engine(tmp_path) -> Engine:
    return Engine(output_dir=tmp_path / "out")


def foreign_video(path, frames: int = 30, fps: int = 15, size: tuple[int, int] = (96, 72)) -> np.ndarray:
    """A video kadr did not make: another size, aspect and frame rate, a moving gradient; returns its frames."""
    width, height = size
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    out = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            rgb = np.concatenate([x + 0 * y, y + 0 * x, (x + y + i / frames) % 1.0], axis=-1)
            frame = (rgb * 255).astype(np.uint8)
            out.append(frame)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return np.stack(out)


def test_continuation_chunks_add_exactly_what_was_asked() -> None:
    for added in range(1, 120):
        chunks = _continuation_chunks(SPEC, added)
        assert all(SPEC.frame_rule.is_valid(n) for n in chunks)
        assert sum(n - 1 for n in chunks) >= added
        assert sum(n - 1 for n in chunks[:-1]) < added  # no pass more than needed


def test_extend_writes_the_source_then_continues_from_its_last_frame(engine, tmp_path) -> None:
    first = tmp_path / "first.mp4"
    engine.generate(VideoRequest(prompt="Закат над морем", duration=2, seed=3, camera="pan_right"), first,
                    backend=EditingBackend())
    backend = EditingBackend()
    out = tmp_path / "longer.mp4"
    result = engine.generate(VideoRequest(source_video=first, mode="extend", duration=3, seed=4), out, backend=backend)
    source, longer = read_frames(first).astype(int), read_frames(out).astype(int)
    # Durations add up exactly: 16 frames of the source + 24 new at 8 fps.
    assert (len(source), len(longer)) == (16, 40)
    assert probe(out).duration == pytest.approx(5.0)
    assert result.metadata["duration"] == 5.0 and result.metadata["source"]["frames_kept"] == 16
    assert np.abs(longer[:16] - source).mean() < 3  # the source as it was (re-encoded once)
    # The first pass starts on the source's last frame (as decoded); the camera, prompt and seed go on.
    assert [c["num_frames"] for c in backend.calls] == [17, 9]  # 16 + 8 new frames
    assert np.abs(backend.calls[0]["image"].astype(int) - source[-1]).max() == 0
    assert backend.calls[0]["prompt"] == backend.calls[1]["prompt"] and "Закат" in json.loads(probe(out).tags["comment"])["prompt"]
    assert result.metadata["camera"] == "pan_right"  # from the source's tags
    assert all(c["video"] is None and c["last_image"] is None and c["strength"] is None for c in backend.calls)


def test_extend_accepts_a_video_kadr_did_not_make(engine, tmp_path) -> None:
    clip = tmp_path / "phone.mp4"
    frames = foreign_video(clip, frames=30, fps=15, size=(96, 72))
    info = read_source_info(clip)
    assert (info.width, info.height, info.fps, info.frames, info.prompt, info.aspect) == (96, 72, 15.0, 30, "", "4:3")
    backend = EditingBackend(spec=dataclasses.replace(EDIT_SPEC, resolutions={"4:3": {"fast": (64, 48)}}))
    out = tmp_path / "longer.mp4"
    result = engine.generate(VideoRequest(prompt="волны", source_video=clip, mode="extend", duration=1, seed=1), out,
                             backend=backend)
    meta = result.metadata
    assert (meta["width"], meta["height"], meta["fps"], meta["frames"]) == (64, 48, 15, 45)  # its aspect and rate kept
    written = read_frames(out).astype(int)
    assert np.abs(written[10] - fit_frame(frames[10], 64, 48).astype(int)).mean() < 6


def test_extend_at_another_rate_retimes_the_source_and_a_cancel_leaves_no_file(engine, tmp_path) -> None:
    clip = tmp_path / "phone.mp4"
    frames = foreign_video(clip, frames=30, fps=15, size=(64, 48))  # 2 s
    backend = EditingBackend(spec=dataclasses.replace(EDIT_SPEC, resolutions={"4:3": {"fast": (64, 48)}}))
    out = tmp_path / "at8.mp4"
    meta = engine.generate(VideoRequest(source_video=clip, mode="extend", duration=1, fps=8), out, backend=backend).metadata
    assert (meta["fps"], meta["source"]["frames_kept"], meta["frames"]) == (8, 16, 24)  # 2 s at 8 fps + 1 s
    written = read_frames(out).astype(int)
    assert np.abs(written[8] - frames[15].astype(int)).mean() < 6  # 1 s in: the source's frame at 1 s
    steps = []

    def cancel() -> bool:
        return len(steps) >= 2

    with pytest.raises(GenerationCancelled):
        engine.generate(VideoRequest(source_video=clip, mode="extend", duration=3, fps=8), tmp_path / "gone.mp4",
                        backend=backend, cancel=cancel, on_progress=lambda p: steps.append(p) if p.stage == "generate" else None)
    assert not list(tmp_path.glob("gone*")) and not list(tmp_path.glob(".gone*"))


def test_a_foreign_sources_camera_move_is_measured(tmp_path) -> None:
    import skimage.data

    photo = skimage.data.astronaut()[100:400:3]  # (100, 512, 3)
    clip = tmp_path / "pan.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 128, 100, "yuv420p"
        for i in range(45):  # the view slides right over the picture: 2 px a frame
            frame = np.ascontiguousarray(photo[:, 2 * i: 2 * i + 128])
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert read_source_info(clip).camera == "pan_right"


def test_extend_without_a_video_stream_or_beyond_30_s_is_refused(engine, tmp_path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(InvalidRequestError, match="source_video"):
        engine.generate(VideoRequest(source_video=junk, mode="extend", duration=2), tmp_path / "x.mp4",
                        backend=EditingBackend())
    clip = tmp_path / "long.mp4"
    foreign_video(clip, frames=60, fps=2, size=(64, 48))  # 30 s
    with pytest.raises(InvalidRequestError, match=r"duration: got 2.*at most 0 s more"):
        engine.generate(VideoRequest(source_video=clip, mode="extend", duration=2), tmp_path / "x.mp4",
                        backend=EditingBackend())
    with pytest.raises(InvalidRequestError, match="loop"):
        engine.generate(VideoRequest(source_video=clip, mode="remix", prompt="ночь", loop=True), tmp_path / "x.mp4",
                        backend=EditingBackend())
    assert not list(tmp_path.glob("x*"))


def test_a_picture_with_a_video_to_extend_or_remix_is_refused(tmp_path) -> None:
    clip = tmp_path / "c.mp4"
    foreign_video(clip)
    for mode in ("extend", "remix"):
        with pytest.raises(InvalidRequestError, match=f"image: got 'a picture'; allowed: no image when the request is to {mode}"):
            VideoRequest(prompt="x", source_video=clip, mode=mode, image=Image.new("RGB", (32, 32)))


def test_extend_is_refused_by_a_model_that_cannot(engine, tmp_path) -> None:
    clip = tmp_path / "c.mp4"
    foreign_video(clip)
    with pytest.raises(InvalidRequestError, match="cannot continue a video"):
        engine.generate(VideoRequest(source_video=clip, mode="extend", duration=1), tmp_path / "x.mp4",
                        backend=ScrollerBackend())


def test_remix_gives_each_pass_its_part_of_the_source(engine, tmp_path) -> None:
    clip = tmp_path / "src.mp4"
    foreign_video(clip, frames=40, fps=8, size=(64, 32))
    backend = EditingBackend()
    out = tmp_path / "remix.mp4"
    result = engine.generate(VideoRequest(prompt="ночь", source_video=clip, mode="remix", strength=0.4, seed=2), out,
                             backend=backend)
    source = read_frames(clip)
    assert result.metadata["frames"] == 40 and result.metadata["source"]["strength"] == 0.4  # the source's length
    assert [c["num_frames"] for c in backend.calls] == [17, 17, 9]
    starts = [0, 16, 32]  # each continuation pass starts on the previous pass's last frame
    for call, start in zip(backend.calls, starts):
        assert call["strength"] == 0.4 and call["video"].shape == (call["num_frames"], 32, 64, 3)
        stop = min(40, start + call["num_frames"])
        assert np.array_equal(call["video"][: stop - start], source[start:stop])
    assert np.array_equal(backend.calls[-1]["video"][-1], source[-1])  # past the end: the last frame held
    # The double returns the source as given, so the remix's file is the source again (one more H.264
    # generation of a 64x32 gradient with a hard hue edge: about 3 levels).
    assert np.abs(read_frames(out).astype(int) - source.astype(int)).mean() < 5


def test_default_remix_strength_and_first_last_only_on_the_last_pass(engine, tmp_path) -> None:
    clip = tmp_path / "src.mp4"
    foreign_video(clip, frames=9, fps=8, size=(64, 32))
    backend = EditingBackend()
    engine.generate(VideoRequest(prompt="ночь", source_video=clip, mode="remix"), tmp_path / "r.mp4", backend=backend)
    assert backend.calls[0]["strength"] == 0.6
    first = Image.new("RGB", (64, 32), (200, 30, 30))
    last = Image.new("RGB", (128, 64), (30, 30, 200))
    backend = EditingBackend()
    engine.generate(VideoRequest(prompt="закат", image=first, last_image=last, duration=5, seed=1), tmp_path / "fl.mp4",
                    backend=backend)
    assert [c["last_image"] is not None for c in backend.calls] == [False, False, True]
    assert backend.calls[-1]["last_image"].shape == (32, 64, 3)  # fitted to the output size
    assert tuple(backend.calls[-1]["last_image"][0, 0]) == (30, 30, 200)


def test_a_backend_without_the_edit_arguments_still_runs_plain_requests(engine, tmp_path) -> None:
    # ScrollerBackend's __call__ takes no last_image/video/strength: they are passed only when used.
    result = engine.generate(VideoRequest(prompt="лес", duration=1, seed=1), tmp_path / "p.mp4",
                             backend=ScrollerBackend(spec=EDIT_SPEC))
    assert result.metadata["source"] is None and result.metadata["last_image"] is None
