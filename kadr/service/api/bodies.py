"""Reading request bodies, and their schemas for the OpenAPI document: one place for every JSON and form route.

A body is read here, never by FastAPI's own body parameters, so that whatever arrives (bytes that are not
UTF-8, JSON nested thousands of levels deep, a number of thousands of digits, a garbled multipart body)
answers 400 in OpenAI's error shape with what is wrong, and nothing reaches a route that its model did not
admit. JSON is validated strictly (``"4"`` is no integer); form fields, strings on the wire, are read as
their types. The schemas the document shows are the models' own (``model_json_schema``), so a field added
to a model is validated and documented at once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from kadr.service.api.errors import ApiError
from kadr.service.catalog import PromptCheck
from kadr.request import MAX_SHOTS
from kadr.service.videos import DATA_URL_PATTERN, CreateVideo, ShotIn, UploadedImage, text_schema

M = TypeVar("M", bound=BaseModel)

MAX_FORM_FIELDS = 64
_DATA_URL_RE = re.compile(DATA_URL_PATTERN)
# Form fields whose empty value means "not given" (the page sends an empty prompt with a picture).
_EMPTY_MEANS_UNSET = ("prompt", "negative_prompt")


@dataclass(frozen=True)
class CreateVideoBody:
    fields: CreateVideo
    image: UploadedImage | None
    last_image: UploadedImage | None = None  # the last frame (first and last frame): a file or a data: URL


# ---- reading --------------------------------------------------------------------------------------


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or ApiError(400) saying what is wrong with it."""
    if not raw.strip():
        raise ApiError(400, "The request body is empty: send a JSON object (Content-Type: application/json).",
                       code="missing_body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"The request body is not UTF-8 (byte {exc.start} is not); send JSON in UTF-8.",
                       code="invalid_encoding") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
                       code="invalid_json") from None
    except RecursionError:
        raise ApiError(400, "The request body is JSON nested too deeply to read.", code="invalid_json") from None
    except ValueError:  # an integer longer than Python's int-string conversion limit (4300 digits)
        raise ApiError(400, "The request body holds a number too long to read (thousands of digits).",
                       code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"The request body must be a JSON object, not {_json_kind(data)}.", code="invalid_json")
    return data


def validate(model: type[M], data: dict[str, Any], strict: bool) -> M:
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    except RecursionError:  # a value nested deep enough to exhaust the validator's stack
        raise ApiError(400, "A value in the request body is nested too deeply.", code="invalid_value") from None


async def prompt_check_body(request: Request) -> PromptCheck:
    return validate(PromptCheck, parse_json_object(await request.body()), strict=True)


async def create_video_body(request: Request) -> CreateVideoBody:
    """POST /v1/videos: JSON, or a form (multipart, as the openai client sends it; or urlencoded)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields, image, last = await _read_form(request)
        return CreateVideoBody(validate(CreateVideo, fields, strict=False), image, last)
    data = parse_json_object(await request.body())
    if "input_reference" in data and data["input_reference"] is None:  # the document admits an image only
        raise ApiError(400, "input_reference: got null; allowed: {\"image_url\": \"data:image/png;base64,…\"}, "
                            "or leave the field out for text-to-video.", param="input_reference", code="invalid_value")
    image = _json_reference(data.pop("input_reference", None))
    given = "last_image" in data
    last = data.pop("last_image", None)
    if given and not isinstance(last, str):  # null too: the document admits a data: URL only
        raise ApiError(400, "last_image: expected a data: URL (data:image/png;base64,…) or, in a form, a file.",
                       param="last_image", code="invalid_value")
    return CreateVideoBody(validate(CreateVideo, data, strict=True), image,
                           _data_url(last, "last_image") if last is not None else None)


async def _read_form(request: Request) -> tuple[dict[str, Any], UploadedImage | None, UploadedImage | None]:
    try:
        form = await request.form(max_files=4, max_fields=MAX_FORM_FIELDS)
    except StarletteHTTPException as exc:  # Starlette's word for a multipart body it cannot parse
        raise ApiError(400, f"The form body could not be read: {exc.detail}", code="invalid_form") from None
    try:
        items = form.multi_items()
        if not items:
            raise ApiError(400, "The form body holds no fields (for multipart/form-data: is the boundary right?); "
                                "send at least a prompt.", code="invalid_form")
        fields: dict[str, Any] = {}
        references: list[UploadedImage] = []
        reference_fields: dict[str, Any] = {}
        last: list[UploadedImage] = []
        for key, value in items:
            if key == "last_image":  # the last frame: a file, or a data: URL as a plain field
                last.append(UploadedImage(await value.read(), value.filename or "upload") if isinstance(value, UploadFile)
                            else _data_url(value, "last_image"))
            elif isinstance(value, UploadFile):
                if key != "input_reference":
                    raise ApiError(400, f"Unexpected file field {_short(key)}: the image goes in 'input_reference' "
                                        "(the last frame in 'last_image').", param=key[:40], code="unknown_parameter")
                references.append(UploadedImage(await value.read(), value.filename or "upload"))
            elif key in ("characters", "characters[]"):  # one id, or the openai client's way with a list in a form
                fields.setdefault("characters", []).append(value)
            elif key.startswith("shots["):
                raise ApiError(400, "shots: in a form, send the list as one field holding JSON "
                                    "(shots='[{\"prompt\": …, \"duration\": 3}]').", param="shots", code="invalid_value")
            elif key == "input_reference":  # a data: URL sent as a plain field
                references.append(_data_url(value))
            elif key.startswith("input_reference[") and key.endswith("]"):
                reference_fields[key[len("input_reference["):-1]] = value
            elif key in _EMPTY_MEANS_UNSET and value == "":
                continue
            elif key in fields:
                raise ApiError(400, f"{_short(key)}: given more than once; send each field once.", param=key[:40],
                               code="duplicate_parameter")
            else:
                fields[key] = value
        if reference_fields:
            references.append(_reference_object(reference_fields))
        if len(references) > 1:
            raise ApiError(400, f"input_reference: got {len(references)} images; allowed: one image per request.",
                           param="input_reference", code="invalid_value")
        if len(last) > 1:
            raise ApiError(400, f"last_image: got {len(last)} images; allowed: one.", param="last_image",
                           code="invalid_value")
    finally:
        await form.close()
    return fields, references[0] if references else None, last[0] if last else None


def _json_reference(reference: Any) -> UploadedImage | None:
    if reference is None:
        return None
    if isinstance(reference, str):
        return _data_url(reference)
    if isinstance(reference, dict):
        return _reference_object(reference)
    raise ApiError(400, "input_reference: expected {\"image_url\": \"data:image/png;base64,…\"} or a file upload.",
                   param="input_reference", code="invalid_value")


def _reference_object(reference: dict[str, Any]) -> UploadedImage:
    if reference.get("file_id"):
        raise ApiError(400, "input_reference.file_id: this server has no Files API; upload the image itself "
                            "(multipart 'input_reference') or send a data: URL in image_url.",
                       param="input_reference", code="unsupported_value")
    unknown = sorted(set(reference) - {"image_url", "file_id"})
    if unknown:
        raise ApiError(400, f"input_reference: unknown field {_short(unknown[0])}; allowed: image_url.",
                       param="input_reference", code="unknown_parameter")
    url = reference.get("image_url")
    if not isinstance(url, str):
        raise ApiError(400, "input_reference: expected image_url (a data: URL) or a file upload.",
                       param="input_reference", code="invalid_value")
    return _data_url(url)


def _data_url(url: str, param: str = "input_reference") -> UploadedImage:
    """A ``data:image/…;base64,…`` URL. Remote URLs are refused: the server fetches nothing on a client's behalf."""
    where = "input_reference.image_url" if param == "input_reference" else param
    if not url.startswith("data:"):
        raise ApiError(400, f"{where}: only data: URLs (base64 images) are accepted; "
                            "this server does not fetch remote URLs.", param=param, code="unsupported_value")
    match = _DATA_URL_RE.match(url)
    if match is None:
        raise ApiError(400, f"{where}: expected data:image/png, image/jpeg or image/webp;base64,…",
                       param=param, code="invalid_value")
    try:
        data = base64.b64decode(url[match.end():], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{where}: the base64 data is not valid.", param=param,
                       code="invalid_value") from None
    return UploadedImage(data, "image_url")


def _short(text: str, limit: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


# ---- schemas for the OpenAPI document ---------------------------------------------------------------


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema as a form field: a form cannot send null."""
    schema = dict(schema)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        schema.pop("anyOf")
        if len(options) == 1:
            schema.update(options[0])
        else:
            schema["anyOf"] = options
    if isinstance(schema.get("type"), list):
        types = [t for t in schema["type"] if t != "null"]
        schema["type"] = types[0] if len(types) == 1 else types
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    return schema


def request_schemas(models: list[str], max_prompt_chars: int) -> dict[str, dict[str, Any]]:
    """Component schemas of the request bodies: CreateVideoJSON, CreateVideoForm, PromptCheck.

    ``models``: the model names this server can run now (the enum of ``model``); ``max_prompt_chars``: its limit.
    """
    prompt = text_schema("What the video shows. Leave it out only with an input_reference (image-to-video).",
                         required=True, max_chars=max_prompt_chars)
    negative = text_schema("What to avoid.", required=False, max_chars=max_prompt_chars)
    model = {"anyOf": [{"type": "string", "enum": models}, {"type": "string", "pattern": "^sora-2"}],
             "description": "A model of GET /v1/models whose weights are here, or an OpenAI name starting with "
                            "sora-2 (sora-2: the fast tier's model; sora-2-pro: the high tier's)."}
    base = CreateVideo.model_json_schema()
    properties = {name: {k: v for k, v in prop.items() if k != "title"} for name, prop in base["properties"].items()}
    properties.update(prompt=prompt, model={**model, "anyOf": [*model["anyOf"], {"type": "null"}]},
                      negative_prompt={**negative, "type": ["string", "null"]})
    one_of_prompt_or_image = [{"required": ["prompt"]}, {"required": ["input_reference"]}, {"required": ["shots"]}]
    # "Not both": with size, no aspect (spelt without `not`, which fuzzers' coverage phase cannot judge on files);
    # shots set the length and take no pictures; a last frame needs a first.
    not_size_and_aspect = {"size": {"properties": {"aspect": False}},
                           "shots": {"properties": {"input_reference": False, "last_image": False, "seconds": False}},
                           "last_image": {"required": ["input_reference"]}}
    image_url = {"type": "string", "pattern": DATA_URL_PATTERN,
                 "description": "A base64 data: URL of a PNG, JPEG or WebP image (remote URLs are not fetched)."}
    shot = ShotIn.model_json_schema()
    shot = {**{k: v for k, v in shot.items() if k != "title"}, "additionalProperties": False,
            "properties": {name: {k: v for k, v in prop.items() if k != "title"} for name, prop in shot["properties"].items()}}
    shot["properties"]["prompt"] = text_schema("What the shot shows.", required=True, max_chars=max_prompt_chars)
    properties.update(
        shots={"type": "array", "minItems": 1, "maxItems": MAX_SHOTS, "items": shot,
               "description": "Several shots in one video (at most 30 s in all); the video's seconds is their sum."},
        characters={"type": "array", "maxItems": 1, "items": {"type": "string", "maxLength": 64},
                    "description": "One character's id (POST /v1/videos/characters): the video shows them."},
        last_image={**image_url, "description": "The last frame (with input_reference the first): a data: URL."})
    as_json = {
        "type": "object", "additionalProperties": False,
        "properties": {**properties, "input_reference": {
            "anyOf": [image_url, {"type": "object", "additionalProperties": False, "required": ["image_url"],
                                  "properties": {"image_url": image_url}}],
            "description": "The first frame, for image-to-video."}},
        "anyOf": one_of_prompt_or_image, "dependentSchemas": not_size_and_aspect,
        "description": base.get("description", ""),
    }
    form_properties = {name: _without_null(prop) for name, prop in properties.items()}
    form_properties["model"] = model
    form_properties["shots"] = {"type": "string", "contentMediaType": "application/json",
                                "description": "The shots as one field holding their JSON list."}
    form_properties["characters"] = {"type": "string", "maxLength": 64, "description": "One character's id."}
    form_properties["last_image"] = {"type": "string", "contentMediaType": "application/octet-stream",
                                     "description": "The last frame (with input_reference the first): a PNG, JPEG or "
                                                    "WebP file."}
    as_form = {
        "type": "object", "additionalProperties": False,
        "properties": {**form_properties, "input_reference": {
            "type": "string", "contentMediaType": "application/octet-stream",
            "description": "The first frame, for image-to-video: one PNG, JPEG or WebP file."}},
        "anyOf": one_of_prompt_or_image, "dependentSchemas": not_size_and_aspect,
        "description": "The same fields as a form; an empty prompt counts as none.",
    }
    check = PromptCheck.model_json_schema()
    check["properties"] = {name: {k: v for k, v in prop.items() if k != "title"}
                           for name, prop in check["properties"].items()}
    check["properties"]["prompt"] = text_schema("The prompt to read.", required=True, max_chars=max_prompt_chars)
    check.pop("title", None)
    return {"CreateVideoJSON": as_json, "CreateVideoForm": as_form, "PromptCheck": check}


def body_of(*components: tuple[str, str]) -> dict[str, Any]:
    """An operation's ``requestBody``: (media type, component name) pairs."""
    return {"requestBody": {"required": True, "content": {
        media: {"schema": {"$ref": f"#/components/schemas/{name}"}} for media, name in components}}}
