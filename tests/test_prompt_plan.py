"""PromptPlan fields: language, style, scene, format hints, clean text, explicit parameters (issue 4)."""

from __future__ import annotations

import json

import pytest

from kadr.errors import InvalidRequestError
from kadr.prompt import PromptPlan, plan_prompt, prompt_command

REQUIRED_KEYS = {"language", "camera", "style", "time_of_day", "setting", "score", "vague", "suggestions", "warnings"}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Закат над морем", "ru"),
        ("Sunset over the sea", "en"),
        ("Закат над морем, camera pans left to right", "mixed"),
        ("Night city, статичная камера", "mixed"),
        ("Ночной город в стиле Pixar", "ru"),  # one brand name does not make a mix
        ("Горы 4K", "ru"),
    ],
)
def test_language(text: str, language: str) -> None:
    assert plan_prompt(text).language == language


@pytest.mark.parametrize(
    ("text", "style", "detail"),
    [
        ("Поле с цветами, анимация", "animation", None),
        ("Ночной город в стиле аниме", "animation", "anime"),
        ("Кот на крыше, мультфильм", "animation", "cartoon"),
        ("Парк осенью, акварель", "artistic", "watercolor"),
        ("Портрет старика, написанный маслом", "artistic", "oil"),
        ("Лес, карандашный набросок", "artistic", "pencil"),
        ("Закат, стиль кинематографический", "cinematic", None),
        ("Городская улица, фотореалистично", "realistic", "photo"),
        ("A park, watercolour painting style", "artistic", "watercolor"),
        ("An oil painting of a harbour", "artistic", "oil"),
        ("Pencil sketch of a cat", "artistic", "pencil"),
        ("Cinematic anime scene of a city", "animation", "anime"),
        ("Photorealistic forest", "realistic", "photo"),
        ("Сливочное масло на хлебе", None, None),  # butter is no oil painting
    ],
)
def test_style_and_detail(text: str, style: str | None, detail: str | None) -> None:
    plan = plan_prompt(text)
    assert (plan.style, plan.style_detail) == (style, detail)


@pytest.mark.parametrize(
    ("text", "time", "weather", "setting"),
    [
        ("Лес утром, туман", "sunrise", "fog", "forest"),
        ("Озеро ночью, луна", "night", None, "lake"),
        ("Пустыня днём, жара", "day", None, "desert"),
        ("Дождливый вечер в городе", "sunset", "rain", "city"),
        ("Снегопад в горах на рассвете", "sunrise", "snow", "mountains"),
        ("Облака над полем в полдень", "day", "clouds", "field"),
        ("Берег озера на закате", "sunset", None, "lake"),
        ("Rainy city street at night", "night", "rain", "city"),
        ("Snowy mountains under a blue sky", "day", "snow", "mountains"),
        ("Misty meadow at dawn", "sunrise", "fog", "field"),
        ("Sunny beach at noon", "day", "clear", "beach"),
    ],
)
def test_time_weather_setting(text: str, time: str, weather: str | None, setting: str) -> None:
    plan = plan_prompt(text)
    assert (plan.time_of_day, plan.weather, plan.setting) == (time, weather, setting)


def test_subjects_are_lemmas_and_exclude_places_and_times() -> None:
    plan = plan_prompt("Ночной город, машины едут, люди гуляют у фонарей")
    assert "машина" in plan.subjects and "человек" in plan.subjects
    assert "город" not in plan.subjects and "ночь" not in plan.subjects
    en = plan_prompt("A girl with an umbrella walks past old cars at night")
    assert "girl" in en.subjects and "umbrella" in en.subjects and "night" not in en.subjects


@pytest.mark.parametrize(
    ("text", "aspect", "duration"),
    [
        ("Закат над морем для сторис", "9:16", None),
        ("Котик, рилс", "9:16", None),
        ("Вертикальное видео, город ночью", "9:16", None),
        ("Квадратное видео с котом", "1:1", None),
        ("Лес, 10 секунд", None, 10.0),
        ("Ролик на пятнадцать секунд про горы", None, 15.0),
        ("Горы, 15-секундный ролик, для сторис", "9:16", 15.0),
        ("Море, полминуты", None, 30.0),
        ("Sunset for instagram stories, 10 seconds", "9:16", 10.0),
        ("Vertical video of a waterfall", "9:16", None),
        ("City at night, 8s clip", None, 8.0),
        ("A town square at noon", None, None),  # a square is also a place
        ("A love story in Paris", None, None),
    ],
)
def test_aspect_and_duration_hints(text: str, aspect: str | None, duration: float | None) -> None:
    plan = plan_prompt(text)
    assert (plan.aspect_hint, plan.duration_hint) == (aspect, duration)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("Закат над морем, волны, панорама слева направо", "Закат над морем, волны"),
        ("Солнечный день, пляж, волны, камера движется вдоль берега, стиль кинематографический",
         "Солнечный день, пляж, волны"),
        ("Поле с цветами, бабочки, статичная камера, анимация", "Поле с цветами, бабочки"),
        ("Ночной город в стиле аниме, для сторис", "Ночной город"),
        ("A park in autumn, people walking, camera pans left to right, watercolor painting style",
         "A park in autumn, people walking"),
        ("Rainy street, static camera, 10 seconds", "Rainy street"),
        ("Статичная камера, а машины едут", "Машины едут"),
    ],
)
def test_clean_text_drops_instructions(text: str, clean: str) -> None:
    assert plan_prompt(text).clean_text == clean


def test_camera_detail_keeps_the_scene_words_of_the_instruction() -> None:
    plan = plan_prompt("Лес, камера медленно поднимается к кронам деревьев")
    assert plan.camera == "tilt_up" and plan.camera_detail == "к кронам деревьев"
    assert "крона" in plan.subjects  # the detail still counts as scene


def test_explicit_parameters_win_and_conflicts_become_warnings() -> None:
    plan = plan_prompt("Ночной город, статичная камера, в стиле аниме, для сторис, 10 секунд",
                       camera="pan_right", style="realistic", aspect="16:9", duration=5)
    assert plan.camera == "pan_right" and plan.camera_from_text == "static"
    assert plan.style == "realistic" and plan.style_from_text == "animation" and plan.style_detail is None
    assert plan.aspect == "16:9" and plan.aspect_hint == "9:16"
    assert plan.duration == 5.0 and plan.duration_hint == 10.0
    assert len(plan.warnings) == 4
    assert any("статичная камера" in w and "pan_right" in w for w in plan.warnings)
    assert all(any(ch in w for ch in "абвгдежзийклмнопрстуфхцчшщыэюя") for w in plan.warnings)  # Russian prompt


def test_agreeing_parameters_give_no_warning() -> None:
    assert plan_prompt("Камера движется вдоль берега", camera="pan_left").warnings == []  # lateral fits a pan
    assert plan_prompt("The camera moves smoothly", camera="zoom_in").warnings == []
    assert plan_prompt("Закат, статичная камера", camera="static").warnings == []
    en = plan_prompt("Still camera, a quiet lake", camera="zoom_out")
    assert len(en.warnings) == 1 and en.warnings[0].startswith("Camera:")


def test_invalid_parameters_name_the_field() -> None:
    with pytest.raises(InvalidRequestError, match="camera"):
        plan_prompt("Лес", camera="spin")
    with pytest.raises(InvalidRequestError, match="style"):
        plan_prompt("Лес", style="cubism")
    with pytest.raises(InvalidRequestError, match="aspect"):
        plan_prompt("Лес", aspect="2:1")


def test_duration_outside_the_range_is_clamped_with_a_warning() -> None:
    plan = plan_prompt("Море, видео на 2 минуты")
    assert plan.duration_hint == 30.0 and any("120" in w for w in plan.warnings)


def test_to_dict_is_json_and_has_the_documented_keys() -> None:
    plan = plan_prompt("Закат над морем, волны, панорама слева направо")
    d = plan.to_dict()
    assert REQUIRED_KEYS <= set(d)
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert isinstance(plan, PromptPlan) and d["camera"] == "pan_right" and isinstance(d["suggestions"], list)


def test_prompt_command_json_and_text() -> None:
    out = json.loads(prompt_command("Красивое видео", True))
    assert out["vague"] is True and out["language"] == "ru" and out["camera"] is None
    text = prompt_command("Закат над морем, волны, панорама слева направо", False)
    assert "pan_right" in text and "Конкретность" in text and "По-английски" in text
    en = prompt_command("Beautiful video", False)
    assert "Specificity" in en and "too vague" in en


def test_empty_prompt_is_a_vague_plan() -> None:
    plan = plan_prompt("")
    assert plan.vague and plan.camera is None and plan.clean_text == ""
