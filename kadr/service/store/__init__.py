"""The service's persistent state: users and keys, jobs, the usage ledger and the webhook outbox.

One SQLAlchemy code path for SQLite (the embedded default) and PostgreSQL (``--db postgresql://…``).
"""

from kadr.service.store.characters import CharacterRecord, CharacterStore, new_character_id
from kadr.service.store.database import Database, StoreInUse, hold_single_replica, normalize_url
from kadr.service.store.jobs import (
    Delivery,
    Failed,
    JobStore,
    LedgerEntry,
    Lease,
    QuotaExceeded,
    Succeeded,
    TierUsage,
    UnknownUser,
    Usage,
    new_job_id,
)
from kadr.service.store.users import KeyCache, NewUser, UserError, UserRecord, UserStore, hash_key

__all__ = [
    "CharacterRecord",
    "CharacterStore",
    "Database",
    "Delivery",
    "Failed",
    "JobStore",
    "KeyCache",
    "LedgerEntry",
    "Lease",
    "NewUser",
    "QuotaExceeded",
    "StoreInUse",
    "Succeeded",
    "TierUsage",
    "UnknownUser",
    "Usage",
    "UserError",
    "UserRecord",
    "UserStore",
    "hash_key",
    "hold_single_replica",
    "new_character_id",
    "new_job_id",
    "normalize_url",
]
