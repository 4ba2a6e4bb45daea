"""Webhooks on completion and failure: signed like OpenAI's (Standard Webhooks), retried with backoff.

The delivery is written to the store's outbox in the same transaction that ends the job, so a crash
cannot lose it; this sender posts due deliveries and reschedules failed ones (2 s, 4 s, 8 s … up to an
hour apart, ``webhook_max_attempts`` tries in all). Each request carries

    webhook-id: evt_…           (the same on every retry; receivers dedupe on it)
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" with the user's secret>

which ``openai.OpenAI().webhooks.verify_signature(body, headers, secret=...)`` checks as it is. The body:
``{"id": "evt_…", "object": "event", "type": "video.completed" | "video.failed", "created_at": …,
"data": {"id": "video_…", "video": {…the video object…}}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from typing import Callable

import httpx

from kadr import __version__
from kadr.service.metrics import ServiceMetrics
from kadr.service.store import Delivery, JobStore

log = logging.getLogger("kadr.service.webhooks")

MAX_DELAY_S = 3600.0


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode("utf-8")


def sign(secret: str, event_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for ``body``."""
    digest = hmac.new(_key(secret), f"{event_id}.{timestamp}.{body}".encode("utf-8"), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers: dict[str, str], body: str, now: float, tolerance_s: int = 300) -> bool:
    """Check a delivery as a receiver would (kadr's own tests and receivers without the openai package)."""
    try:
        timestamp = int(headers["webhook-timestamp"])
        event_id = headers["webhook-id"]
        given = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, event_id, timestamp, body)
    return any(hmac.compare_digest(expected, g) for g in given)


def retry_delay(failed_attempts: int, base_s: float) -> float:
    """Seconds before the next try after ``failed_attempts`` failures: base, 2·base, 4·base … (at most 1 h)."""
    return min(MAX_DELAY_S, base_s * 2 ** max(0, failed_attempts - 1))


class WebhookSender:
    """A thread posting due deliveries from the outbox."""

    def __init__(self, jobs: JobStore, metrics: ServiceMetrics, *, timeout_s: float, max_attempts: int,
                 retry_base_s: float, clock: Callable[[], float] = time.time) -> None:
        self.jobs = jobs
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.clock = clock
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False,
                                    headers={"user-agent": f"kadr-webhooks/{__version__}"})
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kadr-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self._client.timeout.read or 10)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for delivery in self.jobs.due_deliveries(self.clock()):
                    if self._stop.is_set():
                        return
                    self.deliver(delivery)
                upcoming = self.jobs.next_delivery_at()
            except Exception:  # the store may be briefly unavailable; try again shortly
                log.exception("webhook sender")
                upcoming = None
            wait = 1.0 if upcoming is None else min(1.0, max(0.0, upcoming - self.clock()))
            self._wake.wait(wait)
            self._wake.clear()

    def deliver(self, delivery: Delivery) -> bool:
        """One attempt; records the result (delivered, retry later, or given up)."""
        secret = self.jobs.webhook_secret(delivery.user_id)
        now = self.clock()
        if secret is None:
            self.jobs.delivery_failed(delivery.id, "the user or their webhook was removed", None)
            self.metrics.webhooks.labels("dropped").inc()
            return False
        timestamp = int(now)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, delivery.id, timestamp, delivery.payload),
        }
        error: str | None = None
        try:
            response = self._client.post(delivery.url, content=delivery.payload.encode("utf-8"), headers=headers)
            if 200 <= response.status_code < 300:
                self.jobs.delivery_done(delivery.id, self.clock())
                self.metrics.webhooks.labels("delivered").inc()
                return True
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        failures = delivery.attempts + 1
        if failures >= self.max_attempts:
            self.jobs.delivery_failed(delivery.id, error, None)
            self.metrics.webhooks.labels("failed").inc()
            log.warning("webhook %s for %s given up after %d attempts: %s", delivery.id, delivery.job_id, failures, error)
        else:
            self.jobs.delivery_failed(delivery.id, error, self.clock() + retry_delay(failures, self.retry_base_s))
            self.metrics.webhooks.labels("retry").inc()
        return False
