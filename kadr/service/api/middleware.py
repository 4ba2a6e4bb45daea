"""Pure ASGI middleware (no per-request task): request body limit, and HTTP metrics by route template."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kadr.service.metrics import ServiceMetrics


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")
        self.limit = limit


def _too_large_body(limit: int) -> bytes:
    return json.dumps({"error": {"message": f"The request body is larger than this server accepts "
                                            f"({limit // 2**20} MB).", "type": "invalid_request_error",
                                 "param": None, "code": "request_too_large"}}).encode()


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, max_body: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        length = _content_length(scope)
        if length is not None and length > self.max_body:
            await _send_json(send, 413, _too_large_body(self.max_body))
            self._observe(scope, 413, started)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        finally:
            self._observe(scope, status["code"], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or ("<unmatched>" if scope["path"].startswith("/v1") else "<static>")
        method = scope.get("method", "GET")
        self.metrics.http_requests.labels(method, template, str(status)).inc()
        if not template.endswith("/events"):
            self.metrics.http_latency.labels(method, template).observe(time.perf_counter() - started)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
