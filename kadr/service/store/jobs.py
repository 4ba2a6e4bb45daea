"""The job store: jobs, the usage ledger and the webhook outbox, changed together in one transaction.

Accepting a job checks the user's limits and writes the job and its charge in one write transaction
that holds the user's lock (see database.py), so concurrent submissions can never over-grant. A job
that ends failed or canceled is refunded in the transaction that ends it; the unique (job, kind)
constraint of the ledger makes a second charge or refund impossible, and re-queuing a job after a
crash leaves its charge alone.

Several API replicas may share one PostgreSQL store. A claim takes the oldest queued job with
``FOR UPDATE SKIP LOCKED`` (two replicas never get the same row) and then the job owner's user row
``FOR UPDATE``, recounting their running jobs under it, so a plan's concurrency holds across replicas
too. A claimed job records its replica (``owner``) and a lease (``lease_until``) that the replica
renews while the job runs; only a job whose lease ran out may be re-queued by another replica.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Literal

from sqlalchemy import Row, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from kadr.errors import KadrError
from kadr.service.jobs import (
    ACTIVE,
    CANCELED,
    TOO_MANY_ATTEMPTS,
    JobRecord,
    JobSource,
    JobStatus,
    NewJob,
    video_object,
)
from kadr.service.jobspec import JobSpec
from kadr.service.plans import TIERS, Plan, iso, period_bounds, period_of
from kadr.service.store.database import Database
from kadr.service.store.schema import JobRow, LedgerRow, MetaRow, UserRow, WebhookRow

LimitName = Literal["monthly_videos", "monthly_credits", "max_active"]


class QuotaExceeded(KadrError):
    """A submission over one of the plan's limits; ``limit`` says which, ``resets_at`` when it lifts."""

    def __init__(self, limit: LimitName, message: str, resets_at: datetime | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.resets_at = resets_at


class UnknownUser(KadrError):
    pass


@dataclass(frozen=True)
class TierUsage:
    videos: int
    credits: int


@dataclass(frozen=True)
class Usage:
    period: str
    tiers: dict[str, TierUsage]
    credits: int
    running: int
    active: int


@dataclass(frozen=True)
class Succeeded:
    video_path: str
    poster_path: str
    sprites_path: str | None
    metadata: dict
    expires_at: float | None


@dataclass(frozen=True)
class Failed:
    code: str
    message: str


Outcome = Succeeded | Failed


@dataclass(frozen=True)
class LedgerEntry:
    job_id: str
    user_id: int
    period: str
    tier: str
    kind: str
    videos: int
    credits: int


@dataclass(frozen=True)
class Lease:
    """Who runs a running job, and until when their claim holds (None: nobody renews it)."""

    job_id: str
    attempt: int
    owner: str | None
    lease_until: float | None

    def expired(self, now: float) -> bool:
        return self.lease_until is None or self.lease_until < now


# A claim that finds the oldest queued job's user at their concurrency (another replica claimed for them
# meanwhile) looks past that user; this many users at most, then the next dispatch round tries again.
_CLAIM_TRIES = 8


@dataclass(frozen=True)
class Delivery:
    id: str
    user_id: int
    job_id: str
    event_type: str
    url: str
    payload: str
    attempts: int


_JOB_BY_ID = select(JobRow.__table__).where(JobRow.id == bindparam("job_id"))
_JOB_BY_ID_AND_USER = _JOB_BY_ID.where(JobRow.user_id == bindparam("user_id"))


def new_job_id() -> str:
    return "video_" + secrets.token_hex(12)


def _record(row: JobRow | Row[Any]) -> JobRecord:
    return JobRecord(
        id=row.id, seq=row.seq, user_id=row.user_id, status=row.status,  # type: ignore[arg-type]
        spec=JobSpec.from_stored(row.params, row.image_path), width=row.width, height=row.height, fps=row.fps,
        image_path=row.image_path, progress=row.progress, eta_seconds=row.eta_seconds, stage=row.stage,
        error_code=row.error_code, error_message=row.error_message, warnings=tuple(json.loads(row.warnings or "[]")),
        created_at=row.created_at, started_at=row.started_at, completed_at=row.completed_at,
        expires_at=row.expires_at, attempt=row.attempt, cost=row.cost, video_path=row.video_path,
        poster_path=row.poster_path, sprites_path=row.sprites_path, metadata=json.loads(row.meta or "{}"),
        source=_source(row),
    )


def _source(row: JobRow | Row[Any]) -> JobSource | None:
    if row.source_kind is None:
        return None
    return JobSource(row.source_kind, row.source_video_id, float(row.source_seconds or 0.0))  # type: ignore[arg-type]


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def shared(self) -> bool:
        """Whether several API replicas may run on this store: PostgreSQL yes, SQLite no (one `kadr serve`)."""
        return not self.db.is_sqlite

    # ---- accepting --------------------------------------------------------------------------

    def submit(self, job: NewJob, plan: Plan, now: float) -> JobRecord:
        """Check the plan's limits and accept the job with its charge, atomically; QuotaExceeded if over."""
        period = period_of(now)
        _, resets = period_bounds(now)
        tier = job.spec.tier
        limits = plan.tier(tier)
        with self.db.write() as s:
            user = s.execute(select(UserRow).where(UserRow.id == job.user_id).with_for_update()).scalar_one_or_none()
            if user is None:
                raise UnknownUser(f"no user {job.user_id}")
            usage = self._usage(s, job.user_id, period)
            used = usage.tiers[tier].videos
            if limits.videos is not None and used + 1 > limits.videos:
                what = (f"plan '{plan.name}' includes no {tier} videos" if limits.videos == 0 else
                        f"{used} of {limits.videos} {tier} videos used this month on plan '{plan.name}'")
                raise QuotaExceeded("monthly_videos", f"Monthly {tier} video limit reached: {what}. "
                                    f"The count resets at {iso(resets)}.", resets)
            if plan.monthly_credits is not None and usage.credits + limits.cost > plan.monthly_credits:
                raise QuotaExceeded(
                    "monthly_credits",
                    f"Monthly credit limit reached: {usage.credits} of {plan.monthly_credits} credits used this month "
                    f"on plan '{plan.name}', and a {tier} video costs {limits.cost}. The credits reset at {iso(resets)}.",
                    resets)
            if usage.active >= plan.max_active:
                raise QuotaExceeded(
                    "max_active",
                    f"Too many videos in progress: {usage.active} queued or generating, and plan '{plan.name}' allows "
                    f"{plan.max_active} at a time. Submit again when one finishes.", None)
            row = JobRow(
                id=job.id, user_id=job.user_id, status="queued", tier=tier, model=job.spec.model,
                prompt=job.spec.prompt, params=job.spec.to_json(), width=job.width, height=job.height, fps=job.fps,
                image_path=job.image_path, progress=0, warnings=json.dumps(list(job.warnings), ensure_ascii=False),
                created_at=now, attempt=0, cost=limits.cost, meta=json.dumps(job.planned, ensure_ascii=False, default=str),
            )
            if job.source is not None:
                row.source_kind, row.source_video_id = job.source.kind, job.source.video_id
                row.source_seconds = job.source.seconds
            s.add(row)
            s.add(LedgerRow(user_id=job.user_id, job_id=job.id, period=period, tier=tier, kind="charge",
                            videos=1, credits=limits.cost, created_at=now))
            s.flush()
            return _record(row)

    # ---- reading ----------------------------------------------------------------------------

    def get(self, job_id: str, user_id: int | None = None) -> JobRecord | None:
        """The job, or None when it does not exist or belongs to another user."""
        # Prebuilt Core selects on a bare connection: clients poll this many times a second, and an ORM
        # session, or building the statement anew, costs more than the query itself.
        with self.db.connect() as conn:
            if user_id is None:
                row = conn.execute(_JOB_BY_ID, {"job_id": job_id}).one_or_none()
            else:
                row = conn.execute(_JOB_BY_ID_AND_USER, {"job_id": job_id, "user_id": user_id}).one_or_none()
            return _record(row) if row is not None else None

    def list(self, user_id: int, *, after: str | None = None, limit: int = 20,
             order: Literal["asc", "desc"] = "desc") -> tuple[list[JobRecord], bool] | None:
        """A page of the user's jobs and whether more follow; None when ``after`` is not one of theirs."""
        with self.db.read() as s:
            query = select(JobRow).where(JobRow.user_id == user_id)
            if after is not None:
                cursor = s.execute(select(JobRow.seq).where(JobRow.id == after, JobRow.user_id == user_id)).scalar()
                if cursor is None:
                    return None
                query = query.where(JobRow.seq > cursor if order == "asc" else JobRow.seq < cursor)
            query = query.order_by(JobRow.seq.asc() if order == "asc" else JobRow.seq.desc()).limit(limit + 1)
            rows = list(s.execute(query).scalars())
            return [_record(r) for r in rows[:limit]], len(rows) > limit

    def ids(self, limit: int) -> list[str]:
        """The ids of the store's newest ``limit`` jobs, of every user and status (what ``POST /v1/verify``
        matches a faint watermark against)."""
        with self.db.read() as s:
            return list(s.execute(select(JobRow.id).order_by(JobRow.seq.desc()).limit(limit)).scalars())

    def usage(self, user_id: int, now: float) -> Usage:
        with self.db.read() as s:
            return self._usage(s, user_id, period_of(now))

    def count_by_status(self) -> dict[str, int]:
        with self.db.read() as s:
            return {status: int(n) for status, n in
                    s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all()}

    def ledger(self, job_id: str | None = None, user_id: int | None = None) -> list[LedgerEntry]:
        with self.db.read() as s:
            query = select(LedgerRow).order_by(LedgerRow.id)
            if job_id is not None:
                query = query.where(LedgerRow.job_id == job_id)
            if user_id is not None:
                query = query.where(LedgerRow.user_id == user_id)
            return [LedgerEntry(r.job_id, r.user_id, r.period, r.tier, r.kind, r.videos, r.credits)
                    for r in s.execute(query).scalars()]

    # ---- running ----------------------------------------------------------------------------

    def claim_next(self, now: float, concurrency: Callable[[str], int], owner: str | None = None,
                   lease_s: float = 30.0) -> JobRecord | None:
        """Move the oldest queued job whose user is under their plan's concurrency to running.

        ``concurrency(plan_name)`` gives a plan's limit. The claim bumps ``attempt``: reports from an
        older attempt of the same job are ignored from then on. ``owner`` (the claiming replica) holds
        the job for ``lease_s`` seconds from ``now``, renewed by :meth:`renew_leases`; a claim with no
        owner holds no lease (any reconciliation may re-queue it).
        """
        with self.db.write() as s:
            running = s.execute(
                select(JobRow.user_id, UserRow.plan, func.count()).join(UserRow, UserRow.id == JobRow.user_id)
                .where(JobRow.status == "running").group_by(JobRow.user_id, UserRow.plan)).all()
            blocked = {user_id for user_id, plan, n in running if n >= concurrency(plan)}
            for _ in range(_CLAIM_TRIES):
                query = select(JobRow).where(JobRow.status == "queued").order_by(JobRow.seq).limit(1)
                if blocked:
                    query = query.where(JobRow.user_id.not_in(blocked))
                if not self.db.is_sqlite:
                    query = query.with_for_update(skip_locked=True)
                row = s.execute(query).scalar_one_or_none()
                if row is None:
                    return None
                if not self.db.is_sqlite and not self._under_concurrency(s, row.user_id, concurrency):
                    blocked.add(row.user_id)
                    continue
                row.status = "running"
                row.attempt += 1
                row.started_at = now
                row.progress = 0
                row.eta_seconds = None
                row.stage = "starting"
                row.owner = owner
                row.lease_until = now + lease_s if owner is not None else None
                s.flush()
                return _record(row)
            return None

    @staticmethod
    def _under_concurrency(s: Session, user_id: int, concurrency: Callable[[str], int]) -> bool:
        """PostgreSQL: under the user's row lock (claims for one user take turns on it, whichever replica
        makes them), whether they run fewer jobs than their plan allows. READ COMMITTED: the count sees
        every claim committed before the lock was taken.

        SKIP LOCKED, not a wait: a claim keeps the user locks of the users it looked past until it commits,
        so two claims waiting on each other's would deadlock. A user locked by another claim (or by their
        own submission, for a moment) is passed over this round; the next dispatch round takes their job.
        """
        plan = s.execute(select(UserRow.plan).where(UserRow.id == user_id)
                         .with_for_update(skip_locked=True)).scalar_one_or_none()
        if plan is None:
            return False
        running = s.execute(select(func.count()).select_from(JobRow)
                            .where(JobRow.user_id == user_id, JobRow.status == "running")).scalar_one()
        return int(running) < concurrency(plan)

    def renew_leases(self, owner: str, held: list[tuple[str, int]], now: float, lease_s: float) -> set[tuple[str, int]]:
        """Extend ``owner``'s lease on the (job id, attempt) it runs; returns those still its own.

        A held attempt missing from the answer was taken from the owner (its lease ran out and another
        replica re-queued it) or ended meanwhile (canceled, deleted): the owner should stop running it.
        """
        if not held:
            return set()
        with self.db.write() as s:
            renewed = s.execute(
                update(JobRow).where(JobRow.owner == owner, JobRow.status == "running",
                                     JobRow.id.in_([job_id for job_id, _ in held]))
                .values(lease_until=now + lease_s).returning(JobRow.id, JobRow.attempt)).all()
        return {(job_id, attempt) for job_id, attempt in renewed} & set(held)

    def set_progress(self, job_id: str, attempt: int, progress: int, eta_seconds: float | None,
                     stage: str | None) -> JobRecord | None:
        """Store progress of a running attempt; None when the job is no longer running that attempt."""
        with self.db.write() as s:
            done = s.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.status == "running", JobRow.attempt == attempt)
                .values(progress=max(0, min(99, progress)), eta_seconds=eta_seconds, stage=stage))
            if done.rowcount != 1:
                return None
            row = s.execute(select(JobRow).where(JobRow.id == job_id)).scalar_one()
            return _record(row)

    def finish(self, job_id: str, attempt: int, outcome: Outcome, now: float) -> JobRecord | None:
        """End a running attempt as succeeded or failed (refunded); None if it was not running that attempt."""
        with self.db.write() as s:
            row = self._locked(s, job_id)
            if row is None or row.status != "running" or row.attempt != attempt:
                return None
            if isinstance(outcome, Succeeded):
                row.status = "succeeded"
                row.progress = 100
                row.eta_seconds = 0.0
                row.stage = "done"
                row.video_path = outcome.video_path
                row.poster_path = outcome.poster_path
                row.sprites_path = outcome.sprites_path
                row.meta = json.dumps(outcome.metadata, ensure_ascii=False, default=str)
                row.expires_at = outcome.expires_at
            else:
                self._fail(s, row, "failed", outcome.code, outcome.message, now)
            row.completed_at = now
            return self._ended(s, row, now)

    def cancel(self, job_id: str, user_id: int | None, now: float,
               message: str = "canceled by the user") -> JobRecord | None:
        """Cancel a queued or running job (refunded). Returns the job as it is now, None if not found."""
        with self.db.write() as s:
            row = self._locked(s, job_id, user_id)
            if row is None:
                return None
            if row.status in ACTIVE:
                self._fail(s, row, "canceled", CANCELED, message, now)
                row.completed_at = now
                return self._ended(s, row, now)
            return _record(row)

    def delete(self, job_id: str, user_id: int, now: float) -> JobRecord | None:
        """Delete the job (canceling it first if active); returns what was deleted, None if not found."""
        with self.db.write() as s:
            row = self._locked(s, job_id, user_id)
            if row is None:
                return None
            if row.status in ACTIVE:
                self._fail(s, row, "canceled", CANCELED, "deleted by the user", now)
                row.completed_at = now
                self._ended(s, row, now)
            record = _record(row)
            s.delete(row)
            return record

    def requeue_running(self, now: float, max_attempts: int,
                        only_expired: bool = False) -> tuple[list[JobRecord], list[JobRecord]]:
        """At start: jobs left running by a dead process go back to the queue, keeping their one charge.

        ``only_expired`` (a store shared by several replicas): only the jobs whose lease ran out before
        ``now``; the others belong to live replicas. A job that has already been started ``max_attempts``
        times fails instead (refunded): it is probably what kills the process. Returns (requeued, failed).
        """
        requeued: list[JobRecord] = []
        failed: list[JobRecord] = []
        with self.db.write() as s:
            query = select(JobRow).where(JobRow.status == "running")
            if only_expired:
                query = query.where(or_(JobRow.lease_until.is_(None), JobRow.lease_until < now))
            for row in s.execute(query.with_for_update()).scalars():
                if row.attempt >= max_attempts:
                    self._fail(s, row, "failed", TOO_MANY_ATTEMPTS,
                               f"generation was interrupted {row.attempt} times; giving up", now)
                    row.completed_at = now
                    failed.append(self._ended(s, row, now))
                else:
                    self._requeue(row)
                    requeued.append(_record(row))
        return requeued, failed

    def retry_or_fail(self, job_id: str, attempt: int, code: str, message: str, max_attempts: int,
                      now: float, lease_expired: bool = False) -> JobRecord | None:
        """A worker died running this attempt: queue the job again, or fail it after ``max_attempts``.

        ``lease_expired``: only if nobody holds the job's lease at ``now`` (taking over another replica's
        job: checked under the row's lock, so a renewal that came meanwhile wins).
        """
        with self.db.write() as s:
            row = self._locked(s, job_id)
            if row is None or row.status != "running" or row.attempt != attempt:
                return None
            if lease_expired and row.lease_until is not None and row.lease_until >= now:
                return None
            if row.attempt >= max_attempts:
                self._fail(s, row, "failed", code, message, now)
                row.completed_at = now
                return self._ended(s, row, now)
            self._requeue(row)
            return _record(row)

    def release(self, job_id: str, attempt: int) -> JobRecord | None:
        """An orderly stop interrupted this attempt: back to the queue, and the attempt does not count."""
        with self.db.write() as s:
            row = self._locked(s, job_id)
            if row is None or row.status != "running" or row.attempt != attempt:
                return None
            self._requeue(row)
            row.attempt = max(0, row.attempt - 1)
            return _record(row)

    def running_leases(self) -> list[Lease]:
        """Every job the store says is running, with its owner and lease: what reconciliation checks."""
        with self.db.connect() as conn:
            return [Lease(row.id, row.attempt, row.owner, row.lease_until) for row in
                    conn.execute(select(JobRow.id, JobRow.attempt, JobRow.owner, JobRow.lease_until)
                                 .where(JobRow.status == "running"))]

    def probe_write(self, now: float) -> None:
        """A small write transaction (the health check's): raises when the store cannot be written."""
        with self.db.write() as s:
            s.merge(MetaRow(key="health_probe", value=repr(now)))

    def expire(self, now: float) -> list[JobRecord]:
        """Finished videos past ``expires_at`` lose their files; returns them so the caller deletes the files."""
        with self.db.write() as s:
            rows = list(s.execute(select(JobRow).where(JobRow.status == "succeeded", JobRow.expires_at.is_not(None),
                                                       JobRow.expires_at < now, JobRow.video_path.is_not(None))
                                  .with_for_update()).scalars())
            records = [_record(r) for r in rows]
            for row in rows:
                row.video_path = row.poster_path = row.sprites_path = None
            return records

    # ---- webhook outbox -----------------------------------------------------------------------

    def due_deliveries(self, now: float, limit: int = 20, hold_s: float = 60.0) -> list[Delivery]:
        """Pending deliveries due by ``now``, held for the caller for ``hold_s``: their next attempt moves to
        ``now + hold_s``, so another replica's sender does not send them too (``delivery_done`` or
        ``delivery_failed`` settles them; a sender that dies holding them has them sent again after ``hold_s``)."""
        with self.db.write() as s:
            query = (select(WebhookRow).where(WebhookRow.status == "pending", WebhookRow.next_attempt_at <= now)
                     .order_by(WebhookRow.next_attempt_at).limit(limit))
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(s.execute(query).scalars())
            for row in rows:
                row.next_attempt_at = now + hold_s
            return [Delivery(r.id, r.user_id, r.job_id, r.event_type, r.url, r.payload, r.attempts) for r in rows]

    def next_delivery_at(self) -> float | None:
        with self.db.read() as s:
            return s.execute(select(func.min(WebhookRow.next_attempt_at)).where(WebhookRow.status == "pending")).scalar()

    def webhook_secret(self, user_id: int) -> str | None:
        with self.db.read() as s:
            return s.execute(select(UserRow.webhook_secret).where(UserRow.id == user_id)).scalar()

    def delivery_done(self, delivery_id: str, now: float) -> None:
        with self.db.write() as s:
            s.execute(update(WebhookRow).where(WebhookRow.id == delivery_id)
                      .values(status="delivered", attempts=WebhookRow.attempts + 1, delivered_at=now, last_error=None))

    def delivery_failed(self, delivery_id: str, error: str, next_attempt_at: float | None) -> None:
        """Record a failed attempt: retry at ``next_attempt_at``, or give up when it is None."""
        values: dict = {"attempts": WebhookRow.attempts + 1, "last_error": error[:2000]}
        if next_attempt_at is None:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = next_attempt_at
        with self.db.write() as s:
            s.execute(update(WebhookRow).where(WebhookRow.id == delivery_id).values(**values))

    def deliveries(self, job_id: str) -> list[tuple[str, str, int]]:
        """(event type, status, attempts) of a job's webhook deliveries, oldest first."""
        with self.db.read() as s:
            return [(r.event_type, r.status, r.attempts) for r in
                    s.execute(select(WebhookRow).where(WebhookRow.job_id == job_id).order_by(WebhookRow.created_at)).scalars()]

    def purge_deliveries(self, before: float) -> int:
        with self.db.write() as s:
            return s.execute(delete(WebhookRow).where(WebhookRow.status != "pending", WebhookRow.created_at < before)).rowcount

    # ---- internals ----------------------------------------------------------------------------

    def _locked(self, s: Session, job_id: str, user_id: int | None = None) -> JobRow | None:
        query = select(JobRow).where(JobRow.id == job_id).with_for_update()
        if user_id is not None:
            query = query.where(JobRow.user_id == user_id)
        return s.execute(query).scalar_one_or_none()

    @staticmethod
    def _requeue(row: JobRow) -> None:
        row.owner = None
        row.lease_until = None
        row.status = "queued"
        row.progress = 0
        row.eta_seconds = None
        row.stage = None
        row.started_at = None

    def _fail(self, s: Session, row: JobRow, status: JobStatus, code: str, message: str, now: float) -> None:
        """Fail or cancel the job and refund its charge (into the month it was charged)."""
        row.status = status
        row.error_code = code
        row.error_message = message
        row.eta_seconds = None
        charge = s.execute(select(LedgerRow).where(LedgerRow.job_id == row.id, LedgerRow.kind == "charge")).scalar_one_or_none()
        if charge is not None:
            s.add(LedgerRow(user_id=charge.user_id, job_id=row.id, period=charge.period, tier=charge.tier,
                            kind="refund", videos=-charge.videos, credits=-charge.credits, created_at=now))

    def _ended(self, s: Session, row: JobRow, now: float) -> JobRecord:
        """After a terminal transition: queue the owner's webhook in this same transaction."""
        row.lease_until = None  # ``owner`` stays: the replica that last ran it
        s.flush()
        record = _record(row)
        user = s.get(UserRow, row.user_id)
        if user is not None and user.webhook_url:
            event_id = "evt_" + secrets.token_hex(12)
            event_type = "video.completed" if record.status == "succeeded" else "video.failed"
            payload = json.dumps({"id": event_id, "object": "event", "type": event_type, "created_at": int(now),
                                  "data": {"id": record.id, "video": video_object(record)}},
                                 ensure_ascii=False, separators=(",", ":"))
            s.add(WebhookRow(id=event_id, user_id=user.id, job_id=record.id, event_type=event_type,
                             url=user.webhook_url, payload=payload, status="pending", attempts=0,
                             next_attempt_at=now, created_at=now))
        return record

    def _usage(self, s: Session, user_id: int, period: str) -> Usage:
        rows = s.execute(select(LedgerRow.tier, func.sum(LedgerRow.videos), func.sum(LedgerRow.credits))
                         .where(LedgerRow.user_id == user_id, LedgerRow.period == period)
                         .group_by(LedgerRow.tier)).all()
        tiers = {tier: TierUsage(0, 0) for tier in TIERS}
        for tier, videos, credits in rows:
            tiers[tier] = TierUsage(int(videos or 0), int(credits or 0))
        counts = dict(s.execute(select(JobRow.status, func.count()).where(JobRow.user_id == user_id,
                                                                         JobRow.status.in_(ACTIVE))
                                .group_by(JobRow.status)).all())
        return Usage(period, tiers, sum(t.credits for t in tiers.values()), int(counts.get("running", 0)),
                     int(sum(counts.values())))
