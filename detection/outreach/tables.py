"""Outreach tables: who was flagged (accounts and contacts, by keyed hash), which posts were read, the
drafted messages, and one row per message that actually went out (the "never twice" guard).

Values that name a person (an account, a phone number, a reply target) are encrypted; what staff count
and what the uniqueness rules compare (kinds, statuses, keyed hashes, times) stays in clear columns."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assistant.core.clock import utcnow
from assistant.store.base import Base, EncryptedText, UTCDateTime


class DraftStatus:
    draft = "draft"                    # waiting for a person
    dry_run = "dry_run"                # approved while DASI_OUTREACH_DRY_RUN=1: recorded, nothing sent
    approved = "approved"              # approved; being sent, waiting for a rate limit, or for hand posting
    sent = "sent"                      # the platform's API accepted it
    posted_by_hand = "posted_by_hand"  # staff posted it themselves (platforms without an API)
    failed = "failed"                  # the platform refused it; may be approved again
    rejected = "rejected"              # a person said no
    duplicate = "duplicate"            # the same text already went to the same target


OPEN = (DraftStatus.draft, DraftStatus.dry_run, DraftStatus.failed)  # may still be approved


class OutreachTarget(Base):
    """An account (per platform) or a contact (phone, Kakao id, open chat, Telegram; any platform)."""

    __tablename__ = "detection_outreach_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # account | phone | kakao | openchat | telegram | line
    platform: Mapped[str] = mapped_column(String(30), default="")  # accounts only; "" for contacts
    key_hash: Mapped[str] = mapped_column(String(64))  # blind_index of the normalised value
    value: Mapped[str] = mapped_column(EncryptedText)  # the normalised value, for staff and the report
    minor: Mapped[bool] = mapped_column(Boolean, default=False)  # believed to belong to a minor
    minor_by: Mapped[str | None] = mapped_column(String(60), nullable=True)  # "classifier" or a staff actor
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("detection_reports.id", ondelete="SET NULL"),
                                                  nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "platform", "key_hash", name="uq_outreach_target"),)


class OutreachFlag(Base):
    """A youth-flagged post seen for a target: the count of distinct posts decides the escalation."""

    __tablename__ = "detection_outreach_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("detection_outreach_targets.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("detection_posts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("target_id", "post_id", name="uq_outreach_flag"),)


class OutreachPost(Base):
    """A youth-flagged post outreach has read (so drafting is done once per post)."""

    __tablename__ = "detection_outreach_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("detection_posts.id", ondelete="CASCADE"), unique=True)
    minor_author: Mapped[bool] = mapped_column(Boolean, default=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutreachDraft(Base):
    __tablename__ = "detection_outreach_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("detection_posts.id", ondelete="CASCADE"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("detection_outreach_targets.id", ondelete="SET NULL"),
                                                  nullable=True)
    kind: Mapped[str] = mapped_column(String(12))  # warning | guidance
    template: Mapped[str] = mapped_column(String(30))  # the key in templates.yml
    platform: Mapped[str] = mapped_column(String(30))
    via: Mapped[str] = mapped_column(String(12))  # reply (the platform's API) | manual (staff post it)
    recipient: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # the post id replied to
    text: Mapped[str] = mapped_column(EncryptedText)
    text_hash: Mapped[str] = mapped_column(String(64))
    target_hash: Mapped[str] = mapped_column(String(64))  # whom it reaches: the account (or the post)
    status: Mapped[str] = mapped_column(String(16), default=DraftStatus.draft)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    remote_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(String(80), nullable=True)  # a code, never a platform's text

    __table_args__ = (Index("ix_outreach_drafts_status", "status"),)


class OutreachSend(Base):
    """Written in the transaction that hands a message to the platform (or marks it posted by hand): the
    unique constraint makes a second send of the same text to the same target impossible, even when two
    approvals race."""

    __tablename__ = "detection_outreach_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("detection_outreach_drafts.id", ondelete="CASCADE"),
                                          unique=True)
    target_hash: Mapped[str] = mapped_column(String(64))
    text_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("target_hash", "text_hash", name="uq_outreach_once"),)
