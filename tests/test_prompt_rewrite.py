"""The pluggable transformers rewriter, with a tiny random model and a tokenizer built here (no hub)."""

from __future__ import annotations

import re

import pytest
import torch

from kadr.prompt import TransformersRewriter, final_prompt, plan_prompt
from kadr.prompt.final import english_scene
from kadr.prompt.glossary import translate_ru_en
from kadr.prompt.rewrite import SYSTEM_PROMPT, acceptable_english

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
WORDS = ("sunset over the sea with waves rolling onto a sandy beach while gulls fly above warm golden light "
         "city street night rain people walking cars lights reflecting puddles forest fog morning").split()
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _tokenizer(chat_template: bool = True):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<eos>"]
    vocab = {w: i for i, w in enumerate(specials + sorted(set(WORDS)))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    if chat_template:
        tok.chat_template = TEMPLATE
    return tok


def _rewriter(chat_template: bool = True, seed: int = 0) -> TransformersRewriter:
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _tokenizer(chat_template)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    model = LlamaForCausalLM(config).eval()
    specials = [tok.unk_token_id, tok.pad_token_id, tok.eos_token_id]
    # A random model may pick a special token first; suppressing them makes it say words.
    return TransformersRewriter(model=model, tokenizer=tok, max_new_tokens=6,
                                generate_kwargs={"suppress_tokens": specials})


@pytest.fixture(scope="module")
def rewriter() -> TransformersRewriter:
    return _rewriter()


def test_prompt_goes_through_the_chat_template_with_the_system_prompt(rewriter: TransformersRewriter) -> None:
    text = rewriter.prompt_text("Закат над морем", "ru")
    assert text.startswith("<|system|> " + SYSTEM_PROMPT)
    assert "<|user|> Scene (Russian): Закат над морем" in text and text.endswith("<|assistant|>")
    plain = _rewriter(chat_template=False).prompt_text("Закат над морем", "ru")
    assert plain.startswith("System: ") and "User: Scene (Russian): Закат над морем" in plain
    assert plain.endswith("Assistant:")


def test_rewriter_generates_english_deterministically(rewriter: TransformersRewriter) -> None:
    first = rewriter("Закат над морем, волны", language="ru")
    second = rewriter("Закат над морем, волны", language="ru")
    assert first == second
    words = first.split()
    assert 1 <= len(words) <= 6 and set(words) <= set(WORDS)
    assert acceptable_english(first)


def test_english_only_prompt_uses_the_rewriter_and_keeps_canonical_camera(rewriter: TransformersRewriter) -> None:
    plan = plan_prompt("Закат над морем, волны, панорама слева направо, акварель")
    scene = rewriter(plan.clean_text, language=plan.language)
    out = final_prompt(plan, "ltx", rewriter=rewriter)
    assert out.lower().startswith(scene.lower())
    assert "the camera pans from left to right" in out and "watercolor" in out
    assert not CYRILLIC.search(out)


class _Fixed:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self, text: str, *, language: str) -> str:
        self.calls += 1
        return self.answer


@pytest.mark.parametrize("answer", ["", "   ", "Закат над морем", "Sunset над морем", "x" * 2000])
def test_unusable_answers_fall_back_to_the_glossary(answer: str) -> None:
    plan = plan_prompt("Закат над морем, волны")
    bad = _Fixed(answer)
    assert english_scene(plan, bad) == translate_ru_en(plan.clean_text).text
    assert bad.calls == 1


def test_english_prompts_do_not_call_the_rewriter() -> None:
    fixed = _Fixed("should not be used")
    plan = plan_prompt("Sunset over the sea, waves")
    assert english_scene(plan, fixed) == "Sunset over the sea, waves" and fixed.calls == 0
    assert final_prompt(plan_prompt("Закат над морем"), "wan", rewriter=fixed) == "Закат над морем"
    assert fixed.calls == 0  # multilingual models never need it
