"""Users and their API keys. A key is shown once, when made; the store keeps its SHA-256 only.

SHA-256 (not a slow password hash) is right here: keys are 256 random bits, so there is nothing to
guess, and each request is checked with one indexed lookup.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Row, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError

from kadr.errors import KadrError
from kadr.service.store.database import Database
from kadr.service.store.schema import JobRow, UserRow

KEY_PREFIX = "kadr-"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(KadrError):
    """A user operation that cannot be done (bad name, duplicate, unknown user)."""


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    plan: str
    key_prefix: str
    webhook_url: str | None
    webhook_secret: str | None
    created_at: float


@dataclass(frozen=True)
class NewUser:
    """What `kadr users add` prints: the record, the API key and the webhook secret (shown once)."""

    user: UserRecord
    api_key: str
    webhook_secret: str | None


_USER_BY_KEY_HASH = select(UserRow.__table__).where(UserRow.key_hash == bindparam("key_hash"))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret (``whsec_`` + base64), the form openai.webhooks.verify_signature takes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_webhook_url(url: str) -> str:
    url = url.strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise UserError(f"webhook: got {url!r}; allowed: an http:// or https:// URL")
    return url


def _record(row: UserRow | Row[Any]) -> UserRecord:
    return UserRecord(row.id, row.name, row.plan, row.key_prefix, row.webhook_url, row.webhook_secret, row.created_at)


class KeyCache:
    """API key -> user for ``ttl_s`` seconds, so that polling clients do not read the store every request.

    `kadr users remove`, `users key` and `users set` run in another process: here, a removed or
    replaced key keeps working, and a changed plan applies, after at most ``ttl_s``. Unknown keys are
    not remembered, so a key made a moment ago works at once. Used from the event loop's thread only.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, tuple[UserRecord, float]] = {}

    def get(self, key: str) -> UserRecord | None:
        hit = self._entries.get(hash_key(key))
        if hit is None:
            return None
        if hit[1] <= self.clock():
            self._entries.pop(hash_key(key), None)
            return None
        return hit[0]

    def put(self, key: str, user: UserRecord | None) -> None:
        if user is None or self.ttl_s <= 0:
            return
        now = self.clock()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[hash_key(key)] = (user, now + self.ttl_s)


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, plan: str, now: float, webhook_url: str | None = None) -> NewUser:
        if not _NAME_RE.match(name or ""):
            raise UserError(f"name: got {name!r}; allowed: 1-64 letters, digits, '.', '_', '@' or '-'")
        key = new_key()
        secret = new_webhook_secret() if webhook_url else None
        row = UserRow(name=name, plan=plan, key_hash=hash_key(key), key_prefix=key[: len(KEY_PREFIX) + 6],
                      webhook_url=check_webhook_url(webhook_url) if webhook_url else None,
                      webhook_secret=secret, created_at=now)
        try:
            with self.db.write() as session:
                if session.execute(select(UserRow.id).where(UserRow.name == name)).first() is not None:
                    raise UserError(f"name: a user called {name!r} exists already")
                session.add(row)
                session.flush()
                record = _record(row)
        except IntegrityError:
            raise UserError(f"name: a user called {name!r} exists already") from None
        return NewUser(record, key, secret)

    def authenticate(self, key: str) -> UserRecord | None:
        if not key.startswith(KEY_PREFIX):
            return None
        # A prebuilt Core select on a bare connection: each key cache miss comes here (an ORM session costs 3x).
        with self.db.connect() as conn:
            row = conn.execute(_USER_BY_KEY_HASH, {"key_hash": hash_key(key)}).one_or_none()
            return _record(row) if row is not None else None

    def get(self, user_id: int) -> UserRecord | None:
        with self.db.read() as session:
            row = session.get(UserRow, user_id)
            return _record(row) if row is not None else None

    def by_name(self, name: str) -> UserRecord | None:
        with self.db.read() as session:
            row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
            return _record(row) if row is not None else None

    def list(self) -> list[UserRecord]:
        with self.db.read() as session:
            return [_record(r) for r in session.execute(select(UserRow).order_by(UserRow.id)).scalars()]

    def count(self) -> int:
        with self.db.read() as session:
            return int(session.execute(select(func.count()).select_from(UserRow)).scalar() or 0)

    def update(self, name: str, *, plan: str | None = None, webhook_url: str | None = None,
               clear_webhook: bool = False) -> UserRecord:
        """Change a user's plan or webhook; a new webhook URL gets a new secret (returned in the record)."""
        with self.db.write() as session:
            row = session.execute(select(UserRow).where(UserRow.name == name).with_for_update()).scalar_one_or_none()
            if row is None:
                raise UserError(f"name: no user called {name!r}")
            if plan is not None:
                row.plan = plan
            if clear_webhook:
                row.webhook_url = row.webhook_secret = None
            elif webhook_url is not None:
                row.webhook_url = check_webhook_url(webhook_url)
                row.webhook_secret = new_webhook_secret()
            return _record(row)

    def rotate_key(self, name: str) -> str:
        """A new API key for ``name``; the old one stops working at once."""
        key = new_key()
        with self.db.write() as session:
            row = session.execute(select(UserRow).where(UserRow.name == name).with_for_update()).scalar_one_or_none()
            if row is None:
                raise UserError(f"name: no user called {name!r}")
            row.key_hash = hash_key(key)
            row.key_prefix = key[: len(KEY_PREFIX) + 6]
        return key

    def remove(self, name: str) -> list[str]:
        """Remove the user and their videos; returns the ids of the removed jobs (their files go too)."""
        with self.db.write() as session:
            row = session.execute(select(UserRow).where(UserRow.name == name).with_for_update()).scalar_one_or_none()
            if row is None:
                raise UserError(f"name: no user called {name!r}")
            job_ids = list(session.execute(select(JobRow.id).where(JobRow.user_id == row.id)).scalars())
            session.execute(delete(JobRow).where(JobRow.user_id == row.id))
            session.delete(row)
        return job_ids
