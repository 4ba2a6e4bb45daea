"""Words of a prompt: tokens with their lemmas, from a real Russian morphological analyser.

Russian is inflected ("приближается", "приблизилась", "наезд", "наезжает"), so every Cyrillic word is
looked up in pymorphy3 (OpenCorpora dictionaries) and matched by its normal forms, never by its
surface string. English needs much less: a light suffix stripper maps "pans", "panning", "panned" to
one stem. Both analysers are cached per word so that a prompt parses in well under a millisecond once
its words have been seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import pymorphy3

# Numbers may carry a unit or a hyphenated word ("10s", "15-секундный", "9:16", "3D-анимация").
_TOKEN_RE = re.compile(
    r"(?P<num>\d+(?:[.,:]\d+)?[A-Za-zА-Яа-яЁё]*(?:-[A-Za-zА-Яа-яЁё]+)*)"
    r"|(?P<word>[A-Za-zА-Яа-яЁё]+(?:['’][A-Za-z]+)?(?:-[A-Za-zА-Яа-яЁё]+)*)"
    r"|(?P<punct>[^\w\s])"
)
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")

# Words pymorphy3 does not know (camera slang) and guesses wrongly: prefix -> lemma.
_RU_PREFIX_LEMMAS: tuple[tuple[str, str], ...] = (
    ("зумир", "зумировать"),
    ("зум", "зум"),
    ("тилт", "тилт"),
    ("панорамир", "панорамировать"),
)


@lru_cache(maxsize=1)
def morph_analyzer() -> "pymorphy3.MorphAnalyzer":
    """The Russian analyser, loaded once on first use (about 0.2 s and 15 MB)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


def fold(word: str) -> str:
    """Lower case with ё as е: people type both, the lexicon is written with ё."""
    return word.lower().replace("ё", "е")


@dataclass(frozen=True, slots=True)
class WordInfo:
    """What the analysers say about one word form."""

    lemma: str  # the most likely normal form, as a person writes it (ё kept)
    keys: frozenset[str]  # every normal form and the folded word itself, for lexicon matching
    pos: str | None  # OpenCorpora part of speech (NOUN, ADJF, VERB, PRTF, ...) for Russian
    case: str | None
    number: str | None  # "sing" / "plur"
    person: str | None  # "1per" / "2per" / "3per"
    mood: str | None  # "impr" for an imperative ("приблизь"), "indc" for a finite verb
    plural_possible: bool  # some noun reading is plural (nominative or accusative)
    noun_cases: frozenset[str]  # cases of every noun reading ("грозы": gent and nomn)
    known: bool  # found in the dictionary rather than guessed


@lru_cache(maxsize=65536)
def analyse_ru(word: str) -> WordInfo:
    """Analyse one Cyrillic word (any case). Cached: prompts reuse a small vocabulary."""
    low = word.lower()
    parses = morph_analyzer().parse(low)
    best = parses[0]
    known = any(type(step[0]).__name__ == "DictionaryAnalyzer" for step in best.methods_stack) and len(
        best.methods_stack
    ) == 1
    keys = {fold(low)} | {fold(p.normal_form) for p in parses if p.score >= best.score * 0.2}
    if best.tag.POS in ("PRTF", "PRTS"):
        # Participles normalise to their verb; keep the adjective form too ("рисованный", "потрясающий").
        masc = best.inflect({"masc", "sing", "nomn"}) if best.tag.POS == "PRTF" else None
        if masc is not None:
            keys.add(fold(masc.word))
    lemma = best.normal_form
    for prefix, prefix_lemma in _RU_PREFIX_LEMMAS:
        if fold(low).startswith(prefix) and not known:
            keys.add(prefix_lemma)
            lemma = prefix_lemma
            break
    tag = best.tag
    plural_possible = any(
        p.tag.POS == "NOUN" and p.tag.number == "plur" and p.tag.case in ("nomn", "accs") for p in parses
    )
    noun_cases = frozenset(p.tag.case for p in parses if p.tag.POS == "NOUN" and p.tag.case)
    return WordInfo(
        lemma=lemma,
        keys=frozenset(keys),
        pos=tag.POS,
        case=tag.case,
        number=tag.number,
        person=tag.person,
        mood=tag.mood,
        plural_possible=plural_possible,
        noun_cases=noun_cases,
        known=known,
    )


# English forms a suffix stripper gets wrong, mapped to the base word before stemming.
_EN_IRREGULAR: Mapping[str, str] = MappingProxyType({
    "flew": "fly", "flown": "fly", "rose": "rose", "risen": "rise", "went": "go", "gone": "go", "goes": "go",
    "fell": "fall", "fallen": "fall", "drove": "drive", "driven": "drive", "rode": "ride", "ran": "run",
    "swam": "swim", "sat": "sit", "stood": "stand", "left": "left", "led": "lead", "leaves": "leaf",
    "people": "people", "men": "man", "women": "woman", "children": "child", "geese": "goose",
    "mice": "mouse", "feet": "foot", "teeth": "tooth", "was": "be", "were": "be", "is": "be", "are": "be",
    "news": "news", "series": "series", "species": "species", "shone": "shine", "sank": "sink",
    "evening": "evening", "morning": "morning", "building": "building", "ceiling": "ceiling",
    "painting": "painting", "drawing": "drawing", "lighting": "lighting", "clothing": "clothing",
    "spring": "spring", "string": "string", "thing": "thing", "something": "something",
    "anything": "anything", "nothing": "nothing", "everything": "everything", "king": "king",
    "ring": "ring", "wing": "wing", "swing": "swing", "sling": "sling", "wedding": "wedding",
    "dusk": "dusk", "glass": "glass", "grass": "grass", "bus": "bus", "canvas": "canvas",
    "always": "always", "towards": "toward", "backwards": "backward", "forwards": "forward",
    "upwards": "upward", "downwards": "downward", "sideways": "sideways", "afterwards": "afterward",
    "this": "this", "his": "his", "its": "its", "has": "have", "does": "do", "dies": "die",
    "lies": "lie", "ties": "tie", "skies": "sky", "flies": "fly",
})
_EN_IRREGULAR_BASES = frozenset(_EN_IRREGULAR.values())
_VOWELS = frozenset("aeiouy")


@lru_cache(maxsize=65536)
def en_stem(word: str) -> str:
    """A light English stemmer: one key for "pan/pans/panning/panned", "move/moves/moving/moved".

    Lexicon entries go through the same function, so the stems only have to agree, not be words.
    """
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = _EN_IRREGULAR.get(w, w)
    if w in _EN_IRREGULAR_BASES:
        return _strip_e(w)
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith(("sses", "ches", "shes", "xes", "zzes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif len(w) > 5 and w.endswith("ing") and _VOWELS & set(w[:-3]):
        w = _undouble(w[:-3])
    elif len(w) > 4 and w.endswith("ied"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("ed") and _VOWELS & set(w[:-2]):
        w = _undouble(w[:-2])
    elif len(w) > 4 and w.endswith("ly") and not w.endswith(("ily", "lly")):
        w = w[:-2]
    return _strip_e(w)


def _undouble(stem: str) -> str:
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz" and stem[-1] not in _VOWELS:
        return stem[:-1]
    return stem


def _strip_e(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("e") and not w.endswith("ee") else w


@dataclass(frozen=True, slots=True)
class Token:
    """One token of the prompt, with its span in the original text."""

    text: str
    start: int
    end: int
    kind: str  # "ru" (Cyrillic word), "en" (Latin word), "num" or "punct"
    low: str  # folded surface form
    lemma: str  # Russian normal form, English base-ish stem, or the folded number/punctuation
    keys: frozenset[str]
    pos: str | None = None
    case: str | None = None
    number: str | None = None
    person: str | None = None
    plural_possible: bool = False
    noun_cases: frozenset[str] = frozenset()
    mood: str | None = None


def tokenize(text: str) -> list[Token]:
    """Split a prompt into word, number and punctuation tokens, each analysed."""
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        surface = m.group(0)
        low = fold(surface)
        if m.lastgroup == "punct":
            tokens.append(Token(surface, m.start(), m.end(), "punct", low, low, frozenset((low,))))
        elif m.lastgroup == "num":
            tokens.append(Token(surface, m.start(), m.end(), "num", low, low, frozenset((low,))))
        elif _CYRILLIC.search(surface):
            info = analyse_ru(surface)
            tokens.append(
                Token(surface, m.start(), m.end(), "ru", low, info.lemma, info.keys, info.pos, info.case,
                      info.number, info.person, info.plural_possible, info.noun_cases, info.mood)
            )
        else:
            stem = en_stem(surface)
            tokens.append(Token(surface, m.start(), m.end(), "en", low, stem, frozenset((low, stem))))
    return tokens


def detect_language(tokens: list[Token]) -> str:
    """"ru", "en" or "mixed", counting words of each script (a lone brand name does not make a mix)."""
    ru = sum(1 for t in tokens if t.kind == "ru")
    en = sum(1 for t in tokens if t.kind == "en" and len(t.text) > 1)
    if not en:
        return "ru"  # Russian words only, or no words at all (most people write Russian)
    if not ru:
        return "en"
    minority = min(ru, en)
    if minority >= 2 or minority / (ru + en) >= 0.25:
        return "mixed"
    return "ru" if ru > en else "en"


def message_language(tokens: list[Token], language: str) -> str:
    """The language advice is written in: the prompt's own, or its majority when mixed (ties: Russian)."""
    if language != "mixed":
        return language
    ru = sum(1 for t in tokens if t.kind == "ru")
    en = sum(1 for t in tokens if t.kind == "en")
    return "en" if en > ru else "ru"


def has_cyrillic(text: str) -> bool:
    return bool(_CYRILLIC.search(text))


def has_latin(text: str) -> bool:
    return bool(_LATIN.search(text))
