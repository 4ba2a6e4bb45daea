"""What a user has used this month and what is left, per tier, from the ledger and their plan."""

from __future__ import annotations

import time
from typing import Any, Callable

from kadr.service.plans import TIERS, PlanBook, iso, period_bounds
from kadr.service.store import JobStore, UserRecord


class UsageService:
    def __init__(self, jobs: JobStore, plans: PlanBook, clock: Callable[[], float] = time.time) -> None:
        self.jobs = jobs
        self.plans = plans
        self.clock = clock

    def report(self, user: UserRecord) -> dict[str, Any]:
        now = self.clock()
        plan = self.plans.get(user.plan)
        usage = self.jobs.usage(user.id, now)
        start, end = period_bounds(now)
        credits_left = None if plan.monthly_credits is None else max(0, plan.monthly_credits - usage.credits)
        tiers: dict[str, Any] = {}
        for tier in TIERS:
            limits = plan.tier(tier)
            used = usage.tiers[tier].videos
            left = None if limits.videos is None else max(0, limits.videos - used)
            if credits_left is not None and limits.cost > 0:  # the credit budget may end a tier first
                by_credits = credits_left // limits.cost
                left = by_credits if left is None else min(left, by_credits)
            tiers[tier] = {"used": used, "limit": limits.videos, "left": left, "cost": limits.cost,
                           "credits_used": usage.tiers[tier].credits}
        return {
            "object": "usage",
            "user": user.name,
            "plan": plan.name,
            "period": usage.period,
            "period_start": iso(start),
            "resets_at": iso(end),
            "tiers": tiers,
            "credits_used": usage.credits,
            "credits_limit": plan.monthly_credits,
            "credits_left": credits_left,
            "concurrency": {"running": usage.running, "limit": plan.concurrency},
            "active": {"count": usage.active, "limit": plan.max_active},
            "rate_limit": {"requests_per_second": plan.requests_per_second, "burst": plan.burst},
        }
