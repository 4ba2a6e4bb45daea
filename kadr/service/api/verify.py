"""POST /v1/verify: a file's provenance (C2PA manifest and kadr's watermark), as ``kadr verify --json``.

``install(app)`` includes the route and maps a prompt the content policy refuses (raised by the
service's job submission) to OpenAI's error shape with the code ``moderation_blocked``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kadr.provenance.policy import ContentRefused
from kadr.service.api import deps
from kadr.service.api.errors import ApiError, error_response, error_responses
from kadr.service.videos import VideoService

router = APIRouter(prefix="/v1", dependencies=[Depends(deps.current_user)])

ALLOWED_SUFFIXES = (".mp4", ".gif", ".png", ".webm", ".mov", ".jpg", ".jpeg", ".webp")
MAX_VERIFY_BYTES = 200 * 2**20
# The newest jobs a faint watermark is matched against: more candidates raise the score a match needs
# (kadr.provenance.watermark.match_threshold, 4 crops at 4 steps: 5.7 sigma for 10,000, 6.1 for 100,000).
MATCH_JOBS = 100_000


class ManifestInfo(BaseModel):
    valid: bool
    signer: str | None
    generator: dict[str, Any] | None
    trusted: bool
    state: str
    digital_source_type: str | None
    errors: list[str]


class WatermarkInfo(BaseModel):
    found: bool
    payload: dict[str, str] | None
    matched: bool = Field(False, description="the payload was matched to one of this studio's jobs, not decoded")


class VerifyResponse(BaseModel):
    manifest: ManifestInfo | None
    watermark: WatermarkInfo
    verdict: str


@router.post("/verify", response_model=VerifyResponse, responses=error_responses(400))
async def verify(file: Annotated[UploadFile, File(description="the video or picture to check")],
                 videos: Annotated[VideoService, Depends(deps.videos)]) -> VerifyResponse:
    from kadr.provenance.verify import verify_file

    name = Path(file.filename or "upload").name[:100]
    head = await file.read(1 << 20)
    suffix = sniff_suffix(head) or Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ApiError(400, f"file: {name!r} is not a video or picture kadr can read; allowed: "
                            f"MP4, MOV, WebM, GIF, PNG, JPEG or WebP", code="invalid_value", param="file")
    with tempfile.TemporaryDirectory(prefix="kadr-verify-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        size = 0
        with open(path, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > MAX_VERIFY_BYTES:
                    raise ApiError(413, f"file: larger than {MAX_VERIFY_BYTES >> 20} MB", code="request_too_large", param="file")
                out.write(chunk)
                chunk = await file.read(1 << 20)
        try:
            # A mark too faint to decode (a re-encoded or downscaled copy) is matched against the studio's own
            # jobs, listed only then.
            result = await run_in_threadpool(verify_file, path, lambda: videos.jobs.ids(MATCH_JOBS))
        except ValueError as exc:
            raise ApiError(400, f"file: {str(exc).replace(str(path), name)}", code="invalid_value", param="file") from None
    body = result.to_dict()
    return VerifyResponse(manifest=body["manifest"], watermark=body["watermark"], verdict=result.verdict(name))


def sniff_suffix(head: bytes) -> str | None:
    """The file's kind from its first bytes (a client's file name may be missing or wrong)."""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:10] == b"qt" else ".mp4"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ".gif"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ".webp"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    return None


def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ContentRefused)
    return error_response(400, str(exc), code=ContentRefused.code, param="prompt")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ContentRefused, _refused)
    app.include_router(router)
