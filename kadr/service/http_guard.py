"""Connection-level limits uvicorn does not set on its own, and an access log that keeps keys out.

uvicorn (0.55, h11) arms its only timer, ``timeout_keep_alive``, after a response is complete; a
connection that opens and never completes its request headers (or sends nothing at all) has no timer
and is kept for ever, as is a request whose body stops half-way. h11 already refuses a header block
over 16 KiB (``h11_max_incomplete_event_size``), so size is bounded; time is what this adds:

- **headers**: a connection must complete a request's headers within ``headers_s`` of connecting, or
  of the end of its previous response (an idle keep-alive connection is closed earlier, after
  ``timeout_keep_alive``), else it gets ``408`` and is closed;
- **body**: a request's whole body must arrive within ``body_s`` of its headers, else ``408`` and close
  (the application sees the client disconnect);
- **per client**: at most ``per_client`` connections open from one address; the next gets ``503`` and
  is closed at once.

All three are enforced in :class:`GuardedH11Protocol`, uvicorn's h11 protocol with two timers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("kadr.service.http")

# Query parameters whose values never reach a log: anything that looks like a credential.
SECRET_PARAMETER = re.compile(r"(key|token|secret|password|passwd|auth|signature|sig|credential|session)", re.I)
# ... and values that look like a key whatever their parameter is called (kadr's keys, OpenAI-style ones).
KEY_LIKE_VALUE = re.compile(r"^(kadr-|sk-)[A-Za-z0-9_\-]{8,}")
REDACTED = "REDACTED"


@dataclass(frozen=True)
class ConnectionLimits:
    headers_s: float
    body_s: float
    per_client: int  # 0: no cap
    on_refused: Callable[[str], None] = lambda reason: None  # reason: per_client_cap, header_timeout, body_timeout


def _raw_response(status: int, reason: str, message: str, code: str) -> bytes:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error" if status < 500 else "server_error",
                                 "param": None, "code": code}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode()
    return head + body


def guarded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with ``limits`` (pass it as ``uvicorn.Config(http=...)``)."""

    class GuardedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None
            self._body_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else None
            if limits.per_client and host is not None:
                open_here = sum(1 for c in self.connections if getattr(c, "client", None) and c.client[0] == host)
                if open_here > limits.per_client:  # this connection included
                    limits.on_refused("per_client_cap")
                    self._refuse(503, "Service Unavailable",
                                 f"Too many connections from {host}: at most {limits.per_client} at a time.",
                                 "too_many_connections")
                    return
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow_request()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # may start the next, pipelined request
            if not self.transport.is_closing():
                self._arm_header_timer()
                self._follow_request()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        # ---- the timers --------------------------------------------------------------------------

        def _follow_request(self) -> None:
            """Headers complete: the header timer goes; a body pending: the body timer runs until it is in."""
            theirs = self.conn.their_state
            if theirs is not h11.IDLE and self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            if theirs is h11.SEND_BODY:
                if self._body_timer is None:
                    self._body_timer = self.loop.call_later(limits.body_s, self._body_timeout)
            elif self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(limits.headers_s, self._header_timeout)

        def _cancel_timers(self) -> None:
            for timer in (self._header_timer, self._body_timer):
                if timer is not None:
                    timer.cancel()
            self._header_timer = self._body_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            limits.on_refused("header_timeout")
            self._refuse(408, "Request Timeout",
                         f"The request's headers did not arrive within {limits.headers_s:g} s.", "request_timeout")

        def _body_timeout(self) -> None:
            self._body_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
                return
            limits.on_refused("body_timeout")
            started = self.cycle is not None and self.cycle.response_started
            if self.cycle is not None:  # the application's receive() now returns http.disconnect
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            if started:
                self.transport.close()
            else:
                self._refuse(408, "Request Timeout",
                             f"The request's body did not arrive within {limits.body_s:g} s.", "request_timeout")

        def _refuse(self, status: int, reason: str, message: str, code: str) -> None:
            self._cancel_timers()
            if not self.transport.is_closing():
                self.transport.write(_raw_response(status, reason, message, code))
                self.transport.close()

    return GuardedH11Protocol


# ---- the access log ------------------------------------------------------------------------------


def redact_query(target: str) -> str:
    """``/v1/videos?api_key=sk-…&limit=2`` -> ``/v1/videos?api_key=REDACTED&limit=2``."""
    path, sep, query = target.partition("?")
    if not sep or not query:
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return path + "?" + (REDACTED if SECRET_PARAMETER.search(query) else query)

    def secret(name: str, value: str) -> bool:
        return bool(SECRET_PARAMETER.search(name) or KEY_LIKE_VALUE.match(value) or KEY_LIKE_VALUE.match(name))

    if not any(secret(name, value) for name, value in pairs):
        return target
    return path + "?" + urlencode([(REDACTED, "") if KEY_LIKE_VALUE.match(name) else
                                   (name, REDACTED if secret(name, value) else value)
                                   for name, value in pairs], safe="/:,")


class RedactQueryFilter(logging.Filter):
    """On uvicorn's access logger: key-like query parameters are logged as ``REDACTED``.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with (client, method, path with query, version, status).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True
