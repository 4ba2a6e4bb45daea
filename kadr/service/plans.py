"""Plans: what a user may do each month. Read from a TOML file; the defaults follow the hosted services.

Google Flow (Google AI Pro) gives 1000 credits a month; a Veo 3 Fast video costs 20 of them (50 videos
a month) and a Veo 3 Quality video 100. kadr's plans say the same per quality tier: a monthly video
limit, a credit cost per video, an optional monthly credit budget shared by the tiers, how many of a
user's videos generate at once, how many may wait, and a request rate per key.

The file format (every field but the tier tables is optional)::

    default = "pro"                 # the plan of `kadr users add` without --plan

    [plans.pro]
    description = "Like Google AI Pro: 1000 credits a month"
    monthly_credits = 1000          # omit for no credit budget
    concurrency = 2                 # videos of one user generating at the same time
    max_active = 20                 # videos of one user queued or generating; more are refused (429)
    requests_per_second = 20.0      # per API key, a token bucket ...
    burst = 100                     # ... holding this many requests
    [plans.pro.tiers.fast]
    videos = 50                     # a month; omit for no limit
    cost = 20                       # credits per video
    [plans.pro.tiers.high]
    videos = 10
    cost = 100
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kadr.errors import KadrError
from kadr.request import TIERS  # noqa: F401 (the quality tiers, declared once; re-exported for the store)

DEFAULT_PLANS_TOML = """\
default = "pro"

[plans.free]
description = "Try it: a few fast videos a month"
monthly_credits = 200
concurrency = 1
max_active = 3
requests_per_second = 5.0
burst = 30
[plans.free.tiers.fast]
videos = 10
cost = 20
[plans.free.tiers.high]
videos = 0
cost = 100

[plans.pro]
description = "Like Google AI Pro: 1000 credits a month, Veo 3 Fast at 20 credits (50 videos)"
monthly_credits = 1000
concurrency = 2
max_active = 20
requests_per_second = 20.0
burst = 100
[plans.pro.tiers.fast]
videos = 50
cost = 20
[plans.pro.tiers.high]
videos = 10
cost = 100

[plans.ultra]
description = "Like Google AI Ultra: 12500 credits a month"
monthly_credits = 12500
concurrency = 4
max_active = 100
requests_per_second = 50.0
burst = 200
[plans.ultra.tiers.fast]
videos = 625
cost = 20
[plans.ultra.tiers.high]
videos = 125
cost = 100

[plans.unlimited]
description = "Your own hardware, no meter (operators, benchmarks)"
concurrency = 8
max_active = 1000
requests_per_second = 1000.0
burst = 2000
[plans.unlimited.tiers.fast]
cost = 20
[plans.unlimited.tiers.high]
cost = 100
"""


class PlansError(KadrError):
    """The plans file cannot be read or is not valid; the message names the file and the field."""


class TierLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    videos: int | None = Field(None, ge=0, description="Videos a month; None: no limit.")
    cost: int = Field(0, ge=0, description="Credits one video costs.")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str = ""
    monthly_credits: int | None = Field(None, ge=0)
    concurrency: int = Field(1, ge=1, le=1000)
    max_active: int = Field(20, ge=1, le=100_000)
    requests_per_second: float = Field(20.0, gt=0)
    burst: int = Field(100, ge=1)
    tiers: dict[str, TierLimits]

    @model_validator(mode="after")
    def _every_tier(self) -> "Plan":
        unknown = set(self.tiers) - set(TIERS)
        missing = set(TIERS) - set(self.tiers)
        if unknown or missing:
            raise ValueError(f"tiers: need exactly {', '.join(TIERS)} (unknown: {sorted(unknown)}, missing: {sorted(missing)})")
        return self

    def tier(self, tier: str) -> TierLimits:
        return self.tiers[tier]


class PlanBook(BaseModel):
    """All plans and the default one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    plans: dict[str, Plan]

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("plans"), dict):
            data = {**data, "plans": {name: {**body, "name": name} if isinstance(body, dict) else body
                                      for name, body in data["plans"].items()}}
        return data

    @model_validator(mode="after")
    def _default_exists(self) -> "PlanBook":
        if self.default not in self.plans:
            raise ValueError(f"default: {self.default!r} is not one of the plans ({', '.join(self.plans)})")
        return self

    def get(self, name: str) -> Plan:
        """The named plan; an unknown name (a plan removed from the file) falls back to the default."""
        return self.plans.get(name) or self.plans[self.default]

    def check(self, name: str) -> str:
        if name not in self.plans:
            raise PlansError(f"plan: got {name!r}; allowed: one of {', '.join(self.plans)}")
        return name


def parse_plans(text: str, source: str = "<built-in plans>") -> PlanBook:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlansError(f"{source}: not valid TOML: {exc}") from None
    try:
        return PlanBook.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlansError(f"{source}: {where}: {first['msg']}") from None


def load_plans(path: Path | None) -> PlanBook:
    """Plans from ``path`` (TOML), or the built-in defaults when ``path`` is None."""
    if path is None:
        return parse_plans(DEFAULT_PLANS_TOML)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlansError(f"{path}: cannot read the plans file: {exc.strerror}") from None
    return parse_plans(text, str(path))


# ---- the monthly period -----------------------------------------------------------------------


def period_of(now: float) -> str:
    """The usage period (a UTC calendar month) holding ``now``: ``"2026-05"``."""
    return datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m")


def period_bounds(now: float) -> tuple[datetime, datetime]:
    """(start, end) of the UTC month holding ``now``; the count resets at ``end``."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
