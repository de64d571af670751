"""Staff decisions on flagged posts. Every decision is labelled data: an approval says which kind of ad it
is, a rejection that it is none (a false positive). `detection.storage.queries.labelled()` reads them back
(decrypted, in the training data's line format) for `dasi detect retrain`; nothing is copied out of the
encrypted table."""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from assistant.core.errors import DomainError
from detection.pipeline.evidence import kst
from detection.storage.tables import DetectedPost, PostStatus

CATEGORIES = ("outcall", "venue", "recruit", "none")


class ReviewError(DomainError):
    status = 409
    MESSAGES = {
        "not_found": "없는 게시물이에요.",
        "already_decided": "이미 다른 사람이 처리한 게시물이에요. 목록을 새로 고쳐 주세요.",
        "category_required": "유형(출장/조건만남, 업소형, 구인)을 골라 주세요.",
        "bad_decision": "결정은 승인(approve) 또는 거절(reject)이어야 해요.",
    }


def queue(s: Session, limit: int = 100, source: str | None = None) -> list[DetectedPost]:
    """Youth first, then by score: the posts most likely to hurt a child are read first. `source` filters
    by origin (e.g. "citizen": what people reported)."""
    where = [DetectedPost.status == PostStatus.flagged] + ([DetectedPost.source == source] if source else [])
    return list(s.scalars(select(DetectedPost).where(*where).order_by(
        case((DetectedPost.youth.is_(True), 0), else_=1), DetectedPost.score.desc(), DetectedPost.id).limit(limit)))


def summary(p: DetectedPost) -> dict[str, Any]:
    return {"id": p.id, "platform": p.platform, "source": p.source, "citizen": p.source == "citizen",
            "category": p.category, "youth": p.youth, "score": round(p.score, 3),
            "status": p.status, "cluster_id": p.cluster_id, "fetched_at": kst(p.fetched_at),
            "preview": p.text[:80]}


def detail(p: DetectedPost) -> dict[str, Any]:
    v = p.verdict or {}
    return {**summary(p), "text": p.text, "url": p.url, "account": p.account, "post_id": p.post_id,
            "posted_at": kst(p.posted_at), "normalised": v.get("normalised", ""), "ocr_text": v.get("ocr_text", ""),
            "indicators": v.get("indicators", {}), "reasons": v.get("reasons", []), "evidence_seq": p.evidence_seq,
            "image_urls": p.image_urls or [], "reviewed_by": p.reviewed_by}


def decide(s: Session, post_id: int, decision: str, reviewer: str, category: str | None = None) -> DetectedPost:
    post = s.get(DetectedPost, post_id)
    if post is None:
        raise ReviewError("not_found", status=404)
    if post.status != PostStatus.flagged:
        raise ReviewError("already_decided")
    if decision == "approve":
        if category is not None:
            if category not in CATEGORIES[:3]:
                raise ReviewError("category_required", status=400)
            post.category = category  # staff may correct the type
        elif post.category == "none":
            raise ReviewError("category_required", status=400)
        post.status = PostStatus.approved
    elif decision == "reject":
        post.status = PostStatus.rejected
    else:
        raise ReviewError("bad_decision", status=400)
    post.reviewed_by, post.reviewed_at = reviewer[:60], utcnow()
    return post


