"""Light of a scene: sky colours, the tint on lit surfaces and the haze, by time of day and weather."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# RGB in [0, 1]. Night is far darker than day and sunsets are warm (red well above blue): both are
# checked by tests and by kadr.video.checks against generated video.
_SKY_TOP = {
    "day": (0.24, 0.48, 0.86),
    "sunrise": (0.36, 0.42, 0.68),
    "sunset": (0.24, 0.20, 0.46),
    "night": (0.02, 0.035, 0.10),
}
_SKY_HORIZON = {
    "day": (0.70, 0.83, 0.96),
    "sunrise": (1.00, 0.74, 0.58),
    "sunset": (1.00, 0.52, 0.22),
    "night": (0.08, 0.11, 0.22),
}
_LIGHT = {
    "day": (1.0, 1.0, 0.98),
    "sunrise": (0.98, 0.80, 0.70),
    "sunset": (1.0, 0.66, 0.44),
    "night": (0.22, 0.27, 0.42),  # moonlight
}
_SUN = {"day": (1.0, 0.98, 0.88), "sunrise": (1.0, 0.85, 0.6), "sunset": (1.0, 0.62, 0.25), "night": (0.92, 0.93, 0.86)}


@dataclass(frozen=True)
class Light:
    sky_top: np.ndarray  # (3,)
    sky_horizon: np.ndarray  # (3,)
    light: np.ndarray  # (3,) multiplier on surface albedo
    haze: np.ndarray  # (3,) colour distant things fade into
    sun: np.ndarray  # (3,) sun (or moon at night) colour
    haze_gain: float  # extra haze from fog / rain
    sun_visible: bool
    stars: bool
    night: bool


def _gray(c: np.ndarray) -> np.ndarray:
    return np.full(3, float(c @ np.array([0.3, 0.59, 0.11])), np.float32)


def scene_light(time: str, weather: str) -> Light:
    top = np.array(_SKY_TOP[time], np.float32)
    hor = np.array(_SKY_HORIZON[time], np.float32)
    light = np.array(_LIGHT[time], np.float32)
    sun = np.array(_SUN[time], np.float32)
    night = time == "night"
    haze_gain = 0.0
    sun_visible = weather in ("clear", "clouds")
    # Overcast weather grays the sky and dims the light, keeping a trace of the time-of-day colour.
    if weather == "clouds":
        top = 0.6 * top + 0.4 * _gray(top) * 1.1
        hor = 0.7 * hor + 0.3 * _gray(hor)
        light = light * 0.9
    elif weather in ("rain", "snow"):
        level = 0.5 if weather == "rain" else 0.78
        lum = float(_LIGHT[time][1])
        gray_top = np.array([level, level * 1.02, level * 1.06], np.float32) * (0.55 + 0.45 * lum)
        top = 0.25 * top + 0.75 * gray_top
        hor = 0.35 * hor + 0.65 * gray_top * 1.15
        light = 0.45 * light + 0.55 * _gray(light)
        light = light * (0.72 if weather == "rain" else 0.9)
        haze_gain = 0.25 if weather == "rain" else 0.3
    elif weather == "fog":
        lum = float(_LIGHT[time][1])
        fog = np.array([0.80, 0.82, 0.84], np.float32) * (0.35 + 0.65 * lum)
        fog = 0.7 * fog + 0.3 * hor * (0.35 + 0.65 * lum)
        top = 0.3 * top + 0.7 * fog
        hor = 0.15 * hor + 0.85 * fog
        haze_gain = 0.45
    if night:
        haze_gain = min(haze_gain, 0.3)  # night fog: lights and silhouettes still show through
        # Keep night dark whatever the weather (a gray overcast must not light it up).
        top = np.minimum(top, np.array(_SKY_HORIZON["night"], np.float32) * 1.2)
        hor = np.minimum(hor, np.array(_SKY_HORIZON["night"], np.float32) * 1.8)
    haze = hor.copy()
    return Light(
        sky_top=np.clip(top, 0, 1),
        sky_horizon=np.clip(hor, 0, 1),
        light=np.clip(light, 0, 1.2),
        haze=np.clip(haze, 0, 1),
        sun=sun,
        haze_gain=haze_gain,
        sun_visible=sun_visible,
        stars=night and weather in ("clear", "clouds"),
        night=night,
    )
