"""Prompt advice: specificity score, vague flag and suggestions in the prompt's language (issue 4)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from kadr.prompt import plan_prompt

DATA = Path(__file__).parent / "data" / "vague_prompts.json"
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def _prompts() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))["prompts"]


def test_vague_set_is_large_enough_in_both_languages() -> None:
    counts = Counter((p["lang"], p["vague"]) for p in _prompts())
    assert sum(counts.values()) >= 40
    for key in [("ru", True), ("ru", False), ("en", True), ("en", False)]:
        assert counts[key] >= 10, key


def test_vague_prompts_flagged_and_specific_ones_not() -> None:
    prompts = _prompts()
    wrong = [(p["text"], p["vague"], plan_prompt(p["text"]).score) for p in prompts
             if plan_prompt(p["text"]).vague != p["vague"]]
    accuracy = 1 - len(wrong) / len(prompts)
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f}; wrong: {wrong}"


def test_the_issue_examples() -> None:
    bad = plan_prompt("Красивое видео")
    good = plan_prompt("Солнечный день, пляж, волны, камера движется вдоль берега, стиль кинематографический")
    assert bad.vague and not good.vague
    assert bad.score < 20 < 60 < good.score
    # The vague one is shown a concrete example of a good prompt.
    assert any("Солнечный день" in s and "камера" in s for s in bad.suggestions)
    assert not any(s.startswith("Например") for s in good.suggestions)


def test_score_grows_as_elements_are_added() -> None:
    steps = [
        "Кот",
        "Рыжий кот спит",
        "Рыжий кот спит на подоконнике",
        "Рыжий кот спит на подоконнике, за окном дождь",
        "Рыжий кот спит на подоконнике, за окном дождь, статичная камера",
        "Рыжий кот спит на подоконнике, за окном дождь, статичная камера, акварель",
    ]
    scores = [plan_prompt(s).score for s in steps]
    assert scores == sorted(scores) and len(set(scores)) == len(scores), scores
    assert all(0 <= s <= 100 for s in scores)


def test_suggestions_name_exactly_what_is_missing() -> None:
    plan = plan_prompt("Рыжий кот спит на подоконнике")  # subject, action, place; no light, camera, style
    text = " ".join(plan.suggestions)
    assert "камера" in text.lower() and "стиль" in text.lower() and "время суток" in text.lower()
    assert "Назовите, кто или что" not in text and "Укажите место" not in text
    full = plan_prompt("Рыжий кот спит на подоконнике ночью, статичная камера, акварель")
    assert full.suggestions == []


@pytest.mark.parametrize("text", ["Красивое видео", "Кот", "Закат над морем", "Лес утром, камера движется"])
def test_russian_prompts_get_russian_advice(text: str) -> None:
    plan = plan_prompt(text)
    assert plan.suggestions and all(CYRILLIC.search(s) for s in plan.suggestions)


@pytest.mark.parametrize("text", ["Beautiful video", "Cat", "Sunset over the sea", "Forest at dawn, camera moves"])
def test_english_prompts_get_english_advice(text: str) -> None:
    plan = plan_prompt(text)
    assert plan.suggestions and not any(CYRILLIC.search(s) for s in plan.suggestions)


def test_generic_words_are_called_out() -> None:
    plan = plan_prompt("Очень красивый и крутой закат")
    assert any("«красивый»" in s and "«крутой»" in s for s in plan.suggestions)
    assert any("“amazing”" in s for s in plan_prompt("Amazing sunset").suggestions)


def test_undirected_camera_gets_a_direction_suggestion() -> None:
    plan = plan_prompt("Пляж, волны, камера движется вдоль берега")
    assert plan.camera == "lateral"
    assert any("слева направо" in s for s in plan.suggestions)


def test_with_an_image_the_advice_asks_for_motion() -> None:
    text_only = plan_prompt("Красивый закат")
    with_image = plan_prompt("Красивый закат", has_image=True)
    assert with_image.score > text_only.score
    assert any("картинкой" in s for s in with_image.suggestions)
    moving = plan_prompt("Волны набегают на берег, волосы развеваются на ветру, камера медленно приближается",
                         has_image=True)
    assert not moving.vague and not any("картинкой" in s for s in moving.suggestions)


def test_example_keeps_the_persons_own_words() -> None:
    plan = plan_prompt("Кот")
    example = next(s for s in plan.suggestions if s.startswith("Например"))
    assert "Кот" in example and "камера" in example
