"""Citizen report tables. One *item* per thing reported (a link or a text): duplicates are merged into it
with a count. One *report* per submission, each with its own receipt (only a keyed hash of the code is
stored). What a person wrote is encrypted; what staff count by (type, channel, flags, times) is clear.
Nothing about the reporter is stored: no address, no user agent, no device data."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.core.clock import utcnow
from assistant.store.base import Base, EncryptedJSON, EncryptedText, UTCDateTime


class CitizenItem(Base):
    __tablename__ = "citizen_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # the first report's type
    # Keyed hashes (assistant.store.crypto.blind_index) of the normalised URL / text: duplicates meet here.
    url_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    text_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    minor: Mapped[bool] = mapped_column(Boolean, default=False)  # a reporter said a minor is involved
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Filled by the pipeline (detection.citizen.worker): the post in the review queue.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("detection_posts.id", ondelete="SET NULL"),
                                                   nullable=True, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    fetch: Mapped[str | None] = mapped_column(String(20), nullable=True)  # ok | failed:<code> | none
    # The counsellor-queue conversation, once a minor in danger was handed over.
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"),
                                                           nullable=True)


class CitizenReport(Base):
    __tablename__ = "citizen_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_key: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("citizen_items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))  # web | chat
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[dict] = mapped_column(EncryptedJSON)  # url, text, place, when, description
    screenshots: Mapped[list | None] = mapped_column(EncryptedJSON, nullable=True)  # [{sha256, type, bytes}]
    # A chat report: the conversation's opaque public id, so a minor's conversation itself is queued.
    conversation: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
