"""Detection tables: fetched posts, per-source cursors, report drafts.

Post text, account names and URLs are personal data (the people in an ad may be victims), so they are
stored encrypted; what staff count by (category, status, youth, times) stays in clear columns.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assistant.core.clock import utcnow
from assistant.store.base import Base, EncryptedJSON, EncryptedText, UTCDateTime


class PostStatus:
    clear = "clear"        # classified as not an ad: kept for counts, never shown for review
    flagged = "flagged"    # waiting for a person
    approved = "approved"  # a person confirmed it: may go into a report
    rejected = "rejected"  # a person said it is not an ad: fed back into the training data


class ReportStatus:
    draft = "draft"
    submitted = "submitted"      # a person approved it and sent it
    deleted = "deleted"          # re-check found every post gone
    not_deleted = "not_deleted"  # re-check found at least one post still up
    discarded = "discarded"


class SourceCursor(Base):
    """Where a source stopped, saved with the posts of the same batch, so a restart resumes there."""

    __tablename__ = "detection_cursors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(80), unique=True)
    cursor: Mapped[dict] = mapped_column(JSON, default=dict)  # ids, tokens, line numbers: no post text
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DetectedPost(Base):
    __tablename__ = "detection_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(80))
    platform: Mapped[str] = mapped_column(String(30))
    # Uniqueness keys: the platform's id if there is one, else sha256 of the URL, else the content hash.
    post_key: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    post_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    url: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    account: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    text: Mapped[str] = mapped_column(EncryptedText)
    image_urls: Mapped[list | None] = mapped_column(EncryptedJSON, nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The classifier's verdict: counts in clear, explanations (they quote the text) encrypted.
    category: Mapped[str] = mapped_column(String(10), default="none")
    youth: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[dict | None] = mapped_column(EncryptedJSON, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default=PostStatus.clear)
    evidence_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)  # line in the evidence log
    cluster_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # smallest post id in the cluster
    reviewed_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("detection_reports.id", ondelete="SET NULL"),
                                                     nullable=True)
    removal: Mapped[str | None] = mapped_column(String(12), nullable=True)  # deleted | live (last re-check)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("platform", "post_key", name="uq_detection_post_key"),
                      Index("ix_detection_queue", "status", "youth", "score"),
                      Index("ix_detection_cluster", "cluster_id"))


class DetectionReport(Base):
    """One report for one campaign (cluster) to all three channels; documents live under var_dir."""

    __tablename__ = "detection_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), index=True)
    cluster_id: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(10))
    youth: Mapped[bool] = mapped_column(Boolean, default=False)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default=ReportStatus.draft)
    documents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # channel -> relative file path
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
