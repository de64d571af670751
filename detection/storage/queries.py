"""Database access for the pipeline (sync sessions from assistant.store.db: the CLI and the review UI's
executor threads use them): cursors, and finding posts already stored."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.core.settings import Settings
from assistant.store.db import sync_engine, sync_sessions
from detection.storage.tables import DetectedPost, PostStatus, SourceCursor


def session(settings: Settings) -> Session:
    return sync_sessions(settings.database_url)()


def engine(settings: Settings) -> Engine:
    return sync_engine(settings.database_url)


def get_cursor(s: Session, source: str) -> dict[str, Any]:
    row = s.scalar(select(SourceCursor).where(SourceCursor.source == source))
    return dict(row.cursor) if row else {}


def set_cursor(s: Session, source: str, cursor: dict[str, Any]) -> None:
    row = s.scalar(select(SourceCursor).where(SourceCursor.source == source))
    if row is None:
        s.add(SourceCursor(source=source, cursor=cursor))
    else:
        row.cursor = cursor


class PostKeys(Protocol):
    """What identifies a fetched post (detection.pipeline.sources.base.RawPost has these)."""

    content_hash: str
    platform: str
    post_key: str


def existing(s: Session, posts: Sequence[PostKeys]) -> set[str]:
    """Content hashes of `posts` already stored, by content hash or by platform + id/URL key."""
    if not posts:
        return set()
    hashes = {p.content_hash for p in posts}
    keys = {(p.platform, p.post_key) for p in posts}
    rows = s.execute(select(DetectedPost.content_hash, DetectedPost.platform, DetectedPost.post_key).where(
        or_(DetectedPost.content_hash.in_(hashes), DetectedPost.post_key.in_({k for _, k in keys})))).all()
    known_keys = {(r.platform, r.post_key) for r in rows}
    known_hashes = {r.content_hash for r in rows}
    return {p.content_hash for p in posts if p.content_hash in known_hashes or (p.platform, p.post_key) in known_keys}


def labelled(s: Session) -> list[dict[str, Any]]:
    """Every post a person decided on, as training rows: approved → its (corrected) category, rejected → none."""
    rows = s.scalars(select(DetectedPost).where(DetectedPost.status.in_((PostStatus.approved, PostStatus.rejected)),
                                                DetectedPost.reviewed_by.is_not(None)).order_by(DetectedPost.id))
    return [{"id": f"review-{p.id}", "text": p.text,
             "category": p.category if p.status == PostStatus.approved else "none",
             "youth": bool(p.youth) if p.status == PostStatus.approved else False} for p in rows]
