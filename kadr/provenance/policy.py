"""The studio's content policy: words and phrases (Russian and English) a prompt may not contain.

Matching is on the prompt's words as kadr.prompt.morph analyses them (Russian through pymorphy3's
normal forms, English through its light stemmer), so "обнажённого ребёнка", "обнажённых детей" and
"naked children" all match their entries; a phrase's words must come in order, with at most
``MAX_GAP`` other words between them. An optional classifier (a dotted path to a callable taking the
prompt and returning a reason to refuse, or None/False) runs after the lists.

The owner sets the policy in a JSON or TOML file named by the environment variable ``KADR_POLICY_FILE``
(read by ``kadr serve``'s job submission and by ``kadr generate`` alike; not yet a field of
ServiceSettings, which another helper owns); without one, :data:`DEFAULT_TERMS` applies. Every refusal is logged on the
``kadr.policy`` logger (and appended to ``audit_log`` when the policy names one).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kadr.errors import KadrError

log = logging.getLogger("kadr.policy")

POLICY_ENV = "KADR_POLICY_FILE"
MAX_GAP = 2  # other words allowed between the words of a phrase ("naked little child")

# The default policy, deliberately small: sexual content involving minors, and sexual violence.
# Owners extend or replace it with their own file.
DEFAULT_TERMS: tuple[str, ...] = (
    "детское порно", "детская порнография", "обнажённый ребёнок", "голый ребёнок", "сексуальный ребёнок",
    "изнасилование", "изнасиловать", "сексуальное насилие",
    # Not the bare English "rape": the stemmer makes it "rap", which would refuse music videos.
    "child porn", "child pornography", "naked child", "nude child", "sexualized child", "sexual assault",
    "sexual violence",
)


class ContentPolicy(BaseModel):
    """What the studio refuses. ``terms``: words or phrases in Russian or English, any inflection."""

    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(default_factory=lambda: list(DEFAULT_TERMS))
    classifier: str | None = Field(None, description="dotted path to a callable(prompt) -> reason | None")
    audit_log: Path | None = Field(None, description="JSON-lines file every decision to refuse is appended to")

    @field_validator("terms")
    @classmethod
    def _non_empty(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not _words(term):
                raise ValueError(f"terms: {term!r} has no words")
        return terms

    @field_validator("classifier")
    @classmethod
    def _dotted(cls, path: str | None) -> str | None:
        if path is not None and "." not in path.replace(":", "."):
            raise ValueError(f"classifier: {path!r} is not a dotted path like 'package.module.function'")
        return path


@dataclass(frozen=True)
class PolicyDecision:
    allowed: bool
    matched: str | None  # the term (or the classifier's reason) that refused it
    language: str  # "ru" or "en": the language of the message
    message: str


class ContentRefused(KadrError):
    """A prompt the studio's policy refuses; the message is in the prompt's language."""

    code = "moderation_blocked"

    def __init__(self, decision: PolicyDecision) -> None:
        super().__init__(decision.message)
        self.decision = decision


def _words(text: str) -> list[frozenset[str]]:
    from kadr.prompt.morph import tokenize

    return [t.keys for t in tokenize(text) if t.kind in ("ru", "en")]


@lru_cache(maxsize=8)
def _compiled(terms: tuple[str, ...]) -> tuple[tuple[str, tuple[frozenset[str], ...]], ...]:
    return tuple((term, tuple(_words(term))) for term in terms)


def _matches(prompt_words: list[frozenset[str]], phrase: tuple[frozenset[str], ...]) -> bool:
    for start, keys in enumerate(prompt_words):
        if not keys & phrase[0]:
            continue
        at = start
        for want in phrase[1:]:
            window = range(at + 1, min(len(prompt_words), at + 2 + MAX_GAP))
            nxt = next((i for i in window if prompt_words[i] & want), None)
            if nxt is None:
                break
            at = nxt
        else:
            return True
    return False


def load_policy(path: str | Path | None = None) -> ContentPolicy:
    """The policy in ``path`` (JSON or TOML), else in ``KADR_POLICY_FILE``, else the default."""
    path = path or os.environ.get(POLICY_ENV)
    if not path:
        return ContentPolicy()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"policy_file: {path} is not a file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        import tomllib

        data = tomllib.loads(text)
    else:
        data = json.loads(text)
    try:
        return ContentPolicy.model_validate(data)
    except Exception as exc:
        raise ValueError(f"policy_file {path}: {exc}") from exc


def _classifier(path: str) -> Callable[[str], object]:
    module, _, name = path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), name)


def check_prompt(prompt: str, policy: ContentPolicy | None = None) -> PolicyDecision:
    """Whether ``policy`` (default: the studio's) allows ``prompt``, and the message if not."""
    from kadr.prompt.morph import detect_language, message_language, tokenize

    policy = policy or load_policy()
    tokens = tokenize(prompt)
    language = message_language(tokens, detect_language(tokens))
    words = [t.keys for t in tokens if t.kind in ("ru", "en")]
    matched = next((term for term, phrase in _compiled(tuple(policy.terms)) if phrase and _matches(words, phrase)), None)
    if matched is None and policy.classifier:
        verdict = _classifier(policy.classifier)(prompt)
        if verdict:
            matched = verdict if isinstance(verdict, str) else "classifier"
    if matched is None:
        return PolicyDecision(True, None, language, "")
    if language == "ru":
        message = f"prompt: запрос отклонён политикой студии («{matched}» не допускается); с вас ничего не списано"
    else:
        message = f"prompt: refused by the studio's content policy (“{matched}” is not allowed); nothing was charged"
    return PolicyDecision(False, matched, language, message)


def enforce_policy(prompt: str, *, who: str, policy: ContentPolicy | None = None) -> PolicyDecision:
    """Check ``prompt`` and raise :class:`ContentRefused` if refused; the refusal is logged for the owner."""
    policy = policy or load_policy()
    decision = check_prompt(prompt, policy)
    if not decision.allowed:
        log.warning("policy: refused a prompt from %s (matched %r): %r", who, decision.matched, prompt[:200])
        if policy.audit_log is not None:
            entry = {"time": time.time(), "who": who, "matched": decision.matched, "prompt": prompt}
            with open(policy.audit_log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        raise ContentRefused(decision)
    return decision
