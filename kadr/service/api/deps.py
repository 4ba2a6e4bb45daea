"""Route dependencies: the services (from app.state, set up by the app's lifespan) and the caller's identity.

All are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, and a hop to a
thread and back costs more than these getters themselves; the one that reads the store does so
through the key cache, and only a miss goes to a thread.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kadr.service.api.errors import ApiError
from kadr.service.events import EventBus
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import PlanBook
from kadr.service.ratelimit import RateLimiter
from kadr.service.settings import ServiceSettings
from kadr.service.store import KeyCache, UserRecord, UserStore
from kadr.service.usage import UsageService
from kadr.service.videos import VideoService


async def videos(request: Request) -> VideoService:
    return request.app.state.videos


async def usage(request: Request) -> UsageService:
    return request.app.state.usage


async def bus(request: Request) -> EventBus:
    return request.app.state.bus


async def settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


async def metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def plans(request: Request) -> PlanBook:
    return request.app.state.plans


# States the scheme in the OpenAPI document; the header is read below, for kadr's own 401 messages.
bearer = HTTPBearer(auto_error=False, description="An API key from `kadr users add NAME`.")


async def current_user(request: Request,
                       _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> UserRecord:
    """Bearer auth, then the key's request rate. 401 without a valid key, 429 over the rate."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'. Keys come from `kadr users add NAME`.",
                       code="missing_api_key")
    keys: KeyCache = request.app.state.keys
    user = keys.get(key)
    if user is None:
        users: UserStore = request.app.state.users
        user = await run_in_threadpool(users.authenticate, key)
        keys.put(key, user)
    if user is None:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    plan = request.app.state.plans.get(user.plan)
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.acquire(user.id, plan.requests_per_second, plan.burst, time.monotonic())
    if wait > 0:
        request.app.state.metrics.rate_limited.inc()
        raise ApiError(429, f"Rate limit reached: {plan.requests_per_second:g} requests per second per key "
                            f"(bursts of {plan.burst}) on plan '{plan.name}'. Retry in {wait:.2f} s.",
                       type="rate_limit_error", code="rate_limit_exceeded",
                       headers={"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(math.ceil(wait * 1000))})
    request.state.user = user
    return user
