"""Database models. Anything a person wrote or that identifies them is stored encrypted."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from casebook import crypto


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class EncryptedText(TypeDecorator):
    """Text encrypted with the data key before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect) -> Optional[str]:
        return crypto.encrypt(value) if value is not None else None

    def process_result_value(self, value: Optional[str], dialect) -> Optional[str]:
        return crypto.decrypt(value) if value is not None else None


class EncryptedJSON(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> Optional[str]:
        import json

        return crypto.encrypt(json.dumps(value, ensure_ascii=False)) if value is not None else None

    def process_result_value(self, value: Optional[str], dialect) -> Any:
        import json

        return json.loads(crypto.decrypt(value)) if value is not None else None


class Base(DeclarativeBase):
    pass


class ConversationState(str, enum.Enum):
    bot = "bot"
    waiting = "waiting"
    counsellor = "counsellor"
    closed = "closed"


class Risk(str, enum.Enum):
    none = "none"
    elevated = "elevated"
    high = "high"
    critical = "critical"


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Opaque id shared with Rasa as the sender id; says nothing about the person.
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    channel: Mapped[str] = mapped_column(String(20))
    # HMAC of channel + platform user id: look-ups without keeping the id in clear.
    user_key: Mapped[str] = mapped_column(String(64))
    user_ref: Mapped[str] = mapped_column(EncryptedText)  # the platform user id, to reply to
    state: Mapped[str] = mapped_column(String(12), default=ConversationState.bot.value)
    risk: Mapped[str] = mapped_column(String(10), default=Risk.none.value)
    youth: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    waiting_since: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    # The counsellor holding it (state counsellor); set only by the queue's conditional UPDATE.
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)

    messages: Mapped[list["Message"]] = relationship(back_populates="conversation", order_by="Message.id")

    # A person may come back after a conversation was closed: a new conversation, same user_key.
    __table_args__ = (Index("ix_conversation_user", "channel", "user_key"),
                      Index("ix_conversation_queue", "state", "risk"))


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(12))  # user | bot | counsellor | system
    text: Mapped[Optional[str]] = mapped_column(EncryptedText, nullable=True)
    buttons: Mapped[Optional[list]] = mapped_column(EncryptedJSON, nullable=True)
    # The platform's id for an inbound message: retries of the same message are stored once.
    platform_message_id: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    reply_to_id: Mapped[Optional[int]] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=True)
    delivery: Mapped[str] = mapped_column(String(10), default="stored")  # stored | sent | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Inbound attachments as [{"type", "url"}]: kept for the counsellor, never sent to Rasa.
    attachments: Mapped[Optional[list]] = mapped_column(EncryptedJSON, nullable=True)
    # Outbound delivery (connectors/outbound.py): how often tried, when next, why it failed,
    # and how it reached the person (send_api, kakao_response, kakao_callback, kakao_next_utterance, web_poll).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    delivery_error: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    delivered_via: Mapped[Optional[str]] = mapped_column(String(30), nullable=True)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (UniqueConstraint("channel", "platform_message_id", name="uq_message_platform_id"),
                      Index("ix_messages_delivery", "delivery", "channel"))


class KakaoCallback(Base):
    """A one-time Kakao callback URL (valid about a minute) through which a late answer can still reach the person."""

    __tablename__ = "kakao_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(EncryptedText)  # carries a one-time token
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_kakao_callbacks_conversation", "conversation_id", "expires_at"),)


class ConversationEvent(Base):
    """Dated, attributed changes: state, risk, safety screen hits, failures. Never message text."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(60))  # system | bot | safety_screen | user:<login>
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleRevision(Base):
    """Every saved version of a knowledge article, so staff can see what changed and revert.
    Articles are public information, so the content is stored in clear."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(12))  # create | edit | publish | unpublish | revert
    author: Mapped[str] = mapped_column(String(60))  # admin | admin:<name> | cli | system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_article_revisions_article", "article_id", "id"),)


class User(Base):
    """A console account: counsellor, supervisor, editor (knowledge admin only) or admin (users)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[Optional[str]] = mapped_column(EncryptedText, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A signed-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Assignment(Base):
    """Who held a conversation and when: counsellors may read the conversations they hold or held."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class ConversationNote(Base):
    """A counsellor's private note: never sent to the person, kept apart from messages for that reason."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    text: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only: who did what to which record, when and from where. Never message text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(60))  # user:<login> | cli | anonymous
    action: Mapped[str] = mapped_column(String(40))
    record_type: Mapped[str] = mapped_column(String(20), default="")
    record_id: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
