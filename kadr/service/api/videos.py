"""/v1/videos: OpenAI's Videos API (create, retrieve, list, delete, content) plus kadr's cancel."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from kadr.service.api import deps
from kadr.service.api.errors import ApiError
from kadr.service.api.models import VideoDeleted, VideoList, VideoObject, as_video
from kadr.service.jobs import video_object
from kadr.service.store import UserRecord
from kadr.service.videos import CreateVideo, UploadedImage, VideoService

router = APIRouter(prefix="/v1", dependencies=[Depends(deps.current_user)])

User = Annotated[UserRecord, Depends(deps.current_user)]
Videos = Annotated[VideoService, Depends(deps.videos)]


@router.post("/videos", response_model=VideoObject)
async def create_video(request: Request, user: User, service: Videos) -> VideoObject:
    fields, image = await _read_create_body(request)
    try:
        body = CreateVideo.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    record = await run_in_threadpool(service.create, user, body, image)
    return as_video(video_object(record))


@router.get("/videos", response_model=VideoList)
def list_videos(user: User, service: Videos, after: str | None = None,
                limit: Annotated[int, Query(ge=1, le=100)] = 20,
                order: Literal["asc", "desc"] = "desc") -> VideoList:
    records, more = service.list(user, after, limit, order)
    data = [as_video(video_object(r)) for r in records]
    return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=more)


@router.get("/videos/{video_id}", response_model=VideoObject)
async def retrieve_video(video_id: str, user: User, service: Videos) -> VideoObject:
    # async with one explicit hop for the store read: for a plain ``def`` route FastAPI takes a second
    # hop to a thread to check the response, and clients poll this route several times a second.
    record = await run_in_threadpool(service.get, user, video_id)
    return as_video(video_object(record))


@router.delete("/videos/{video_id}", response_model=VideoDeleted)
def delete_video(video_id: str, user: User, service: Videos) -> VideoDeleted:
    service.delete(user, video_id)
    return VideoDeleted(id=video_id)


@router.post("/videos/{video_id}/cancel", response_model=VideoObject)
def cancel_video(video_id: str, user: User, service: Videos) -> VideoObject:
    return as_video(video_object(service.cancel(user, video_id)))


@router.get("/videos/{video_id}/content", response_model=None)
def video_content(video_id: str, user: User, service: Videos,
                  variant: Literal["video", "thumbnail", "spritesheet"] = "video") -> FileResponse:
    content = service.content(user, video_id, variant)
    return FileResponse(content.path, media_type=content.media_type, filename=content.filename,
                        content_disposition_type="inline", headers={"cache-control": "private, max-age=3600"})


# ---- reading the create body: JSON, or multipart as the openai client always sends it ------------


async def _read_create_body(request: Request) -> tuple[dict[str, Any], UploadedImage | None]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _read_form(request)
    raw = await request.body()
    if not raw.strip():
        return {}, None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "We could not parse the JSON body of your request.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    reference = data.pop("input_reference", None)
    image = None
    if isinstance(reference, str):
        image = _data_url(reference)
    elif isinstance(reference, dict):
        image = _reference_object(reference)
    elif reference is not None:
        raise ApiError(400, "input_reference: expected {\"image_url\": \"data:image/png;base64,…\"} or a file upload.",
                       param="input_reference", code="invalid_value")
    return data, image


async def _read_form(request: Request) -> tuple[dict[str, Any], UploadedImage | None]:
    form = await request.form(max_files=2, max_fields=64)
    fields: dict[str, Any] = {}
    image: UploadedImage | None = None
    reference: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != "input_reference":
                raise ApiError(400, f"Unexpected file field '{key}': the image goes in 'input_reference'.",
                               param=key, code="unknown_parameter")
            image = UploadedImage(await value.read(), value.filename or "upload")
        elif key.startswith("input_reference[") and key.endswith("]"):
            reference[key[len("input_reference["):-1]] = value
        elif value != "":  # an empty form field means "not given"
            fields[key] = value
    await form.close()
    if reference and image is None:
        image = _reference_object(reference)
    return fields, image


def _reference_object(reference: dict[str, Any]) -> UploadedImage:
    if reference.get("file_id"):
        raise ApiError(400, "input_reference.file_id: this server has no Files API; upload the image itself "
                            "(multipart 'input_reference') or send a data: URL in image_url.",
                       param="input_reference", code="unsupported_value")
    url = reference.get("image_url")
    if not isinstance(url, str):
        raise ApiError(400, "input_reference: expected image_url (a data: URL) or a file upload.",
                       param="input_reference", code="invalid_value")
    return _data_url(url)


def _data_url(url: str) -> UploadedImage:
    """A ``data:image/…;base64,…`` URL. Remote URLs are refused: the server fetches nothing on a client's behalf."""
    if not url.startswith("data:"):
        raise ApiError(400, "input_reference.image_url: only data: URLs (base64 images) are accepted; "
                            "this server does not fetch remote URLs.", param="input_reference", code="unsupported_value")
    header, _, payload = url.partition(",")
    if ";base64" not in header:
        raise ApiError(400, "input_reference.image_url: expected a base64 data: URL.", param="input_reference",
                       code="invalid_value")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "input_reference.image_url: the base64 data is not valid.", param="input_reference",
                       code="invalid_value") from None
    return UploadedImage(data, "image_url")
