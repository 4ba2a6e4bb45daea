"""Live job updates for Server-Sent Events: a small in-process publish/subscribe.

Every change of a job is published as the full video object (or a ``video.deleted`` object), so a
subscriber that falls behind may drop intermediate events without losing state: the next event says
everything. Publishers are any thread; each subscriber is an asyncio queue on the server's loop.

Several API replicas on one PostgreSQL: :class:`PeerEvents` tells the other replicas of each change
(``NOTIFY kadr_events``, the job's id only: a notification holds at most 8000 bytes) and hears theirs
(``LISTEN``), reading the job's state from the store, so a client's stream on any replica sees every
change, whichever replica made it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("kadr.service.events")

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
        self._forward: Callable[[VideoEvent], None] | None = None

    def forward_to(self, forward: Callable[[VideoEvent], None] | None) -> None:
        """Also hand every event published here to ``forward`` (the other replicas, :class:`PeerEvents`)."""
        self._forward = forward

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

    def publish(self, event: VideoEvent, from_peer: bool = False) -> None:
        """Deliver ``event`` to this process's streams (and, unless it came from a peer, to the other replicas)."""
        with self._lock:
            targets = [s for s in self._subscribers.get(event.user_id, ()) if s.wants(event)]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub._offer, event)
            except RuntimeError:  # the loop closed (server shutting down)
                pass
        forward = self._forward
        if forward is not None and not from_peer and not event.closing:
            forward(event)

    def count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())


CHANNEL = "kadr_events"
_OUTBOX_SIZE = 10_000


class PeerEvents:
    """Job events between API replicas on one PostgreSQL, through LISTEN/NOTIFY.

    Out: each event this replica publishes becomes ``NOTIFY kadr_events, '{"r": replica, "u": user, "j": job}'``,
    sent by one thread in order (a full outbox drops the oldest: the next event of a job says everything).
    In: a thread LISTENs; each notification from another replica is ``load(user_id, job_id)`` (the job's
    state now, read from the store) published to this replica's streams. Notifications for one job that
    arrive together are read once. Both threads reconnect after the database goes away; events sent
    while it is away are lost (a stream's next event, or the client's poll, brings the state).
    """

    def __init__(self, dsn: str, replica_id: str, bus: EventBus, load: Callable[[int, str], VideoEvent],
                 retry_s: float = 1.0) -> None:
        self.dsn = dsn
        self.replica_id = replica_id
        self.bus = bus
        self.load = load
        self.retry_s = retry_s
        self._outbox: queue.Queue[tuple[int, str] | None] = queue.Queue(maxsize=_OUTBOX_SIZE)
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._threads = [threading.Thread(target=self._send_loop, name="kadr-events-out", daemon=True),
                         threading.Thread(target=self._listen_loop, name="kadr-events-in", daemon=True)]

    def start(self, timeout_s: float = 10.0) -> None:
        """Start both threads; wait (up to ``timeout_s``) until LISTEN is in force, so no peer event is missed after."""
        self.bus.forward_to(self.offer)
        for thread in self._threads:
            thread.start()
        if not self._listening.wait(timeout_s):
            log.warning("not yet listening for other replicas' events after %g s; will keep trying", timeout_s)

    def stop(self) -> None:
        self.bus.forward_to(None)
        self._stop.set()
        try:
            self._outbox.put_nowait(None)
        except queue.Full:
            pass
        for thread in self._threads:
            thread.join(timeout=5)

    def offer(self, event: VideoEvent) -> None:
        while True:
            try:
                self._outbox.put_nowait((event.user_id, event.job_id))
                return
            except queue.Full:
                try:
                    self._outbox.get_nowait()
                except queue.Empty:
                    pass

    def _send_loop(self) -> None:
        import psycopg

        pending: list[tuple[int, str]] = []
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    while not self._stop.is_set():
                        if not pending:
                            item = self._outbox.get()
                            if item is None:
                                return
                            pending.append(item)
                        while len(pending) < 256:  # whatever else is waiting goes in the same round trip
                            try:
                                item = self._outbox.get_nowait()
                            except queue.Empty:
                                break
                            if item is None:
                                self._stop.set()
                                break
                            pending.append(item)
                        batch = list(dict.fromkeys(pending))  # one notification per job and batch
                        with conn.pipeline():
                            for user_id, job_id in batch:
                                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, json.dumps(
                                    {"r": self.replica_id, "u": user_id, "j": job_id}, separators=(",", ":"))))
                        pending.clear()
            except Exception as exc:  # the database went away: reconnect, then send what waited
                if self._stop.is_set():
                    return
                log.warning("cannot tell other replicas of job events (%s); retrying", exc)
                self._stop.wait(self.retry_s)

    def _listen_loop(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        heard: dict[str, int] = {}
                        for note in conn.notifies(timeout=0.2, stop_after=512):
                            peer = json.loads(note.payload)
                            if peer.get("r") != self.replica_id:
                                heard.pop(peer["j"], None)
                                heard[peer["j"]] = int(peer["u"])  # later notifications of a job move it last
                        for job_id, user_id in heard.items():
                            self.bus.publish(self.load(user_id, job_id), from_peer=True)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("not hearing other replicas' job events (%s); reconnecting", exc)
                self._stop.wait(self.retry_s)
