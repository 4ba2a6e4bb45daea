"""Input pictures as people have them (kadr.picture): transparency, EXIF orientation, grey-scale, 16-bit,
CMYK, tiny and huge pictures, another aspect; bad pictures named in the error, in Python, the CLI and the API."""

from __future__ import annotations

import io
import warnings

import numpy as np
import openai
import pytest
from conftest import run_cli
from PIL import Image

from kadr.errors import InvalidRequestError
from kadr.picture import MAX_PICTURE_SIDE, fit_picture, load_image


def _encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def _logo() -> Image.Image:
    """A product cut out on transparency: skimage's coffee cup inside an ellipse, clear around it."""
    import skimage.data

    rgb = skimage.data.coffee()[:, 50:550]  # (400, 500, 3)
    yy, xx = np.mgrid[:400, :500]
    alpha = ((((xx - 250) / 200.0) ** 2 + ((yy - 200) / 160.0) ** 2) < 1).astype(np.uint8) * 255
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_transparency_is_composited_on_a_plain_light_background(fmt: str) -> None:
    logo = _logo()
    out = np.asarray(load_image(_encoded(logo, fmt, **({"lossless": True} if fmt == "WEBP" else {}))))
    alpha = np.asarray(logo)[..., 3]
    assert out.shape == (400, 500, 3)
    clear = out[alpha == 0]
    assert clear.size and np.abs(clear.astype(int) - 236).max() <= 2  # not black, not the hidden RGB
    # A white subject on transparency goes on dark grey, so it stays visible.
    white = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    white.paste((255, 255, 255, 255), (16, 16, 48, 48))
    assert np.asarray(load_image(_encoded(white, "PNG")))[0, 0].tolist() == [32, 32, 32]


def test_exif_orientation_grey_16bit_and_cmyk() -> None:
    photo = Image.new("RGB", (80, 40), (200, 30, 30))
    photo.paste((30, 30, 200), (0, 0, 10, 40))  # a blue strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    upright = load_image(_encoded(photo, "JPEG", exif=exif.tobytes(), quality=95))
    assert upright.size == (40, 80)
    assert np.asarray(upright)[2, 20, 2] > 150  # the left strip is now on top

    grey = load_image(_encoded(Image.new("L", (32, 32), 90), "PNG"))
    assert grey.mode == "RGB" and np.asarray(grey)[0, 0].tolist() == [90, 90, 90]
    deep = Image.fromarray(np.full((32, 32), 40000, np.uint16))
    assert np.asarray(load_image(_encoded(deep, "PNG")))[0, 0, 0] == 255  # scaled, not clipped to white noise
    ramp = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (32, 1))
    spread = np.asarray(load_image(_encoded(Image.fromarray(ramp), "PNG")))[0, :, 0]
    assert spread[0] == 0 and spread[-1] == 255 and 100 < spread[16] < 160

    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in print colours
    red = np.asarray(load_image(_encoded(cmyk, "JPEG", quality=95)))[16, 16]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_tiny_and_huge_pictures() -> None:
    small = load_image(_encoded(Image.new("RGB", (128, 96), (10, 200, 10)), "PNG"))
    assert small.size == (128, 96)
    fitted = fit_picture(small, 256, 144)
    assert fitted.frame.size == (256, 144)
    rng = np.random.default_rng(0)
    huge = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).resize((6000, 4000))
    big = load_image(_encoded(huge, "JPEG", quality=80))
    assert max(big.size) <= MAX_PICTURE_SIDE and abs(big.size[0] / big.size[1] - 1.5) < 0.01


def test_another_aspect_is_filled_or_fitted_and_reported() -> None:
    four_three = Image.new("RGB", (400, 300), (120, 80, 40))
    fill = fit_picture(four_three, 256, 144)
    assert fill.mode == "fill" and "top and bottom" in fill.note and fill.frame.size == (256, 144)
    portrait = Image.new("RGB", (300, 600), (250, 250, 250))
    fit = fit_picture(portrait, 256, 144)
    assert fit.mode == "fit" and "shown whole" in fit.note
    frame = np.asarray(fit.frame)
    assert frame[72, 128].tolist() == [250, 250, 250]  # the picture in the middle
    assert frame[72, 5].max() < 200  # a darkened, blurred extension at the sides
    assert fit_picture(Image.new("RGB", (320, 180)), 256, 144).note is None


def test_engine_reports_the_fit_in_the_result(tmp_path) -> None:
    from engine_doubles import ScrollerBackend

    from kadr.engine import Engine
    from kadr.request import VideoRequest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = Engine(output_dir=tmp_path).generate(
            VideoRequest(prompt="", image=Image.new("RGB", (300, 600), (200, 100, 50)), duration=1), tmp_path / "v.mp4",
            backend=ScrollerBackend())
    assert result.metadata["image"] == {"size": [300, 600], "fit": "fit"}
    assert any("shown whole" in w for w in result.metadata["warnings"])


def _bad_pictures(tmp_path):
    good = _encoded(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG")
    jpeg = _encoded(Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)), "JPEG")
    bomb = _encoded(Image.new("1", (10000, 8000)), "PNG")  # 80 megapixels in a few kB
    cases = {
        "truncated.png": (good[: len(good) // 2], "truncated"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "empty.png": (b"", "empty file"),
        "bomb.png": (bomb, "megapixels"),
        "notes.png": (b"hello, this is text", "not an image"),
    }
    paths = {}
    for name, (data, why) in cases.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = (tmp_path / name, data, why)
    return paths


def test_bad_pictures_name_the_file_and_the_problem(tmp_path) -> None:
    for name, (path, data, why) in _bad_pictures(tmp_path).items():
        with pytest.raises(InvalidRequestError) as err:
            load_image(path)
        assert name in str(err.value) and why in str(err.value), str(err.value)
        assert isinstance(err.value, ValueError)
        with pytest.raises(InvalidRequestError) as named:
            load_image(data, "input_reference", name=name)
        assert name in str(named.value) and str(named.value).startswith("input_reference")


def test_bad_pictures_in_the_cli(tmp_path) -> None:
    path, _, why = _bad_pictures(tmp_path)["truncated.jpg"]
    done = run_cli("generate", "waves", "-i", str(path), "-o", str(tmp_path / "o.mp4"), "--quiet")
    assert done.returncode == 2 and "truncated.jpg" in done.stderr and why in done.stderr, done.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_bad_pictures_through_the_live_api(live_server, user_factory, tmp_path) -> None:
    key, _ = user_factory()
    client = openai.OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0, timeout=60)
    for name in ("truncated.png", "empty.png", "notes.png"):
        path, data, why = _bad_pictures(tmp_path)[name]
        with pytest.raises(openai.BadRequestError) as err:
            client.videos.create(prompt="waves", input_reference=(name, data, "image/png"))
        body = err.value.body
        assert body["param"] == "input_reference" and name in body["message"], body
