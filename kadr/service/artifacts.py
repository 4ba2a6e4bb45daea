"""Where finished videos, posters and sprite sheets are kept and served from: the local videos folder
(the default) or an S3-compatible object store (``kadr serve --artifacts s3://bucket/prefix``).

A worker always writes a job's files into the local job folder first. When the scheduler records the
job's success it hands them to the store (:meth:`ArtifactStore.keep`), which answers the reference kept
in the job's row: the local path itself, or ``s3://bucket/prefix/JOB/NAME`` once uploaded (and the local
copy removed). Reading (:meth:`ArtifactStore.locate`) and deleting take that reference back, so several
API replicas on one PostgreSQL, each with its own disk, serve the same files.

Served how: the API streams an object from the store to the client (Range requests passed on), rather
than redirecting it to a presigned URL. A redirect would ask every client to reach the store itself:
the studio page's ``fetch`` with its Authorization header would need CORS rules on the bucket, a MinIO
on a private network is out of clients' reach, and ``curl`` without ``-L`` would get nothing. Streaming
costs the API the bytes (a few MB a video) and works wherever the API does.

boto3 (the ``s3`` extra) is imported only when an s3:// store is configured. Credentials and region come
from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, ~/.aws/...).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

from kadr.service.jobfiles import JobFiles

log = logging.getLogger("kadr.service.artifacts")

S3_SCHEME = "s3://"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's bucket naming rules, in short
MEDIA_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".webm": "video/webm", ".gif": "image/gif"}
CHUNK = 256 * 1024


class ArtifactStoreError(OSError):
    """The object store could not take or give a file (unreachable, refused, missing bucket).

    An OSError, so the scheduler treats it as it treats a store that cannot be written: the finished
    video waits and is retried, then given up after ``record_deadline_s``.
    """


@dataclass(frozen=True)
class RemoteObject:
    """One object in the store, found (``size`` from its HEAD); :meth:`open` reads it, whole or one range."""

    store: "S3Artifacts"
    key: str
    size: int

    def open(self, range_header: str | None) -> "Opened":
        return self.store.open(self, range_header)


@dataclass(frozen=True)
class Opened:
    """An object being read: what the HTTP response says (status, headers) and its bytes."""

    status: int  # 200, or 206 for a range
    headers: dict[str, str]  # content-length, content-range, accept-ranges, etag
    body: Iterator[bytes]


class ArtifactStore(Protocol):
    """Where a job's finished files live (see the module's notes)."""

    description: str

    def keep(self, job_id: str, files: dict[str, str | None]) -> dict[str, str | None]:
        """Take the job's finished local files (role -> path, None for none); return role -> reference."""
        ...

    def locate(self, reference: str) -> Path | RemoteObject | None:
        """The file a reference names, or None when it is not there (expired, deleted)."""
        ...

    def delete(self, reference: str) -> None:
        """Remove one kept file (housekeeping of expired videos); a missing one is no error."""
        ...

    def delete_job(self, job_id: str) -> None:
        """Remove everything of a job: its local folder and anything kept for it."""
        ...


class LocalArtifacts:
    """The default: the files stay in ``videos_dir/JOB/`` and references are their paths."""

    def __init__(self, videos_dir: Path) -> None:
        self.videos_dir = videos_dir
        self.description = f"the local folder {videos_dir}"

    def keep(self, job_id: str, files: dict[str, str | None]) -> dict[str, str | None]:
        return dict(files)

    def locate(self, reference: str) -> Path | RemoteObject | None:
        path = Path(reference)
        return path if path.is_file() else None

    def delete(self, reference: str) -> None:
        Path(reference).unlink(missing_ok=True)

    def delete_job(self, job_id: str) -> None:
        problems = JobFiles.of(self.videos_dir, job_id).remove()
        if problems:  # best effort, as before: a read-only folder must not fail the delete
            log.warning("could not delete the files of %s: %s", job_id, problems[0])


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "some/prefix/" (always ends with "/" when not empty)

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        """``s3://bucket`` or ``s3://bucket/prefix``; a ValueError naming the field otherwise."""
        allowed = "allowed: s3://BUCKET or s3://BUCKET/PREFIX (a bucket name of 3-63 lowercase letters, digits, '.', '-')"
        if not url.startswith(S3_SCHEME):
            raise ValueError(f"artifacts: got {url!r}; {allowed}")
        bucket, _, prefix = url[len(S3_SCHEME):].partition("/")
        if not _BUCKET_RE.match(bucket):
            raise ValueError(f"artifacts: got {url!r}: {bucket!r} is not a bucket name; {allowed}")
        prefix = prefix.strip("/")
        return cls(bucket, prefix + "/" if prefix else "")

    def url(self, key: str = "") -> str:
        return f"{S3_SCHEME}{self.bucket}/{key}"


class S3Artifacts:
    """Files kept in an S3-compatible bucket under ``prefix/JOB/NAME``; references are ``s3://bucket/key``."""

    def __init__(self, location: S3Location, videos_dir: Path, endpoint_url: str | None = None,
                 client: Any = None) -> None:
        self.location = location
        self.local = LocalArtifacts(videos_dir)
        self.endpoint_url = endpoint_url
        self.description = location.url(location.prefix) + (f" at {endpoint_url}" if endpoint_url else "")
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise ValueError("artifacts: an s3:// store needs boto3: pip install 'kadr[s3]'") from exc
            # Path-style addressing: MinIO and most self-hosted stores serve buckets under the endpoint's path.
            client = boto3.client("s3", endpoint_url=endpoint_url,
                                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                                                connect_timeout=5, read_timeout=30))
        self.client = client

    # ---- start --------------------------------------------------------------------------------

    def check(self) -> None:
        """Reach the bucket now (at start), so a wrong name, endpoint or credentials is one clear error."""
        try:
            self.client.head_bucket(Bucket=self.location.bucket)
        except Exception as exc:
            raise ArtifactStoreError(f"artifacts: cannot reach the bucket {self.location.bucket!r}"
                                     f"{' at ' + self.endpoint_url if self.endpoint_url else ''}: {_reason(exc)}") from None

    # ---- the store ------------------------------------------------------------------------------

    def keep(self, job_id: str, files: dict[str, str | None]) -> dict[str, str | None]:
        kept: dict[str, str | None] = {}
        uploaded: list[Path] = []
        for role, path in files.items():
            if path is None or path.startswith(S3_SCHEME):  # none, or kept already (a retried record)
                kept[role] = path
                continue
            local = Path(path)
            key = f"{self.location.prefix}{job_id}/{local.name}"
            try:
                self.client.upload_file(str(local), self.location.bucket, key, ExtraArgs={
                    "ContentType": MEDIA_TYPES.get(local.suffix, "application/octet-stream")})
            except Exception as exc:
                raise ArtifactStoreError(f"cannot upload {local.name} of {job_id} to {self.location.url(key)}: "
                                         f"{_reason(exc)}") from None
            kept[role] = self.location.url(key)
            uploaded.append(local)
        for local in uploaded:  # only once every file is up: a failed upload leaves the job's files whole
            local.unlink(missing_ok=True)
        return kept

    def locate(self, reference: str) -> Path | RemoteObject | None:
        if not reference.startswith(S3_SCHEME):
            return self.local.locate(reference)  # kept before the store was configured
        key = self._key(reference)
        try:
            head = self.client.head_object(Bucket=self.location.bucket, Key=key)
        except Exception as exc:
            if _status(exc) == 404:
                return None
            raise ArtifactStoreError(f"cannot read {reference}: {_reason(exc)}") from None
        return RemoteObject(self, key, int(head["ContentLength"]))

    def open(self, found: RemoteObject, range_header: str | None) -> Opened:
        ask: dict[str, Any] = {"Bucket": self.location.bucket, "Key": found.key}
        if range_header and range_header.startswith("bytes="):
            ask["Range"] = range_header  # the store answers 206 with Content-Range, or 416 if out of bounds
        try:
            answer = self.client.get_object(**ask)
        except Exception as exc:
            if _status(exc) == 416:
                return Opened(416, {"content-range": f"bytes */{found.size}", "content-length": "0"}, iter(()))
            raise ArtifactStoreError(f"cannot read {self.location.url(found.key)}: {_reason(exc)}") from None
        headers = {"content-length": str(answer["ContentLength"]), "accept-ranges": "bytes"}
        if answer.get("ETag"):
            headers["etag"] = answer["ETag"]
        status = 200
        if answer.get("ContentRange"):
            headers["content-range"] = answer["ContentRange"]
            status = 206
        return Opened(status, headers, _chunks(answer["Body"]))

    def delete(self, reference: str) -> None:
        if not reference.startswith(S3_SCHEME):
            self.local.delete(reference)
            return
        try:
            self.client.delete_object(Bucket=self.location.bucket, Key=self._key(reference))
        except Exception as exc:
            raise ArtifactStoreError(f"cannot delete {reference}: {_reason(exc)}") from None

    def delete_job(self, job_id: str) -> None:
        self.local.delete_job(job_id)
        prefix = f"{self.location.prefix}{job_id}/"
        try:
            listing = self.client.list_objects_v2(Bucket=self.location.bucket, Prefix=prefix)
            keys = [{"Key": item["Key"]} for item in listing.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.location.bucket, Delete={"Objects": keys, "Quiet": True})
        except Exception as exc:
            raise ArtifactStoreError(f"cannot delete the files of {job_id} under {self.location.url(prefix)}: "
                                     f"{_reason(exc)}") from None

    def _key(self, reference: str) -> str:
        bucket, _, key = reference[len(S3_SCHEME):].partition("/")
        if bucket != self.location.bucket:
            raise ArtifactStoreError(f"{reference} is not in this store's bucket {self.location.bucket!r}")
        return key


def open_store(artifacts: str | None, videos_dir: Path, endpoint_url: str | None = None) -> ArtifactStore:
    """The store ``--artifacts`` names: None (or ``local``) for the videos folder, ``s3://…`` for a bucket."""
    if artifacts in (None, "", "local"):
        if endpoint_url:
            raise ValueError("artifacts_endpoint_url: set, but --artifacts names no s3:// store")
        return LocalArtifacts(videos_dir)
    return S3Artifacts(S3Location.parse(artifacts), videos_dir, endpoint_url)


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
