"""Per-key request rate: a token bucket per user, in memory (one server process serves a store)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

_PRUNE_AT = 10_000  # buckets kept before idle ones are dropped


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[int, _Bucket] = {}

    def acquire(self, key: int, rate: float, burst: int, now: float) -> float:
        """Take one token for ``key``; return 0 when allowed, else the seconds until a token is there."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _PRUNE_AT:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def _prune(self, now: float) -> None:
        idle = [k for k, b in self._buckets.items() if now - b.updated > 600]
        for k in idle:
            del self._buckets[k]
