"""The FastAPI application: services built from settings at start, routes, errors, the studio page."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from kadr import __version__
from kadr.service.api import account, bodies, characters, edit_bodies, errors, events, system, verify, videos
from kadr.service.api.middleware import ServiceMiddleware
from kadr.service.artifacts import ArtifactStore, open_store
from kadr.service.events import EventBus
from kadr.service.health import HealthMonitor
from kadr.service.jobfiles import JobFiles
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import load_plans
from kadr.service.ratelimit import RateLimiter
from kadr.service.ray_pool import RayConfig
from kadr.service.scheduler import Scheduler, SchedulerConfig
from kadr.service.settings import ServiceSettings, cuda_device_count, parse_devices
from kadr.service.edits import CharacterService, EditService
from kadr.service.store import CharacterStore, Database, JobStore, KeyCache, UserStore
from kadr.service.usage import UsageService
from kadr.service.videos import Limits, VideoService
from kadr.service.webhooks import WebhookSender
from kadr.service.workers import WorkerConfig

log = logging.getLogger("kadr.service")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
DELIVERY_KEEP_S = 30 * 86400


class Housekeeping:
    """Once a minute: delete the files of expired videos and forget old webhook deliveries."""

    def __init__(self, jobs: JobStore, videos_dir: Path, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.time, artifacts: ArtifactStore | None = None) -> None:
        self.jobs = jobs
        self.videos_dir = videos_dir
        self.artifacts = artifacts
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kadr-housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> int:
        now = self.clock()
        expired = self.jobs.expire(now)
        for record in expired:
            for path in (record.video_path, record.poster_path, record.sprites_path):
                if path and self.artifacts is not None:
                    try:
                        self.artifacts.delete(path)
                    except OSError as exc:  # the object store is away: the next videos still go
                        log.warning("could not delete the expired %s: %s", path, exc)
            JobFiles.of(self.videos_dir, record.id).remove_outputs()  # what is left here (partials, local copies)
        self.jobs.purge_deliveries(now - DELIVERY_KEEP_S)
        return len(expired)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:
                log.exception("housekeeping")


def _openapi(app: FastAPI, settings: ServiceSettings) -> dict[str, Any]:
    """FastAPI's document, told what it cannot see: the request bodies the routes read themselves (with this
    server's models and prompt limit) and no 422 (validation errors answer 400 in OpenAI's shape)."""
    if app.openapi_schema is None:
        from kadr.pipelines import registry

        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description="kadr's HTTP API: OpenAI's Videos API plus kadr's extensions (docs/api.md).")
        here = [s.name for s in registry.all_specs() if s.builtin or registry.weights_present(s)]
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(bodies.request_schemas(here, settings.max_prompt_chars))
        components.update(edit_bodies.edit_schemas(components["CreateVideoForm"]["properties"]["model"],
                                                   settings.max_prompt_chars))
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for item in schema["paths"].values():
            for operation in item.values():
                operation.get("responses", {}).pop("422", None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: ServiceSettings, clock: Callable[[], float] = time.time) -> FastAPI:
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything the service writes (job folders, videos, uploads; the workers, started below, inherit
        # it) is its owner's alone: the data holds users' prompts and pictures.
        os.umask(0o077)
        db = Database(settings.database_url)
        db.create_schema()
        plans = load_plans(settings.plans_path)
        jobs = JobStore(db)
        artifacts = open_store(settings.artifacts, settings.videos_dir, settings.artifacts_endpoint_url)
        bus = EventBus()
        sender = WebhookSender(jobs, metrics, timeout_s=settings.webhook_timeout_s,
                               max_attempts=settings.webhook_max_attempts, retry_base_s=settings.webhook_retry_base_s,
                               clock=clock)
        scheduler = Scheduler(
            jobs, plans, bus, metrics,
            SchedulerConfig(videos_dir=settings.videos_dir, workers=settings.workers,
                            max_attempts=settings.max_job_attempts,
                            retention_s=settings.retention_days * 86400 or None,
                            progress_interval_s=settings.progress_interval_s,
                            record_retry_s=settings.record_retry_s, record_deadline_s=settings.record_deadline_s,
                            reconcile_interval_s=settings.reconcile_interval_s, lease_s=settings.lease_s,
                            ray=RayConfig(settings.ray, settings.ray_actors, settings.workers) if settings.ray else None),
            WorkerConfig(threads=settings.torch_threads(), nice=settings.worker_nice, device=settings.device,
                         devices=parse_devices(settings.devices, cuda_device_count()) if settings.devices else (),
                         output_dir=str(settings.videos_dir)),
            on_job_ended=sender.wake, clock=clock, artifacts=artifacts)
        housekeeping = Housekeeping(jobs, settings.videos_dir, clock=clock, artifacts=artifacts)
        state = app.state
        state.settings = settings
        state.started = int(clock())
        state.db = db
        state.plans = plans
        state.jobs = jobs
        state.users = UserStore(db)
        state.keys = KeyCache(settings.key_cache_s)
        state.bus = bus
        state.metrics = metrics
        state.limiter = RateLimiter()
        state.scheduler = scheduler
        state.videos = VideoService(
            jobs, plans, bus, metrics, settings.videos_dir,
            Limits(settings.max_prompt_chars, settings.max_image_bytes, settings.max_image_pixels),
            wake_workers=scheduler.wake, stop_worker=scheduler.cancel, clock=clock, artifacts=artifacts)
        state.edits = EditService(state.videos, settings.max_request_bytes)
        state.characters = CharacterService(CharacterStore(db), state.videos, settings.data / "characters",
                                            settings.max_request_bytes)
        state.usage = UsageService(jobs, plans, clock)
        state.health = HealthMonitor.for_service(settings, jobs, scheduler, clock)
        metrics.watch(jobs.count_by_status, scheduler.stats, bus.count, state.health.report)
        # Started on this (the main) thread: workers die with the thread that spawned them (PR_SET_PDEATHSIG).
        scheduler.start()
        sender.start()
        housekeeping.start()
        log.info("kadr %s: store %s, %d worker(s), data in %s", __version__, db.dialect, settings.workers, settings.data)
        # What is loaded by now (torch, the engine, the stores: ~250k objects) lives as long as the process.
        # Left to the collector, each full collection walks it all, a 200 ms pause on a small CPU that every
        # request in flight waits out; frozen, a full collection walks only what came later.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            housekeeping.stop()
            sender.stop()
            bus.close()
            scheduler.stop(settings.shutdown_grace_s)
            db.close()

    app = FastAPI(title="kadr", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json")
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    errors.install(app)
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body=settings.max_request_bytes)
    app.include_router(system.router)
    app.include_router(characters.router)  # before videos: /v1/videos/characters/{id} is no video id
    app.include_router(videos.router)
    app.include_router(events.router)
    app.include_router(account.router)
    verify.install(app)  # POST /v1/verify, and moderation_blocked for refused prompts
    if (WEB_DIR / "index.html").is_file():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
