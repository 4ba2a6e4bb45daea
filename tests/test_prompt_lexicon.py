"""The lexicon is written in normal forms that pymorphy3 really produces (a typo would never match)."""

from __future__ import annotations

from kadr.camera import CAMERA_MOTIONS
from kadr.prompt import lexicon as lx
from kadr.prompt.morph import analyse_ru, en_stem, fold, morph_analyzer, tokenize


def _is_normal_form(word: str) -> bool:
    parses = morph_analyzer().parse(word)
    if fold(word) in {fold(p.normal_form) for p in parses}:
        return True
    # A participle's lemma is its verb; its masculine nominative form is how the lexicon writes it.
    return parses[0].tag.POS == "PRTF" and parses[0].tag.case == "nomn" and parses[0].tag.gender == "masc"


# Words pymorphy3 does not know, or knows only as another lemma; matched by surface form or prefix.
_SURFACE_OK = {"зум", "зумировать", "тилт", "трэвеллинг", "стедикам", "гимбал", "сторис", "рилс", "шортс",
               "тикток", "ютуб", "гибли", "пиксар", "3d-анимация", "кинематографично", "реалистично",
               "утром", "днём", "вечером", "ночью", "облёт", "полёт", "пролёт", "вбок", "закреплённый",
               "ясно", "облачно", "пасмурно", "фотореалистичный", "гиперреалистичный", "импрессионистский",
               "озёрный", "мы", "пару", "сек", "мин", "с", "что-нибудь", "что-то", "какой-нибудь", "офигенный",
               "прикольный", "клёвый", "эпично", "лёгкий", "видеоролик", "съёмка", "снят", "снято", "снятое"}


def test_russian_camera_words_are_lemmas() -> None:
    words = {w for line in lx.RU_CAMERA_WORDS.values() for w in line.split()}
    bad = sorted(w for w in words if w not in _SURFACE_OK and not _is_normal_form(w))
    assert bad == []


def test_russian_scene_words_are_lemmas() -> None:
    tables = [lx.RU_STYLE, lx.RU_TIME, lx.RU_WEATHER, lx.RU_SETTING]
    words = {k for t in tables for k in t} | set(lx.RU_GENERIC) | set(lx.RU_LIGHT)
    bad = sorted(w for w in words if fold(w) not in {fold(s) for s in _SURFACE_OK} and not _is_normal_form(w))
    assert bad == []


def test_inflected_forms_reach_the_lexicon_entry() -> None:
    for form, lemma in [("приближается", "приближаться"), ("приблизившись", "приблизиться"),
                        ("наезжающая", "наезжать"), ("панорамой", "панорама"), ("штативе", "штатив"),
                        ("камеру", "камера"), ("отдаляясь", "отдаляться")]:
        assert lemma in analyse_ru(form).keys, form


def test_english_stems_agree_across_forms() -> None:
    for forms in [("pan", "pans", "panning", "panned"), ("move", "moves", "moving", "moved"),
                  ("zoom", "zooms", "zooming", "zoomed"), ("dolly", "dollies", "dollying"),
                  ("rise", "rises", "rising"), ("approach", "approaches", "approaching")]:
        assert len({en_stem(f) for f in forms}) == 1, forms


def test_analyser_is_loaded_once() -> None:
    assert morph_analyzer() is morph_analyzer()


def test_tokens_keep_spans() -> None:
    text = "Камера, 15-секундный ролик; camera pans 9:16"
    for tok in tokenize(text):
        assert text[tok.start:tok.end] == tok.text


def test_vocabulary_comes_from_kadr_camera() -> None:
    assert set(CAMERA_MOTIONS) == {"static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out"}
