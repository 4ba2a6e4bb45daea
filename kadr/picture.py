"""Input pictures as people have them: loading, and fitting one to the video's frame.

:func:`load_image` opens a PNG, JPEG or WebP (a path, bytes or a PIL image) and returns an 8-bit RGB
picture the right way up: EXIF orientation applied, transparency composited on a plain background
(light grey, or dark grey behind a light subject), grey-scale, 16-bit and CMYK (through its ICC
profile when it has one) converted, very large pictures shrunk to at most ``MAX_PICTURE_SIDE`` while
decoding. A bad picture raises :class:`kadr.errors.InvalidRequestError` (a ValueError) naming the file
and the problem: empty, not an image, another format, truncated or corrupt, or a decompression bomb
(more than ``MAX_IMAGE_PIXELS``, read from the header before any pixel is decoded).

:func:`fit_picture` fits a picture to the frame: ``fill`` (cover and centre-crop) when the crop loses
little, ``fit`` (the whole picture on a blurred extension of itself) when a crop would cut most of it;
the choice is reported as a note.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from kadr.errors import InvalidRequestError

ImageInput = Union[str, Path, bytes, bytearray, Image.Image]
IMAGE_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP")
MAX_IMAGE_PIXELS = 50_000_000  # 50 megapixels: anything larger is refused as a decompression bomb
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MIN_IMAGE_SIDE = 8
MAX_PICTURE_SIDE = 4096  # larger pictures are shrunk while decoding: more than any frame or zoom uses
# A crop that would keep less than this share of the picture's area shows the whole picture instead.
FILL_MIN_KEPT = 0.6

FitMode = Literal["fill", "fit"]
_LIGHT_BACKGROUND = (236, 236, 236)
_DARK_BACKGROUND = (32, 32, 32)


def load_image(value: ImageInput, field_name: str = "image", name: str | None = None) -> Image.Image:
    """Open a PNG, JPEG or WebP from a path, bytes or PIL image; return it as 8-bit RGB, upright.

    ``name`` labels bytes in error messages (the uploaded file's name).
    """
    if isinstance(value, Image.Image):
        _check_pixels(value.size, field_name, name or "image")
        return _to_rgb(ImageOps.exif_transpose(value) or value)
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise InvalidRequestError(field_name, str(value), "the path of an existing PNG, JPEG or WebP file")
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise InvalidRequestError(field_name, f"{path.name} ({size} bytes)", f"an image file of at most {MAX_IMAGE_BYTES // 2**20} MB")
        data = path.read_bytes()
        label = name or path.name
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        label = name or f"<{len(data)} bytes>"
    else:
        raise InvalidRequestError(field_name, type(value).__name__, "a path, bytes or a PIL image (PNG, JPEG or WebP)")
    if not data:
        raise InvalidRequestError(field_name, f"{label} (empty file)", "a non-empty PNG, JPEG or WebP image")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequestError(field_name, label, f"an image file of at most {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            fmt = probe.format
            pixels_size = probe.size
    except UnidentifiedImageError:
        raise InvalidRequestError(field_name, f"{label} (not an image)", "a PNG, JPEG or WebP image") from None
    except Image.DecompressionBombError:
        raise InvalidRequestError(field_name, f"{label} (too many pixels)", "an image of at most 50 megapixels") from None
    except (OSError, SyntaxError, ValueError) as exc:  # a header cut short or garbled
        raise InvalidRequestError(field_name, f"{label} (corrupt image header: {exc})", "a complete, readable PNG, JPEG or WebP image") from None
    if fmt not in IMAGE_FORMATS:
        raise InvalidRequestError(field_name, f"{label} ({fmt} image)", "a PNG, JPEG or WebP image")
    _check_pixels(pixels_size, field_name, label)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if fmt == "JPEG" and max(img.size) > MAX_PICTURE_SIDE:
                img.draft(img.mode, (MAX_PICTURE_SIDE, MAX_PICTURE_SIDE))  # decode at 1/2, 1/4 ... scale
            img.load()
            upright = ImageOps.exif_transpose(img) or img
            return _to_rgb(upright)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidRequestError(field_name, f"{label} (corrupt {fmt} data, damaged or truncated: {exc})",
                                  "a complete, readable PNG, JPEG or WebP image") from None


def _check_pixels(size: tuple[int, int], field_name: str, label: str) -> None:
    w, h = size
    if w * h > MAX_IMAGE_PIXELS:
        raise InvalidRequestError(field_name, f"{label} ({w}x{h}, {w * h / 1e6:.1f} megapixels)", "an image of at most 50 megapixels")
    if w < MIN_IMAGE_SIDE or h < MIN_IMAGE_SIDE:
        raise InvalidRequestError(field_name, f"{label} ({w}x{h})", f"an image at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels")


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency composited on a plain background; at most MAX_PICTURE_SIDE."""
    if img.mode == "CMYK":
        img = _cmyk_to_rgb(img)
    elif img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(img, dtype=np.float64)
        top = array.max() if array.max() > 255 else 255.0
        img = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        rgba = np.asarray(img, dtype=np.float32) / 255.0  # (H, W, 4)
        alpha = rgba[..., 3:]
        if alpha.min() < 1.0:
            seen = alpha[..., 0] > 0.5
            subject = rgba[..., :3][seen]
            luma = float((subject @ np.array([0.299, 0.587, 0.114], np.float32)).mean()) * 255 if subject.size else 0.0
            background = np.array(_DARK_BACKGROUND if luma > 200 else _LIGHT_BACKGROUND, np.float32) / 255.0
            rgb = rgba[..., :3] * alpha + background * (1.0 - alpha)
            img = Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), "RGB")
    img = img.convert("RGB")
    if max(img.size) > MAX_PICTURE_SIDE:
        img = img.copy()
        img.thumbnail((MAX_PICTURE_SIDE, MAX_PICTURE_SIDE), Image.Resampling.LANCZOS)
    return img


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    profile = img.info.get("icc_profile")
    if profile:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - a broken profile: fall back to the plain conversion
            pass
    return img.convert("RGB")


@dataclass(frozen=True)
class FittedPicture:
    """A picture fitted to a frame: what frame 0 shows, and the full-resolution picture behind it."""

    frame: Image.Image  # (width, height): the conditioning image
    picture: Image.Image  # full resolution, the frame's aspect in "fit" mode, the original in "fill"
    mode: FitMode
    note: str | None  # what was done, when the picture's aspect differs from the frame's


def fit_picture(image: Image.Image, width: int, height: int, mode: FitMode | None = None) -> FittedPicture:
    """Fit ``image`` to (width, height): ``fill`` covers the frame and centre-crops, ``fit`` shows the
    whole picture on a blurred, darkened extension of itself. ``mode`` None: fill unless the crop would
    keep less than FILL_MIN_KEPT of the picture."""
    pw, ph = image.size
    scale = max(width / pw, height / ph)
    kept = (width / scale) * (height / scale) / (pw * ph)  # share of the picture a fill keeps
    if mode is None:
        mode = "fill" if kept >= FILL_MIN_KEPT else "fit"
    note = None
    if mode == "fill":
        if kept < 0.99:
            note = (f"image {pw}x{ph} has another aspect than the {width}x{height} video: filled the frame, "
                    f"cropping {'left and right' if pw / ph > width / height else 'top and bottom'} ({kept:.0%} kept)")
        frame = _cover(image, width, height)
        return FittedPicture(frame, image, "fill", note)
    # fit: the canvas at the picture's own resolution, the frame's aspect
    cw, ch = (pw, round(pw * height / width)) if pw / ph > width / height else (round(ph * width / height), ph)
    background = _cover(image, cw, ch).filter(ImageFilter.GaussianBlur(max(cw, ch) / 40))
    background = Image.fromarray((np.asarray(background, np.float32) * 0.6 + 0.5).astype(np.uint8))
    background.paste(image, ((cw - pw) // 2, (ch - ph) // 2))
    note = f"image {pw}x{ph} has another aspect than the {width}x{height} video: shown whole on a blurred extension (fit)"
    return FittedPicture(background.resize((width, height), Image.Resampling.LANCZOS), background, "fit", note)


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover (width, height) and centre-crop."""
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


__all__ = ["FittedPicture", "IMAGE_FORMATS", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "fit_picture", "load_image"]
