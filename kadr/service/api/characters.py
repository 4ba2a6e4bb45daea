"""/v1/videos/characters: OpenAI's create_character and get_character (and kadr's picture of it): a reference picture.

A later POST /v1/videos names characters by id (``characters``); a model that cannot take a reference
picture answers 400 ``unsupported_feature`` with param ``characters``, never a silent ignore.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from kadr.service.api import deps
from kadr.service.api.bodies import body_of
from kadr.service.api.edit_bodies import CharacterBody, character_body
from kadr.service.api.errors import error_responses
from kadr.service.api.models import CharacterObject
from kadr.service.api.videos import Characters
from kadr.service.edits import CHARACTER_ID_PATTERN
from kadr.service.store import CharacterRecord, UserRecord

router = APIRouter(prefix="/v1", dependencies=[Depends(deps.current_user)])

User = Annotated[UserRecord, Depends(deps.current_user)]
CharacterId = Annotated[str, Path(json_schema_extra={"pattern": CHARACTER_ID_PATTERN},
                                  description="A character's id: char_ and 24 hex digits.")]


def as_character(record: CharacterRecord) -> CharacterObject:
    return CharacterObject(id=record.id, created_at=int(record.created_at), name=record.name, width=record.width,
                           height=record.height, source=record.source, source_video_id=record.source_video_id)


@router.post("/videos/characters", response_model=CharacterObject, responses=error_responses(400, 404, 409),
             openapi_extra=body_of(("multipart/form-data", "CreateCharacterForm"),
                                   ("application/json", "CreateCharacterJSON")))
async def create_character(body: Annotated[CharacterBody, Depends(character_body)], user: User,
                           service: Characters) -> CharacterObject:
    """Keep a reference picture: an image, the sharpest frame of a video file, or of one of your videos."""
    return as_character(await run_in_threadpool(service.create, user, body.fields, body.picture))


@router.get("/videos/characters/{character_id}", response_model=CharacterObject, responses=error_responses(404))
def get_character(character_id: CharacterId, user: User, service: Characters) -> CharacterObject:
    return as_character(service.get(user, character_id))


@router.get("/videos/characters/{character_id}/content", response_class=FileResponse,
            responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "The character's reference picture (PNG)."}, **error_responses(404)})
def character_content(character_id: CharacterId, user: User, service: Characters) -> FileResponse:
    record = service.get(user, character_id)
    return FileResponse(record.image_path, media_type="image/png", filename=f"{record.id}.png",
                        content_disposition_type="inline", headers={"cache-control": "private, max-age=3600"})
