"""Translations of knowledge articles: Markdown files beside the Korean, one folder per language.

    knowledge/articles/translations/<lang>/<article-id>.md

Each file's front matter records the Korean version it was translated from (`source_hash`, a hash
of the Korean title and body, and `source_revision`, the editor's revision id when there was one)
and who reviewed it. The Korean article is the source of truth: when its title or body changes, the
hash no longer matches and the translation is *stale* — never served until staff update it and mark
it reviewed. Status is computed from the files, so a hand edit of the Korean file makes its
translations stale exactly like an edit in the admin.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.articles import _ID, Article, ArticleError, parse_article

# The languages the web chat offers besides Korean (issue 20), with their own names for the menus.
LANGUAGES: dict[str, str] = {"en": "English", "vi": "Tiếng Việt", "th": "ไทย", "zh": "中文",
                             "ru": "Русский", "tl": "Tagalog"}
LANGUAGE_LABELS_KO = {"en": "영어", "vi": "베트남어", "th": "태국어", "zh": "중국어(간체)", "ru": "러시아어",
                      "tl": "타갈로그어"}
# The core articles translated (issue 20): danger, foreign victims' rights and stay, passports,
# advance-payment debts, reaching the centre, interpretation.
CORE_ARTICLES = ("emergency-danger-now", "emergency-112-text", "migrants-stay-visa", "migrants-no-deportation",
                 "rights-passport-taken", "debt-advance-payment-void", "centre-contact", "migrants-danuri",
                 "migrants-interpretation", "migrants-1345")
REQUIRED = ("id", "lang", "title", "source_hash")
STATUSES = ("current", "unreviewed", "stale")
STATUS_LABELS = {"current": "최신·검토됨", "unreviewed": "검토 전", "stale": "원문 바뀜", "orphan": "원문 없음"}
FOLDER = "translations"


@dataclass(frozen=True)
class Translation:
    id: str  # the Korean article's id
    lang: str
    title: str
    questions: tuple[str, ...]
    body: str
    source_hash: str  # source_hash() of the Korean article this text was translated from / reviewed against
    source_revision: int | None  # the Korean article's revision id then, when the editor had one
    reviewed_by: str  # "" = never reviewed by staff since it was written or last edited
    reviewed_at: str
    path: Path


def source_hash(article: Article) -> str:
    """The Korean version a translation follows: its title and body (front matter such as `questions`
    or `reviewed_at` can change without making a translation wrong)."""
    return hashlib.sha256(f"{article.title}\n{article.body}".encode()).hexdigest()[:16]


def folder(knowledge_dir: Path) -> Path:
    return knowledge_dir / FOLDER


def translation_path(knowledge_dir: Path, article_id: str, lang: str) -> Path:
    """The file of one translation; id and language are checked so neither can name a path elsewhere."""
    if not _ID.match(article_id or "") or lang not in LANGUAGES:
        raise ValueError(f"invalid translation {article_id!r}/{lang!r}")
    return folder(knowledge_dir) / lang / f"{article_id}.md"


def parse_translation(text: str, path: Path) -> Translation:
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise ArticleError(path, 1, "front matter must start and end with '---'")
    header, body = text[4:].split("\n---\n", 1)
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(path, 2, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(meta, dict):
        raise ArticleError(path, 2, "front matter must be a mapping")
    for name in REQUIRED:
        if meta.get(name) in (None, ""):
            raise ArticleError(path, 1, f"missing field '{name}'")
    if str(meta["id"]) != path.stem:
        raise ArticleError(path, 2, f"id {meta['id']!r} does not match the file name {path.name!r}")
    if meta["lang"] not in LANGUAGES or meta["lang"] != path.parent.name:
        raise ArticleError(path, 3, f"lang must be the folder's language, one of {', '.join(LANGUAGES)}")
    if not re.fullmatch(r"[0-9a-f]{16}", str(meta["source_hash"])):
        raise ArticleError(path, 1, "source_hash must be 16 hex digits (the Korean version it came from)")
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise ArticleError(path, 1, "questions must be a list of strings")
    revision = meta.get("source_revision")
    if revision is not None and not isinstance(revision, int):
        raise ArticleError(path, 1, "source_revision must be a revision number or empty")
    if not body.strip():
        raise ArticleError(path, header.count("\n") + 3, "the translation has no body")
    return Translation(id=str(meta["id"]), lang=meta["lang"], title=str(meta["title"]),
                       questions=tuple(q.strip() for q in questions), body=body.strip(),
                       source_hash=str(meta["source_hash"]), source_revision=revision,
                       reviewed_by=str(meta.get("reviewed_by") or ""), reviewed_at=str(meta.get("reviewed_at") or ""),
                       path=path)


def render(t: Translation) -> str:
    """The file text of a translation (front matter in a fixed order, LF, one final newline)."""
    meta: dict[str, object] = {"id": t.id, "lang": t.lang, "title": t.title}
    if t.questions:
        meta["questions"] = list(t.questions)
    meta |= {"source_hash": t.source_hash, "source_revision": t.source_revision,
             "reviewed_by": t.reviewed_by or None, "reviewed_at": t.reviewed_at or None}
    header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{header}---\n{t.body.strip()}\n"


def load_translations(knowledge_dir: Path) -> list[Translation]:
    """Every translation file, all languages; a file that does not parse raises ArticleError."""
    out = []
    for lang in LANGUAGES:
        for p in sorted((folder(knowledge_dir) / lang).glob("*.md")):
            out.append(parse_translation(p.read_text(encoding="utf-8"), p))
    return out


def korean_articles(knowledge_dir: Path) -> dict[str, Article]:
    """Every Korean article that parses, drafts included, by id (one broken file hides only itself)."""
    found = {}
    for p in sorted(knowledge_dir.glob("*.md")):
        try:
            a = parse_article(p.read_text(encoding="utf-8"), p)
        except ArticleError:
            continue
        found[a.id] = a
    return found


def status(t: Translation, korean: Article | None) -> str:
    """stale: the Korean changed since (or is gone: orphan); unreviewed: follows the Korean but no
    staff member has reviewed this text; current: reviewed against the Korean as it is now."""
    if korean is None:
        return "orphan"
    if t.source_hash != source_hash(korean):
        return "stale"
    return "current" if t.reviewed_by else "unreviewed"


def servable(t: Translation, korean: Article | None, require_review: bool = False) -> bool:
    """May the assistant answer with this text? Never when stale or when the Korean is not published."""
    if korean is None or not korean.published:
        return False
    s = status(t, korean)
    return s == "current" or (s == "unreviewed" and not require_review)
