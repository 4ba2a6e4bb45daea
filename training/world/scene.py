"""Scene: the exact labels of one procedurally rendered clip, and how they are sampled."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from kadr.camera import CAMERA_MOTIONS

SETTINGS: tuple[str, ...] = ("park", "beach", "city", "mountains", "forest", "field", "desert", "lake")
TIMES: tuple[str, ...] = ("sunrise", "day", "sunset", "night")
WEATHERS: tuple[str, ...] = ("clear", "clouds", "rain", "snow", "fog")
STYLES: tuple[str, ...] = ("realistic", "animation", "artistic")
MEDIUMS: tuple[str, ...] = ("watercolor", "oil")  # artistic only
SEASONS: tuple[str, ...] = ("summer", "autumn", "winter")
ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
MOVERS: tuple[str, ...] = (
    "people",
    "cars",
    "waves",
    "clouds",
    "birds",
    "swaying_trees",
    "rain",
    "snow",
    "butterflies",
    "boats",
)

# Settings where each optional mover can appear, with its probability there. Rain and snow come from
# the weather; clouds from the sky (see _sample_movers).
_MOVER_PROB: dict[str, dict[str, float]] = {
    "people": {"park": 0.7, "beach": 0.45, "city": 0.75, "field": 0.15, "desert": 0.12, "lake": 0.2, "forest": 0.15},
    "cars": {"city": 0.8},
    "waves": {"beach": 0.92},
    "birds": {s: 0.3 for s in SETTINGS} | {"beach": 0.45, "city": 0.15},
    "swaying_trees": {"park": 0.6, "forest": 0.7, "field": 0.4, "lake": 0.45, "mountains": 0.3},
    "butterflies": {"field": 0.5, "park": 0.1},
    "boats": {"lake": 0.35, "beach": 0.3},
}
_TIME_P = {"sunrise": 0.17, "day": 0.38, "sunset": 0.2, "night": 0.25}
_WEATHER_P = {"clear": 0.4, "clouds": 0.24, "rain": 0.12, "snow": 0.1, "fog": 0.14}
# Weather that would look odd somewhere is made rarer there, not impossible.
_WEATHER_SCALE = {"desert": {"snow": 0.05, "rain": 0.25, "fog": 0.3}, "beach": {"snow": 0.3}, "city": {"fog": 0.6}}
_STYLE_P = {"realistic": 0.45, "animation": 0.3, "artistic": 0.25}
_SPEEDS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Scene:
    """Every field is an exact label of what the rendered clip shows."""

    setting: str
    time_of_day: str
    weather: str
    style: str  # "realistic" | "animation" | "artistic"
    camera: str  # a kadr.camera.CAMERA_MOTIONS name
    camera_speed: float
    movers: tuple[str, ...]
    seed: int
    medium: str = ""  # "watercolor" | "oil" when style == "artistic", else ""
    season: str = "summer"
    aspect: str = "16:9"

    def __post_init__(self) -> None:
        _check("setting", self.setting, SETTINGS)
        _check("time_of_day", self.time_of_day, TIMES)
        _check("weather", self.weather, WEATHERS)
        _check("style", self.style, STYLES)
        _check("camera", self.camera, CAMERA_MOTIONS)
        _check("season", self.season, SEASONS)
        _check("aspect", self.aspect, tuple(ASPECTS))
        if not 0.0 < float(self.camera_speed) <= 4.0:
            raise ValueError(f"camera_speed: got {self.camera_speed}; allowed: a number in (0, 4]")
        for m in self.movers:
            _check("movers", m, MOVERS)
        if self.style == "artistic":
            _check("medium", self.medium, MEDIUMS)
        elif self.medium:
            raise ValueError(f"medium: got {self.medium!r}; allowed: '' unless style is 'artistic'")

    def has(self, mover: str) -> bool:
        return mover in self.movers


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: got {value!r}; allowed: one of {', '.join(allowed)}")


def _pick(rng: np.random.Generator, probs: dict[str, float]) -> str:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def frame_size(aspect: str, short_side: int = 72, multiple: int = 8) -> tuple[int, int]:
    """(width, height) of an aspect ratio with the given short side, rounded to ``multiple``."""
    _check("aspect", aspect, tuple(ASPECTS))
    aw, ah = ASPECTS[aspect]
    scale = short_side / min(aw, ah)
    w = int(round(aw * scale / multiple)) * multiple
    h = int(round(ah * scale / multiple)) * multiple
    return w, h


def _sample_movers(rng: np.random.Generator, setting: str, time: str, weather: str) -> tuple[str, ...]:
    out: set[str] = set()
    for mover, where in _MOVER_PROB.items():
        p = where.get(setting, 0.0)
        if time == "night" and mover in ("birds", "butterflies"):
            p *= 0.05
        if weather in ("rain", "snow", "fog") and mover == "butterflies":
            p = 0.0
        if rng.random() < p:
            out.add(mover)
    if weather in ("rain", "snow"):
        out.add(weather)
    # Clouds drift whenever there is a cloud cover; a clear sky sometimes has a few drifting clouds.
    if weather in ("clouds", "rain", "snow") or (weather == "clear" and rng.random() < 0.45):
        out.add("clouds")
    return tuple(m for m in MOVERS if m in out)


def sample_scene(rng: np.random.Generator, **fixed: Any) -> Scene:
    """A random scene; any field may be pinned, e.g. ``sample_scene(rng, camera="pan_left")``."""
    names = {f.name for f in fields(Scene)}
    unknown = set(fixed) - names
    if unknown:
        raise ValueError(f"sample_scene: unknown fields {sorted(unknown)}; allowed: {sorted(names)}")
    setting = fixed.get("setting") or SETTINGS[int(rng.integers(len(SETTINGS)))]
    time = fixed.get("time_of_day") or _pick(rng, _TIME_P)
    pinned_movers = fixed.get("movers")
    weather = fixed.get("weather")
    if weather is None and pinned_movers is not None:
        weather = "rain" if "rain" in pinned_movers else "snow" if "snow" in pinned_movers else None
    if weather is None:
        scale = _WEATHER_SCALE.get(setting, {})
        weather = _pick(rng, {k: v * scale.get(k, 1.0) for k, v in _WEATHER_P.items()})
    style = fixed.get("style") or _pick(rng, _STYLE_P)
    medium = fixed.get("medium")
    if medium is None:
        medium = MEDIUMS[int(rng.integers(2))] if style == "artistic" else ""
    camera = fixed.get("camera") or CAMERA_MOTIONS[int(rng.integers(len(CAMERA_MOTIONS)))]
    speed = fixed.get("camera_speed")
    if speed is None:
        speed = float(_SPEEDS[int(rng.integers(3))] * rng.uniform(0.85, 1.15))
    season = fixed.get("season")
    if season is None:
        if setting == "desert":
            season = "summer"
        elif weather == "snow":
            season = "winter" if rng.random() < 0.85 else "autumn"
        else:
            season = _pick(rng, {"summer": 0.7, "autumn": 0.22, "winter": 0.08})
    if pinned_movers is not None:
        movers = tuple(m for m in MOVERS if m in set(pinned_movers))
    else:
        movers = _sample_movers(rng, setting, time, weather)
    aspect = fixed.get("aspect") or _pick(rng, {"16:9": 0.5, "9:16": 0.25, "1:1": 0.25})
    seed = int(fixed["seed"]) if "seed" in fixed else int(rng.integers(0, 2**31 - 1))
    return Scene(
        setting=setting,
        time_of_day=time,
        weather=weather,
        style=style,
        camera=camera,
        camera_speed=round(float(speed), 3),
        movers=movers,
        seed=seed,
        medium=medium,
        season=season,
        aspect=aspect,
    )
