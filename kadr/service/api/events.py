"""Server-Sent Events: one ``data: <video object>`` per change, for one video or all of the user's."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from kadr.service.api import deps
from kadr.service.api.errors import error_responses
from kadr.service.api.videos import VideoId
from kadr.service.events import EventBus, Subscription
from kadr.service.jobs import video_object
from kadr.service.store import UserRecord
from kadr.service.videos import NotFound, VideoService

router = APIRouter(prefix="/v1", dependencies=[Depends(deps.current_user)])

User = Annotated[UserRecord, Depends(deps.current_user)]
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# One event's fields (schema of each event, as OpenAPI 3.2's itemSchema means it): ``data`` is a video object's JSON.
EVENT_SCHEMA = {"type": "object", "properties": {
    "data": {"type": "string", "contentMediaType": "application/json"},
    "event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer"}}}
STREAM = {"content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
          "description": "Server-Sent Events: one `data: <video object JSON>` per change, comments as keep-alives."}


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _stream(bus: EventBus, sub: Subscription, first: list[dict[str, Any]], stop_on_final: bool,
                  keepalive_s: float) -> AsyncIterator[str]:
    try:
        yield "retry: 2000\n: stream open\n\n"
        for payload in first:
            yield _event(payload)
        if stop_on_final and first and first[-1].get("kadr_status") in ("succeeded", "failed", "canceled"):
            return
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), keepalive_s)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event.closing:  # the server is shutting down (EventBus.close)
                return
            yield _event(event.payload)
            if stop_on_final and event.final:
                return
    finally:
        bus.unsubscribe(sub)


@router.get("/videos/{video_id}/events", response_class=StreamingResponse,
            responses={200: STREAM, **error_responses(404)})
async def video_events(video_id: VideoId, request: Request, user: User,
                       service: Annotated[VideoService, Depends(deps.videos)]) -> StreamingResponse:
    bus: EventBus = request.app.state.bus
    sub = bus.subscribe(user.id, video_id)  # before reading the state, so no change falls in between
    try:
        record = await run_in_threadpool(service.get, user, video_id)
    except NotFound:
        bus.unsubscribe(sub)
        raise
    keepalive = request.app.state.settings.sse_keepalive_s
    return StreamingResponse(_stream(bus, sub, [video_object(record)], True, keepalive),
                             media_type="text/event-stream", headers=HEADERS)


@router.get("/events", response_class=StreamingResponse, responses={200: STREAM, **error_responses()})
async def all_events(request: Request, user: User) -> StreamingResponse:
    bus: EventBus = request.app.state.bus
    sub = bus.subscribe(user.id)
    keepalive = request.app.state.settings.sse_keepalive_s
    return StreamingResponse(_stream(bus, sub, [], False, keepalive), media_type="text/event-stream", headers=HEADERS)
