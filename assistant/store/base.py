"""The one declarative Base every package's tables live on, and the column types they share.

Anything a person wrote or that identifies them goes into EncryptedText/EncryptedJSON columns:
encrypted with the data key before it reaches the database (assistant.store.crypto).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from assistant.store import crypto


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class EncryptedText(TypeDecorator):
    """Text encrypted with the data key before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return crypto.encrypt(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return crypto.decrypt(value) if value is not None else None


class EncryptedJSON(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        return crypto.encrypt(json.dumps(value, ensure_ascii=False)) if value is not None else None

    def process_result_value(self, value: str | None, dialect) -> Any:
        return json.loads(crypto.decrypt(value)) if value is not None else None


class Base(DeclarativeBase):
    pass
