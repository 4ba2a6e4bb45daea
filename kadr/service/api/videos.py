"""/v1/videos: OpenAI's Videos API (create, retrieve, list, delete, content, remix, edit, extend) plus kadr's cancel.

The characters' routes (/v1/videos/characters) are in characters.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response, StreamingResponse

from kadr.service.api import deps
from kadr.service.api.bodies import CreateVideoBody, body_of, create_video_body
from kadr.service.api.edit_bodies import FromVideoBody, edit_body, extend_body, remix_body
from kadr.service.api.errors import error_responses
from kadr.service.api.models import VideoDeleted, VideoList, VideoObject, as_video
from kadr.service.artifacts import RemoteObject
from kadr.service.edits import CharacterService, EditService, RemixVideo
from kadr.service.jobs import video_object
from kadr.service.store import UserRecord
from kadr.service.videos import VIDEO_ID_PATTERN, Variant, VideoService

router = APIRouter(prefix="/v1", dependencies=[Depends(deps.current_user)])

User = Annotated[UserRecord, Depends(deps.current_user)]
Videos = Annotated[VideoService, Depends(deps.videos)]


async def _characters(request: Request) -> CharacterService:
    return request.app.state.characters


Characters = Annotated[CharacterService, Depends(_characters)]
# Documented with its pattern; checked by the service (a 404 that quotes no long id), not by FastAPI.
VideoId = Annotated[str, PathParam(json_schema_extra={"pattern": VIDEO_ID_PATTERN},
                              description="A video's id: video_ and 24 hex digits.")]
CONTENT_TYPES: dict[str, Any] = {
    "video/mp4": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
}


@router.post("/videos", response_model=VideoObject, responses=error_responses(400, 404),
             openapi_extra=body_of(("application/json", "CreateVideoJSON"), ("multipart/form-data", "CreateVideoForm")))
async def create_video(body: Annotated[CreateVideoBody, Depends(create_video_body)], user: User,
                       service: Videos, characters: Characters) -> VideoObject:
    reference = None
    if body.fields.characters:  # a character's picture (404 naming characters when it is none of theirs)
        reference = Path(characters.characters_of(user, body.fields.characters, "characters")[0].image_path)
    record = await run_in_threadpool(service.create, user, body.fields, body.image, body.last_image, reference)
    return as_video(video_object(record))


@router.get("/videos", response_model=VideoList, responses=error_responses(400, 404))
def list_videos(user: User, service: Videos,
                after: Annotated[str | None, Query(json_schema_extra={"pattern": VIDEO_ID_PATTERN},
                                                   description="The id of the last video of the page before.")] = None,
                limit: Annotated[int, Query(ge=1, le=100)] = 20,
                order: Literal["asc", "desc"] = "desc") -> VideoList:
    records, more = service.list(user, after, limit, order)
    data = [as_video(video_object(r)) for r in records]
    return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=more)


@router.get("/videos/{video_id}", response_model=VideoObject, responses=error_responses(404))
async def retrieve_video(video_id: VideoId, user: User, service: Videos) -> VideoObject:
    # async with one explicit hop for the store read: for a plain ``def`` route FastAPI takes a second
    # hop to a thread to check the response, and clients poll this route several times a second.
    record = await run_in_threadpool(service.get, user, video_id)
    return as_video(video_object(record))


@router.delete("/videos/{video_id}", response_model=VideoDeleted, responses=error_responses(404))
def delete_video(video_id: VideoId, user: User, service: Videos) -> VideoDeleted:
    service.delete(user, video_id)
    return VideoDeleted(id=video_id)


@router.post("/videos/{video_id}/cancel", response_model=VideoObject, responses=error_responses(404))
def cancel_video(video_id: VideoId, user: User, service: Videos) -> VideoObject:
    return as_video(video_object(service.cancel(user, video_id)))


@router.get("/videos/{video_id}/content", response_class=FileResponse,
            responses={200: {"content": CONTENT_TYPES, "description": "The MP4 (variant=video), the poster PNG "
                             "(thumbnail) or the sprite sheet JPEG (spritesheet)."}, **error_responses(400, 404, 409)})
def video_content(video_id: VideoId, user: User, service: Videos, request: Request,
                  variant: Variant = "video") -> Response:
    content = service.content(user, video_id, variant)
    headers = {"cache-control": "private, max-age=3600"}
    if isinstance(content.path, RemoteObject):  # kept in the object store: streamed from it (kadr.service.artifacts)
        opened = content.path.open(request.headers.get("range"))
        return StreamingResponse(opened.body, status_code=opened.status, media_type=content.media_type, headers={
            **headers, **opened.headers, "content-disposition": f'inline; filename="{content.filename}"'})
    return FileResponse(content.path, media_type=content.media_type, filename=content.filename,
                        content_disposition_type="inline", headers=headers)


# ---- going on from a video (issue 18): remix, edit, extend ---------------------------------------


async def edits(request: Request) -> EditService:
    return request.app.state.edits


Edits = Annotated[EditService, Depends(edits)]
FROM_VIDEO_ERRORS = error_responses(400, 404, 409)


@router.post("/videos/{video_id}/remix", response_model=VideoObject, responses=FROM_VIDEO_ERRORS,
             openapi_extra=body_of(("application/json", "RemixVideoJSON")))
async def remix_video(video_id: VideoId, body: Annotated[RemixVideo, Depends(remix_body)], user: User,
                      service: Edits) -> VideoObject:
    """The completed video again with a changed prompt, keeping its layout and motion (``remixed_from_video_id``)."""
    record = await run_in_threadpool(service.remix, user, video_id, body)
    return as_video(video_object(record))


@router.post("/videos/edits", response_model=VideoObject, responses=FROM_VIDEO_ERRORS,
             openapi_extra=body_of(("multipart/form-data", "EditVideoForm"), ("application/json", "EditVideoJSON")))
async def edit_video(body: Annotated[FromVideoBody, Depends(edit_body)], user: User, service: Edits) -> VideoObject:
    """A remix of one of your videos (``video[id]``) or of an uploaded video file."""
    record = await run_in_threadpool(service.remix, user, body.video, body.fields, "edit")
    return as_video(video_object(record))


@router.post("/videos/extensions", response_model=VideoObject, responses=FROM_VIDEO_ERRORS,
             openapi_extra=body_of(("multipart/form-data", "ExtendVideoForm"), ("application/json", "ExtendVideoJSON")))
async def extend_video(body: Annotated[FromVideoBody, Depends(extend_body)], user: User, service: Edits) -> VideoObject:
    """The video and ``seconds`` more, from its last frames; the result is the whole, longer video."""
    record = await run_in_threadpool(service.extend, user, body.video, body.fields)
    return as_video(video_object(record))
