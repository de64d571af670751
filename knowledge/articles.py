"""Knowledge articles: Korean Markdown with YAML front matter, parsed and validated."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CATEGORIES = ("emergency", "centre", "rights", "legal", "police", "debt", "health", "shelter", "youth",
              "digital", "migrants", "reporting", "recruitment-scams")
AUDIENCES = ("all", "adult", "youth", "migrant")
STATUSES = ("draft", "published")
REQUIRED = ("id", "title", "category", "audience", "questions", "sources", "reviewed_at", "status")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class ArticleError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    category: str
    audience: str
    questions: tuple[str, ...]
    sources: tuple[dict, ...]
    reviewed_at: str
    status: str
    related: tuple[str, ...]
    body: str
    path: Path

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def summary(self) -> str:
        """The first paragraph: what to do now."""
        return self.body.strip().split("\n\n", 1)[0].strip()


def _field_line(header: str, name: str) -> int:
    for i, line in enumerate(header.splitlines(), start=2):
        if line.startswith(f"{name}:"):
            return i
    return 1


def parse_article(text: str, path: Path) -> Article:
    if not text.startswith("---\n"):
        raise ArticleError(path, 1, "front matter must start with '---'")
    try:
        header, body = text[4:].split("\n---\n", 1)
    except ValueError:
        raise ArticleError(path, 1, "front matter is not closed with '---'") from None
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 2
        raise ArticleError(path, line, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(meta, dict):
        raise ArticleError(path, 2, "front matter must be a mapping")
    for name in REQUIRED:
        if meta.get(name) in (None, "", []):
            raise ArticleError(path, 1, f"missing field '{name}'")

    def check(name: str, ok: bool, why: str) -> None:
        if not ok:
            raise ArticleError(path, _field_line(header, name), why)

    aid = str(meta["id"])
    check("id", bool(_ID.match(aid)), f"id {aid!r} must be lowercase letters, digits and '-'")
    check("id", aid == path.stem, f"id {aid!r} does not match the file name {path.name!r}")
    check("category", meta["category"] in CATEGORIES, f"category must be one of {', '.join(CATEGORIES)}")
    check("audience", meta["audience"] in AUDIENCES, f"audience must be one of {', '.join(AUDIENCES)}")
    check("status", meta["status"] in STATUSES, "status must be draft or published")
    questions = meta["questions"]
    check("questions", isinstance(questions, list) and all(isinstance(q, str) and q.strip() for q in questions),
          "questions must be a list of strings")
    sources = meta["sources"]
    check("sources", isinstance(sources, list) and all(isinstance(s, dict) and s.get("title") for s in sources),
          "sources must be a list of {title, url}")
    related = meta.get("related") or []
    check("related", isinstance(related, list), "related must be a list of article ids")
    if not body.strip():
        raise ArticleError(path, header.count("\n") + 3, "the article has no body")
    return Article(id=aid, title=str(meta["title"]), category=meta["category"], audience=meta["audience"],
                   questions=tuple(q.strip() for q in questions), sources=tuple(sources),
                   reviewed_at=str(meta["reviewed_at"]), status=meta["status"],
                   related=tuple(str(r) for r in related), body=body.strip(), path=path)


def load_articles(directory: Path, include_drafts: bool = False) -> list[Article]:
    articles = [parse_article(p.read_text(encoding="utf-8"), p) for p in sorted(directory.glob("*.md"))]
    ids = {a.id for a in articles}
    for a in articles:
        for r in a.related:
            if r not in ids:
                raise ArticleError(a.path, 1, f"related article {r!r} does not exist")
    return [a for a in articles if include_drafts or a.published]
