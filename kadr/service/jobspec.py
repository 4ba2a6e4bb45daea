"""JobSpec: a job as one typed, versioned, JSON-serialisable value, the same at every boundary.

What the API accepted (the validated :class:`~kadr.request.VideoRequest`, every field of it) plus the
plan the API made for it (:class:`~kadr.engine.GenerationPlan`: model, size, frames, steps, seed, final
prompt ...). The API builds it once; the store keeps it as JSON in the job's ``params`` column; the
scheduler hands it to a local worker process or a Ray actor, which runs the plan exactly as given
(``Engine.generate(request, output, plan=plan)``) and never plans again.

Serialisation is generic over the dataclass fields: a field added to VideoRequest (or to the plan)
travels without new copying code. Pictures and the source video are not inlined: they are files of the
job (kadr.service.jobfiles), and the spec names them (``files``: field -> file name in the job's folder).

Job rows written before JobSpec hold the old ``JobParams`` dict (no ``version``): they are read as a
*legacy* spec, whose ``plan`` is None, and a worker plans those itself, as it always did. They are not
rewritten in the database; they run once and keep their row as it was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from PIL import Image

from kadr.request import VideoRequest

if TYPE_CHECKING:
    from kadr.engine import GenerationPlan
    from kadr.service.jobfiles import JobFiles

JOB_SPEC_VERSION = 1
SUPPORTED_VERSIONS = (JOB_SPEC_VERSION,)
_REQUEST_FIELDS = {f.name: f for f in fields(VideoRequest)}
# What a JobParams dict (before JobSpec) held; with an image_path column beside it.
LEGACY_FIELDS = ("prompt", "negative_prompt", "duration", "aspect", "resolution", "fps", "style", "camera", "tier",
                 "model", "seed", "loop")


class JobSpecError(ValueError):
    """A stored or sent job spec that this kadr cannot run (unknown version, malformed); says which and why."""


@dataclass(frozen=True)
class JobSpec:
    """One job: ``request`` (VideoRequest's fields as JSON values, files aside), ``files`` and ``plan``.

    Build it with :meth:`of`; read it back with :meth:`from_dict` / :meth:`from_json`. Treat the dicts
    as read-only: the value is meant to be passed along, not edited.
    """

    request: dict[str, Any]
    plan: dict[str, Any] | None  # GenerationPlan.to_dict(); None only for a legacy row (planned by the worker)
    files: dict[str, str] = field(default_factory=dict)  # request field -> file name in the job's folder
    version: int = JOB_SPEC_VERSION

    # ---- building ------------------------------------------------------------------------------

    @classmethod
    def of(cls, request: VideoRequest, plan: "GenerationPlan", files: Mapping[str, str] | None = None) -> "JobSpec":
        """The spec of ``request`` planned as ``plan``; ``files`` names the saved inputs (JobFiles.save_inputs).

        A field holding a picture or a path with no file name in ``files`` is refused: it would not reach
        the worker.
        """
        files = dict(files or {})
        encoded: dict[str, Any] = {}
        for name in _REQUEST_FIELDS:
            value = getattr(request, name)
            if isinstance(value, (Image.Image, Path)):
                if name not in files:
                    raise JobSpecError(f"request.{name} is a file ({type(value).__name__}); save it into the job's "
                                       "folder (JobFiles.save_inputs) and pass its name in files")
                continue
            encoded[name] = _to_json(value, f"request.{name}")
        unknown = sorted(set(files) - set(_REQUEST_FIELDS))
        if unknown:
            raise JobSpecError(f"files: {unknown[0]!r} is not a field of VideoRequest")
        spec = cls(request=encoded, plan=plan.to_dict(), files=files)
        json.dumps(spec.to_dict())  # fail here, naming nothing stored yet, rather than in the store
        return spec

    @classmethod
    def legacy(cls, params: Mapping[str, Any], image_path: str | None) -> "JobSpec":
        """A job row written before JobSpec: its JobParams dict and image path; the worker will plan it."""
        request = {name: params.get(name) for name in LEGACY_FIELDS if params.get(name) is not None}
        request["format"] = "mp4"
        files = {"image": Path(image_path).name} if image_path else {}
        return cls(request=request, plan=None, files=files)

    # ---- serialising -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "request": self.request, "files": self.files, "plan": self.plan}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "JobSpec":
        """The spec :meth:`to_dict` wrote; JobSpecError for another version or a malformed one."""
        if not isinstance(data, Mapping):
            raise JobSpecError(f"a job spec is a JSON object, not {type(data).__name__}")
        version = data.get("version")
        if version not in SUPPORTED_VERSIONS:
            raise JobSpecError(f"job spec version {version!r} is not one this kadr runs "
                               f"(it runs version {', '.join(map(str, SUPPORTED_VERSIONS))}); "
                               "was the job queued by a newer kadr?")
        request, plan, files = data.get("request"), data.get("plan"), data.get("files", {})
        if not isinstance(request, dict) or not isinstance(plan, (dict, type(None))) or not isinstance(files, dict):
            raise JobSpecError("a job spec needs request (an object), plan (an object; null only for a legacy job) "
                               "and files (an object of names)")
        unknown = sorted((set(request) | set(files)) - set(_REQUEST_FIELDS))
        if unknown:
            raise JobSpecError(f"job spec: request field {unknown[0]!r} is unknown to this kadr's VideoRequest")
        return cls(request=dict(request), plan=dict(plan) if plan is not None else None, files={str(k): str(v) for k, v in files.items()},
                   version=int(version))

    @classmethod
    def from_json(cls, text: str) -> "JobSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobSpecError(f"a job spec is JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_stored(cls, text: str, image_path: str | None) -> "JobSpec":
        """The job row's ``params`` column: a JobSpec, or (no ``version``) a legacy JobParams dict."""
        data = json.loads(text)
        if isinstance(data, dict) and "version" not in data:
            return cls.legacy(data, image_path)
        return cls.from_dict(data)

    # ---- running ---------------------------------------------------------------------------------

    @property
    def is_legacy(self) -> bool:
        return self.plan is None

    def video_request(self, files: "JobFiles") -> VideoRequest:
        """The VideoRequest again (validated again), its file fields read from the job's folder ``files``."""
        values: dict[str, Any] = dict(self.request)
        for name, file_name in self.files.items():
            values[name] = files.path(file_name)
        return VideoRequest(**values)

    def generation_plan(self) -> "GenerationPlan | None":
        """The API's plan, to run as given; None for a legacy spec (the worker plans it)."""
        if self.plan is None:
            return None
        from kadr.engine import GenerationPlan

        try:
            return GenerationPlan.from_dict(self.plan)
        except (TypeError, ValueError) as exc:
            raise JobSpecError(f"job spec: the plan cannot be read: {exc}") from None

    # ---- what the service shows and charges --------------------------------------------------------

    @property
    def model(self) -> str:
        """The model the job runs: the plan's (else, legacy, the request's; else the tier's default, '')."""
        if self.plan is not None:
            return str(self.plan["model"])
        return str(self.request.get("model") or "")

    @property
    def tier(self) -> str:
        return str(self.request.get("tier") or "fast")

    @property
    def prompt(self) -> str:
        return str(self.request.get("prompt") or "")

    @property
    def seed(self) -> int | None:
        return self.plan["seed"] if self.plan is not None else self.request.get("seed")

    @property
    def task(self) -> str:
        return "image-to-video" if "image" in self.files else "text-to-video"


def _to_json(value: Any, where: str) -> Any:
    """A request value as JSON: dataclasses (a Shot) as objects, tuples as lists; anything else is refused."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _to_json(v, f"{where}.{k}") for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _to_json(v, f"{where}.{k}") for k, v in value.items()}
    raise JobSpecError(f"{where}: a {type(value).__name__} cannot travel in a job spec; "
                       "teach kadr.service.jobspec to carry it (or make it a file of the job)")


__all__ = ["JOB_SPEC_VERSION", "JobSpec", "JobSpecError"]
