"""Reading the bodies of remix, edit, extend and create_character, and their schemas for the OpenAPI document.

The official client sends remix as JSON and the others as multipart forms, where the source video is a
file field ``video`` or a reference ``video[id]``; JSON bodies say ``"video": {"id": "video_…"}``. As in
bodies.py, whatever arrives answers 400 in OpenAI's shape naming the field, never FastAPI's 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from kadr.service.api.bodies import MAX_FORM_FIELDS, _data_url, _short, parse_json_object, validate
from kadr.service.api.errors import ApiError
from kadr.service.edits import CreateCharacter, ExtendVideo, RemixVideo, UploadedVideo, VideoRef
from kadr.service.videos import DATA_URL_PATTERN, VIDEO_ID_PATTERN, UploadedImage, text_schema

@dataclass(frozen=True)
class FromVideoBody:
    video: VideoRef
    fields: RemixVideo | ExtendVideo


@dataclass(frozen=True)
class CharacterBody:
    fields: CreateCharacter
    picture: UploadedImage | UploadedVideo | str  # an image, a video file, or one of the user's video ids


@dataclass
class _Read:
    fields: dict[str, Any]
    files: dict[str, UploadedVideo]
    form: bool


async def remix_body(request: Request) -> RemixVideo:
    """POST /v1/videos/{video_id}/remix: JSON (as the client sends it) or a form."""
    read = await _read(request, file_fields=())
    return validate(RemixVideo, read.fields, strict=not read.form)


async def edit_body(request: Request) -> FromVideoBody:
    return await _from_video(request, RemixVideo)


async def extend_body(request: Request) -> FromVideoBody:
    return await _from_video(request, ExtendVideo)


async def character_body(request: Request) -> CharacterBody:
    """POST /v1/videos/characters: ``name`` and one of ``video`` (a file or {"id"}) or ``image`` (a file or data: URL)."""
    read = await _read(request, file_fields=("video", "image"))
    video = read.fields.pop("video", None)
    image = read.fields.pop("image", None)
    if video is not None and "video" in read.files or image is not None and "image" in read.files:
        raise ApiError(400, "video: send a file or a reference ({\"id\": …}), not both.", param="video",
                       code="invalid_value")
    given = [name for name, value in (("video", video or read.files.get("video")),
                                      ("image", image or read.files.get("image"))) if value is not None]
    if len(given) != 1:
        raise ApiError(400, "Send one of video (a video file, or {\"id\": \"video_…\"} for one of your videos) or "
                            "image (a picture)" + (", not both." if given else "."),
                       param="video", code="missing_required_parameter" if not given else "invalid_value")
    fields = validate(CreateCharacter, read.fields, strict=not read.form)
    picture: UploadedImage | UploadedVideo | str
    if "image" in read.files:
        file = read.files["image"]
        picture = UploadedImage(file.data, file.filename)
    elif image is not None:
        if not isinstance(image, str):
            raise ApiError(400, "image: expected a file upload or a data: URL.", param="image", code="invalid_value")
        picture = _data_url(image, "image")
    elif "video" in read.files:
        picture = read.files["video"]
    else:
        picture = _video_id(video)
    return CharacterBody(fields, picture)


async def _from_video(request: Request, model: type[RemixVideo] | type[ExtendVideo]) -> FromVideoBody:
    read = await _read(request, file_fields=("video",))
    if "video" in read.files:
        if "video" in read.fields:
            raise ApiError(400, "video: send a file or a reference ({\"id\": …}), not both.", param="video",
                           code="invalid_value")
        video: VideoRef = read.files["video"]
    elif "video" in read.fields:
        video = _video_id(read.fields.pop("video"))
    else:
        raise ApiError(400, "Missing required parameter: 'video' (a video file, or {\"id\": \"video_…\"}).",
                       param="video", code="missing_required_parameter")
    return FromVideoBody(video, validate(model, read.fields, strict=not read.form))


def _video_id(reference: Any) -> str:
    if isinstance(reference, dict) and set(reference) == {"id"} and isinstance(reference["id"], str):
        return reference["id"]
    raise ApiError(400, "video: expected {\"id\": \"video_…\"} (one of your completed videos) or a file upload.",
                   param="video", code="invalid_value")


async def _read(request: Request, file_fields: tuple[str, ...]) -> _Read:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return _Read(parse_json_object(await request.body()), {}, form=False)
    try:
        form = await request.form(max_files=2, max_fields=MAX_FORM_FIELDS)
    except StarletteHTTPException as exc:
        raise ApiError(400, f"The form body could not be read: {exc.detail}", code="invalid_form") from None
    try:
        fields: dict[str, Any] = {}
        files: dict[str, UploadedVideo] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key not in file_fields:
                    allowed = " or ".join(repr(f) for f in file_fields) or "no field here"
                    raise ApiError(400, f"Unexpected file field {_short(key)}: files go in {allowed}.",
                                   param=key[:40], code="unknown_parameter")
                if key in files:
                    raise ApiError(400, f"{key}: more than one file; send one.", param=key, code="invalid_value")
                files[key] = UploadedVideo(await value.read(), value.filename or "upload")
                continue
            name, sub = key, None
            if key.endswith("]") and "[" in key:  # video[id] -> {"video": {"id": …}}
                name, _, sub = key[:-1].partition("[")
            if name == "prompt" and value == "":
                continue  # an empty prompt means "go on with the source's"
            if sub is not None:
                target = fields.setdefault(name, {})
                if not isinstance(target, dict) or sub in target:
                    raise ApiError(400, f"{_short(key)}: given more than once.", param=name[:40],
                                   code="duplicate_parameter")
                target[sub] = value
            elif name in fields:
                raise ApiError(400, f"{_short(key)}: given more than once; send each field once.", param=name[:40],
                               code="duplicate_parameter")
            else:
                fields[name] = value
    finally:
        await form.close()
    return _Read(fields, files, form=True)


# ---- schemas for the OpenAPI document ---------------------------------------------------------------


def _properties(model: type[BaseModel]) -> tuple[dict[str, Any], list[str]]:
    schema = model.model_json_schema()
    props = {name: {k: v for k, v in prop.items() if k != "title"} for name, prop in schema["properties"].items()}
    return props, list(schema.get("required", []))


def _form(props: dict[str, Any]) -> dict[str, Any]:
    from kadr.service.api.bodies import _without_null

    return {name: _without_null(prop) for name, prop in props.items()}


VIDEO_REFERENCE = {"type": "object", "additionalProperties": False, "required": ["id"],
                   "properties": {"id": {"type": "string", "pattern": VIDEO_ID_PATTERN}},
                   "description": "One of your completed videos."}
VIDEO_FILE = {"type": "string", "contentMediaType": "application/octet-stream",
              "description": "A video file (MP4, WebM, MOV …)."}


def edit_schemas(model: dict[str, Any], max_prompt_chars: int) -> dict[str, dict[str, Any]]:
    """Component schemas of the request bodies read here. ``model``: the create body's ``model`` schema (the
    models this server can run, or sora-2 names); ``max_prompt_chars``: the server's prompt limit."""
    schemas: dict[str, dict[str, Any]] = {}
    prompt = text_schema("What to change: the new prompt.", required=True, max_chars=max_prompt_chars)
    optional_prompt = text_schema("What happens next; empty or left out: go on with the source's prompt.",
                                  required=False, max_chars=max_prompt_chars)
    for name, body, required in (("RemixVideo", RemixVideo, ["prompt"]), ("EditVideo", RemixVideo, ["prompt"]),
                                 ("ExtendVideo", ExtendVideo, [])):
        props, _ = _properties(body)
        props["prompt"] = prompt if required else optional_prompt
        props["model"] = {**model, "anyOf": [*model["anyOf"], {"type": "null"}]}
        if name == "RemixVideo":  # the source is the path's video_id
            schemas["RemixVideoJSON"] = {"type": "object", "additionalProperties": False, "required": required,
                                         "properties": props, "description": body.__doc__ or ""}
            continue
        schemas[name + "JSON"] = {"type": "object", "additionalProperties": False, "required": ["video", *required],
                                  "properties": {**props, "video": VIDEO_REFERENCE}, "description": body.__doc__ or ""}
        form = {**_form(props), "model": model}
        schemas[name + "Form"] = {
            "type": "object", "additionalProperties": False, "required": required,
            "properties": {**form, "video": VIDEO_FILE, "video[id]": VIDEO_REFERENCE["properties"]["id"]},
            "oneOf": [{"required": ["video"]}, {"required": ["video[id]"]}],
            "description": "The same as a form (the official client's): the source is the file 'video' or 'video[id]'."}
    character, _ = _properties(CreateCharacter)
    image_url = {"type": "string", "pattern": DATA_URL_PATTERN,
                 "description": "A base64 data: URL of a PNG, JPEG or WebP picture."}
    schemas["CreateCharacterJSON"] = {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "properties": {**character, "video": VIDEO_REFERENCE, "image": image_url},
        "oneOf": [{"required": ["video"]}, {"required": ["image"]}],
        "description": "A character: its name and its picture, from one of your videos (its sharpest frame) or a picture."}
    schemas["CreateCharacterForm"] = {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "properties": {**character, "video": {**VIDEO_FILE, "description": "A video file (its sharpest frame is "
                                                                            "kept) or a picture."},
                       "video[id]": VIDEO_REFERENCE["properties"]["id"],
                       "image": {"type": "string", "contentMediaType": "application/octet-stream",
                                 "description": "A PNG, JPEG or WebP picture."}},
        "oneOf": [{"required": ["video"]}, {"required": ["video[id]"]}, {"required": ["image"]}],
        "description": "The same as a form (the official client's)."}
    return schemas


