"""plan_prompt(): a prompt in Russian, English or both, read into a PromptPlan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kadr.camera import CAMERA_MOTIONS
from kadr.errors import InvalidRequestError
from kadr.prompt import lexicon as lx
from kadr.prompt.advice import Elements, advise
from kadr.prompt.camera_text import find_camera, split_clauses
from kadr.prompt.morph import Token, detect_language, message_language, tokenize
from kadr.prompt.scene import read_scene
from kadr.request import ASPECTS, MAX_DURATION_S, MIN_DURATION_S, STYLES  # the allowed values, declared once

UNDIRECTED: tuple[str, ...] = ("lateral", "any_motion")


@dataclass
class PromptPlan:
    """What kadr understood from a prompt, with the request's explicit parameters applied.

    ``camera`` is a label of kadr.camera.CAMERA_MOTIONS, "lateral" (sideways, direction not given),
    "any_motion" (motion, direction not given) or None (the text does not say). ``camera_from_text``
    is what the text said before an explicit ``camera`` parameter won. ``camera_move`` names a move the
    text asks for that kadr has no preset for ("orbit", "truck", "pedestal", "crane", "handheld", "roll"):
    ``camera_from_text`` is then its nearest preset and the suggestions carry a note. ``clean_text`` is the prompt
    without its camera, style and format instructions; ``camera_detail`` keeps the scene words of the
    camera instruction ("вдоль берега", "towards the house").
    """

    text: str
    clean_text: str
    language: str  # "ru", "en" or "mixed"
    camera: str | None = None
    camera_speed: float = 1.0
    camera_from_text: str | None = None
    camera_move: str | None = None
    camera_phrase: str | None = None
    camera_detail: str | None = None
    style: str | None = None
    style_detail: str | None = None
    style_from_text: str | None = None
    time_of_day: str | None = None
    weather: str | None = None
    setting: str | None = None
    subjects: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    aspect_hint: str | None = None
    duration_hint: float | None = None
    aspect: str | None = None  # the request's aspect, else the text's hint
    duration: float | None = None  # the request's duration, else the text's hint
    score: int = 0
    vague: bool = False
    suggestions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    advice_language: str = "ru"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: what `kadr prompt --json`, POST /v1/prompt/check and the page show."""
        return asdict(self)


def plan_prompt(text: str, *, camera: str | None = None, style: str | None = None, aspect: str | None = None,
                duration: float | None = None, has_image: bool = False) -> PromptPlan:
    """Read a prompt into a plan. Explicit arguments are request parameters: they win over the text,
    and a disagreement is kept as a warning for the person (in the prompt's language).

    ``has_image``: the prompt describes motion for an uploaded image, so the advice asks for motion
    rather than for a subject and a place.
    """
    if not isinstance(text, str):
        raise InvalidRequestError("prompt", text, "a text")
    camera = _check_camera(camera)
    style = _check_choice(style, "style", STYLES)
    aspect = _check_choice(aspect, "aspect", tuple(ASPECTS))
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
            raise InvalidRequestError("duration", duration, "a positive number of seconds")
        duration = float(duration)

    tokens = tokenize(text)
    language = detect_language(tokens)
    lang = message_language(tokens, language)
    found = find_camera(tokens)
    facts = read_scene(tokens, found.instruction)
    chosen = found.chosen

    plan = PromptPlan(text=text, clean_text="", language=language, advice_language=lang)
    plan.camera_from_text = found.label
    plan.camera_move = found.move
    plan.camera_speed = found.speed
    if chosen is not None:
        plan.camera_phrase = _span_text(text, tokens, sorted(set(chosen.indices)))
        if chosen.detail:
            plan.camera_detail = _join_tokens(text, tokens, list(chosen.detail))
    plan.style_from_text = facts.style
    plan.time_of_day = facts.time_of_day
    plan.weather = facts.weather
    plan.setting = facts.setting
    plan.subjects = facts.subjects
    plan.actions = facts.actions
    plan.aspect_hint = facts.aspect_hint
    plan.duration_hint = facts.duration_hint

    warnings: list[str] = []
    if len(set(found.labels)) > 1:
        warnings.append(_MSG[lang]["many_cameras"].format(labels=", ".join(dict.fromkeys(found.labels)),
                                                          first=found.labels[0]))
    if plan.duration_hint is not None and not MIN_DURATION_S <= plan.duration_hint <= MAX_DURATION_S:
        clamped = min(MAX_DURATION_S, max(MIN_DURATION_S, plan.duration_hint))
        warnings.append(_MSG[lang]["duration_range"].format(value=_num(plan.duration_hint), clamped=_num(clamped),
                                                            low=_num(MIN_DURATION_S), high=_num(MAX_DURATION_S)))
        plan.duration_hint = clamped

    # Explicit parameters win; a disagreement is shown to the person.
    plan.camera = camera if camera is not None else found.label
    if camera is not None and not _camera_agrees(found.label, camera):
        warnings.append(_MSG[lang]["camera"].format(phrase=plan.camera_phrase or found.label, text=found.label,
                                                    param=camera))
    plan.style = style if style is not None else facts.style
    plan.style_detail = facts.style_detail if plan.style == facts.style else None
    if style is not None and facts.style is not None and style != facts.style:
        warnings.append(_MSG[lang]["style"].format(text=facts.style, param=style))
    plan.aspect = aspect if aspect is not None else facts.aspect_hint
    if aspect is not None and facts.aspect_hint is not None and aspect != facts.aspect_hint:
        warnings.append(_MSG[lang]["aspect"].format(phrase=facts.aspect_phrase, text=facts.aspect_hint, param=aspect))
    plan.duration = duration if duration is not None else plan.duration_hint
    if duration is not None and plan.duration_hint is not None and abs(duration - plan.duration_hint) > 1e-6:
        warnings.append(_MSG[lang]["duration"].format(phrase=facts.duration_phrase, text=_num(plan.duration_hint),
                                                      param=_num(duration)))
    plan.warnings = warnings

    removed = set(found.removed) | facts.style_tokens | facts.format_tokens
    plan.clean_text = clean_text(text, tokens, removed)

    elements = Elements(
        subject=bool(facts.subjects),
        setting=facts.has_place,
        light=facts.has_light,
        motion=bool(facts.actions),
        camera=plan.camera is not None,
        style=plan.style is not None,
        descriptive=facts.descriptive,
        generic=tuple(facts.generic),
        has_image=has_image,
        camera_label=plan.camera,
        # An explicit camera parameter replaces the move: no note on what kadr shows in its place.
        camera_move=plan.camera_move if plan.camera == found.label else None,
    )
    base = plan.clean_text if (facts.subjects or facts.has_place or facts.has_light or facts.actions) else ""
    advice = advise(elements, lang, setting=facts.setting, time_of_day=facts.time_of_day, example_base=base)
    plan.score = advice.score
    plan.vague = advice.vague
    plan.suggestions = advice.suggestions
    return plan


def clean_text(text: str, tokens: list[Token], removed: set[int]) -> str:
    """The prompt without the removed tokens, clause by clause, with tidy punctuation."""
    clauses = split_clauses(tokens)
    pieces: list[str] = []
    for clause in clauses:
        kept = [i for i in clause if i not in removed and tokens[i].text not in "«»\"“”„"]
        # A clause may now start with "а", "and", "while" or end with a dangling preposition.
        while kept and (_is_glue(tokens[kept[0]], leading=True) or _is_request(tokens[kept[0]])):
            kept.pop(0)
        while kept and _is_glue(tokens[kept[-1]], leading=False):
            kept.pop()
        if not any(_is_content(tokens[i]) for i in kept):
            continue
        piece = _join_tokens(text, tokens, kept)
        end = clause[-1] + 1
        sep = tokens[end].text if end < len(tokens) and tokens[end].text in ".;:!?" else ","
        pieces.append(piece + sep)
    out = " ".join(pieces).rstrip(",;: ")
    if out.endswith(".") and not text.rstrip().endswith("."):
        out = out[:-1]
    if out and text[:1].isupper() and out[:1].islower():
        out = out[0].upper() + out[1:]
    return out


def _is_glue(tok: Token, *, leading: bool) -> bool:
    if tok.kind == "punct":
        return True
    if tok.kind == "ru":
        if tok.pos in ("CONJ", "PRCL"):
            return True
        return not leading and tok.pos == "PREP"
    if tok.kind == "en":
        if tok.low in ("and", "but", "while", "as", "then", "also", "whilst", "whereas"):
            return True
        return not leading and (tok.low in lx.EN_PREPOSITIONS or tok.low in lx.EN_DETERMINERS)
    return False


def _is_request(tok: Token) -> bool:
    """"Сделай", "хочу", "make", "please" at a clause start ask for the video, they are not in it."""
    if tok.kind == "ru":
        return bool(tok.keys & lx.RU_REQUEST) and tok.pos in ("VERB", "INFN", "ADVB", "ADJS", "PRED", "INTJ", None)
    return tok.kind == "en" and tok.low in lx.EN_REQUEST


def _is_content(tok: Token) -> bool:
    if tok.kind == "ru":
        return tok.pos not in ("PREP", "CONJ", "PRCL") and not tok.keys & {"и", "а", "но"}
    if tok.kind == "en":
        return tok.low not in lx.EN_FUNCTION and tok.low not in lx.EN_DETERMINERS
    return tok.kind == "num"


def _join_tokens(text: str, tokens: list[Token], indices: list[int]) -> str:
    """Tokens back into text, with the original spacing between neighbours."""
    out = ""
    prev: int | None = None
    for i in indices:
        tok = tokens[i]
        if prev is None:
            out = tok.text
        elif i == prev + 1:
            out += text[tokens[prev].end:tok.start] + tok.text
        else:
            out += " " + tok.text
        prev = i
    return out


def _span_text(text: str, tokens: list[Token], indices: list[int]) -> str:
    return text[tokens[indices[0]].start:tokens[indices[-1]].end] if indices else ""


def _camera_agrees(from_text: str | None, param: str) -> bool:
    if from_text is None or from_text == param:
        return True
    if from_text == "lateral":
        return param in ("pan_left", "pan_right")
    if from_text == "any_motion":
        return param != "static"
    return False


def _check_camera(value: str | None) -> str | None:
    if value is None:
        return None
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in CAMERA_MOTIONS:
        raise InvalidRequestError("camera", value, "one of " + ", ".join(CAMERA_MOTIONS))
    return key


def _check_choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    key = str(value).strip().lower()
    if key not in allowed:
        raise InvalidRequestError(name, value, "one of " + ", ".join(allowed))
    return key


def _num(x: float) -> str:
    return f"{x:g}"


_MSG: dict[str, dict[str, str]] = {
    "ru": {
        "camera": "Камера: в тексте «{phrase}» ({text}), а в параметрах camera={param}; используется {param}.",
        "style": "Стиль: в тексте {text}, а в параметрах style={param}; используется {param}.",
        "aspect": "Формат: в тексте «{phrase}» ({text}), а в параметрах aspect={param}; используется {param}.",
        "duration": "Длительность: в тексте «{phrase}» ({text} с), а в параметрах duration={param}; используется {param} с.",
        "duration_range": "Длительность {value} с из текста вне диапазона {low}–{high} с; взято {clamped} с.",
        "many_cameras": "В тексте несколько движений камеры ({labels}); в одном видео будет первое: {first}.",
    },
    "en": {
        "camera": "Camera: the text says “{phrase}” ({text}) but the request sets camera={param}; using {param}.",
        "style": "Style: the text says {text} but the request sets style={param}; using {param}.",
        "aspect": "Aspect: the text says “{phrase}” ({text}) but the request sets aspect={param}; using {param}.",
        "duration": "Duration: the text says “{phrase}” ({text} s) but the request sets duration={param}; using {param} s.",
        "duration_range": "The duration in the text, {value} s, is outside {low}–{high} s; using {clamped} s.",
        "many_cameras": "The text asks for several camera moves ({labels}); one video gets the first: {first}.",
    },
}
