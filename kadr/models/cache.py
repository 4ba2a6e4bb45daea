"""Where the built-in model keeps what it derives from installed files (exported graphs, a built encoder).

These caches are pure functions of the installed package and its weights, so they live per user, not per
studio: ``$KADR_CACHE_DIR``, else ``$XDG_CACHE_HOME/kadr``, else ``~/.cache/kadr`` (a ``KADR_HOME``
pointed at a fresh folder, as tests and services do, still finds them). Deleting them is always safe.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(name: str) -> Path:
    """The cache folder ``name`` (not created)."""
    explicit = os.environ.get("KADR_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kadr" / name
