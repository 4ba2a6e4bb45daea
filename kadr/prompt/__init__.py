"""Prompt understanding and advice, in Russian and English.

``plan_prompt(text, camera=..., style=..., aspect=..., duration=...)`` reads a prompt into a
:class:`PromptPlan` (language; camera motion and speed; style; time of day; weather; setting;
subjects; format hints; the text without its instructions; a specificity score, suggestions and
warnings). ``final_prompt(plan, family)`` gives the text each model family receives, and
``prompt_command(text, as_json)`` what `kadr prompt` prints. The engine, the HTTP service and the
page all call ``plan_prompt`` and show ``PromptPlan.to_dict()``.
"""

from __future__ import annotations

from kadr.prompt.command import format_plan, prompt_command
from kadr.prompt.final import FAMILIES, final_prompt
from kadr.prompt.glossary import translate_ru_en
from kadr.prompt.plan import PromptPlan, plan_prompt
from kadr.prompt.rewrite import PromptRewriter, TransformersRewriter

__all__ = [
    "FAMILIES",
    "PromptPlan",
    "PromptRewriter",
    "TransformersRewriter",
    "final_prompt",
    "format_plan",
    "plan_prompt",
    "prompt_command",
    "translate_ru_en",
]
