"""Staff work on translations: see their status beside the Korean, edit them, mark them reviewed.

Files stay the source of truth (knowledge/articles/translations/<lang>/<id>.md, so a checkout on a
new machine has them); every save and review is also kept in `translation_revisions` with its
author, like the article editor's `article_revisions`. Editing keeps the recorded Korean version
(a stale translation stays stale until someone marks it reviewed against the Korean as it is now)
and clears the review; marking reviewed records who, when, and the Korean version (hash and, when
the editor has one, its revision id). Synchronous; the admin calls it in a worker thread.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from assistant.core.clock import KST
from assistant.core.settings import Settings
from assistant.store.db import sync_sessions
from knowledge import editing, multilingual
from knowledge.articles import Article, ArticleError, parse_article
from knowledge.models import ArticleRevision, TranslationRevision
from knowledge.translations import (
    LANGUAGES,
    Translation,
    korean_articles,
    load_translations,
    parse_translation,
    render,
    source_hash,
    status,
    translation_path,
)

log = logging.getLogger("dasi.knowledge.translating")
MAX_CHARS = editing.MAX_CHARS


@dataclass(frozen=True)
class Pair:
    """One language of one article as the review page shows it."""

    lang: str
    korean: Article
    translation: Translation | None  # None: not translated into this language yet
    status: str  # current | unreviewed | stale | missing
    file_hash: str  # content_hash of the translation file, for edit conflicts ("" when missing)


@dataclass(frozen=True)
class ReviewResult:
    translation: Translation
    saved: bool
    reviewed: bool
    index_error: str | None = None


def _korean(settings: Settings, article_id: str) -> Article:
    path = editing.article_path(settings, article_id)
    return parse_article(path.read_text(encoding="utf-8"), path)


def pair(settings: Settings, article_id: str, lang: str) -> Pair:
    """Raises FileNotFoundError when the Korean article does not exist, ArticleError when it does not parse."""
    korean = _korean(settings, article_id)
    path = translation_path(settings.knowledge_dir, article_id, lang)
    if not path.exists():
        return Pair(lang, korean, None, "missing", "")
    text = path.read_text(encoding="utf-8")
    t = parse_translation(text, path)
    return Pair(lang, korean, t, status(t, korean), editing.content_hash(text))


def pairs(settings: Settings, article_id: str) -> list[Pair]:
    return [pair(settings, article_id, lang) for lang in LANGUAGES]


def overview(settings: Settings) -> dict[str, dict[str, str]]:
    """Article id → language → status, for every article that has at least one translation."""
    korean = korean_articles(settings.knowledge_dir)
    out: dict[str, dict[str, str]] = {}
    for t in load_translations(settings.knowledge_dir):
        out.setdefault(t.id, {})[t.lang] = status(t, korean.get(t.id))
    return out


def korean_at(settings: Settings, article_id: str, wanted_hash: str) -> str | None:
    """The Korean text a translation was made from, when the editor's history still has that version
    (so staff can see what changed since); None when it was never saved through the editor."""
    for rev in editing.history(settings, article_id):
        try:
            if source_hash(parse_article(rev.content, editing.article_path(settings, article_id))) == wanted_hash:
                return rev.content
        except ArticleError:
            continue
    return None


def _korean_revision(settings: Settings, article_id: str, current: str) -> int | None:
    with sync_sessions(settings.database_url)() as s:
        latest = s.scalars(select(ArticleRevision).where(ArticleRevision.article_id == article_id)
                           .order_by(ArticleRevision.id.desc()).limit(1)).first()
        return latest.id if latest is not None and latest.content == current else None


def _reindex(settings: Settings) -> str | None:
    try:
        multilingual.build(settings)
        return None
    except Exception as exc:  # the saved file stands; the page tells staff to reindex
        log.exception("translation index update failed")
        return f"{type(exc).__name__}: {exc}"


def save(settings: Settings, article_id: str, lang: str, title: str, body: str, author: str, *,
         base: str | None = None, review: bool = False) -> ReviewResult:
    """Write the translation's title and body (creating it if missing) and/or mark it reviewed.

    `base` is the file's content_hash when the page was opened: a different file now → EditConflict.
    A new translation records the Korean as it is now (it was written beside it); an edit keeps the
    recorded Korean version, so only a review makes a stale translation current again."""
    title, body = title.strip(), editing.normalize(body).strip()
    path = translation_path(settings.knowledge_dir, article_id, lang)
    if not title or not body:
        raise ArticleError(path, 1, "the translation needs a title and a body")
    if len(title) + len(body) > MAX_CHARS:
        raise ArticleError(path, 1, f"the article is longer than {MAX_CHARS} characters")
    korean_path = editing.article_path(settings, article_id)
    with editing._WRITE_LOCK:
        korean_text = korean_path.read_text(encoding="utf-8")
        korean = parse_article(korean_text, korean_path)
        old_text = path.read_text(encoding="utf-8") if path.exists() else None
        if base is not None and editing.content_hash(old_text) != base:
            raise editing.EditConflict(f"{article_id}/{lang}")
        old = parse_translation(old_text, path) if old_text is not None else None
        t = old or Translation(article_id, lang, title, (), body, source_hash(korean),
                               _korean_revision(settings, article_id, korean_text), "", "", path)
        edited = old is None or (old.title, old.body) != (title, body)
        if edited:
            t = replace(t, title=title, body=body, reviewed_by="", reviewed_at="")
        if review:
            t = replace(t, source_hash=source_hash(korean),
                        source_revision=_korean_revision(settings, article_id, korean_text),
                        reviewed_by=author[:60], reviewed_at=datetime.now(KST).isoformat(timespec="seconds"))
        new_text = render(t)
        if new_text == old_text:
            return ReviewResult(t, False, False)
        parse_translation(new_text, path)  # what is written must load
        actions = (["create" if old is None else "edit"] if edited else []) + (["review"] if review else [])
        path.parent.mkdir(parents=True, exist_ok=True)
        with sync_sessions(settings.database_url)() as s:
            for action in actions:
                s.add(TranslationRevision(article_id=article_id, lang=lang, content=new_text, action=action,
                                          author=author[:60], source_hash=t.source_hash))
            s.flush()
            editing._atomic_write(path, new_text)
            try:
                s.commit()
            except BaseException:
                if old_text is None:
                    path.unlink(missing_ok=True)
                else:
                    editing._atomic_write(path, old_text)
                raise
        index_error = _reindex(settings)
    return ReviewResult(t, edited, review, index_error)


@dataclass(frozen=True)
class TranslationRevisionView:
    id: int
    action: str
    author: str
    source_hash: str
    created_at: datetime


def history(settings: Settings, article_id: str, lang: str) -> list[TranslationRevisionView]:
    """Who saved or reviewed this translation and when, newest first."""
    with sync_sessions(settings.database_url)() as s:
        rows = s.scalars(select(TranslationRevision)
                         .where(TranslationRevision.article_id == article_id, TranslationRevision.lang == lang)
                         .order_by(TranslationRevision.id.desc())).all()
        return [TranslationRevisionView(r.id, r.action, r.author, r.source_hash, r.created_at) for r in rows]
