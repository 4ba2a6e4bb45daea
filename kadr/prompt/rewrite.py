"""A pluggable prompt rewriter: a small instruct language model that turns a scene into English.

This is the mechanism Wan's prompt extension uses (a Qwen2.5 instruct model through transformers, a
system prompt, greedy decoding), here narrowed to what the English-only models need: the scene,
faithfully in English. Camera and style phrases are not the model's job: kadr adds canonical ones
itself, so a rewriter can never change the motion. Anything a rewriter returns that is not clean
English falls back to the glossary (kadr.prompt.final.english_scene).

On a machine with the hub: ``TransformersRewriter.from_pretrained("Qwen/Qwen2.5-1.5B-Instruct")``.
Tests build a tiny random model and a local tokenizer instead; nothing here downloads by itself
unless ``from_pretrained`` is called with a hub id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from kadr.prompt.morph import has_cyrillic, has_latin

DEFAULT_REWRITER_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"
MAX_REWRITE_CHARS = 1000

SYSTEM_PROMPT = (
    "You rewrite prompts for a text-to-video model that understands only English. Translate the scene "
    "description into natural English, keep every subject, place, time, weather and action, add nothing "
    "that is not there, do not describe camera moves or styles, and answer with the English description "
    "only, in one line."
)


class PromptRewriter(Protocol):
    """Anything that rewrites a scene description into English."""

    def __call__(self, text: str, *, language: str) -> str: ...


def acceptable_english(text: str | None) -> bool:
    """Whether a rewriter's answer can be used as an English prompt."""
    if not text or not text.strip():
        return False
    text = text.strip()
    return len(text) <= MAX_REWRITE_CHARS and has_latin(text) and not has_cyrillic(text)


@dataclass
class TransformersRewriter:
    """A causal language model and its tokenizer (already on their device), used greedily."""

    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    max_new_tokens: int = 120
    system_prompt: str = SYSTEM_PROMPT
    generate_kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_pretrained(cls, model_id: str = DEFAULT_REWRITER_MODEL, *, device: str = "cpu",
                        dtype: Any = None, local_files_only: bool = False, **kwargs: Any) -> "TransformersRewriter":
        """Load a model from a local folder or the hub (the loader, not the rewriter, touches disk and network)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=local_files_only)
        model = AutoModelForCausalLM.from_pretrained(model_id, torch_dtype=dtype, local_files_only=local_files_only)
        model.to(device).eval()
        return cls(model=model, tokenizer=tokenizer, **kwargs)

    def messages(self, text: str, language: str) -> list[dict[str, str]]:
        lang_name = {"ru": "Russian", "mixed": "Russian and English", "en": "English"}.get(language, language)
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": f"Scene ({lang_name}): {text}"},
        ]

    def prompt_text(self, text: str, language: str) -> str:
        """The exact text fed to the model: the tokenizer's chat template, or a plain transcript."""
        messages = self.messages(text, language)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nAssistant:"

    def __call__(self, text: str, *, language: str) -> str:
        import torch

        prompt = self.prompt_text(text, language)
        inputs = self.tokenizer(prompt, return_tensors="pt")
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=pad_id,
                **self.generate_kwargs,
            )
        new_tokens = out[0, inputs["input_ids"].shape[1]:]  # (T_new,)
        answer = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        return _first_line(answer)


def _first_line(answer: str) -> str:
    answer = answer.strip()
    line = next((ln for ln in answer.splitlines() if ln.strip()), "")
    return re.sub(r"^[\"'“”«»]+|[\"'“”«»]+$", "", line.strip())
