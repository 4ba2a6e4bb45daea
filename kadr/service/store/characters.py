"""The character store: reference pictures a user keeps (POST /v1/videos/characters) and names in later requests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select

from kadr.service.store.database import Database
from kadr.service.store.schema import CharacterRow

CharacterSource = Literal["image", "video", "video_id"]


def new_character_id() -> str:
    return "char_" + secrets.token_hex(12)


@dataclass(frozen=True)
class CharacterRecord:
    id: str
    user_id: int
    name: str
    image_path: str
    width: int
    height: int
    source: CharacterSource
    source_video_id: str | None
    created_at: float


def _record(row: CharacterRow) -> CharacterRecord:
    return CharacterRecord(row.id, row.user_id, row.name, row.image_path, row.width, row.height,
                           row.source, row.source_video_id, row.created_at)  # type: ignore[arg-type]


class CharacterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: CharacterRecord) -> CharacterRecord:
        with self.db.write() as s:
            s.add(CharacterRow(id=record.id, user_id=record.user_id, name=record.name, image_path=record.image_path,
                               width=record.width, height=record.height, source=record.source,
                               source_video_id=record.source_video_id, created_at=record.created_at))
        return record

    def get(self, character_id: str, user_id: int) -> CharacterRecord | None:
        """The character, or None when there is none of that id or it is another user's."""
        with self.db.read() as s:
            row = s.execute(select(CharacterRow).where(CharacterRow.id == character_id,
                                                       CharacterRow.user_id == user_id)).scalar_one_or_none()
            return _record(row) if row is not None else None

    def list(self, user_id: int) -> list[CharacterRecord]:
        with self.db.read() as s:
            rows = s.execute(select(CharacterRow).where(CharacterRow.user_id == user_id)
                             .order_by(CharacterRow.created_at.desc())).scalars()
            return [_record(r) for r in rows]

    def delete(self, character_id: str, user_id: int) -> CharacterRecord | None:
        with self.db.write() as s:
            row = s.execute(select(CharacterRow).where(CharacterRow.id == character_id,
                                                       CharacterRow.user_id == user_id)).scalar_one_or_none()
            if row is None:
                return None
            record = _record(row)
            s.execute(delete(CharacterRow).where(CharacterRow.id == character_id))
            return record
