"""Tables of the store (SQLAlchemy 2.x declarative models); the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# 2: jobs.owner and jobs.lease_until (several API replicas on one PostgreSQL); added to older stores at start.
SCHEMA_VERSION = 2


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    """Key-value facts about the store itself (its schema version)."""

    __tablename__ = "kadr_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    plan: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the API key
    key_prefix: Mapped[str] = mapped_column(String(16))  # shown by `kadr users list`
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    __tablename__ = "jobs"

    # seq orders and pages the list; AUTOINCREMENT so a deleted job's number is never reused.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(128))
    prompt: Mapped[str] = mapped_column(Text)
    params: Mapped[str] = mapped_column(Text)  # the JobSpec as JSON (older rows: the JobParams dict)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[int] = mapped_column(Integer)
    image_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[int] = mapped_column(Integer, default=0)
    video_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    poster_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    sprites_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # the engine's metadata as JSON
    # The replica (``kadr serve`` process) running the job, and until when its claim holds: it renews the
    # lease while the job runs; a job whose lease ran out is taken over by any replica (scheduler.py).
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    # What a remix, edit or extension goes on from (kadr.service.jobs.JobSource); added to older stores by migrate.py.
    source_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    source_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_jobs_user_seq", "user_id", "seq"),
        Index("ix_jobs_status_seq", "status", "seq"),
    )


class LedgerRow(Base):
    """One charge or refund. No foreign keys: the ledger outlives deleted videos and removed users."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))  # "2026-05": the month charged (a refund credits the same)
    tier: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))  # "charge" | "refund"
    videos: Mapped[int] = mapped_column(Integer)  # +1 or -1
    credits: Mapped[int] = mapped_column(Integer)  # +cost or -cost
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("job_id", "kind", name="uq_ledger_job_kind"),  # one charge, one refund: never two
        Index("ix_ledger_user_period", "user_id", "period"),
    )


class WebhookRow(Base):
    """A webhook delivery (the outbox): written in the transaction that ends the job, sent afterwards."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the event id, "evt_…" (webhook-id header)
    user_id: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # "pending" | "delivered" | "failed"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_webhooks_status_next", "status", "next_attempt_at"),)


class CharacterRow(Base):
    """A character's reference picture (POST /v1/videos/characters), one user's, named by later requests."""

    __tablename__ = "characters"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "char_" and 24 hex digits
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    image_path: Mapped[str] = mapped_column(Text)  # the reference picture, a PNG
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # "image" | "video" (an upload) | "video_id" (one of theirs)
    source_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_characters_user", "user_id", "created_at"),)
