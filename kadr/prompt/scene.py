"""Scene facts of a prompt: style, time of day, weather, setting, subjects, actions, format hints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kadr.prompt import lexicon as lx
from kadr.prompt.morph import Token

_VERB_POS = frozenset({"VERB", "INFN", "PRTF", "PRTS", "GRND"})
_ASPECT_RE = re.compile(r"^(16:9|9:16|1:1|4:3|3:4)$")
_NUM_RE = re.compile(r"^(\d+(?:[.,]\d+)?)(?:-?([a-zа-яё]+(?:-[a-zа-яё]+)*))?$")


@dataclass
class SceneFacts:
    style: str | None = None
    style_detail: str | None = None
    style_tokens: set[int] = field(default_factory=set)
    time_of_day: str | None = None
    weather: str | None = None
    setting: str | None = None
    subjects: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    has_place: bool = False  # a known setting or a place phrase ("на подоконнике", "in a kitchen")
    has_light: bool = False  # time, weather, light or season words
    descriptive: int = 0  # adjectives that describe (not generic, not style)
    generic: list[str] = field(default_factory=list)
    aspect_hint: str | None = None
    aspect_phrase: str | None = None
    duration_hint: float | None = None
    duration_phrase: str | None = None
    format_tokens: set[int] = field(default_factory=set)


def read_scene(tokens: list[Token], camera_tokens: frozenset[int]) -> SceneFacts:
    facts = SceneFacts()
    _read_style(tokens, facts)
    _read_format(tokens, facts)
    skip = set(camera_tokens) | facts.style_tokens | facts.format_tokens
    _read_time_weather_setting(tokens, skip, facts)
    _read_subjects_actions(tokens, skip, facts)
    return facts


# ---------------------------------------------------------------- style


def _read_style(tokens: list[Token], facts: SceneFacts) -> None:
    hits: list[tuple[int, str, str | None]] = []
    for i, tok in enumerate(tokens):
        hit = _style_of(tokens, i)
        if hit is not None:
            hits.append((i, hit[0], hit[1]))
    if not hits:
        return
    # "cinematic anime": the look (animation, artistic) says more than the quality (cinematic, realistic).
    looks = [h for h in hits if h[1] in ("animation", "artistic")]
    chosen = (looks or hits)[0][1]
    facts.style = chosen
    facts.style_detail = next((h[2] for h in hits if h[1] == chosen and h[2]), None)
    for i, _, _ in hits:
        if _describes_noun(tokens, i):
            continue  # "кинематографичное освещение", "animated dog": description, kept in the text
        facts.style_tokens.add(i)
        _take_style_frame(tokens, i, facts.style_tokens)


def _style_of(tokens: list[Token], i: int) -> tuple[str, str | None] | None:
    tok = tokens[i]
    if tok.kind == "ru":
        for key in (tok.low, *tok.keys):
            if key in lx.RU_STYLE:
                return lx.RU_STYLE[key]
        for key in tok.keys:
            if key in lx.RU_STYLE_CONTEXT and (tok.case == "ablt" or _near(tokens, i, lx.RU_STYLE_FRAME, "ru")):
                return lx.RU_STYLE_CONTEXT[key]  # "маслом", "картина, написанная маслом", "масляная живопись"
        return None
    if tok.kind == "en":
        if tok.lemma in lx.EN_STYLE:
            return lx.EN_STYLE[tok.lemma]
        if tok.lemma in lx.EN_STYLE_CONTEXT and _near(tokens, i, lx.EN_STYLE_FRAME, "en"):
            return lx.EN_STYLE_CONTEXT[tok.lemma]
        return None
    if tok.kind == "num" and tok.low in ("3d", "3d-анимация", "3d-animation", "2d", "2d-анимация"):
        return ("animation", "3d" if tok.low.startswith("3d") else "cartoon")
    return None


def _near(tokens: list[Token], i: int, keys: frozenset[str], kind: str, window: int = 3) -> bool:
    for j in range(max(0, i - window), min(len(tokens), i + window + 1)):
        if j == i or tokens[j].kind != kind:
            continue
        if kind == "ru" and tokens[j].keys & keys:
            return True
        if kind == "en" and tokens[j].lemma in keys:
            return True
    return False


def _describes_noun(tokens: list[Token], i: int) -> bool:
    """A style adjective right before a scene noun describes it ("cinematic lighting")."""
    tok = tokens[i]
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    if tok.kind == "ru":
        if tok.pos not in ("ADJF", "PRTF") or nxt.kind != "ru" or nxt.pos != "NOUN":
            return False
        return not (nxt.keys & (lx.RU_STYLE_NOUNS | lx.RU_STYLE_FRAME | lx.RU_FORMAT_NOUNS)) and \
            not any(k in lx.RU_STYLE for k in nxt.keys)
    if tok.kind == "en" and nxt.kind == "en" and tok.lemma in {lx.en_stem(w) for w in ("cinematic", "animated", "realistic", "painted", "filmic")}:
        return nxt.lemma not in lx.EN_STYLE_NOUNS | lx.EN_STYLE_FRAME and nxt.lemma not in lx.EN_STYLE \
            and nxt.low not in lx.EN_FUNCTION and nxt.low not in lx.EN_FORMAT_NOUNS
    return False


def _take_style_frame(tokens: list[Token], i: int, out: set[int]) -> None:
    """Remove the words a style leans on: "в стиле аниме", "стиль кинематографический", "watercolor painting style"."""
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(tokens) and abs(j - i) <= 4:
            t = tokens[j]
            if t.kind == "punct":
                break
            if t.kind == "ru" and (t.keys & (lx.RU_STYLE_NOUNS | lx.RU_STYLE_FRAME) or _style_of(tokens, j)):
                out.add(j)
            elif t.kind == "en" and (t.lemma in lx.EN_STYLE_NOUNS | lx.EN_STYLE_FRAME or _style_of(tokens, j)):
                out.add(j)
            elif t.low in ("в", "во", "in", "the", "a", "an", "of", "like", "как", "as") and _leads_to_style(tokens, j, step):
                out.add(j)
            else:
                break
            j += step


def _leads_to_style(tokens: list[Token], j: int, step: int) -> bool:
    k = j + 1
    while k < len(tokens) and k <= j + 3:
        t = tokens[k]
        if t.kind == "punct":
            return False
        if (t.kind == "ru" and t.keys & (lx.RU_STYLE_NOUNS | lx.RU_STYLE_FRAME)) or \
                (t.kind == "en" and t.lemma in lx.EN_STYLE_NOUNS | lx.EN_STYLE_FRAME) or _style_of(tokens, k):
            return True
        if t.low not in ("the", "a", "an", "of"):
            return False
        k += 1
    return False


# ---------------------------------------------------------------- format: aspect and duration


def _read_format(tokens: list[Token], facts: SceneFacts) -> None:
    for i, tok in enumerate(tokens):
        if facts.aspect_hint is None:
            aspect = _aspect_of(tokens, i)
            if aspect is not None:
                facts.aspect_hint = aspect
                span = _format_span(tokens, i)
                facts.format_tokens |= span
                facts.aspect_phrase = _phrase(tokens, span)
        if facts.duration_hint is None:
            found = _duration_at(tokens, i)
            if found is not None:
                seconds, span = found
                facts.duration_hint = seconds
                span |= _glue_before(tokens, min(span), ("на", "длительностью", "продолжительностью", "for", "of", "in"))
                facts.format_tokens |= span
                facts.duration_phrase = _phrase(tokens, span)


def _aspect_of(tokens: list[Token], i: int) -> str | None:
    tok = tokens[i]
    if tok.kind == "num" and _ASPECT_RE.match(tok.low):
        return tok.low
    if tok.kind == "ru":
        keys = tok.keys | {tok.low}
        if keys & lx.RU_VERTICAL:
            return "9:16" if "вертикальный" not in keys or _format_context(tokens, i) else None
        if keys & lx.RU_SQUARE and _format_context(tokens, i):
            return "1:1"
        if keys & lx.RU_WIDE and ("ютуб" in keys or _format_context(tokens, i)):
            return "16:9"
    if tok.kind == "en":
        stem = tok.lemma
        if stem in lx.EN_VERTICAL and (stem not in lx.EN_FORMAT_CONTEXT_ONLY or _format_context(tokens, i)):
            return "9:16"
        insta = frozenset(lx.en_stem(w) for w in ("instagram", "insta"))
        if tok.low in ("stories", "story") and (_near(tokens, i, insta, "en", 2) or (
                i > 0 and tokens[i - 1].low in ("for", "my", "our"))):
            return "9:16"  # "for instagram stories", "for my stories"; not "a love story"
        if tok.low == "shorts" and _near(tokens, i, frozenset({lx.en_stem("youtube")}), "en", 2):
            return "9:16"
        if tok.low == "portrait" and _near(tokens, i, lx.EN_FORMAT_NOUNS, "en", 2):
            return "9:16"
        if stem in lx.EN_SQUARE and _format_context(tokens, i):
            return "1:1"
        if stem in lx.EN_WIDE and (stem not in lx.EN_FORMAT_CONTEXT_ONLY or _format_context(tokens, i)):
            return "16:9"
        if tok.low == "landscape" and _near(tokens, i, {lx.en_stem(w) for w in ("mode", "orientation", "format")}, "en", 2):
            return "16:9"
    return None


def _format_context(tokens: list[Token], i: int) -> bool:
    """A format word nearby ("вертикальное видео", "square format"), or the word alone in its clause."""
    if tokens[i].kind == "ru":
        if _near(tokens, i, lx.RU_FORMAT_NOUNS, "ru", 2):
            return True
    elif _near(tokens, i, lx.EN_FORMAT_NOUNS, "en", 2):
        return True
    before = i == 0 or tokens[i - 1].kind == "punct"
    after = i + 1 >= len(tokens) or tokens[i + 1].kind == "punct"
    return before and after


def _format_span(tokens: list[Token], i: int) -> set[int]:
    """The words of a format hint: "для сторис", "вертикальное видео", "in 9:16 format", "for my reels"."""
    span = {i}
    glue_ru, glue_en = lx.RU_FORMAT_GLUE, lx.EN_FORMAT_GLUE
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(tokens) and abs(j - i) <= 3:
            t = tokens[j]
            if t.kind == "ru" and (t.keys & glue_ru or t.low in ("для", "в", "формате")):
                span.add(j)
            elif t.kind == "en" and (t.lemma in glue_en or t.low in glue_en or t.low in ("my", "your")):
                span.add(j)
            elif t.kind == "ru" and t.keys & (lx.RU_VERTICAL | lx.RU_SQUARE | lx.RU_WIDE):
                span.add(j)
            else:
                break
            j += step
    # Leave a lone leading article or "видео" that belongs to the scene ("красивое видео для сторис").
    ordered = sorted(span)
    while ordered and tokens[ordered[0]].low in ("a", "an", "the", "my") and ordered[0] != i:
        span.discard(ordered.pop(0))
    if tokens[ordered[0]].kind == "ru" and tokens[ordered[0]].keys & {"видео", "ролик", "клип"} and ordered[0] < i:
        first = ordered[0]
        if first > 0 and tokens[first - 1].kind == "ru" and tokens[first - 1].pos in ("ADJF", "ADJS"):
            span.discard(first)
    return span


def _duration_at(tokens: list[Token], i: int) -> tuple[float, set[int]] | None:
    tok = tokens[i]
    value: float | None = None
    unit_in_token: str | None = None
    if tok.kind == "num":
        m = _NUM_RE.match(tok.low)
        if m is None:
            return None
        value = float(m.group(1).replace(",", "."))
        unit_in_token = m.group(2)
    elif tok.kind == "ru":
        if tok.keys & {"полминуты"}:
            return 30.0, {i}
        for key in tok.keys:
            if key in lx.RU_NUMERALS:
                value = float(lx.RU_NUMERALS[key])
                break
    elif tok.kind == "en":
        if tok.low in lx.EN_NUMERALS:
            value = float(lx.EN_NUMERALS[tok.low])
        elif tok.low == "half" and i + 2 < len(tokens) and tokens[i + 1].low == "a" and tokens[i + 2].low == "minute":
            return 30.0, {i, i + 1, i + 2}
    if value is None:
        return None
    if unit_in_token:
        factor = _unit_factor(unit_in_token, tokens[i].kind)
        if factor is not None:
            span = {i}
            nxt = i + 1
            if nxt < len(tokens) and tokens[nxt].low in ("clip", "video", "видео", "ролик", "клип"):
                span.add(nxt)
            return value * factor, span
        return None
    j = i + 1
    if j < len(tokens) and tokens[j].text == "-":
        j += 1
    if j >= len(tokens):
        return None
    unit = tokens[j]
    factor = None
    if unit.kind == "ru":
        if unit.keys & lx.RU_SECONDS and (unit.low != "с" or j + 1 >= len(tokens) or tokens[j + 1].kind == "punct"):
            factor = 1.0
        elif unit.keys & lx.RU_MINUTES:
            factor = 60.0
    elif unit.kind == "en":
        if unit.low in lx.EN_SECONDS and (unit.low != "s" or j + 1 >= len(tokens) or tokens[j + 1].kind == "punct"):
            factor = 1.0
        elif unit.low in lx.EN_MINUTES:
            factor = 60.0
    if factor is None:
        return None
    span = set(range(i, j + 1))
    if j + 1 < len(tokens) and tokens[j + 1].low in ("clip", "video", "long", "видео", "ролик", "клип"):
        span.add(j + 1)
    return value * factor, span


def _unit_factor(unit: str, kind: str) -> float | None:
    unit = unit.strip("-")
    if unit in ("s", "sec", "secs", "second", "seconds", "с", "сек") or unit.startswith("секунд"):
        return 1.0
    if unit in ("m", "min", "mins", "minute", "minutes", "мин") or unit.startswith("минут"):
        return 60.0
    return None


def _glue_before(tokens: list[Token], first: int, words: tuple[str, ...]) -> set[int]:
    if first > 0 and tokens[first - 1].low in words:
        return {first - 1}
    return set()


def _phrase(tokens: list[Token], span: set[int]) -> str:
    ordered = sorted(span)
    return " ".join(tokens[i].text for i in ordered)


# ---------------------------------------------------------------- time, weather, setting


def _read_time_weather_setting(tokens: list[Token], skip: set[int], facts: SceneFacts) -> None:
    time_hits: list[tuple[int, int, str]] = []  # (strength, -position, value)
    setting_hits: list[tuple[int, int, str]] = []
    for i, tok in enumerate(tokens):
        if i in skip or tok.kind not in ("ru", "en"):
            continue
        if tok.kind == "ru":
            keys = (tok.low, tok.lemma.replace("ё", "е"), *tok.keys)
            time_table, weather_table, setting_table, light = lx.RU_TIME, lx.RU_WEATHER, lx.RU_SETTING, lx.RU_LIGHT
        else:
            keys = (tok.lemma, tok.low)
            time_table, weather_table, setting_table, light = lx.EN_TIME, lx.EN_WEATHER, lx.EN_SETTING, lx.EN_LIGHT
        time_hit = next((time_table[k] for k in keys if k in time_table), None)
        if time_hit is not None:
            time_hits.append((time_hit[1], -i, time_hit[0]))
        if facts.weather is None:
            facts.weather = next((weather_table[k] for k in keys if k in weather_table), None)
        setting_hit = next((setting_table[k] for k in keys if k in setting_table), None)
        if setting_hit is not None:
            setting_hits.append((setting_hit[1], -i, setting_hit[0]))
        if any(k in light for k in keys):
            facts.has_light = True
        if _sky_pair(tokens, i):  # "голубое небо", "blue sky"
            time_hits.append((1, -i, "day"))
            facts.weather = facts.weather or "clear"
    if time_hits:
        facts.time_of_day = max(time_hits)[2]
    if setting_hits:
        facts.setting = max(setting_hits)[2]
    facts.has_light = facts.has_light or facts.time_of_day is not None or facts.weather is not None


def _sky_pair(tokens: list[Token], i: int) -> bool:
    if i + 1 >= len(tokens):
        return False
    a, b = tokens[i], tokens[i + 1]
    if a.kind == "ru" and b.kind == "ru":
        return bool(a.keys & {"голубой", "синий", "безоблачный"}) and "небо" in b.keys
    return a.low in ("blue", "clear", "cloudless") and b.lemma == "sky"


# ---------------------------------------------------------------- subjects, actions, place


def _read_subjects_actions(tokens: list[Token], skip: set[int], facts: SceneFacts) -> None:
    from kadr.prompt.glossary import english_nouns

    en_nouns = english_nouns()
    for i, tok in enumerate(tokens):
        if i in skip or tok.kind not in ("ru", "en"):
            continue
        if tok.kind == "ru":
            _read_ru_word(tokens, i, skip, facts)
        else:
            _read_en_word(tokens, i, skip, facts, en_nouns)
    facts.has_place = facts.has_place or facts.setting is not None


def _scene_word_ru(keys: frozenset[str]) -> bool:
    return any(k in lx.RU_TIME or (k in lx.RU_WEATHER and k not in lx.WEATHER_OBJECTS) or k in lx.RU_STYLE
               for k in keys)


def _read_ru_word(tokens: list[Token], i: int, skip: set[int], facts: SceneFacts) -> None:
    tok = tokens[i]
    keys = tok.keys
    if keys & lx.RU_GENERIC or tok.low in lx.RU_GENERIC:
        facts.generic.append(tok.text)
        return
    if tok.pos == "NOUN":
        place = any(k in lx.RU_SETTING and lx.RU_SETTING[k][1] == 2 for k in keys)
        if keys & lx.RU_ACTION_NOUNS:
            facts.actions.append(tok.lemma)
        elif not place and not _scene_word_ru(keys) and not keys & lx.RU_NOT_SUBJECT and \
                not keys & (lx.RU_LIGHT - {"огонь", "фонарь", "луч", "тень"}) and tok.lemma not in facts.subjects:
            facts.subjects.append(tok.lemma)
    elif tok.pos in _VERB_POS:
        if not keys & lx.RU_NOT_ACTION:
            facts.actions.append(tok.lemma)
    elif tok.pos in ("ADJF", "ADJS") and not _scene_word_ru(keys):
        facts.descriptive += 1
    elif tok.pos == "PREP" and keys & lx.RU_PREPOSITIONS_OF_PLACE:
        j = i + 1
        while j < len(tokens) and j <= i + 3 and tokens[j].kind == "ru" and tokens[j].pos in ("ADJF", "PRTF", "NUMR"):
            j += 1
        if j < len(tokens) and j not in skip and tokens[j].kind == "ru" and tokens[j].pos == "NOUN":
            nk = tokens[j].keys
            if not _scene_word_ru(nk) and not nk & lx.RU_NOT_SUBJECT and not nk & lx.RU_LIGHT:
                facts.has_place = True


def _read_en_word(tokens: list[Token], i: int, skip: set[int], facts: SceneFacts, en_nouns: frozenset[str]) -> None:
    tok = tokens[i]
    stem, low = tok.lemma, tok.low
    if stem in lx.EN_GENERIC or low in lx.EN_GENERIC:
        facts.generic.append(tok.text)
        return
    if low in lx.EN_FUNCTION or low in lx.EN_DETERMINERS:
        if low in lx.EN_PREPOSITIONS and low not in ("from", "to", "with", "without", "of", "off"):
            head = _en_head(tokens, i + 1, skip)
            if head is not None:
                h = tokens[head]
                if not _scene_word_en(h) and h.lemma not in lx.EN_NOT_SUBJECT and h.lemma not in lx.EN_LIGHT:
                    facts.has_place = True
        return
    if (stem in lx.EN_ACTION_VERBS and stem not in lx.EN_NOT_ACTION) or (
        low.endswith("ing") and len(low) > 4 and low not in lx.EN_ING_NOT_ACTION and stem not in en_nouns
        and stem not in lx.EN_NOT_ACTION
    ):
        facts.actions.append(low)
        return
    if stem in lx.EN_ACTION_NOUNS:
        facts.actions.append(low)
        return
    is_noun = stem in en_nouns or _after_determiner_head(tokens, i, skip)
    place = stem in lx.EN_SETTING and lx.EN_SETTING[stem][1] == 2
    if is_noun and not place and not _scene_word_en(tok) and stem not in lx.EN_NOT_SUBJECT and \
            stem not in lx.EN_LIGHT and low not in facts.subjects:
        facts.subjects.append(low)
    elif not is_noun and not _scene_word_en(tok) and stem not in lx.EN_SETTING:
        facts.descriptive += 1


def _scene_word_en(tok: Token) -> bool:
    s = tok.lemma
    return s in lx.EN_TIME or (s in lx.EN_WEATHER and s not in lx.WEATHER_OBJECTS) or s in lx.EN_STYLE or \
        tok.low in lx.EN_TIME


def _en_head(tokens: list[Token], j: int, skip: set[int]) -> int | None:
    """The last word of the noun phrase starting at j ("a snowy street" -> "street")."""
    head = None
    while j < len(tokens) and tokens[j].kind == "en" and j not in skip:
        t = tokens[j]
        if t.low in lx.EN_DETERMINERS and head is None:
            j += 1
            continue
        if t.low in lx.EN_FUNCTION or t.lemma in lx.EN_ACTION_VERBS or (t.low.endswith("ing") and t.low not in lx.EN_ING_NOT_ACTION):
            break
        head = j
        j += 1
    return head


def _after_determiner_head(tokens: list[Token], i: int, skip: set[int]) -> bool:
    j = i - 1
    while j >= 0 and tokens[j].kind == "en" and tokens[j].low not in lx.EN_DETERMINERS and j >= i - 2:
        if tokens[j].low in lx.EN_FUNCTION:
            return False
        j -= 1
    if j < 0 or tokens[j].low not in lx.EN_DETERMINERS:
        return False
    return _en_head(tokens, j + 1, skip) == i
