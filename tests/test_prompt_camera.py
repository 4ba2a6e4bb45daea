"""Camera motion read from Russian, English and mixed prompts (kadr.prompt, issues 4 and 12).

The phrasings and their labels are the public list eval/camera_phrases.json (its "about" says how each
move is labelled, and which moves kadr has no preset for)."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from kadr.prompt.plan import PromptPlan

from kadr.camera import CAMERA_MOTIONS
from kadr.prompt import plan_prompt
from kadr.prompt.advice import move_note
from kadr.prompt.lexicon import NO_PRESET_MOVES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "camera_phrases.json"
EVAL = ROOT / "eval" / "prompts.json"
LABELS = set(CAMERA_MOTIONS) | {"lateral", "any_motion", None}
OPPOSITE = {"pan_left": "pan_right", "pan_right": "pan_left", "tilt_up": "tilt_down", "tilt_down": "tilt_up",
            "zoom_in": "zoom_out", "zoom_out": "zoom_in"}
SPEED_FACTORS = {"slow": 0.5, "fast": 2.0}


@lru_cache(maxsize=1)
def _phrases() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))["phrases"]


@lru_cache(maxsize=1)
def _plans() -> dict[str, "PromptPlan"]:
    """Every phrasing's plan, read once for all the tests below."""
    return {p["text"]: plan_prompt(p["text"]) for p in _phrases()}


def test_phrase_set_is_large_varied_and_labelled_in_the_vocabulary() -> None:
    phrases = _phrases()
    assert len(phrases) >= 150
    langs = Counter(p["lang"] for p in phrases)
    assert langs["ru"] >= 75 and langs["en"] >= 75
    assert {p["camera"] for p in phrases} == LABELS  # every label, distractors (null) included
    assert len({p["text"] for p in phrases}) == len(phrases)
    per_label = Counter(p["camera"] for p in phrases)
    assert min(per_label.values()) >= 10
    assert {p["note"] for p in phrases if "note" in p} == set(NO_PRESET_MOVES)  # every move without a preset
    assert {p["speed"] for p in phrases if "speed" in p} == set(SPEED_FACTORS)
    assert all(set(p) <= {"text", "lang", "camera", "note", "speed", "set"} for p in phrases)


def test_the_film_terms_of_issue_12_are_in_the_list() -> None:
    texts = " ".join(p["text"].lower() for p in _phrases() if p["set"] == "words")
    for term in ["наезд", "наездом", "отъезд", "проезд", "облёт", "панорамирование", "крупный план", "вид сверху",
                 "dolly", "truck", "pedestal", "push in", "pull back", "orbit", "sweep", "reveal", "establishing shot",
                 "медленно", "быстр", "slowly"]:
        assert term in texts, term


def test_camera_labels_are_right_on_at_least_95_percent() -> None:
    phrases = _phrases()
    wrong = [(p["text"], p["camera"], _plans()[p["text"]].camera) for p in phrases
             if _plans()[p["text"]].camera != p["camera"]]
    accuracy = 1 - len(wrong) / len(phrases)
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f} over {len(phrases)}; wrong: {wrong}"


def test_no_phrasing_gets_the_opposite_direction() -> None:
    flipped = [(p["text"], p["camera"], _plans()[p["text"]].camera) for p in _phrases()
               if p["camera"] in OPPOSITE and _plans()[p["text"]].camera == OPPOSITE[p["camera"]]]
    assert flipped == []


def test_moves_without_a_preset_carry_a_note_in_the_prompts_language() -> None:
    missing: list[tuple[str, str, str | None]] = []
    for p in _phrases():
        plan = _plans()[p["text"]]
        if "note" not in p:
            assert plan.camera_move is None, (p["text"], plan.camera_move)  # no note where none is due
            continue
        note = move_note(p["note"], plan.camera, plan.advice_language)
        if plan.camera_move != p["note"] or note not in plan.suggestions:
            missing.append((p["text"], p["note"], plan.camera_move))
    assert missing == []


def test_stated_speeds_are_read_on_at_least_95_percent() -> None:
    phrases = [p for p in _phrases() if "speed" in p]
    assert len(phrases) >= 40
    wrong = [(p["text"], p["speed"], _plans()[p["text"]].camera_speed) for p in phrases
             if _plans()[p["text"]].camera_speed != SPEED_FACTORS[p["speed"]]]
    assert 1 - len(wrong) / len(phrases) >= 0.95, wrong


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_accuracy_holds_per_language(lang: str) -> None:
    phrases = [p for p in _phrases() if p["lang"] == lang]
    right = sum(_plans()[p["text"]].camera == p["camera"] for p in phrases)
    assert right / len(phrases) >= 0.95


def test_eval_prompts_camera_time_setting_style_and_language() -> None:
    prompts = json.loads(EVAL.read_text(encoding="utf-8"))["prompts"]
    for p in prompts:
        plan = plan_prompt(p["text"])
        assert plan.language == p["lang"], p["text"]
        if p.get("camera") not in (None, "any"):
            assert plan.camera == p["camera"], p["text"]
        if p.get("setting"):
            assert plan.setting == p["setting"], p["text"]
        if p.get("style"):
            assert plan.style == p["style"], p["text"]
        if plan.time_of_day is not None:  # unstated time stays None; the model defaults to day
            assert plan.time_of_day == p["time"], p["text"]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Inflected forms of one motion all reach the same label (a morphological analyser, not strings).
        ("Камера приближается к дому", "zoom_in"),
        ("Камера приблизилась к дому", "zoom_in"),
        ("Приближаясь, камера показывает дом", "zoom_in"),
        ("Медленное приближение к дому", "zoom_in"),
        ("Наезд на дом", "zoom_in"),
        ("Камера наезжает на дом", "zoom_in"),
        ("Камера наехала на дом", "zoom_in"),
        ("Камера отдаляется от дома", "zoom_out"),
        ("Камера отдалилась от дома", "zoom_out"),
        ("Отдаление от дома", "zoom_out"),
        ("Панорама влево", "pan_left"),
        ("Панорама налево", "pan_left"),
        ("Панорама справа налево", "pan_left"),
        ("Панорама вправо", "pan_right"),
        ("Панорама направо", "pan_right"),
        ("Панорама слева направо", "pan_right"),
        ("Камеру поднимают вверх", "tilt_up"),
        ("Камера поднялась", "tilt_up"),
    ],
)
def test_inflected_russian_forms(text: str, label: str) -> None:
    assert plan_prompt(text).camera == label


@pytest.mark.parametrize(
    "text",
    [
        "Машина медленно приближается к дому",  # the car approaches, not the camera
        "Солнце поднимается над морем",
        "Люди идут слева направо",
        "Девушка смотрит в камеру",  # the camera is an object here
        "The car pulls away from the curb",
        "People walk from left to right",
        "Panoramic view of the mountains",
    ],
)
def test_subject_motion_is_not_camera_motion(text: str) -> None:
    assert plan_prompt(text).camera is None


@pytest.mark.parametrize(
    ("text", "speed"),
    [
        ("Камера медленно приближается", 0.5),
        ("Камера плавно поднимается вверх", 0.5),
        ("Камера быстро отдаляется", 2.0),
        ("Быстрый наезд на часы", 2.0),
        ("Камера приближается", 1.0),
        ("slow zoom in", 0.5),
        ("the camera quickly pans left", 2.0),
        ("camera smoothly tilts down", 0.5),
        ("Машины быстро едут, статичная камера", 1.0),  # the cars are fast, the camera is still
    ],
)
def test_speed_words(text: str, speed: float) -> None:
    assert plan_prompt(text).camera_speed == speed


def test_negated_motion_is_static_and_later_motion_of_others_is_ignored() -> None:
    assert plan_prompt("Камера не двигается, а люди идут влево").camera == "static"
    assert plan_prompt("The camera does not move while people walk left").camera == "static"
    assert plan_prompt("No camera movement at all").camera == "static"


def test_several_camera_moves_keep_the_first_and_warn() -> None:
    plan = plan_prompt("Камера приближается к дому, потом панорама влево")
    assert plan.camera == "zoom_in"
    assert any("zoom_in" in w and "pan_left" in w for w in plan.warnings)


@pytest.mark.parametrize("subset", ["holdout", "holdout2", "words", "words_holdout"])
def test_phrasings_written_after_the_parser_also_reach_95_percent(subset: str) -> None:
    phrases = [p for p in _phrases() if p["set"] == subset]
    assert len(phrases) >= 40
    right = sum(_plans()[p["text"]].camera == p["camera"] for p in phrases)
    assert right / len(phrases) >= 0.95


@pytest.mark.parametrize(
    ("text", "label", "move"),
    [
        # Case endings of the film nouns: pymorphy3 lemmas, not strings.
        ("Наезд на дом", "zoom_in", None),
        ("Снять наездом на дом", "zoom_in", None),
        ("Сцена с наездом камеры на дом", "zoom_in", None),
        ("Без наезда, статичный кадр", "static", None),
        ("Отъездом камеры показать дом", "zoom_out", None),
        ("Облёт вокруг дома", "lateral", "orbit"),
        ("Медленный облёт дома", "lateral", "orbit"),
        ("С облётом камеры вокруг дома", "lateral", "orbit"),
        ("Панорамированием справа налево показать дом", "pan_left", None),
        # Word order is free.
        ("Камера наезжает на дом", "zoom_in", None),
        ("На дом наезжает камера", "zoom_in", None),
        ("Вправо уходит камера", "pan_right", None),
        ("To the left the camera pans", "pan_left", None),
    ],
)
def test_film_nouns_in_any_case_and_order(text: str, label: str, move: str | None) -> None:
    plan = plan_prompt(text)
    assert (plan.camera, plan.camera_move) == (label, move)


@pytest.mark.parametrize(
    ("text", "label", "move"),
    [
        ("Crane up over the crowd", "tilt_up", "crane"),
        ("Crane down to the street", "tilt_down", "crane"),
        ("Truck left along the stalls", "pan_left", "truck"),  # travels left: content moves right
        ("Pedestal up to the window", "tilt_up", "pedestal"),
        # Going round to the right the camera turns left to keep the subject centred: the background
        # moves right, as in pan_left.
        ("Orbit to the right around the oak", "pan_left", "orbit"),
        ("The camera orbits left around the fountain", "pan_right", "orbit"),
        ("Handheld camera pans left across the market", "pan_left", "handheld"),
        ("Камера вращается вокруг своей оси", "any_motion", "roll"),
    ],
)
def test_moves_without_a_preset_map_to_the_nearest(text: str, label: str, move: str) -> None:
    plan = plan_prompt(text)
    assert (plan.camera, plan.camera_move) == (label, move)
    assert plan.suggestions[0] == move_note(move, label, plan.advice_language)


def test_the_note_speaks_the_prompts_language_and_names_the_preset() -> None:
    ru = plan_prompt("Медленный облёт вокруг маяка на закате")
    en = plan_prompt("Slow orbit to the right around the lighthouse at sunset")
    assert ru.advice_language == "ru" and "Облёт" in ru.suggestions[0]
    assert en.advice_language == "en" and "orbit" in en.suggestions[0] and "pan_left" in en.suggestions[0]


def test_an_explicit_camera_replaces_the_move_and_its_note() -> None:
    plan = plan_prompt("Orbit around the dancer", camera="zoom_in")
    assert plan.camera == "zoom_in" and plan.camera_move == "orbit"
    assert not any("orbit" in s for s in plan.suggestions)
    assert any("zoom_in" in w for w in plan.warnings)


@pytest.mark.parametrize(
    "text",
    [
        "A truck drives left along the highway",  # the words of camera moves, said of other things
        "The crane lifts a steel beam",
        "The moon orbits the earth",
        "A man pans for gold in the river",
        "The photographer pulls back the curtain",
        "Кран течёт на кухне",
        "Машина наезжает на бордюр",
        "Мальчик поднимает камеру над головой",
    ],
)
def test_camera_words_said_of_something_else(text: str) -> None:
    plan = plan_prompt(text)
    assert (plan.camera, plan.camera_move) == (None, None)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # The camera is there, but the move word names a thing or a place, not the move.
        ("Камера показывает людей вокруг костра", None),
        ("Камера снимает боковой вход", None),
        ("Камера снимает кран", None),
        ("Камера снимает ручной труд", None),
        ("The camera follows a crane flying over the lake", "any_motion"),
        ("The camera follows a truck", "any_motion"),
        ("The camera films a shaky bridge", None),
    ],
)
def test_no_move_note_when_the_move_word_names_a_thing(text: str, label: str | None) -> None:
    plan = plan_prompt(text)
    assert (plan.camera, plan.camera_move) == (label, None)


def test_a_second_move_in_one_clause_is_kept_for_the_warning() -> None:
    plan = plan_prompt("Медленный наезд с одновременным поворотом вправо")
    assert plan.camera == "zoom_in"
    assert any("zoom_in" in w and "pan_right" in w for w in plan.warnings)
