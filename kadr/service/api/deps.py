"""Route dependencies: the services (from app.state, set up by the app's lifespan) and the caller's identity."""

from __future__ import annotations

import math
import time

from fastapi import Request

from kadr.service.api.errors import ApiError
from kadr.service.events import EventBus
from kadr.service.metrics import ServiceMetrics
from kadr.service.plans import PlanBook
from kadr.service.ratelimit import RateLimiter
from kadr.service.settings import ServiceSettings
from kadr.service.store import UserRecord, UserStore
from kadr.service.usage import UsageService
from kadr.service.videos import VideoService


def videos(request: Request) -> VideoService:
    return request.app.state.videos


def usage(request: Request) -> UsageService:
    return request.app.state.usage


def bus(request: Request) -> EventBus:
    return request.app.state.bus


def settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


def plans(request: Request) -> PlanBook:
    return request.app.state.plans


def current_user(request: Request) -> UserRecord:
    """Bearer auth, then the key's request rate. 401 without a valid key, 429 over the rate."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'. Keys come from `kadr users add NAME`.",
                       code="missing_api_key")
    users: UserStore = request.app.state.users
    user = users.authenticate(key)
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
