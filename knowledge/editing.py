"""Staff editing of knowledge articles: validate, save, publish, revert, history, import and export.

The files in `settings.knowledge_dir` are what the assistant answers from. Every saved version is
also kept in `article_revisions`, so a change can be seen and undone. Everything here is
synchronous (file writes, the index, SQLAlchemy); the web admin calls it in a worker thread.
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.settings import Settings
from assistant.store.db import sync_sessions
from knowledge import index as kb_index
from knowledge.articles import _ID, Article, ArticleError, _field_line, parse_article
from knowledge.models import ArticleRevision

log = logging.getLogger("dasi.knowledge.editing")

ACTIONS = ("create", "edit", "publish", "unpublish", "revert")
MAX_CHARS = 20_000  # far above any article; keeps a form post under the gateway's body limit
# One writer at a time per process: the lexical index is rebuilt whole on every change.
_WRITE_LOCK = threading.Lock()


class EditConflict(Exception):
    """The file changed after the editor opened it; saving would silently drop someone's work."""


class InvalidArticles(Exception):
    def __init__(self, errors: list[ArticleError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Revision:
    id: int
    article_id: str
    content: str
    action: str
    author: str
    created_at: datetime

    @property
    def status(self) -> str:
        return status_of(self.content)


@dataclass(frozen=True)
class SaveResult:
    article: Article
    action: str
    changed: bool  # False when the content was already exactly this
    revision_id: int | None
    index_error: str | None = None  # the file is saved, but the index could not be updated


@dataclass(frozen=True)
class Entry:
    """One article file as the staff list shows it; a file that does not parse is listed too."""

    id: str
    text: str
    article: Article | None
    error: ArticleError | None

    @property
    def status(self) -> str:
        return self.article.status if self.article else "invalid"


# --- text helpers -------------------------------------------------------------------------------

_STATUS_LINE = re.compile(r"^status:(.*)$", re.MULTILINE)


def normalize(text: str) -> str:
    """Browsers send CRLF from a textarea; files are LF with one final newline."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n") + "\n"


def content_hash(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()[:16]


def _header(text: str) -> str:
    return text[4:].split("\n---\n", 1)[0] if text.startswith("---\n") else ""


def set_status(text: str, status: str) -> str:
    """Change only the `status:` line of the front matter, leaving every other byte as it was."""
    header = _header(text)
    if not header or not _STATUS_LINE.search(header):
        return text  # validation will say what is wrong
    new_header = _STATUS_LINE.sub(f"status: {status}", header, count=1)
    return "---\n" + new_header + text[4 + len(header):]


def status_of(text: str) -> str:
    m = _STATUS_LINE.search(_header(text))
    return m.group(1).strip() if m else ""


def _id_in(text: str) -> str | None:
    try:
        meta = yaml.safe_load(_header(text))
    except yaml.YAMLError:
        return None
    return str(meta["id"]) if isinstance(meta, dict) and meta.get("id") else None


# --- files --------------------------------------------------------------------------------------

def article_path(settings: Settings, article_id: str) -> Path:
    """The file of an article id; ids are checked so that no id can name a path elsewhere."""
    if not _ID.match(article_id or ""):
        raise ValueError(f"invalid article id {article_id!r}")
    return settings.knowledge_dir / f"{article_id}.md"


def read(settings: Settings, article_id: str) -> str:
    return article_path(settings, article_id).read_text(encoding="utf-8")


def _atomic_write(path: Path, text: str) -> None:
    """Readers (the index, the action server) see the old file or the new one, never half of one."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ids_on_disk(settings: Settings) -> set[str]:
    return {p.stem for p in settings.knowledge_dir.glob("*.md")}


def list_entries(settings: Settings) -> list[Entry]:
    entries = []
    for p in sorted(settings.knowledge_dir.glob("*.md")):
        text = p.read_text(encoding="utf-8")
        try:
            entries.append(Entry(p.stem, text, parse_article(text, p), None))
        except ArticleError as exc:
            entries.append(Entry(p.stem, text, None, exc))
    return entries


def search_entries(entries: list[Entry], query: str = "", status: str = "", category: str = "") -> list[Entry]:
    """Filter by status and category; the query matches id, title, category, status or any text."""
    words = query.casefold().split()
    found = []
    for e in entries:
        if status and e.status != status:
            continue
        if category and (e.article is None or e.article.category != category):
            continue
        haystack = e.text.casefold()
        if all(w in haystack for w in words):
            found.append(e)
    return found


# --- validation ---------------------------------------------------------------------------------

def validate(settings: Settings, text: str, article_id: str | None = None) -> Article:
    """The checks `dasi kb validate` makes, plus what would break the whole knowledge base when this
    one file is written (a `related` id that does not exist). `article_id` None means a new article."""
    text = normalize(text)
    if len(text) > MAX_CHARS:
        raise ArticleError(settings.knowledge_dir / f"{article_id or 'new-article'}.md", 1,
                           f"the article is longer than {MAX_CHARS} characters")
    if article_id is None:
        aid = _id_in(text)
        # An id that is not a valid file name gets a placeholder path; parse_article reports the id.
        path = settings.knowledge_dir / (f"{aid}.md" if aid and _ID.match(aid) else "new-article.md")
    else:
        path = article_path(settings, article_id)
    article = parse_article(text, path)
    header = _header(text)
    if article_id is None and path.exists():
        raise ArticleError(path, _field_line(header, "id"), f"an article with id {article.id!r} already exists")
    known = _ids_on_disk(settings) | {article.id}
    for r in article.related:
        if r not in known:
            raise ArticleError(path, _field_line(header, "related"), f"related article {r!r} does not exist")
    return article


# --- revisions ----------------------------------------------------------------------------------

def _session(settings: Settings) -> Session:
    return sync_sessions(settings.database_url)()


def _frozen(r: ArticleRevision) -> Revision:
    return Revision(r.id, r.article_id, r.content, r.action, r.author, r.created_at)


def history(settings: Settings, article_id: str) -> list[Revision]:
    """Every saved version, newest first."""
    with _session(settings) as s:
        rows = s.scalars(select(ArticleRevision).where(ArticleRevision.article_id == article_id)
                         .order_by(ArticleRevision.id.desc())).all()
        return [_frozen(r) for r in rows]


def _latest(s: Session, article_id: str) -> ArticleRevision | None:
    return s.scalars(select(ArticleRevision).where(ArticleRevision.article_id == article_id)
                     .order_by(ArticleRevision.id.desc()).limit(1)).first()


def _record_disk_version(s: Session, article_id: str, current: str | None) -> None:
    """Files that predate the editor, or were changed by hand since, get their current content
    recorded first, so history is complete and a revert can always go back to it."""
    if current is None:
        return
    latest = _latest(s, article_id)
    if latest is None or latest.content != current:
        s.add(ArticleRevision(article_id=article_id, content=current,
                              action="create" if latest is None else "edit", author="system"))


def _action_for(old: str | None, new: Article) -> str:
    if old is None:
        return "create"
    was = status_of(old)
    if was != "published" and new.published:
        return "publish"
    if was == "published" and not new.published:
        return "unpublish"
    return "edit"


def _update_index(settings: Settings, article_id: str) -> str | None:
    """Only this article's vectors are replaced. Called after every save, drafts too, so the index
    manifest stays current for /healthz; a draft simply leaves the index."""
    try:
        if kb_index.manifest(settings) is None:
            kb_index.build(settings)  # no index yet: one article's vectors alone would be a broken index
        else:
            kb_index.reindex_article(settings, article_id)
        return None
    except Exception as exc:  # the saved file stands; the caller tells staff to reindex
        log.exception("knowledge index update failed for %s", article_id)
        return f"{type(exc).__name__}: {exc}"


def save(settings: Settings, text: str, author: str, *, article_id: str | None = None,
         status: str | None = None, base: str | None = None, action: str | None = None,
         reindex: bool = True) -> SaveResult:
    """Validate and write one article, record the version, update the index.

    article_id None creates a new article. `status` sets the front matter's status (publish or
    unpublish). `base` is `content_hash` of the file the editor started from: if the file changed
    since, EditConflict. Invalid content raises ArticleError and changes nothing."""
    text = normalize(text)
    if status is not None:
        text = set_status(text, status)
    article = validate(settings, text, article_id)
    return _store(settings, article, text, author, creating=article_id is None, base=base, action=action,
                  reindex=reindex)


def _store(settings: Settings, article: Article, text: str, author: str, *, creating: bool,
           base: str | None = None, action: str | None = None, reindex: bool = True) -> SaveResult:
    """Write a validated article: the version first (in the transaction), then the file, then commit."""
    path = article_path(settings, article.id)
    with _WRITE_LOCK:
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if creating and old is not None:  # created by someone else meanwhile
            raise ArticleError(path, 1, f"an article with id {article.id!r} already exists")
        if base is not None and content_hash(old) != base:
            raise EditConflict(article.id)
        if old == text:
            return SaveResult(article, "none", False, None)
        act = action or _action_for(old, article)
        with _session(settings) as s:
            _record_disk_version(s, article.id, old)
            rev = ArticleRevision(article_id=article.id, content=text, action=act, author=author[:60])
            s.add(rev)
            s.flush()
            _atomic_write(path, text)
            try:
                s.commit()
            except BaseException:
                _restore(path, old)
                raise
        index_error = _update_index(settings, article.id) if reindex else None
    return SaveResult(article, act, True, rev.id, index_error)


def _restore(path: Path, old: str | None) -> None:
    if old is None:
        path.unlink(missing_ok=True)
    else:
        _atomic_write(path, old)


def publish(settings: Settings, article_id: str, author: str) -> SaveResult:
    return save(settings, read(settings, article_id), author, article_id=article_id, status="published")


def unpublish(settings: Settings, article_id: str, author: str) -> SaveResult:
    return save(settings, read(settings, article_id), author, article_id=article_id, status="draft")


def revert(settings: Settings, article_id: str, revision_id: int, author: str) -> SaveResult:
    """A new version with an old version's content (status included); history is never rewritten."""
    with _session(settings) as s:
        rev = s.get(ArticleRevision, revision_id)
        if rev is None or rev.article_id != article_id:
            raise LookupError(f"no revision {revision_id} of {article_id}")
        content = rev.content
    return save(settings, content, author, article_id=article_id, action="revert")


def diff_html(old: str, new: str, old_label: str, new_label: str) -> str:
    """Side-by-side HTML table (difflib escapes the text); only changed lines with some context."""
    return difflib.HtmlDiff(tabsize=2).make_table(old.splitlines(), new.splitlines(), old_label, new_label,
                                                  context=True, numlines=2)


# --- import and export --------------------------------------------------------------------------

def import_dir(settings: Settings, source: Path, author: str = "cli") -> list[str]:
    """Validate every `*.md` in `source` first; if any is invalid, import nothing (InvalidArticles).
    Then write each changed file as a new version and update the index. Returns the changed ids."""
    files = sorted(source.glob("*.md"))
    if not files:
        raise InvalidArticles([ArticleError(source, 0, "no .md files to import")])
    texts, errors = {}, []
    known = _ids_on_disk(settings) | {p.stem for p in files}
    for p in files:
        text = normalize(p.read_text(encoding="utf-8"))
        try:
            article = parse_article(text, p)
            for r in article.related:
                if r not in known:
                    raise ArticleError(p, _field_line(_header(text), "related"),
                                       f"related article {r!r} does not exist")
            if len(text) > MAX_CHARS:
                raise ArticleError(p, 1, f"the article is longer than {MAX_CHARS} characters")
            texts[article.id] = text
        except ArticleError as exc:
            errors.append(exc)
    if errors:
        raise InvalidArticles(errors)
    changed = []
    for aid, text in texts.items():
        target = article_path(settings, aid)
        # Already validated as a set (related ids may point at each other), so stored directly.
        result = _store(settings, parse_article(text, target), text, author, creating=not target.exists(),
                        reindex=False)
        if result.changed:
            changed.append(aid)
    if changed:
        # One article's vectors at a time is cheaper for a few; a full rebuild for many or for none yet.
        if kb_index.manifest(settings) is None or len(changed) > 5:
            kb_index.build(settings)
        else:
            for aid in changed:
                kb_index.reindex_article(settings, aid)
    return changed


def export_dir(settings: Settings, dest: Path) -> int:
    """Copy every article file, drafts included, byte for byte."""
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(settings.knowledge_dir.glob("*.md"))
    for p in files:
        shutil.copyfile(p, dest / p.name)
    return len(files)
