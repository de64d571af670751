"""The knowledge base's table: every saved version of an article, so staff can see what changed and revert."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.core.clock import utcnow
from assistant.store.base import Base, UTCDateTime


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


class TranslationRevision(Base):
    """Every saved or reviewed version of a translation (knowledge/articles/translations/): who changed
    or reviewed it, and against which Korean version (`source_hash`). Public information, stored in clear."""

    __tablename__ = "translation_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(12))  # create | edit | review
    author: Mapped[str] = mapped_column(String(60))  # user:<login> | cli | system
    source_hash: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_translation_revisions_article", "article_id", "lang", "id"),)
