"""Going on from a video: remix, edit and extend; and characters' reference pictures (issue 18).

Each of remix, edit and extend makes an ordinary job (quota, cost, events, cancel, recovery) whose request
carries its source video: a copy of the original job's file, or of the uploaded one, in the new job's
folder (``source_video.<ext>``), so that deleting the original while the new job waits, or its expiry, changes
nothing. What the model cannot do is refused before anything is stored or charged, naming the field that
asked for it (kadr.service.features: a 400 with code ``unsupported_feature``).
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from PIL import Image
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from kadr.camera import CAMERA_MOTIONS
from kadr.errors import InvalidRequestError
from kadr.provenance.policy import enforce_policy
from kadr.request import MAX_FPS, MAX_SEED, MIN_FPS, STYLES, TIERS, VideoRequest, check_text, load_image
from kadr.service.jobfiles import JobFiles
from kadr.service.jobs import JobRecord, JobSource, SourceKind, total_seconds
from kadr.service.store import CharacterRecord, CharacterStore, UserRecord, new_character_id, new_job_id
from kadr.service.videos import (SECONDS_SCHEMA, NotFound, NotReady, UploadedImage, VideoService, WholeNumber,
                                 check_video_id, parse_seconds, resolve_model, text_schema)

SOURCE_STEM = "source_video"  # kadr.service.jobfiles' name for the field's file, so it is saved in place
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".gif")
CHARACTER_ID_PATTERN = r"^char_[0-9a-f]{24}$"
_CHARACTER_ID_RE = re.compile(CHARACTER_ID_PATTERN)
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class UploadedVideo:
    data: bytes
    filename: str


VideoRef = str | UploadedVideo  # one of the user's video ids, or a file sent with the request


@dataclass(frozen=True)
class SourceVideo:
    """The video a remix, edit or extension goes on from, copied into the new job's folder."""

    path: Path
    video_id: str | None  # None: an upload
    width: int
    height: int
    fps: float
    seconds: float
    original: JobRecord | None  # the user's job that made it, when it is one of theirs


# ---- request bodies (the API's; a new field here is in its schema) -----------------------------------


Strength = Annotated[float, Ge(0.05), Le(1.0)]
_PROMPT = WithJsonSchema(text_schema("What the new video shows (for an extension: what happens next; leave it "
                                     "empty to go on with the source's prompt).", required=False))


class _FromVideo(BaseModel):
    """Fields every remix, edit and extension takes besides the prompt: kadr's extras on OpenAI's bodies."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str | None, _PROMPT] = None
    model: Annotated[str | None, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}],
                                                 "description": "A model of GET /v1/models; default: the source's "
                                                                "model (or the tier's, for an upload)."})] = None
    quality: Literal[TIERS] | None = None  # type: ignore[valid-type]
    style: Literal[STYLES] | None = None  # type: ignore[valid-type]
    camera: Literal[CAMERA_MOTIONS] | None = None  # type: ignore[valid-type]
    seed: Annotated[int, Ge(0), Le(MAX_SEED), WholeNumber] | None = None


class RemixVideo(_FromVideo):
    """POST /v1/videos/{video_id}/remix and POST /v1/videos/edits: the video again with a changed prompt."""

    strength: Annotated[Strength | None, WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0.05, "maximum": 1},
                                                                   {"type": "null"}],
                                                         "description": "How much changes: 0.05 keeps almost all of "
                                                                        "the source, 1 makes it anew; default 0.6."})] = None


class ExtendVideo(_FromVideo):
    """POST /v1/videos/extensions: the video and N seconds more (the result is the whole, longer video)."""

    seconds: Annotated[Any, WithJsonSchema({**SECONDS_SCHEMA, "description": "Seconds to add, 1 to 30 (the whole "
                                                                              "video at most 30 s); default 4."})] = None


class CreateCharacter(BaseModel):
    """POST /v1/videos/characters: a name; the picture travels beside it (an image, a video's frame, or a video id)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, WithJsonSchema(text_schema("The character's display name.", required=True,
                                                    max_chars=MAX_NAME_CHARS))]


# ---- the service -----------------------------------------------------------------------------------


class EditService:
    """Remix, edit and extend, on top of the video service's store, planner and queue."""

    def __init__(self, videos: VideoService, max_video_bytes: int) -> None:
        self.videos = videos
        self.max_video_bytes = max_video_bytes

    def remix(self, user: UserRecord, video: VideoRef, body: RemixVideo, kind: SourceKind = "remix") -> JobRecord:
        prompt = check_text(body.prompt, "prompt", self.videos.limits.max_prompt_chars, required=True)
        return self._submit(user, video, body, kind, prompt, seconds=None, strength=body.strength)

    def extend(self, user: UserRecord, video: VideoRef, body: ExtendVideo) -> JobRecord:
        prompt = check_text(body.prompt, "prompt", self.videos.limits.max_prompt_chars)
        return self._submit(user, video, body, "extend", prompt, seconds=parse_seconds(body.seconds), strength=None)

    def _submit(self, user: UserRecord, video: VideoRef, body: _FromVideo, kind: SourceKind, prompt: str,
                seconds: float | None, strength: float | None) -> JobRecord:
        if prompt:
            enforce_policy(prompt, who=user.name)  # before anything is stored or charged
        job_id = new_job_id()
        folder = JobFiles.of(self.videos.videos_dir, job_id).folder
        try:
            source = self._source(user, video, folder)
            # One of the user's videos: go on with what it was made with, unless the body says otherwise.
            was: dict[str, Any] = dict(source.original.spec.request) if source.original is not None else {}
            tier = body.quality or was.get("tier") or "fast"
            spec = resolve_model(body.model or (source.original.spec.model if source.original is not None else None),
                                 tier, "text-to-video", (kind if kind != "edit" else "remix",))
            request = VideoRequest(
                prompt=prompt or was.get("prompt") or "", negative_prompt=was.get("negative_prompt"),
                # An extension adds ``seconds`` (the engine refuses more than the 30 s a video may have, as "seconds");
                # a remix is as long as its source (the engine's: at most 30 s of it).
                duration=seconds,
                aspect=(source.original.spec.plan or was).get("aspect") if source.original is not None else None,
                resolution=f"{source.width}x{source.height}", fps=min(max(round(source.fps), MIN_FPS), MAX_FPS),
                style=body.style or was.get("style"), camera=body.camera or was.get("camera"),
                tier=tier, model=spec.name,  # type: ignore[arg-type]
                seed=body.seed if body.seed is not None else secrets.randbits(32),
                source_video=source.path, mode="extend" if kind == "extend" else "remix", strength=strength,
            )
            return self.videos.submit(user, job_id, request, spec, JobSource(kind, source.video_id, source.seconds))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    # ---- the source ------------------------------------------------------------------------------

    def _source(self, user: UserRecord, video: VideoRef, folder: Path) -> SourceVideo:
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(video, UploadedVideo):
            suffix = Path(video.filename).suffix.lower()
            path = folder / (SOURCE_STEM + (suffix if suffix in VIDEO_SUFFIXES else ".mp4"))
            if len(video.data) > self.max_video_bytes:
                raise InvalidRequestError("video", f"{video.filename} ({len(video.data)} bytes)",
                                          f"a video file of at most {self.max_video_bytes // 2**20} MB")
            path.write_bytes(video.data)
            source = _probe_source(path, None, None, video.filename)
            pixels = self.videos.limits.max_image_pixels
            if source.width * source.height > pixels:
                raise InvalidRequestError("video", f"{video.filename} ({source.width}x{source.height})",
                                          f"a video of at most {pixels / 1e6:g} megapixels a frame")
            return source
        original = finished_video(self.videos, user, video, "video")
        assert original.video_path is not None
        path = folder / (SOURCE_STEM + Path(original.video_path).suffix)
        shutil.copyfile(original.video_path, path)
        return _probe_source(path, original.id, original, original.id)


def finished_video(videos: VideoService, user: UserRecord, video_id: str, param: str) -> JobRecord:
    """One of the user's completed videos whose file is still there; NotFound / NotReady naming ``param`` otherwise."""
    try:
        record = videos.jobs.get(check_video_id(video_id), user.id)
    except NotFound as exc:
        raise NotFound(str(exc), param=param) from None
    if record is None:
        raise NotFound(f"{param}: no video found with id '{video_id}'.", param=param)
    if record.status != "succeeded":
        raise NotReady(f"{param}: video '{video_id}' is {record.status}; only a completed video can be gone on from.")
    if record.video_path is None or not Path(record.video_path).is_file():
        raise NotFound(f"{param}: the file of video '{video_id}' is gone (expired or deleted).", param=param)
    return record


def _probe_source(path: Path, video_id: str | None, original: JobRecord | None, shown: str) -> SourceVideo:
    from kadr.video.probe import probe

    try:
        info = probe(path)
    except Exception as exc:  # PyAV's errors for a file that is not a video are many
        raise InvalidRequestError("video", shown, f"a video file PyAV can read (MP4, WebM, MOV …): {_reason(exc)}") from None
    if info.frames == 0 or info.fps <= 0:
        raise InvalidRequestError("video", shown, "a video with at least one frame")
    seconds = total_seconds(original) if original is not None else info.frames / info.fps
    return SourceVideo(path, video_id, info.width, info.height, info.fps, seconds, original)


# ---- characters ------------------------------------------------------------------------------------


class CharacterService:
    """A character is one reference picture: an image as sent, or the sharpest of a video's frames."""

    def __init__(self, characters: CharacterStore, videos: VideoService, folder: Path, max_video_bytes: int) -> None:
        self.characters = characters
        self.videos = videos
        self.folder = folder
        self.max_video_bytes = max_video_bytes

    def create(self, user: UserRecord, body: CreateCharacter, picture: UploadedImage | UploadedVideo | str) -> CharacterRecord:
        name = check_text(body.name, "name", MAX_NAME_CHARS, required=True)
        source: Literal["image", "video", "video_id"]
        video_id = None
        if isinstance(picture, UploadedImage):
            image, source = self.videos._image(picture), "image"
        elif isinstance(picture, UploadedVideo):
            if len(picture.data) > self.max_video_bytes:
                raise InvalidRequestError("video", f"{picture.filename} ({len(picture.data)} bytes)",
                                          f"a video file of at most {self.max_video_bytes // 2**20} MB")
            image, source = _picture_of_upload(picture, self.videos)
        else:
            record = finished_video(self.videos, user, picture, "video")
            image, source, video_id = _frame_of(Path(record.video_path or ""), record.id), "video_id", record.id
        if image.width * image.height > self.videos.limits.max_image_pixels:
            raise InvalidRequestError("video", f"a frame of {image.width}x{image.height}", "a picture of at most "
                                      f"{self.videos.limits.max_image_pixels / 1e6:g} megapixels")
        character_id = new_character_id()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{character_id}.png"
        image.save(path, format="PNG")
        record = CharacterRecord(character_id, user.id, name, str(path), image.width, image.height, source, video_id,
                                 self.videos.clock())
        try:
            return self.characters.add(record)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def get(self, user: UserRecord, character_id: str) -> CharacterRecord:
        return self.characters_of(user, [character_id], "character_id")[0]

    def characters_of(self, user: UserRecord, ids: list[str], param: str) -> list[CharacterRecord]:
        """The user's characters of these ids, in order; NotFound naming ``param`` for any that is not theirs."""
        found = []
        for character_id in ids:
            record = None
            if _CHARACTER_ID_RE.fullmatch(character_id):
                record = self.characters.get(character_id, user.id)
            if record is None or not Path(record.image_path).is_file():
                shown = repr(character_id) if len(character_id) <= 40 else f"of {len(character_id)} characters"
                raise NotFound(f"{param}: no character found with id {shown}.", param=param)
            found.append(record)
        return found


def _picture_of_upload(video: UploadedVideo, videos: VideoService) -> tuple[Image.Image, Literal["image", "video"]]:
    """An uploaded file for a character: a video (its sharpest frame) or, as kadr also takes, a picture."""
    try:
        with Image.open(io.BytesIO(video.data)) as probe:
            probe.verify()
        return videos._image(UploadedImage(video.data, video.filename)), "image"
    except InvalidRequestError:
        raise
    except Exception:
        pass  # not a picture: read it as a video
    with tempfile.NamedTemporaryFile(suffix=Path(video.filename).suffix or ".mp4", dir=videos.videos_dir.parent) as tmp:
        tmp.write(video.data)
        tmp.flush()
        return _frame_of(Path(tmp.name), video.filename), "video"


def _frame_of(path: Path, shown: str) -> Image.Image:
    """A character's picture from a clip: its sharpest frame (kadr.edit.reference, as the library takes one)."""
    from kadr.edit.reference import reference_from_video

    try:
        return load_image(reference_from_video(path), "video")
    except InvalidRequestError as exc:  # the library names its own field; here the file came as ``video``
        raise InvalidRequestError("video", shown, "a video file PyAV can read, or a PNG, JPEG or WebP picture "
                                  f"({exc.allowed})") from None


def _reason(exc: Exception) -> str:
    """What went wrong reading a file, without the server's path to it."""
    return getattr(exc, "strerror", None) or type(exc).__name__
