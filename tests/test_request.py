"""Every kind of bad input gets InvalidRequestError naming the field, the value and what is allowed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kadr.errors import InvalidRequestError
from kadr.request import VideoRequest, load_image


def _png_bytes(w: int = 32, h: int = 24, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def test_defaults() -> None:
    r = VideoRequest(prompt="  Закат   над морем ")
    assert r.prompt == "Закат над морем"
    # duration and aspect stay unset so the engine can take the prompt's hints before the defaults
    assert (r.duration, r.aspect, r.tier, r.format, r.loop) == (None, None, "fast", "mp4", False)
    assert r.task == "text-to-video"


@pytest.mark.parametrize(
    "changes, field, fragments",
    [
        ({"prompt": ""}, "prompt", ["non-empty"]),
        ({"prompt": "x" * 2001}, "prompt", ["2001 characters", "at most 2000"]),
        ({"duration": 0.5}, "duration", ["got 0.5", "1 to 30"]),
        ({"duration": 45}, "duration", ["got 45", "1 to 30"]),
        ({"duration": "long"}, "duration", ["'long'", "1 to 30"]),
        ({"duration": float("nan")}, "duration", ["nan"]),
        ({"aspect": "21:9"}, "aspect", ["'21:9'", "16:9, 9:16, 1:1, 4:3, 3:4"]),
        ({"resolution": "0x100"}, "resolution", ["'0x100'", "WIDTHxHEIGHT"]),
        ({"resolution": "a b c"}, "resolution", ["preset"]),
        ({"fps": 0}, "fps", ["got 0", "1 to 60"]),
        ({"fps": 24.5}, "fps", ["24.5", "whole number"]),
        ({"style": "gothic"}, "style", ["'gothic'", "realistic"]),
        ({"camera": "dolly_sideways"}, "camera", ["'dolly_sideways'", "pan_left", "zoom_out"]),
        ({"tier": "ultra"}, "tier", ["'ultra'", "fast, high"]),
        ({"seed": -1}, "seed", ["got -1", "4294967295"]),
        ({"seed": True}, "seed", ["True"]),
        ({"format": "avi"}, "format", ["'avi'", "mp4, webm, gif"]),
        ({"model": ""}, "model", ["kadr models"]),
        ({"loop": "yes"}, "loop", ["true or false"]),
    ],
)
def test_bad_fields_name_field_value_and_allowed(changes: dict, field: str, fragments: list[str]) -> None:
    kwargs = {"prompt": "Горы, снег"} | changes
    with pytest.raises(InvalidRequestError) as info:
        VideoRequest(**kwargs)
    err = info.value
    assert err.field == field
    message = str(err)
    assert message.startswith(f"{field}: got ")
    for fragment in fragments:
        assert fragment in message, message


def test_camera_and_style_normalised() -> None:
    r = VideoRequest(prompt="x", camera="Pan-Right", style="Animation")
    assert (r.camera, r.style) == ("pan_right", "animation")


def test_image_from_bytes_path_and_pil(tmp_path) -> None:
    data = _png_bytes()
    path = tmp_path / "a.png"
    path.write_bytes(data)
    for value in (data, path, str(path), Image.open(io.BytesIO(data))):
        r = VideoRequest(prompt="", image=value)
        assert r.image.size == (32, 24) and r.image.mode == "RGB"
        assert r.task == "image-to-video"
    assert load_image(_png_bytes(fmt="WEBP")).size == (32, 24)
    assert load_image(_png_bytes(fmt="JPEG")).size == (32, 24)


def _image_error(value) -> str:
    with pytest.raises(InvalidRequestError) as info:
        VideoRequest(prompt="x", image=value)
    assert info.value.field == "image"
    return str(info.value)


def test_empty_image(tmp_path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "empty file" in _image_error(empty)
    assert "empty file" in _image_error(b"")


def test_not_an_image(tmp_path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello, this is text")
    assert "not an image" in _image_error(text)


def test_missing_file() -> None:
    assert "existing PNG, JPEG or WebP" in _image_error("/no/such/file.png")


def test_corrupt_image() -> None:
    data = _png_bytes(64, 64)
    message = _image_error(data[: len(data) // 2])  # header intact, pixel data cut
    assert "corrupt PNG data" in message


def test_image_cut_inside_its_header() -> None:
    data = _png_bytes(64, 64)
    assert "corrupt image header" in _image_error(data[:20])  # signature intact, IHDR chunk cut


def test_other_format_refused() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, format="BMP")
    assert "BMP image" in _image_error(buf.getvalue())


def test_decompression_bomb_refused_from_header() -> None:
    # A tiny PNG whose header claims 10000x10000 = 100 megapixels: refused before decoding.
    buf = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buf, format="PNG", optimize=True)
    assert len(buf.getvalue()) < 200_000
    message = _image_error(buf.getvalue())
    assert "100.0 megapixels" in message and "at most 50 megapixels" in message


def test_wrong_type() -> None:
    assert "a path, bytes or a PIL image" in _image_error(12345)
