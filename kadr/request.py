"""VideoRequest: the one place that says what a valid request is.

Every invalid value raises :class:`kadr.errors.InvalidRequestError` naming the field, the value given
and what is allowed. Model-specific constraints (frame-count rules, size multiples) are not checked
here: they are soft and the engine rounds them with a warning when it plans the generation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Union

from PIL import Image

from kadr.camera import CAMERA_MOTIONS, validate_motion
from kadr.errors import InvalidRequestError
from kadr.pipelines.acceleration import check_cache_choice
from kadr.picture import IMAGE_FORMATS, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, load_image  # noqa: F401 (re-exported)

ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4)}
STYLES: tuple[str, ...] = ("realistic", "cinematic", "animation", "artistic")
TIERS: tuple[str, ...] = ("fast", "high")
FORMATS: tuple[str, ...] = ("mp4", "webm", "gif")
MODES: tuple[str, ...] = ("generate", "extend", "remix")  # what to do with ``source_video`` (generate: none)
TRANSITIONS: tuple[str, ...] = ("cut", "crossfade")  # how shots are joined
MAX_SHOTS = 12
DEFAULT_REMIX_STRENGTH = 0.6

DEFAULT_DURATION_S = 5.0
DEFAULT_ASPECT = "16:9"
MIN_DURATION_S = 1.0
MAX_DURATION_S = 30.0
DURATION_ALLOWED = f"a number of seconds from {MIN_DURATION_S:g} to {MAX_DURATION_S:g}"
MAX_PROMPT_CHARS = 2000
MIN_FPS, MAX_FPS = 1, 60
MAX_SEED = 2**32 - 1
MIN_SIDE, MAX_SIDE = 16, 4096  # each side of a WIDTHxHEIGHT size, in pixels

# The same limits as JSON-schema patterns, for the API (its validation and its OpenAPI document); they are
# written out by hand, so tests/test_jobspec.py checks they admit exactly the numbers above.
WHOLE_SECONDS_PATTERN = r"^([1-9]|[12][0-9]|30)$"  # a whole number of seconds, MIN_DURATION_S to MAX_DURATION_S
_SIDE_PATTERN = r"(1[6-9]|[2-9][0-9]|[1-9][0-9]{2}|[1-3][0-9]{3}|40[0-8][0-9]|409[0-6])"  # MIN_SIDE to MAX_SIDE
SIZE_PATTERN = rf"^{_SIDE_PATTERN}x{_SIDE_PATTERN}$"  # "WIDTHxHEIGHT" exactly (VideoRequest.resolution is laxer)

# Text fields (prompts) hold no control characters but newline, carriage return and tab, and no lone
# surrogates (they cannot be written as UTF-8). Refused rather than removed: a NUL or an escape sequence in a
# prompt is a client's bug or a probe, and quietly changing what was sent would hide it.
# TEXT_PATTERN is the same rule as a JSON-schema pattern (for the API's OpenAPI document).
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
_FORBIDDEN_CHAR_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

ImageInput = Union[str, Path, bytes, bytearray, Image.Image]
VideoInput = Union[str, Path]


@dataclass(frozen=True)
class Shot:
    """One shot of a multi-shot video: its own prompt, duration and (optionally) camera and style."""

    prompt: str
    duration: float = DEFAULT_DURATION_S
    camera: str | None = None
    style: str | None = None

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("prompt", check_text(self.prompt, "shots.prompt", MAX_PROMPT_CHARS, required=True))
        set_("duration", _check_number(self.duration, "shots.duration", MIN_DURATION_S, MAX_DURATION_S, DURATION_ALLOWED))
        set_("camera", validate_motion(self.camera, "shots.camera"))
        if self.style is not None:
            set_("style", _check_choice(str(self.style).strip().lower(), "shots.style", STYLES))

    @classmethod
    def of(cls, value: "Shot | dict[str, Any]") -> "Shot":
        if isinstance(value, Shot):
            return value
        if not isinstance(value, dict):
            raise InvalidRequestError("shots", value, "a list of objects with prompt, duration, camera, style")
        unknown = sorted(set(value) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidRequestError("shots", unknown[0], "a shot's fields: prompt, duration, camera, style")
        return cls(**value)


_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*$")


@dataclass(frozen=True)
class VideoRequest:
    """What video to make. Construct it directly; validation runs in ``__post_init__``.

    ``duration`` and ``aspect`` left as None mean "not set by the person": the engine then takes the
    prompt's hints ("10 секунд", "для сторис") or the defaults (5 s, 16:9).

    ``image`` accepts a path, raw bytes or a PIL image and is normalised to an RGB PIL image.
    ``resolution`` is a preset name of the chosen model (e.g. ``"480p"``) or ``"WIDTHxHEIGHT"``.
    """

    prompt: str = ""
    negative_prompt: str | None = None
    image: Any = None
    duration: float | None = None  # None: the prompt's hint ("10 секунд"), else DEFAULT_DURATION_S
    aspect: str | None = None  # None: the prompt's hint ("для сторис" -> 9:16), else DEFAULT_ASPECT
    resolution: str | None = None
    fps: int | None = None
    style: str | None = None
    camera: str | None = None
    tier: Literal["fast", "high"] = "fast"
    model: str | None = None
    seed: int | None = None
    loop: bool = False
    format: Literal["mp4", "webm", "gif"] = "mp4"
    cache: str = "auto"  # step cache: auto (the model's for the tier), off, or one by name (kadr.pipelines.acceleration)
    # ---- going on from existing material (issue 18) ----
    last_image: Any = None  # first and last frame: the clip ends on this picture (``image`` is the first)
    source_video: VideoInput | None = None  # a video file to extend or remix (``mode``)
    mode: Literal["generate", "extend", "remix"] = "generate"
    strength: float | None = None  # remix: how far the source is re-noised, 0 (keep) to 1 (all new)
    shots: tuple[Shot, ...] = ()  # a video of several shots, each with its own prompt, camera, duration
    transition: Literal["cut", "crossfade"] = "cut"
    reference_image: Any = None  # a character's picture the model is conditioned on where it can be
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        shots = self.shots if isinstance(self.shots, (list, tuple)) else None
        if shots is None:
            raise InvalidRequestError("shots", self.shots, "a list of shots")
        if len(shots) > MAX_SHOTS:
            raise InvalidRequestError("shots", f"{len(shots)} shots", f"at most {MAX_SHOTS} shots")
        set_("shots", tuple(Shot.of(shot) for shot in shots))

        set_("negative_prompt", _check_prompt(self.negative_prompt, "negative_prompt", required=False) or None)
        if self.duration is not None:
            set_("duration", _check_number(self.duration, "duration", MIN_DURATION_S, MAX_DURATION_S, DURATION_ALLOWED))
        if self.aspect is not None:
            set_("aspect", _check_choice(str(self.aspect).strip(), "aspect", tuple(ASPECTS)))
        set_("resolution", _check_resolution(self.resolution))
        if self.fps is not None:
            fps = _check_number(self.fps, "fps", MIN_FPS, MAX_FPS, f"a whole number of frames per second from {MIN_FPS} to {MAX_FPS}")
            if fps != int(fps):
                raise InvalidRequestError("fps", self.fps, f"a whole number of frames per second from {MIN_FPS} to {MAX_FPS}")
            set_("fps", int(fps))
        if self.style is not None:
            set_("style", _check_choice(str(self.style).strip().lower(), "style", STYLES))
        set_("camera", validate_motion(self.camera, "camera"))
        set_("tier", _check_choice(self.tier, "tier", TIERS))
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise InvalidRequestError("model", self.model, "a model name from `kadr models`")
        if self.seed is not None:
            if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
                raise InvalidRequestError("seed", self.seed, f"a whole number from 0 to {MAX_SEED}")
        if not isinstance(self.loop, bool):
            raise InvalidRequestError("loop", self.loop, "true or false")
        set_("format", _check_choice(str(self.format).lower(), "format", FORMATS))
        set_("cache", check_cache_choice(self.cache))
        if self.image is not None:
            set_("image", load_image(self.image))
        self._check_sources(set_)
        needs_prompt = self.image is None and not self.shots and self.source_video is None
        set_("prompt", _check_prompt(self.prompt, "prompt", required=needs_prompt))

    def _check_sources(self, set_: Callable[[str, Any], None]) -> None:
        """The fields that go on from existing material: each alone is valid, some pairs are not."""
        set_("mode", _check_choice(self.mode, "mode", MODES))
        set_("transition", _check_choice(self.transition, "transition", TRANSITIONS))
        if self.last_image is not None:
            if self.image is None:
                raise InvalidRequestError("last_image", "a last frame without a first", "an image (the first frame) as well")
            set_("last_image", load_image(self.last_image, "last_image"))
        if self.reference_image is not None:
            set_("reference_image", load_image(self.reference_image, "reference_image"))
        if self.mode == "generate":
            if self.source_video is not None:
                raise InvalidRequestError("mode", self.mode, "extend or remix when a source video is given")
            if self.strength is not None:
                raise InvalidRequestError("strength", self.strength, "no strength unless remixing a video")
        else:
            if self.source_video is None:
                raise InvalidRequestError("source_video", None, f"a video file to {self.mode}")
            path = Path(self.source_video)
            if not path.is_file():
                raise InvalidRequestError("source_video", str(path), "an existing video file")
            set_("source_video", path)
            if self.shots:
                raise InvalidRequestError("shots", f"{len(self.shots)} shots", f"no shots when the request is to {self.mode} a video")
            if self.image is not None:  # an extension goes on from the video's last frame, a remix from its frames
                raise InvalidRequestError("image", "a picture", f"no image when the request is to {self.mode} a video")
        if self.strength is not None:
            if self.mode != "remix":
                raise InvalidRequestError("strength", self.strength, "no strength unless remixing a video")
            set_("strength", _check_number(self.strength, "strength", 0.05, 1.0, "a number from 0.05 (keep almost all) to 1 (all new)"))
        if self.shots:
            if self.image is not None or self.last_image is not None:
                raise InvalidRequestError("shots", f"{len(self.shots)} shots", "shots without image or last_image (give each shot its prompt)")
            total = sum(shot.duration for shot in self.shots)
            if total > MAX_DURATION_S:
                raise InvalidRequestError("shots", f"{total:g} s in all", f"shots of at most {MAX_DURATION_S:g} s in all")

    @property
    def task(self) -> str:
        return "image-to-video" if self.image is not None else "text-to-video"

    @property
    def features(self) -> tuple[str, ...]:
        """What the request asks of a model beyond its task (kadr.pipelines.base.FEATURES)."""
        wanted = []
        if self.mode != "generate":
            wanted.append(self.mode)
        if self.last_image is not None:
            wanted.append("first-last-frame")
        if self.shots:
            wanted.append("shots")
        if self.reference_image is not None:
            wanted.append("reference")
        return tuple(wanted)

    @property
    def remix_strength(self) -> float:
        return self.strength if self.strength is not None else DEFAULT_REMIX_STRENGTH

    def with_(self, **changes: Any) -> "VideoRequest":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def check_text(value: Any, name: str, max_chars: int = MAX_PROMPT_CHARS, required: bool = False) -> str:
    """A prompt-like text field, whitespace runs collapsed to one space; the one rule for the CLI, the API and the page.

    Refused: a non-string, more than ``max_chars`` characters as sent, a control character other than newline,
    carriage return and tab (or a lone surrogate), and, when ``required``, text that is blank.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidRequestError(name, value, "text")
    if len(value) > max_chars:
        raise InvalidRequestError(name, f"{len(value)} characters", f"at most {max_chars} characters")
    bad = _FORBIDDEN_CHAR_RE.search(value)
    if bad is not None:
        raise InvalidRequestError(name, f"the control character U+{ord(bad.group()):04X} at position {bad.start()}",
                                  "text without control characters (newlines and tabs are fine)")
    text = " ".join(value.split())
    if required and not text:
        raise InvalidRequestError(name, value, "a non-empty description of the video (or an image for image-to-video)")
    return text


def _check_prompt(value: Any, name: str, required: bool) -> str:
    return check_text(value, name, MAX_PROMPT_CHARS, required)


def _check_number(value: Any, name: str, low: float, high: float, allowed: str) -> float:
    if isinstance(value, bool):
        raise InvalidRequestError(name, value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRequestError(name, value, allowed) from None
    if not (low <= number <= high):  # also false for NaN
        raise InvalidRequestError(name, value, allowed)
    return number


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidRequestError(name, value, "one of " + ", ".join(choices))
    return value


def _check_resolution(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError("resolution", value, "a preset name such as 480p, or WIDTHxHEIGHT such as 832x480")
    text = value.strip().lower()
    match = _SIZE_RE.match(text)
    if match:
        w, h = int(match.group(1)), int(match.group(2))
        if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
            raise InvalidRequestError("resolution", value, f"WIDTHxHEIGHT with each side from {MIN_SIDE} to {MAX_SIDE}")
        return f"{w}x{h}"
    if not re.fullmatch(r"[a-z0-9_\-]+", text):
        raise InvalidRequestError("resolution", value, "a preset name such as 480p, or WIDTHxHEIGHT such as 832x480")
    return text


def parse_size(resolution: str) -> tuple[int, int] | None:
    """``"832x480"`` -> (832, 480); a preset name -> None."""
    match = _SIZE_RE.match(resolution)
    return (int(match.group(1)), int(match.group(2))) if match else None


__all__ = [
    "ASPECTS",
    "CAMERA_MOTIONS",
    "DEFAULT_ASPECT",
    "FORMATS",
    "MAX_DURATION_S",
    "MIN_DURATION_S",
    "MODES",
    "Shot",
    "TRANSITIONS",
    "SIZE_PATTERN",
    "STYLES",
    "TIERS",
    "TEXT_PATTERN",
    "VideoRequest",
    "WHOLE_SECONDS_PATTERN",
    "check_text",
    "load_image",
    "parse_size",
]
