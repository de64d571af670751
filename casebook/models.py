"""The casebook's tables: conversations and their messages, staff accounts and the audit log, people and
cases. Anything a person wrote or that identifies them is stored encrypted (assistant.store.base types)."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assistant.core.clock import utcnow
from assistant.core.risk import Risk
from assistant.store.base import Base, EncryptedJSON, EncryptedText, UTCDateTime


class ConversationState(str, enum.Enum):
    bot = "bot"
    waiting = "waiting"
    counsellor = "counsellor"
    closed = "closed"


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
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The counsellor holding it (state counsellor); set only by the queue's conditional UPDATE.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)
    # The person behind it, once a counsellor links it (a person may write on several channels).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"),
                                                     nullable=True, index=True)
    # Retention erased the content (messages' text, user_ref); the row stays for anonymous counts.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What the risk assessor carries from one message to the next (assistant.safety.risk): the highest
    # score per category so far and whether an age under 19 was said. Derived from what the person wrote,
    # so encrypted.
    risk_context: Mapped[dict | None] = mapped_column(EncryptedJSON, nullable=True)
    # The language replies are in (assistant.core.languages codes; a code not served gets English): what
    # the person chose in the web chat (language_chosen) or what their messages were written in.
    language: Mapped[str] = mapped_column(String(8), default="ko", server_default="ko")
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.id")

    # A person may come back after a conversation was closed: a new conversation, same user_key.
    __table_args__ = (Index("ix_conversation_user", "channel", "user_key"),
                      Index("ix_conversation_queue", "state", "risk"))


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(12))  # user | bot | counsellor | system
    text: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    buttons: Mapped[list | None] = mapped_column(EncryptedJSON, nullable=True)
    # The platform's id for an inbound message: retries of the same message are stored once.
    platform_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=True)
    delivery: Mapped[str] = mapped_column(String(10), default="stored")  # stored | sent | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Inbound attachments as [{"type", "url"}]: kept for the counsellor, never sent to Rasa.
    attachments: Mapped[list | None] = mapped_column(EncryptedJSON, nullable=True)
    # Outbound delivery (connectors/outbound.py): how often tried, when next, why it failed,
    # and how it reached the person (send_api, kakao_response, kakao_callback, kakao_next_utterance, web_poll).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivery_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    delivered_via: Mapped[str | None] = mapped_column(String(30), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Inbound: which gateway is answering it and until when (a lease it took in one UPDATE), and when
    # it was answered, so several gateways answer it exactly once (connectors/claims.py).
    answering_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    answering_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (UniqueConstraint("channel", "platform_message_id", name="uq_message_platform_id"),
                      Index("ix_messages_delivery", "delivery", "channel"),
                      Index("ix_messages_recent_inbound", "direction", "created_at"))


class RiskLabel(Base):
    """A counsellor's correction of the risk assessment: labelled data for the next training run.
    The message and the earlier ones it was read with are kept encrypted; retention erases them."""

    __tablename__ = "risk_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    text: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    context: Mapped[list | None] = mapped_column(EncryptedJSON, nullable=True)
    categories: Mapped[list] = mapped_column(JSON, default=list)  # codes only
    level: Mapped[str] = mapped_column(String(10))
    was: Mapped[dict] = mapped_column(JSON, default=dict)  # the assessor's level and categories, codes only
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KakaoCallback(Base):
    """A one-time Kakao callback URL (valid about a minute) through which a late answer can still reach the person."""

    __tablename__ = "kakao_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(EncryptedText)  # carries a one-time token
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
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


class User(Base):
    """A console account: counsellor, supervisor, editor (knowledge admin only) or admin (users)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    # The TOTP time-step (unix time // 30) of the last code accepted: a code is good once (replay).
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last sign-in
    # No attempt is checked before this (casebook/staff/accounts.py: a growing wait, not a lockout).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Languages the counsellor can counsel in (codes): the queue suggests them for a conversation in one.
    languages: Mapped[list] = mapped_column(JSON, default=list)


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
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConversationNote(Base):
    """A counsellor's private note: never sent to the person, kept apart from messages for that reason."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
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


# --- Casebook: people, cases and the centre's case-management workflow (issue 7) ---------------
# Everything that names or describes a person is encrypted; what stays in clear (dates, step codes,
# service types, minutes, channel, support level) is what the year's anonymous statistics need, so
# retention can erase the content and keep the counts.


class Person(Base):
    """A contact: may write on several channels (conversations) and have several cases over time."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # an alias is fine
    contact: Mapped[dict | None] = mapped_column(EncryptedJSON, nullable=True)  # phone, email, ...
    youth: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by `dasi people erase` / retention: the content is gone, the row stays for counts (실인원).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Case(Base):
    """A case record. `step` is the current workflow step (casebook/cases/workflow.py has the allowed moves)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(12), unique=True)  # YYYY-NNNN
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="RESTRICT"), index=True)
    # Opened from a conversation (its transcript is linked) or not (walk-in, phone, referral).
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"),
                                                           nullable=True)
    route: Mapped[str] = mapped_column(String(12))  # online | phone | visit | referral
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)  # web, kakao, ... for online
    referred_by: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    step: Mapped[str] = mapped_column(String(12), index=True)
    support_level: Mapped[str | None] = mapped_column(String(10), nullable=True)  # urgent|intensive|general
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)  # a code, not free text
    referred_out: Mapped[bool] = mapped_column(Boolean, default=False)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("year", "seq", name="uq_case_year_seq"),
                      Index("ix_cases_opened", "opened_at"))


class CaseMember(Base):
    """Counsellors assigned to a case besides its owner: they may read and work on it."""

    __tablename__ = "case_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", "user_id", name="uq_case_member"),)


class CaseStep(Base):
    """One dated, attributed move through the workflow, with what was decided (encrypted)."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_step: Mapped[str | None] = mapped_column(String(12), nullable=True)
    to_step: Mapped[str] = mapped_column(String(12))
    on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when it happened (may be backdated)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    data: Mapped[dict | None] = mapped_column(EncryptedJSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseService(Base):
    """A service given (정서적지원, 법률지원, ...): counted every time (건수) in the statistics."""

    __tablename__ = "case_services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # casebook/cases/workflow.py SERVICE_KINDS
    on: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    partner: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # for linkage/legal/medical
    note: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEntry(Base):
    """A note, referral or incident (what, when, where, perpetrators): the body is encrypted JSON."""

    __tablename__ = "case_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # note | referral | incident
    body: Mapped[dict] = mapped_column(EncryptedJSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseDocument(Base):
    """An uploaded file; name and bytes are encrypted (the bytes as a Fernet token)."""

    __tablename__ = "case_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(EncryptedText)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[str] = mapped_column(Text)  # crypto.encrypt_bytes token
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUp(Base):
    """사후관리: scheduled 3 and 6 months after closure; shown when due; done is dated and attributed."""

    __tablename__ = "case_followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    months: Mapped[int] = mapped_column(Integer)  # 3 | 6
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)  # e.g. when the case is reopened
