"""final_prompt per backend family and the Russian -> English glossary (issue 4)."""

from __future__ import annotations

import re

import pytest

from kadr.errors import InvalidRequestError
from kadr.prompt import FAMILIES, final_prompt, plan_prompt, translate_ru_en

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
BEACH = "Солнечный день, пляж, волны, камера движется вдоль берега, стиль кинематографический"


def test_multilingual_models_get_the_russian_text_as_written() -> None:
    plan = plan_prompt("  Ночной   город, огни, статичная камера ")
    for family in ("kadr-tiny", "wan"):
        assert final_prompt(plan, family) == "Ночной город, огни, статичная камера"


@pytest.mark.parametrize("family", ["ltx", "cogvideox"])
def test_english_only_models_get_english_scene_and_canonical_phrases(family: str) -> None:
    out = final_prompt(plan_prompt("Закат над морем, волны, панорама слева направо"), family)
    assert not CYRILLIC.search(out)
    assert "sunset" in out.lower() and "sea" in out.lower() and "waves" in out.lower()
    assert "pans from left to right" in out
    beach = final_prompt(plan_prompt(BEACH), family)
    assert "tracks sideways" in beach and "along" in beach and "cinematic" in beach and not CYRILLIC.search(beach)


def test_english_prompt_keeps_its_words_with_canonical_camera_and_style() -> None:
    plan = plan_prompt("A park in autumn, people walking, camera pans left to right, watercolor painting style")
    out = final_prompt(plan, "ltx")
    assert out.startswith("A park in autumn, people walking")
    assert "the camera pans from left to right" in out and "watercolor painting style" in out


def test_speed_reaches_the_camera_phrase() -> None:
    assert "slowly zooms in" in final_prompt(plan_prompt("Горы, камера медленно приближается"), "ltx")
    assert "quickly tilts up" in final_prompt(plan_prompt("Лес, камера быстро поднимается вверх"), "cogvideox")


def test_override_rebuilds_the_multilingual_prompt_without_contradiction() -> None:
    plan = plan_prompt("Ночной город, огни, статичная камера", camera="pan_right")
    out = final_prompt(plan, "wan")
    assert "статичная" not in out and "слева направо" in out and out.startswith("Ночной город, огни")
    tiny = final_prompt(plan_prompt("Закат над морем, анимация", style="realistic"), "kadr-tiny")
    assert "анимация" not in tiny and "реалистичный" in tiny


def test_svd_gets_no_text_and_unknown_families_are_refused() -> None:
    assert final_prompt(plan_prompt("Волны набегают на берег"), "svd") == ""
    with pytest.raises(InvalidRequestError, match="family"):
        final_prompt(plan_prompt("Лес"), "sora")
    assert set(FAMILIES) == {"kadr-tiny", "wan", "ltx", "cogvideox", "svd"}


@pytest.mark.parametrize(
    ("russian", "words"),
    [
        ("Ночной город, машины едут", ["night", "city", "cars", "driving"]),
        ("Люди гуляют в парке", ["people", "walking", "in", "park"]),
        ("Луна отражается в воде", ["moon", "reflecting", "water"]),
        ("Рыжий кот спит на подоконнике", ["ginger", "cat", "sleeping", "on", "windowsill"]),
        ("За окном идёт снег", ["behind", "window", "snow", "falling"]),
        ("Девушка в красном платье", ["girl", "in", "red", "dress"]),
        ("Огни города отражаются в реке", ["lights", "of", "city", "reflecting", "river"]),
        ("Горы, снег, облака плывут", ["mountains", "snow", "clouds", "floating"]),
        ("Пустыня днём, жара", ["desert", "during the day", "heat"]),
        ("Поле с цветами, бабочки", ["field", "with", "flowers", "butterflies"]),
    ],
)
def test_glossary_translates_scene_vocabulary(russian: str, words: list[str]) -> None:
    result = translate_ru_en(russian)
    assert not CYRILLIC.search(result.text) and result.missing == ()
    lowered = result.text.lower()
    for word in words:
        assert re.search(rf"\b{re.escape(word)}\b", lowered), (word, result.text)


def test_glossary_reports_words_it_does_not_know() -> None:
    result = translate_ru_en("Кот и квантовый синхрофазотрон")
    assert "cat" in result.text.lower()
    assert "синхрофазотрон" in result.missing and "квантовый" in result.missing
    assert not CYRILLIC.search(result.text)


def test_mixed_prompt_latin_words_pass_through() -> None:
    out = final_prompt(plan_prompt("Ночной город в стиле cyberpunk, статичная камера"), "ltx")
    assert "cyberpunk" in out and "night" in out.lower() and not CYRILLIC.search(out)


def test_english_only_models_get_the_film_words_of_a_move_without_a_preset() -> None:
    plan = plan_prompt("Slow orbit to the right around the old oak")
    assert plan.camera == "pan_left" and plan.camera_move == "orbit"
    assert final_prompt(plan, "ltx") == "The camera slowly orbits to the right around the old oak"
    assert final_prompt(plan, "wan") == "Slow orbit to the right around the old oak"  # as written
    crane = plan_prompt("Crane down to the street", camera="zoom_in")  # the parameter wins: no crane words
    assert "crane" not in final_prompt(crane, "cogvideox") and "zooms in" in final_prompt(crane, "cogvideox")
