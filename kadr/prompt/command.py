"""prompt_command(): what `kadr prompt "TEXT" [--json]` prints."""

from __future__ import annotations

import json

from kadr.prompt.final import final_prompt
from kadr.prompt.plan import PromptPlan, plan_prompt

_LABELS = {
    "ru": {
        "language": "Язык", "camera": "Камера", "style": "Стиль", "time": "Время суток", "weather": "Погода",
        "setting": "Место", "subjects": "В кадре", "actions": "Движение", "aspect": "Формат",
        "duration": "Длительность", "clean": "Сцена", "english": "По-английски (LTX-Video, CogVideoX)",
        "score": "Конкретность", "vague": "слишком общо", "advice": "Советы", "warnings": "Предупреждения",
        "speed": {0.5: "медленно", 2.0: "быстро"}, "none": "—", "seconds": "с",
    },
    "en": {
        "language": "Language", "camera": "Camera", "style": "Style", "time": "Time of day", "weather": "Weather",
        "setting": "Setting", "subjects": "Subjects", "actions": "Motion", "aspect": "Aspect",
        "duration": "Duration", "clean": "Scene", "english": "In English (LTX-Video, CogVideoX)",
        "score": "Specificity", "vague": "too vague", "advice": "Advice", "warnings": "Warnings",
        "speed": {0.5: "slow", 2.0: "fast"}, "none": "—", "seconds": "s",
    },
}


def prompt_command(text: str, as_json: bool) -> str:
    """The plan and the advice for a prompt, as JSON or as lines for a person."""
    plan = plan_prompt(text)
    if as_json:
        return json.dumps(plan.to_dict(), ensure_ascii=False, indent=2)
    return format_plan(plan)


def format_plan(plan: PromptPlan) -> str:
    t = _LABELS[plan.advice_language]
    none = t["none"]
    camera = plan.camera or none
    if plan.camera and plan.camera_speed in t["speed"]:
        camera += f" ({t['speed'][plan.camera_speed]}, ×{plan.camera_speed:g})"
    if plan.camera_phrase:
        camera += f" ← «{plan.camera_phrase}»" if plan.advice_language == "ru" else f" ← “{plan.camera_phrase}”"
    style = plan.style or none
    if plan.style_detail:
        style += f" ({plan.style_detail})"
    lines = [
        f"{t['language']}: {plan.language}",
        f"{t['camera']}: {camera}",
        f"{t['style']}: {style}",
        f"{t['time']}: {plan.time_of_day or none}   {t['weather']}: {plan.weather or none}   "
        f"{t['setting']}: {plan.setting or none}",
        f"{t['subjects']}: {', '.join(plan.subjects) or none}",
        f"{t['actions']}: {', '.join(plan.actions) or none}",
    ]
    if plan.aspect_hint or plan.duration_hint:
        duration = f"{plan.duration_hint:g} {t['seconds']}" if plan.duration_hint else none
        lines.append(f"{t['aspect']}: {plan.aspect_hint or none}   {t['duration']}: {duration}")
    lines.append(f"{t['clean']}: {plan.clean_text or none}")
    if plan.language != "en":
        lines.append(f"{t['english']}: {final_prompt(plan, 'ltx')}")
    score = f"{t['score']}: {plan.score}/100"
    if plan.vague:
        score += f" — {t['vague']}"
    lines.append(score)
    if plan.suggestions:
        lines.append(f"{t['advice']}:")
        lines.extend(f"  • {s}" for s in plan.suggestions)
    if plan.warnings:
        lines.append(f"{t['warnings']}:")
        lines.extend(f"  ! {w}" for w in plan.warnings)
    return "\n".join(lines)
