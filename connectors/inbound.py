"""The one shape every channel's inbound message is parsed into."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # web | kakao | instagram | messenger | x
    user_id: str  # the platform's id for the person (web: the chat session)
    text: str | None
    platform_message_id: str | None = None
    attachments: tuple[dict, ...] = ()
    language: str | None = None  # the language the person chose (web chat), else None: detected
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Outcome:
    replies: list[dict]
    state: str
    risk: str
    message_id: int | None = None
    stored: bool = True
    reply_ids: list[int] = field(default_factory=list)  # the stored replies, for the outbox
    elsewhere: bool = False  # answered by another gateway (or run), which also sends the replies
