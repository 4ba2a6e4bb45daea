"""Advice on a prompt: a specificity score and what to add, in the prompt's own language.

What video models need, and what people forget: who or what is in the shot, where, in what light,
what moves, how the camera moves, in what style. Each found element earns its weight; words that
say nothing a model can draw ("красивое", "beautiful") earn nothing and get their own advice.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from dataclasses import dataclass

# Weights sum to 100 with the detail bonus.
WEIGHTS: Mapping[str, int] = MappingProxyType({"subject": 20, "setting": 20, "light": 15, "motion": 15, "camera": 15, "style": 10})
DETAIL_BONUS = 5
GENERIC_PENALTY = 5
VAGUE_BELOW = 40  # a prompt under this score leaves the model to guess most of the video


@dataclass(frozen=True)
class Elements:
    """Which elements a prompt has (computed by kadr.prompt.plan from the scene facts)."""

    subject: bool
    setting: bool
    light: bool
    motion: bool
    camera: bool
    style: bool
    descriptive: int
    generic: tuple[str, ...]
    has_image: bool = False
    camera_label: str | None = None
    camera_move: str | None = None  # a move without a preset (lexicon.NO_PRESET_MOVES), shown as camera_label


@dataclass(frozen=True)
class Advice:
    score: int
    vague: bool
    suggestions: list[str]
    missing: list[str]


def score_elements(e: Elements) -> tuple[int, list[str]]:
    """The 0-100 score and the names of the missing elements, in order of importance."""
    present = {
        # With an image the picture shows the subject and the place; the text should carry the motion.
        "subject": e.subject or e.has_image,
        "setting": e.setting or e.has_image,
        "light": e.light or e.has_image,
        "motion": e.motion,
        "camera": e.camera,
        "style": e.style,
    }
    score = sum(WEIGHTS[k] for k, ok in present.items() if ok)
    if e.descriptive >= 2:
        score += DETAIL_BONUS
    score -= GENERIC_PENALTY * len(e.generic)
    missing = [k for k in WEIGHTS if not present[k]]
    return max(0, min(100, score)), missing


def advise(e: Elements, lang: str, *, setting: str | None, time_of_day: str | None, example_base: str) -> Advice:
    score, missing = score_elements(e)
    vague = score < VAGUE_BELOW
    texts = _TEXTS[lang]
    suggestions: list[str] = []
    if e.camera_move is not None and e.camera_label is not None:
        suggestions.append(move_note(e.camera_move, e.camera_label, lang))  # what kadr will do instead, first
    if e.generic:
        words = ", ".join(f"«{w}»" if lang == "ru" else f"“{w}”" for w in dict.fromkeys(w.lower() for w in e.generic))
        suggestions.append(texts["generic"].format(words=words))
    if e.has_image and not e.motion:
        suggestions.append(texts["image_motion"])
    for name in missing:
        if name == "motion" and e.has_image:
            continue
        suggestions.append(texts[name])
    if e.camera_label in ("lateral", "any_motion"):
        suggestions.append(texts["camera_direction_" + e.camera_label])
    if vague:
        example = build_example(lang, example_base, setting=setting, time_of_day=time_of_day, missing=missing)
        suggestions.append(texts["example"].format(example=example))
    return Advice(score=score, vague=vague, suggestions=suggestions, missing=missing)


def move_note(move: str, label: str, lang: str) -> str:
    """The note for a camera move kadr has no preset for: which preset stands in for it, and how it differs."""
    preset = _PRESET_WORDS[lang].get(label, label)
    return _MOVE_NOTES[lang][move].format(preset=preset)


_PRESET_WORDS: dict[str, dict[str, str]] = {
    "ru": {"lateral": "панорама вбок (pan_left или pan_right)", "any_motion": "плавное движение камеры"},
    "en": {"lateral": "a sideways pan (pan_left or pan_right)", "any_motion": "a gentle camera move"},
}
_MOVE_NOTES: dict[str, dict[str, str]] = {
    "ru": {
        "orbit": "Облёта вокруг объекта у камеры kadr нет: взято ближайшее движение, {preset}; фон смещается, "
                 "как при облёте, но камера не обходит объект по кругу.",
        "truck": "Бокового проезда у камеры kadr нет: взято ближайшее движение, {preset}; картинка сдвигается "
                 "в ту же сторону, но без параллакса настоящего проезда.",
        "pedestal": "Подъёма или спуска камеры целиком у kadr нет: взято ближайшее движение, {preset} (наклон); "
                    "картинка смещается так же, но без параллакса.",
        "crane": "Движения операторского крана у камеры kadr нет: взято ближайшее, {preset} (наклон камеры); "
                 "сама камера не поднимается и не опускается.",
        "handheld": "Ручной камеры у kadr нет, тряску он не добавляет: взято ближайшее движение, {preset}.",
        "roll": "Вращения камеры вокруг своей оси у kadr нет: взято ближайшее движение, {preset}, горизонт "
                "не поворачивается.",
    },
    "en": {
        "orbit": "kadr's camera has no orbit: it uses the nearest move, {preset}; the background moves as in "
                 "an orbit, but the camera does not circle the subject.",
        "truck": "kadr's camera has no truck (sideways travel): it uses the nearest move, {preset}; the picture "
                 "shifts the same way, without the parallax of a real truck.",
        "pedestal": "kadr's camera has no pedestal: it uses the nearest move, {preset} (a tilt); the picture "
                    "moves the same way, without the parallax of a rising camera.",
        "crane": "kadr's camera has no crane: it uses the nearest move, {preset} (a tilt); the camera itself "
                 "does not rise or sink.",
        "handheld": "kadr has no handheld camera and adds no shake: it uses the nearest move, {preset}.",
        "roll": "kadr's camera has no roll: it uses the nearest move, {preset}; the horizon does not turn.",
    },
}


# Defaults that make a vague prompt concrete, per known setting: (setting words, subject and action, camera).
_EXAMPLE_PARTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "ru": {
        "beach": ("пляж", "волны", "камера движется вдоль берега"),
        "park": ("парк с деревьями", "люди гуляют", "камера движется плавно"),
        "city": ("ночной город", "огни, машины едут", "статичная камера"),
        "mountains": ("горы", "облака плывут над вершинами", "камера медленно приближается"),
        "forest": ("лес", "солнечные лучи сквозь листву", "камера поднимается вверх"),
        "field": ("поле с цветами", "бабочки летают", "панорама слева направо"),
        "desert": ("пустыня", "ветер гонит песок по дюнам", "камера движется справа налево"),
        "lake": ("озеро", "луна отражается в воде", "камера отдаляется"),
    },
    "en": {
        "beach": ("beach", "waves rolling in", "the camera moves along the shore"),
        "park": ("park with trees", "people walking", "the camera moves smoothly"),
        "city": ("night city street", "lights, cars driving", "static camera"),
        "mountains": ("mountains", "clouds drifting over the peaks", "the camera slowly zooms in"),
        "forest": ("forest", "sunbeams through the leaves", "the camera tilts up"),
        "field": ("field of flowers", "butterflies flying", "the camera pans left to right"),
        "desert": ("desert", "wind blowing sand over the dunes", "the camera pans right to left"),
        "lake": ("lake", "the moon reflected in the water", "the camera pulls back"),
    },
}
_EXAMPLE_TIME = {
    "ru": {"day": "солнечный день", "sunrise": "раннее утро", "sunset": "закат", "night": "ночь"},
    "en": {"day": "sunny day", "sunrise": "early morning", "sunset": "sunset", "night": "night"},
}
_EXAMPLE_STYLE = {"ru": "стиль кинематографический", "en": "cinematic style"}


def build_example(lang: str, base: str, *, setting: str | None, time_of_day: str | None, missing: list[str]) -> str:
    """A concrete prompt: the person's own words (if any say something) plus what was missing."""
    key = setting or "beach"
    place, subject, camera = _EXAMPLE_PARTS[lang][key]
    parts: list[str] = []
    if base:
        parts.append(base)
    if "light" in missing or not base:
        parts.append(_EXAMPLE_TIME[lang][time_of_day or "day"])
    if "setting" in missing:
        parts.append(place)
    if "subject" in missing or "motion" in missing:
        if "subject" in missing:
            parts.append(subject)
    if "camera" in missing:
        parts.append(camera)
    if "style" in missing:
        parts.append(_EXAMPLE_STYLE[lang])
    text = ", ".join(p for p in parts if p)
    return text[:1].upper() + text[1:]


_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "generic": "Слова {words} модели ничего не говорят: опишите, что именно должно быть в кадре.",
        "subject": "Назовите, кто или что в кадре: «рыжий кот», «люди с зонтами», «старый маяк».",
        "setting": "Укажите место: парк, пляж, город, горы, лес, поле, пустыня, озеро — или «на подоконнике», «в кафе».",
        "light": "Добавьте время суток или свет: рассвет, солнечный день, закат, ночь; погоду: туман, дождь, снег.",
        "motion": "Опишите движение в кадре: «люди гуляют», «волны набегают на берег», «листья падают».",
        "camera": "Скажите, как движется камера: «статичная камера», «камера медленно приближается», "
                  "«панорама слева направо», «камера поднимается вверх».",
        "style": "Выберите стиль: реалистичный, кинематографический, анимация, акварель, масляная живопись.",
        "camera_direction_lateral": "Уточните направление камеры: «панорама слева направо» или «справа налево».",
        "camera_direction_any_motion": "Уточните движение камеры: «приближается», «отдаляется», «панорама слева направо», «поднимается вверх».",
        "image_motion": "С картинкой опишите движение: что в ней должно ожить и как (волны набегают, волосы развеваются на ветру).",
        "example": "Например: «{example}».",
    },
    "en": {
        "generic": "Words like {words} tell the model nothing: describe what should be in the shot.",
        "subject": "Say who or what is in the shot: “a ginger cat”, “people with umbrellas”, “an old lighthouse”.",
        "setting": "Say where it happens: park, beach, city, mountains, forest, field, desert, lake — or “on a windowsill”, “in a café”.",
        "light": "Add the time of day or the light: dawn, sunny day, sunset, night; or the weather: fog, rain, snow.",
        "motion": "Describe what moves: “people walking”, “waves rolling onto the shore”, “leaves falling”.",
        "camera": "Say how the camera moves: “static camera”, “the camera slowly zooms in”, "
                  "“the camera pans left to right”, “the camera tilts up”.",
        "style": "Pick a style: realistic, cinematic, animation, watercolor, oil painting.",
        "camera_direction_lateral": "Give the camera a direction: “pans left to right” or “right to left”.",
        "camera_direction_any_motion": "Say how the camera moves: “zooms in”, “pulls back”, “pans left to right”, “tilts up”.",
        "image_motion": "With an image, describe the motion: what in it should come alive and how (waves rolling, hair blowing in the wind).",
        "example": "For example: “{example}”.",
    },
}
