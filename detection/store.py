"""Database access for the pipeline: one sync engine per URL (the CLI and the review UI's executor
threads use it), cursors, and inserting posts without duplicates."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from casebook.db import make_sync_engine
from detection.models import DetectedPost, SourceCursor
from detection.sources.base import RawPost


@lru_cache(maxsize=4)
def _maker(url: str) -> sessionmaker[Session]:
    return sessionmaker(make_sync_engine(url), expire_on_commit=False)


def session(settings: Any) -> Session:
    return _maker(settings.database_url)()


def engine(settings: Any) -> Engine:
    return _maker(settings.database_url).kw["bind"]


def get_cursor(s: Session, source: str) -> dict[str, Any]:
    row = s.scalar(select(SourceCursor).where(SourceCursor.source == source))
    return dict(row.cursor) if row else {}


def set_cursor(s: Session, source: str, cursor: dict[str, Any]) -> None:
    row = s.scalar(select(SourceCursor).where(SourceCursor.source == source))
    if row is None:
        s.add(SourceCursor(source=source, cursor=cursor))
    else:
        row.cursor = cursor


def existing(s: Session, posts: list[RawPost]) -> set[str]:
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
