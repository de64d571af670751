"""What the actions share: the knowledge index, loaded once, and conversation updates."""
from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from casebook.conversations import service as conv_service
from knowledge.index import KnowledgeIndex, manifest

log = logging.getLogger("dasi.actions")


_index: KnowledgeIndex | None = None


def knowledge() -> KnowledgeIndex:
    """The loaded index, reloaded when staff have published a change since it was loaded."""
    global _index
    settings = get_settings()
    if _index is None or _index.built_at != (manifest(settings) or {}).get("built_at"):
        _index = KnowledgeIndex(settings)
    return _index


async def update_conversation(public_id: str, *, risk: str | None = None, handoff: str | None = None,
                              youth: bool = False, event: str | None = None,
                              assessment: dict | None = None) -> str | None:
    """Apply what an action decided to the conversation; returns its state, or None if unknown.

    A database failure is logged (without text) and does not stop the reply: the person still
    gets their answer."""
    try:
        async with sessionmaker()() as s, s.begin():
            conv = await conv_service.get_conversation(s, public_id)
            if conv is None:
                return None
            if risk:
                await conv_service.raise_risk(s, conv, risk, "bot", **(assessment or {}))
            if youth:
                await conv_service.flag_youth(s, conv, "bot")
            if handoff:
                await conv_service.request_handoff(s, conv, "bot", reason=handoff)
            if event:
                conv_service.add_event(s, conv, event, "bot")
            return conv.state
    except SQLAlchemyError as exc:
        log.error("conversation update failed: %s", type(exc).__name__)
        return None
