"""Photo fidelity under camera motion (kadr.post.fidelity) and its measure (kadr.post.quality).

The end-to-end cases run the shipped kadr-tiny weights through the engine on photographs scikit-image
ships (never seen in training), read the MP4 back and measure it as the issue states: the last frame
against the first frame aligned to it by a similarity fitted by optical flow.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from kadr.camera import CAMERA_MOTIONS, CameraPath
from kadr.post.fidelity import FidelityConfig, PhotoAnchor, keep_photo
from kadr.post.quality import aligned_fidelity, clip_fidelity, sharpness


def _photo(name: str) -> Image.Image:
    import skimage.data

    if name == "product_rgba":  # a product cut out on transparency, through the picture loader
        import io

        from kadr.picture import load_image

        rgb = skimage.data.coffee()[:, 50:550]
        yy, xx = np.mgrid[:400, :500]
        alpha = ((((xx - 250) / 200.0) ** 2 + ((yy - 200) / 160.0) ** 2) < 1).astype(np.uint8) * 255
        buffer = io.BytesIO()
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buffer, format="PNG")
        return load_image(buffer.getvalue())
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_anchor_at_rest_shows_the_photograph_fitted_to_the_frame() -> None:
    picture = np.asarray(_photo("astronaut"))  # 512x512 into 16:9: the centre band
    anchor = PhotoAnchor.from_image(picture, (256, 144))
    image, cover = anchor.render(np.zeros(3))
    band = picture[(512 - 288) // 2:(512 - 288) // 2 + 288]
    expected = cv2.resize(band, (256, 144), interpolation=cv2.INTER_AREA)
    assert cover.min() > 0.99
    assert _psnr(np.clip(image + 0.5, 0, 255).astype(np.uint8), expected) > 35


def test_pan_shifts_the_view_and_reveals_only_past_the_edge() -> None:
    picture = np.asarray(_photo("coffee"))  # 600x400: wider than 16:9 is tall, so a tilt stays inside
    anchor = PhotoAnchor.from_image(picture, (256, 144))
    pan = anchor.render(np.array([0.25, 0.0, 0.0]))
    rest = anchor.render(np.zeros(3))
    # Content moves left by a quarter of the frame: the view's left 3/4 is the rest view's right 3/4.
    assert _psnr(pan[0][:, 4:188].astype(np.uint8), rest[0][:, 68:252].astype(np.uint8)) > 30
    # coffee is 600 wide and fills 256 px at 400 tall -> 675 px of picture would be needed: the
    # revealed right strip is uncovered, the left is covered.
    assert pan[1][:, :150].min() > 0.99 and pan[1][:, -8:].max() < 0.01
    # A tilt inside a picture taller than the frame's band reveals the real picture, not model fill.
    tall = PhotoAnchor.from_image(np.asarray(_photo("astronaut")), (256, 144))
    assert tall.render(np.array([0.0, 0.3, 0.0]))[1].min() > 0.99


def test_zoom_in_renders_from_the_full_resolution_photograph() -> None:
    picture = np.asarray(_photo("astronaut"))
    anchor = PhotoAnchor.from_image(picture, (256, 144), max_zoom=0.35)
    zoomed, _ = anchor.render(np.array([0.0, 0.0, 0.35]))
    rest, _ = anchor.render(np.zeros(3))
    # The same zoom made from the small first frame (what a model conditioned on it sees) is softer.
    small = np.clip(rest + 0.5, 0, 255).astype(np.uint8)
    s = float(np.exp(0.35))
    m = np.array([[s, 0, (1 - s) * 255 / 2], [0, s, (1 - s) * 143 / 2]])
    from_small = cv2.warpAffine(small, m, (256, 144), flags=cv2.INTER_CUBIC)
    assert sharpness(np.clip(zoomed + 0.5, 0, 255).astype(np.uint8)) > 1.5 * sharpness(from_small)


def test_a_frame_sized_anchor_is_not_resampled_at_rest_nor_softened_by_a_slow_pan() -> None:
    """Text-to-video's anchor is its first keyframe at the output size: frame 0 comes back as it is, and a
    pan shifts it by a cubic warp (a 2x render area-averaged down lost 0.28 of a keyframe's detail at rest)."""
    keyframe = np.asarray(_photo("chelsea").resize((256, 144)))
    anchor = PhotoAnchor(keyframe, (0.0, 0.0, 256.0, 144.0), (256, 144))
    rest, cover = anchor.render(np.zeros(3))
    assert cover.min() > 0.999 and np.array_equal(np.clip(rest + 0.5, 0, 255).astype(np.uint8), keyframe)
    moved, _ = anchor.render(np.array([3.0 / 256, 0.0, 0.0]))  # three pixels to the right
    assert np.array_equal(np.clip(moved[:, :-3] + 0.5, 0, 255).astype(np.uint8), keyframe[:, 3:])
    half, _ = anchor.render(np.array([0.25 / 256, 0.0, 0.0]))  # a quarter pixel: interpolated, still sharp
    assert sharpness(np.clip(half + 0.5, 0, 255).astype(np.uint8)) >= 0.8 * sharpness(keyframe)


def test_keep_photo_replaces_a_redrawn_picture_and_fills_what_it_uncovers() -> None:
    rng = np.random.default_rng(0)
    picture = np.asarray(_photo("chelsea"))
    camera = CameraPath.from_motion("zoom_out", 25, 24)
    anchor = PhotoAnchor.from_image(picture, (128, 72))
    redrawn = rng.integers(0, 256, (25, 72, 128, 3), dtype=np.uint8)  # a "model" that re-invents everything
    out = keep_photo(redrawn, anchor, camera.poses)
    photo0, _ = anchor.render(camera.poses[0])
    assert _psnr(out[0], np.clip(photo0 + 0.5, 0, 255).astype(np.uint8)) > 45
    photo_last, cover = anchor.render(camera.poses[-1])
    # The border the zoom out reveals is the model's frame; the covered centre is the photograph.
    edge = cover < 0.01
    assert edge.any() and np.array_equal(out[-1][edge], redrawn[-1][edge])
    centre = np.s_[20:52, 30:98]
    assert _psnr(out[-1][centre], np.clip(photo_last[centre] + 0.5, 0, 255).astype(np.uint8)) > 45


def test_motion_residual_adds_what_the_model_changed_beyond_the_camera() -> None:
    picture = np.full((72, 128, 3), 100, np.uint8)
    anchor = PhotoAnchor(picture, (0.0, 0.0, 128.0, 72.0), (128, 72))
    frames = np.full((3, 72, 128, 3), 100, np.uint8)
    frames[1:, :, :64] = 160  # the model brightens the left half after the first frame
    poses = np.zeros((3, 3), np.float32)
    kept = keep_photo(frames, anchor, poses, config=FidelityConfig(residual_gain=1.0, residual_sigma=1.0))
    assert abs(float(kept[2, 36, 20, 0]) - 160) <= 2 and abs(float(kept[2, 36, 110, 0]) - 100) <= 2
    frozen = keep_photo(frames, anchor, poses, config=FidelityConfig(residual_gain=0.0))
    assert np.abs(frozen.astype(int) - 100).max() <= 1


def test_aligned_fidelity_finds_the_camera_move_and_tells_a_redrawn_frame() -> None:
    picture = np.asarray(_photo("rocket"))
    camera = CameraPath.from_motion("zoom_in", 121, 24)
    anchor = PhotoAnchor.from_image(picture, (256, 144), max_zoom=0.35)
    first, last = (np.clip(anchor.render(camera.poses[i])[0] + 0.5, 0, 255).astype(np.uint8) for i in (0, -1))
    kept = aligned_fidelity(first, last)
    assert abs(kept.scale - np.exp(0.35)) < 0.03 and kept.psnr > 28
    blurred = cv2.GaussianBlur(last, (0, 0), 2.0)
    assert aligned_fidelity(first, blurred).sharpness_ratio < 0.5


# ---- end to end: the engine with the shipped kadr-tiny weights, the MP4 read back ----------------


@pytest.fixture(scope="module")
def engine():
    from kadr.engine import Engine

    return Engine()  # one loaded kadr-tiny for the module


def _i2v(engine, tmp_path, name: str, motion: str, monkeypatch):
    """(frames the engine hands the encoder, frames decoded from the MP4, kadr check's report, metadata)."""
    from kadr.request import VideoRequest
    from kadr.video import encode
    from kadr.video.checks import check_video, read_video

    handed: list[np.ndarray] = []
    write = encode.VideoWriter.write

    def keep(self, frames: np.ndarray) -> None:
        handed.append(frames.copy())
        write(self, frames)

    monkeypatch.setattr(encode.VideoWriter, "write", keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = engine.generate(
            VideoRequest(prompt="", image=_photo(name), camera=motion, seed=5, duration=5), tmp_path / f"{name}-{motion}.mp4")
    decoded, _ = read_video(result.path)
    return np.concatenate(handed), decoded, check_video(result.path, camera=motion), result.metadata


def _assert_keeps_photo(frames: np.ndarray, decoded: np.ndarray, report: dict, motion: str) -> None:
    """PSNR and sharpness on the frames encoded (H.264 at CRF 20 smooths fine texture in moving frames:
    chelsea's fur tilting up reads 0.76 of the first frame's sharpness after decoding, 1.0 before);
    PSNR and the camera check also on the decoded MP4."""
    fid = clip_fidelity(frames)
    for which in ("middle", "last"):
        assert fid[which].psnr >= 28.0, (motion, which, fid[which])
        assert fid[which].sharpness_ratio >= 0.8, (motion, which, fid[which])
    assert clip_fidelity(decoded)["last"].psnr >= 28.0, motion
    assert report["camera_ok"], (motion, report["camera"])


def test_image_to_video_keeps_the_photograph(engine, tmp_path, monkeypatch) -> None:
    frames, decoded, report, meta = _i2v(engine, tmp_path, "astronaut", "zoom_out", monkeypatch)
    assert len(frames) == len(decoded) == 120 and any(step["step"] == "keep_photo" for step in meta["post"])
    _assert_keeps_photo(frames, decoded, report, "zoom_out")


# Every camera move on at least one photograph, two moves on each (the whole 4 x 7 grid: bench_post.py).
SWEEP = {"astronaut": ("zoom_in", "pan_left"), "product_rgba": ("pan_right", "static"),
         "chelsea": ("zoom_out", "tilt_up"), "rocket": ("tilt_down", "zoom_in")}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SWEEP))
def test_image_to_video_keeps_every_photograph_under_every_camera_move(engine, tmp_path, monkeypatch, name: str) -> None:
    assert {m for moves in SWEEP.values() for m in moves} == set(CAMERA_MOTIONS)
    for motion in SWEEP[name]:
        frames, decoded, report, _ = _i2v(engine, tmp_path, name, motion, monkeypatch)
        _assert_keeps_photo(frames, decoded, report, motion)


def test_text_to_video_stays_as_sharp_as_its_first_keyframe(engine, tmp_path, monkeypatch) -> None:
    from kadr.request import VideoRequest
    from kadr.video import encode
    from kadr.video.checks import check_video

    from kadr.post.steps import KeepPhoto

    handed: list[np.ndarray] = []
    model: list[np.ndarray] = []  # the model's frames, as they reach the post step
    write = encode.VideoWriter.write
    monkeypatch.setattr(encode.VideoWriter, "write", lambda self, frames: (handed.append(frames.copy()), write(self, frames))[1])
    keep = KeepPhoto.process
    monkeypatch.setattr(KeepPhoto, "process", lambda self, frames, info=None: (model.append(frames.copy()), keep(self, frames, info))[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = engine.generate(VideoRequest(prompt="Закат над морем, волны, панорама слева направо", seed=205, duration=5),
                                 tmp_path / "t2v.mp4")
    frames = np.concatenate(handed)
    # The first keyframe reaches the file as the model made it (no resampling at rest) ...
    assert np.array_equal(frames[0], model[0][0])
    fid = clip_fidelity(frames)
    # ... and the later frames stay as sharp as it.
    assert fid["last"].sharpness_ratio >= 0.8 and fid["middle"].sharpness_ratio >= 0.8, fid
    assert check_video(result.path, camera="pan_right")["camera_ok"]
