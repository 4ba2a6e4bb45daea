"""The exceptions kadr raises. One type per kind of failure, each with a message a person can act on."""

from __future__ import annotations

from typing import Any


class KadrError(Exception):
    """Base class of every error kadr raises on purpose."""


class InvalidRequestError(KadrError, ValueError):
    """A request field has a value kadr cannot accept.

    The message always names the field, the value given and what is allowed, e.g.
    ``duration: got 45; allowed: a number of seconds from 1 to 30``.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = f"{value:g}" if isinstance(value, float) else value if isinstance(value, int) else _short_repr(value)
        super().__init__(f"{field}: got {shown}; allowed: {allowed}")


class GenerationCancelled(KadrError):
    """Raised inside a generation when its cancel signal is set; no output file is left behind."""


class ModelNotAvailableError(KadrError):
    """The model is known but cannot run here (weights missing, optional dependency not installed)."""


def _short_repr(value: Any, limit: int = 80) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
