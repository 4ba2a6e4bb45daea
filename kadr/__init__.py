"""kadr: a self-hostable video generation studio (text or image to video), offline on a CPU or on GPUs."""

from __future__ import annotations

__version__ = "0.1.0"

from kadr.errors import GenerationCancelled, InvalidRequestError, KadrError, ModelNotAvailableError  # noqa: E402
from kadr.request import VideoRequest  # noqa: E402


def generate(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Shortcut for :func:`kadr.engine.generate` (imported lazily to keep ``import kadr`` light)."""
    from kadr.engine import generate as _generate

    return _generate(*args, **kwargs)


__all__ = [
    "GenerationCancelled",
    "InvalidRequestError",
    "KadrError",
    "ModelNotAvailableError",
    "VideoRequest",
    "__version__",
    "generate",
]
