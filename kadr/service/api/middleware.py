"""Pure ASGI middleware (no per-request task): request body limit, HTTP metrics by route template, and a
clear 503 in OpenAI's error shape when the store or the disk cannot take a write (not a generic 500).

Metric labels come from fixed sets only (kadr.service.metrics): a method outside the standard ones
counts as ``OTHER``, a path that matches no route as ``<unmatched>``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kadr.service.generation import storage_error
from kadr.service.metrics import UNMATCHED_ROUTE, ServiceMetrics, method_label

log = logging.getLogger("kadr.service.api")

CLIENT_GONE = 499  # the status label of a request whose client went away before it was answered (nginx's)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")
        self.limit = limit


def _unavailable_body(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "server_error", "param": None, "code": code}}).encode()


def store_failure(exc: BaseException) -> tuple[str, str] | None:
    """(code, message) for an error that means the store or the disk cannot take a write now, else None."""
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        first = str(exc.orig).splitlines()[0] if getattr(exc, "orig", None) is not None else ""
        return "store_unavailable", (f"The job store cannot take this request right now ({first}). Nothing was "
                                     "accepted; try again later.")
    disk = storage_error(exc)
    if disk is not None:
        return "storage_unavailable", (f"The server cannot write its files right now ([Errno {disk.errno}] "
                                       f"{disk.strerror}). Nothing was accepted; try again later.")
    return None


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
                status["started"] = 1
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        except ClientDisconnect:  # the client left (or was cut off by the body timeout) mid-request
            if status.get("started"):
                raise
            status["code"] = CLIENT_GONE
        except Exception as exc:
            failure = store_failure(exc)
            if failure is None or status.get("started"):
                raise
            code, message = failure
            log.warning("%s %s: %s", scope.get("method"), scope.get("path"), message)
            status["code"] = 503
            await _send_json(send, 503, _unavailable_body(message, code), retry_after=5)
        finally:
            self._observe(scope, status["code"], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or (UNMATCHED_ROUTE if scope["path"].startswith("/v1") else "<static>")
        method = method_label(scope.get("method", "GET"))
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


async def _send_json(send: Send, status: int, body: bytes, retry_after: int | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
