"""Campaigns: posts that share a contact (phone, Kakao/open chat, Telegram, LINE id, link) or are
near-identical copies of one template are one cluster, so staff review a campaign once and one report
covers all its posts (the DIG / InfoShield idea, at the centre's scale).

Templates are compared after masking the slots that vary between copies (digits, links, handles),
with RapidFuzz over all pairs (C++; a few thousand flagged posts take well under a second)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from detection.storage.tables import DetectedPost, PostStatus

TEMPLATE_CUTOFF = 88.0  # fuzz.ratio on masked text; same ad with another phone/price scores 95+
MIN_TEMPLATE_CHARS = 20  # short posts look alike by chance
_URL = re.compile(r"https?://\S+|\b[\w.-]+\.(?:com|net|kr|me|io|ly)/\S*", re.I)
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def contact_key(contact: dict[str, Any]) -> str | None:
    """Same handle however it was written: phones by digits, ids lower-case without @ and spaces."""
    kind, value = str(contact.get("kind", "")), str(contact.get("value", ""))
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return f"phone:{digits}" if len(digits) >= 8 else None
    value = re.sub(r"[\s@]", "", value).lower().rstrip("/")
    if kind == "link":
        value = re.sub(r"^https?://(www\.)?", "", value)
    return f"{kind}:{value}" if value else None


def template(text: str) -> str:
    text = _URL.sub("<url>", text)
    text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", text).strip()


class _Union:
    def __init__(self, ids: Iterable[int]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller id is the cluster's name: stable as posts are added
            self.parent[max(ra, rb)] = min(ra, rb)


def group(items: list[tuple[int, str, list[dict[str, Any]]]]) -> dict[int, int]:
    """items: (post id, normalised text, contacts) → post id → cluster id (the smallest post id)."""
    u = _Union(i for i, _, _ in items)
    by_contact: dict[str, int] = {}
    for pid, _, contacts in items:
        for c in contacts:
            key = contact_key(c)
            if key is None:
                continue
            if key in by_contact:
                u.join(pid, by_contact[key])
            else:
                by_contact[key] = pid
    long = [(pid, template(text)) for pid, text, _ in items if len(text) >= MIN_TEMPLATE_CHARS]
    if len(long) > 1:
        texts = [t for _, t in long]
        scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=TEMPLATE_CUTOFF, workers=1)
        rows, cols = scores.nonzero()
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if r < c:
                u.join(long[r][0], long[c][0])
    return {pid: u.find(pid) for pid, _, _ in items}


def assign(s: Session) -> int:
    """Recompute clusters over every post flagged or confirmed; returns how many clusters there are."""
    posts = s.scalars(select(DetectedPost).where(DetectedPost.status.in_(
        [PostStatus.flagged, PostStatus.approved]))).all()
    items = [(p.id, (p.verdict or {}).get("normalised") or p.text,
              (p.verdict or {}).get("indicators", {}).get("contacts", [])) for p in posts]
    mapping = group(items)
    for p in posts:
        if p.cluster_id != mapping[p.id]:
            p.cluster_id = mapping[p.id]
    return len(set(mapping.values()))
