"""final_prompt(): the text each model family receives.

- kadr-tiny (the built-in model) and Wan have multilingual text encoders: they get the person's text
  as written. Only when a request parameter overrode the text (camera or style) is the text rebuilt
  from the scene words plus the chosen camera and style, in the prompt's language, so the text does
  not contradict the motion the model is asked for.
- LTX-Video and CogVideoX understand English only: they get the scene in English (the English text,
  or the Russian translated by the glossary or by a pluggable rewriter) and canonical English camera
  and style phrases. A move kadr has no preset for (an orbit, a crane, ...) keeps its own film words
  there ("the camera slowly orbits around the statue"): these models know them, only kadr's camera
  path stands in with the nearest preset.
- SVD is conditioned on the image alone: it gets no text.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from kadr.errors import InvalidRequestError
from kadr.prompt.glossary import translate_ru_en
from kadr.prompt.morph import has_cyrillic
from kadr.prompt.plan import PromptPlan
from kadr.prompt.rewrite import PromptRewriter, acceptable_english

FAMILIES: tuple[str, ...] = ("kadr-tiny", "wan", "ltx", "cogvideox", "svd")
MULTILINGUAL: frozenset[str] = frozenset({"kadr-tiny", "wan"})
ENGLISH_ONLY: frozenset[str] = frozenset({"ltx", "cogvideox"})

_SPEED_EN = {0.5: "slowly ", 2.0: "quickly "}
_SPEED_RU = {0.5: "медленно ", 2.0: "быстро "}
CAMERA_EN: Mapping[str, str] = MappingProxyType({
    "static": "static camera, locked-off shot",
    "pan_left": "the camera {speed}pans from right to left",
    "pan_right": "the camera {speed}pans from left to right",
    "tilt_up": "the camera {speed}tilts up",
    "tilt_down": "the camera {speed}tilts down",
    "zoom_in": "the camera {speed}zooms in",
    "zoom_out": "the camera {speed}zooms out",
    "lateral": "the camera {speed}tracks sideways",
    "any_motion": "the camera moves {speed}smoothly",
})
CAMERA_RU: Mapping[str, str] = MappingProxyType({
    "static": "статичная камера",
    "pan_left": "камера {speed}панорамирует справа налево",
    "pan_right": "камера {speed}панорамирует слева направо",
    "tilt_up": "камера {speed}поднимается вверх",
    "tilt_down": "камера {speed}опускается вниз",
    "zoom_in": "камера {speed}приближается",
    "zoom_out": "камера {speed}отдаляется",
    "lateral": "камера {speed}движется вбок",
    "any_motion": "камера {speed}плавно движется",
})
# Moves without a preset, for models that read English: "{way}" comes from the nearest preset's direction.
CAMERA_MOVE_EN: Mapping[str, str] = MappingProxyType({
    "orbit": "the camera {speed}orbits{way}",
    "truck": "the camera {speed}trucks{way}",
    "pedestal": "the camera {speed}pedestals{way}",
    "crane": "the camera {speed}cranes{way}",
    "handheld": "handheld camera",
    "roll": "the camera {speed}rolls",
})
_MOVE_WAYS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    # An orbit to the right is shown as pan_left (its background moves right): the way back is mirrored.
    "orbit": {"pan_left": " to the right", "pan_right": " to the left", "lateral": ""},
    "truck": {"pan_left": " left", "pan_right": " right", "lateral": " sideways"},
    "pedestal": {"tilt_up": " up", "tilt_down": " down"},
    "crane": {"tilt_up": " up", "tilt_down": " down"},
})
STYLE_EN: Mapping[tuple[str, str | None], str] = MappingProxyType({
    ("realistic", None): "photorealistic, natural lighting",
    ("realistic", "photo"): "photorealistic, natural lighting",
    ("realistic", "documentary"): "documentary footage, natural lighting",
    ("cinematic", None): "cinematic style, dramatic lighting, shallow depth of field",
    ("animation", None): "animated style",
    ("animation", "cartoon"): "cartoon animation style",
    ("animation", "anime"): "anime style",
    ("animation", "3d"): "3D animation style",
    ("animation", "claymation"): "claymation, stop-motion style",
    ("artistic", None): "artistic painterly style",
    ("artistic", "painting"): "painting style",
    ("artistic", "watercolor"): "watercolor painting style",
    ("artistic", "oil"): "oil painting style",
    ("artistic", "pencil"): "pencil sketch style",
})
STYLE_RU: Mapping[tuple[str, str | None], str] = MappingProxyType({
    ("realistic", None): "реалистичный стиль",
    ("realistic", "photo"): "фотореалистичный стиль",
    ("realistic", "documentary"): "документальная съёмка",
    ("cinematic", None): "кинематографический стиль",
    ("animation", None): "анимация",
    ("animation", "cartoon"): "мультфильм",
    ("animation", "anime"): "аниме",
    ("animation", "3d"): "3D-анимация",
    ("animation", "claymation"): "пластилиновая анимация",
    ("artistic", None): "художественный стиль",
    ("artistic", "painting"): "живопись",
    ("artistic", "watercolor"): "акварель",
    ("artistic", "oil"): "масляная живопись",
    ("artistic", "pencil"): "карандашный набросок",
})


def camera_phrase(label: str | None, speed: float, lang: str) -> str | None:
    if label is None:
        return None
    table, speeds = (CAMERA_RU, _SPEED_RU) if lang == "ru" else (CAMERA_EN, _SPEED_EN)
    speed_word = speeds.get(speed, "")
    if label == "any_motion":
        speed_word = "" if speed == 0.5 else speed_word  # "smoothly" already says gentle
    return table[label].format(speed=speed_word)


def move_phrase(move: str, label: str | None, speed: float) -> str:
    """English film words for a move kadr has no preset for ("the camera slowly orbits to the right")."""
    way = _MOVE_WAYS.get(move, {}).get(label or "", "")
    text = CAMERA_MOVE_EN[move].format(speed=_SPEED_EN.get(speed, ""), way=way)
    if move == "handheld" and label in CAMERA_EN and label not in ("any_motion", "static"):
        text += ", " + camera_phrase(label, speed, "en")  # "handheld camera, the camera pans from right to left"
    return text


def style_phrase(style: str | None, detail: str | None, lang: str) -> str | None:
    if style is None:
        return None
    table = STYLE_RU if lang == "ru" else STYLE_EN
    return table.get((style, detail)) or table[(style, None)]


def english_scene(plan: PromptPlan, rewriter: PromptRewriter | None = None) -> str:
    """The scene in English: the rewriter's text when it gives clean English, else the glossary's."""
    scene = plan.clean_text
    if plan.language == "en" or not has_cyrillic(scene):
        return scene
    if rewriter is not None:
        candidate = rewriter(scene, language=plan.language)
        if acceptable_english(candidate):
            return candidate.strip()
    return translate_ru_en(scene).text


def final_prompt(plan: PromptPlan, family: str, *, rewriter: PromptRewriter | None = None) -> str:
    """The prompt text for a model family: "kadr-tiny", "wan", "ltx", "cogvideox" or "svd"."""
    if family not in FAMILIES:
        raise InvalidRequestError("family", family, "one of " + ", ".join(FAMILIES))
    if family == "svd":
        return ""
    if family in MULTILINGUAL:
        overridden = plan.camera != plan.camera_from_text or plan.style != plan.style_from_text
        if not overridden:
            return " ".join(plan.text.split())
        lang = "en" if plan.language == "en" else "ru"
        return _compose(plan.clean_text, plan.camera_detail if plan.camera == plan.camera_from_text else None,
                        plan, lang)
    detail = plan.camera_detail
    if detail and has_cyrillic(detail):
        detail = translate_ru_en(detail).text
    return _compose(english_scene(plan, rewriter), detail, plan, "en")


def _compose(scene: str, detail: str | None, plan: PromptPlan, lang: str) -> str:
    parts = [scene.strip().rstrip(".,;")] if scene.strip() else []
    camera = camera_phrase(plan.camera, plan.camera_speed, lang)
    if lang == "en" and plan.camera_move is not None and plan.camera == plan.camera_from_text:
        camera = move_phrase(plan.camera_move, plan.camera, plan.camera_speed)
    if camera:
        parts.append(f"{camera} {detail}".strip() if detail else camera)
    style = style_phrase(plan.style, plan.style_detail, lang)
    if style:
        parts.append(style)
    text = ", ".join(p for p in parts if p)
    return text[:1].upper() + text[1:]
