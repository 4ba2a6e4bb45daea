"""Service settings: one pydantic-settings model, read from ``KADR_*`` environment variables and CLI flags.

Every field is documented where it is declared. Defaults are safe for one person on one machine
(loopback only, SQLite under the data directory); :func:`check_safety` refuses combinations that
would expose the service carelessly (a non-loopback address with no API keys).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """``$KADR_HOME/studio`` (KADR_HOME as in kadr.pipelines.registry, read here without importing torch)."""
    return Path(os.environ.get("KADR_HOME", Path.home() / ".cache" / "kadr")).expanduser() / "studio"


class ServiceSettings(BaseSettings):
    """Settings of `kadr serve` and `kadr users`. Environment: ``KADR_<FIELD>`` (e.g. ``KADR_DB``)."""

    model_config = SettingsConfigDict(env_prefix="KADR_", extra="ignore", validate_default=True)

    host: str = Field("127.0.0.1", description="Address to bind. Anything but loopback needs at least one user.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on (0: any free port).")
    data: Path = Field(default_factory=default_data_dir,
                       description="Data directory: the SQLite store, videos, input images, an optional plans.toml.")
    db: str | None = Field(None, description="SQLAlchemy URL of the job store (sqlite:///… or postgresql://…); "
                                             "default: SQLite at DATA/kadr.db.")
    workers: int = Field(1, ge=0, le=64, description="Generation worker processes (0: accept jobs, run none).")
    worker_threads: int = Field(0, ge=0, le=256,
                                description="torch threads per worker (0: leave one core to the API, split the rest).")
    worker_nice: int = Field(10, ge=0, le=19,
                             description="Niceness of worker processes, so the API answers first when CPUs are busy.")
    device: str | None = Field(None, description="Device for the workers' models (cpu, cuda, cuda:1; default: best).")
    devices: str | None = Field(None, description="Devices for the workers, one each in turn: auto (every CUDA GPU, "
                                                  "else the CPU) or a list such as cuda:0,cuda:1; overrides device.")
    ray: str | None = Field(None, description="Run generation on the Ray cluster at this address (auto, HOST:PORT or "
                                              "ray://HOST:PORT) instead of local worker processes.")
    ray_actors: int = Field(0, ge=0, le=1024, description="Ray actors to start (0: one per GPU in the cluster; "
                                                          "with no GPU, one per worker).")
    artifacts: str | None = Field(None, description="Where finished videos, posters and sprite sheets are kept: "
                                  "s3://BUCKET/PREFIX for an S3-compatible object store (needs kadr[s3]; several "
                                  "replicas serve the same files), default: the videos folder under DATA.")
    artifacts_endpoint_url: str | None = Field(None, description="The object store's endpoint URL, for stores other "
                                               "than AWS S3 (MinIO: http://HOST:9000); default: AWS S3.")
    plans_file: Path | None = Field(None, description="Plans (TOML); default: DATA/plans.toml if present, else built in.")
    retention_days: float = Field(30.0, ge=0, description="Days a finished video stays downloadable (0: forever).")
    max_prompt_chars: int = Field(2000, ge=1, le=2000, description="Longest prompt accepted, in characters.")
    max_image_bytes: int = Field(10 * 2**20, ge=1024, description="Largest input_reference upload, in bytes.")
    max_image_pixels: int = Field(16_000_000, ge=64, le=50_000_000, description="Largest input image, in pixels.")
    max_request_bytes: int = Field(12 * 2**20, ge=1024, description="Largest request body, in bytes.")
    max_job_attempts: int = Field(3, ge=1, le=20,
                                  description="Runs of one job (restarts after a crash count) before it fails.")
    progress_interval_s: float = Field(0.25, ge=0, description="Shortest gap between two stored progress updates.")
    webhook_timeout_s: float = Field(10.0, gt=0, description="Timeout of one webhook delivery attempt.")
    webhook_max_attempts: int = Field(8, ge=1, le=30, description="Delivery attempts before a webhook is given up.")
    webhook_retry_base_s: float = Field(2.0, gt=0, description="First retry delay; it doubles each attempt (max 1 h).")
    key_cache_s: float = Field(2.0, ge=0, le=60,
                               description="Seconds an API key's user is remembered between store reads (0: read every "
                                           "request); a key removed or replaced by `kadr users` stops working after this.")
    sse_keepalive_s: float = Field(15.0, gt=0, description="Comment line sent on idle event streams this often.")
    record_retry_s: float = Field(1.0, gt=0, le=60, description="How often a finished job whose outcome the store "
                                  "could not take (disk full, database down) is tried again.")
    record_deadline_s: float = Field(60.0, ge=0, description="How long such a finished video waits for the store: "
                                     "after this it is discarded, and the job recorded failed (store_unwritable) and "
                                     "refunded as soon as the store takes writes again.")
    reconcile_interval_s: float = Field(10.0, gt=0, le=3600, description="How often jobs the store calls running are "
                                        "matched against live workers (one with none is re-queued).")
    lease_s: float = Field(30.0, ge=1, le=3600, description="Several replicas on one PostgreSQL: a job a replica "
                           "claims is its own for this long, renewed every third of it while the job runs; a killed "
                           "replica's jobs are taken over by another this long after its last renewal.")
    shutdown_grace_s: float = Field(8.0, ge=0, le=3600, description="On SIGTERM/SIGINT: how long running jobs may "
                                    "go on to finish (from the signal); then they go back to the queue, attempt "
                                    "not counted. 8 s fits Docker's default 10 s stop timeout.")
    min_free_disk_mb: float = Field(256.0, ge=0, description="Free space, in MB, under the data directory and the "
                                    "SQLite store below which /healthz reports degraded.")
    health_cache_s: float = Field(1.0, ge=0, le=60, description="Seconds /healthz reuses its store and disk probes "
                                  "(so a flood of probes costs one write a second).")
    timeout_headers_s: float = Field(10.0, gt=0, le=600, description="A connection must send a request's complete "
                                     "headers within this (from connecting, or from the previous response).")
    timeout_body_s: float = Field(60.0, gt=0, le=3600, description="A request's whole body must arrive within this "
                                  "after its headers (else 408 and the connection is closed).")
    timeout_keep_alive_s: int = Field(5, ge=1, le=600, description="An idle keep-alive connection is closed after "
                                      "this many seconds.")
    max_connections_per_client: int = Field(256, ge=0, le=100_000, description="Open connections one client address "
                                            "may hold (0: no cap). Behind a reverse proxy every client has the "
                                            "proxy's address: raise it or set 0 there.")
    allow_insecure: bool = Field(False, description="Local development only: bind a non-loopback address without users.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field("info", description="Log level.")

    @field_validator("data", mode="after")
    @classmethod
    def _absolute_data(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("db", mode="after")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("db: allowed: a sqlite:///PATH or postgresql://USER@HOST:PORT/NAME URL")
        return value

    @field_validator("artifacts", mode="after")
    @classmethod
    def _known_artifacts(cls, value: str | None) -> str | None:
        if value not in (None, "", "local"):
            from kadr.service.artifacts import S3Location

            S3Location.parse(value)  # a ValueError naming the field and what is allowed
        return value

    @field_validator("artifacts_endpoint_url", mode="after")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("artifacts_endpoint_url: allowed: an http:// or https:// URL such as http://127.0.0.1:9000")
        return value

    @property
    def database_url(self) -> str:
        return self.db or f"sqlite:///{self.data / 'kadr.db'}"

    @property
    def videos_dir(self) -> Path:
        return self.data / "videos"

    @property
    def plans_path(self) -> Path | None:
        """The plans file in force: the configured one, else DATA/plans.toml when present, else None (built in)."""
        if self.plans_file is not None:
            return self.plans_file.expanduser()
        candidate = self.data / "plans.toml"
        return candidate if candidate.is_file() else None

    def torch_threads(self, cpus: int | None = None) -> int:
        if self.worker_threads:
            return self.worker_threads
        cpus = cpus or os.cpu_count() or 1
        return max(1, (cpus - 1) // max(1, self.workers))


DEVICE_PATTERN = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


def parse_devices(value: str | None, cuda_count: int) -> tuple[str, ...]:
    """``--devices`` as a tuple of torch device names, checked against the ``cuda_count`` GPUs present.

    ``auto``: every CUDA GPU (cuda:0 … cuda:N-1), else the CPU. A device that is not there is a
    ValueError naming it, so the server says so at start, not in a job.
    """
    if not value:
        return ()
    if value.strip() == "auto":
        return tuple(f"cuda:{i}" for i in range(cuda_count)) or ("cpu",)
    devices = tuple(part.strip() for part in value.split(",") if part.strip())
    for device in devices:
        if not DEVICE_PATTERN.match(device):
            raise ValueError(f"devices: got {device!r}; allowed: auto, or a list of cpu, cuda, cuda:N")
        if device.startswith("cuda"):
            index = int(device.partition(":")[2] or 0)
            if index >= cuda_count:
                present = f"cuda:0 to cuda:{cuda_count - 1}" if cuda_count else "no CUDA GPU visible to torch"
                raise ValueError(f"devices: got {device!r}; this machine has {present}")
    return devices


def cuda_device_count() -> int:
    import torch  # only when --devices is given: the API process does not need torch otherwise

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class UnsafeSettingsError(Exception):
    """The settings would expose the service in a way that is only acceptable in local development."""


def check_safety(settings: ServiceSettings, users: int) -> list[str]:
    """Refuse unsafe combinations (raise UnsafeSettingsError); return warnings for risky but allowed ones."""
    notes: list[str] = []
    if not is_loopback(settings.host):
        if users == 0 and not settings.allow_insecure:
            raise UnsafeSettingsError(
                f"refusing to bind {settings.host} with no API keys: add one with `kadr users add NAME` "
                "first (or pass --allow-insecure for local development)")
        notes.append(f"listening on {settings.host} over plain HTTP: API keys travel in clear text; "
                     "put a TLS reverse proxy in front of kadr")
    return notes
