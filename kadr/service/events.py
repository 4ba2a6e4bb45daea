"""Live job updates for Server-Sent Events: a small in-process publish/subscribe.

Every change of a job is published as the full video object (or a ``video.deleted`` object), so a
subscriber that falls behind may drop intermediate events without losing state: the next event says
everything. Publishers are any thread; each subscriber is an asyncio queue on the server's loop.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

QUEUE_SIZE = 256


@dataclass(frozen=True)
class VideoEvent:
    user_id: int
    job_id: str
    payload: dict[str, Any]  # the video object, or {"id", "object": "video.deleted", "deleted": True}
    final: bool  # the job reached a terminal status or was deleted: nothing more will follow
    closing: bool = False  # the server is shutting down: end the stream now (the client reconnects elsewhere)


CLOSING = VideoEvent(0, "", {}, True, closing=True)


class Subscription:
    """One stream's queue. ``job_id`` narrows it to one video."""

    def __init__(self, user_id: int, job_id: str | None, loop: asyncio.AbstractEventLoop) -> None:
        self.user_id = user_id
        self.job_id = job_id
        self.loop = loop
        self.queue: asyncio.Queue[VideoEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.dropped = 0

    def _offer(self, event: VideoEvent) -> None:  # runs on the loop
        if self.queue.full():
            self.queue.get_nowait()  # the newest event carries the whole state; the oldest can go
            self.dropped += 1
        self.queue.put_nowait(event)

    def wants(self, event: VideoEvent) -> bool:
        return self.job_id is None or self.job_id == event.job_id


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscription]] = {}
        self._closed = False

    def subscribe(self, user_id: int, job_id: str | None = None) -> Subscription:
        """Call from the event loop that will read the subscription."""
        sub = Subscription(user_id, job_id, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.setdefault(user_id, set()).add(sub)
            closed = self._closed
        if closed:
            sub._offer(CLOSING)
        return sub

    def close(self) -> None:
        """Shutdown: every open stream (and any opened later) gets :data:`CLOSING` and ends promptly."""
        with self._lock:
            self._closed = True
            targets = [s for subs in self._subscribers.values() for s in subs]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub._offer, CLOSING)
            except RuntimeError:  # the loop closed already
                pass

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.user_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.user_id]

    def publish(self, event: VideoEvent) -> None:
        with self._lock:
            targets = [s for s in self._subscribers.get(event.user_id, ()) if s.wants(event)]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub._offer, event)
            except RuntimeError:  # the loop closed (server shutting down)
                pass

    def count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())
