"""The append-only audit log: every view of a conversation and every console action, with who, what,
which record, when and from where. There is deliberately no update or delete function here; on
PostgreSQL a trigger (migration 0004) refuses them too. Never put message text in `detail`."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from casebook.models import AuditEntry


def record(session: AsyncSession, actor: str, action: str, record_type: str = "", record_id: str = "",
           ip: str = "", **detail: Any) -> None:
    session.add(AuditEntry(actor=actor[:60], action=action[:40], record_type=record_type[:20],
                           record_id=str(record_id)[:64], ip=(ip or "")[:64], detail=detail))


async def entries(session: AsyncSession, limit: int = 200, before: int | None = None,
                  actor: str | None = None, record_id: str | None = None) -> list[AuditEntry]:
    """Newest first; `before` pages back by id."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if record_id:
        stmt = stmt.where(AuditEntry.record_id == record_id)
    return list((await session.scalars(stmt)).all())


def as_dict(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
            "record_type": entry.record_type, "record_id": entry.record_id, "ip": entry.ip, "detail": entry.detail}
