"""Database access for outreach (sync sessions, as the rest of detection): targets and their flags,
processed posts, drafts, and the send guard."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.store.crypto import blind_index
from detection.outreach.tables import (
    DraftStatus,
    OutreachDraft,
    OutreachFlag,
    OutreachPost,
    OutreachSend,
    OutreachTarget,
)
from detection.storage.tables import DetectedPost, PostStatus

LIVE_POSTS = (PostStatus.flagged, PostStatus.approved)  # a rejected post is a false alarm: no outreach


def key_hash(kind: str, platform: str, value: str) -> str:
    return blind_index("outreach", kind, platform, value)


def unprocessed_youth_posts(s: Session, limit: int = 500) -> list[DetectedPost]:
    done = select(OutreachPost.post_id)
    return list(s.scalars(select(DetectedPost).where(
        DetectedPost.youth.is_(True), DetectedPost.status.in_(LIVE_POSTS), DetectedPost.id.not_in(done))
        .order_by(DetectedPost.id).limit(limit)))


def mark_processed(s: Session, post_id: int, minor_author: bool) -> None:
    s.add(OutreachPost(post_id=post_id, minor_author=minor_author))


def target(s: Session, kind: str, platform: str, value: str) -> OutreachTarget:
    """The target row for a normalised value, made on first sight."""
    h = key_hash(kind, platform, value)
    row = s.scalar(select(OutreachTarget).where(OutreachTarget.kind == kind, OutreachTarget.platform == platform,
                                                OutreachTarget.key_hash == h))
    if row is None:
        row = OutreachTarget(kind=kind, platform=platform, key_hash=h, value=value, minor=False)
        s.add(row)
        s.flush()
    return row


def flag(s: Session, target_id: int, post_id: int) -> None:
    exists = s.scalar(select(OutreachFlag.id).where(OutreachFlag.target_id == target_id,
                                                    OutreachFlag.post_id == post_id))
    if exists is None:
        s.add(OutreachFlag(target_id=target_id, post_id=post_id))
        s.flush()


def flag_count(s: Session, target_id: int) -> int:
    return s.scalar(select(func.count()).select_from(OutreachFlag).where(OutreachFlag.target_id == target_id)) or 0


def flagged_posts(s: Session, target_ids: list[int]) -> list[DetectedPost]:
    ids = select(OutreachFlag.post_id).where(OutreachFlag.target_id.in_(target_ids))
    return list(s.scalars(select(DetectedPost).where(DetectedPost.id.in_(ids)).order_by(DetectedPost.id)))


def same_text_drafted(s: Session, target_hash: str, text_hash: str) -> bool:
    """A draft of this text for this target that is not rejected: a second one would be a repeat."""
    return s.scalar(select(OutreachDraft.id).where(
        OutreachDraft.target_hash == target_hash, OutreachDraft.text_hash == text_hash,
        OutreachDraft.status.not_in((DraftStatus.rejected, DraftStatus.duplicate))).limit(1)) is not None


def already_sent(s: Session, target_hash: str, text_hash: str) -> bool:
    return s.scalar(select(OutreachSend.id).where(OutreachSend.target_hash == target_hash,
                                                  OutreachSend.text_hash == text_hash)) is not None


def claim(s: Session, draft: OutreachDraft) -> OutreachSend:
    """The send guard row; flushing it raises IntegrityError when the text already reached the target."""
    row = OutreachSend(draft_id=draft.id, target_hash=draft.target_hash, text_hash=draft.text_hash)
    s.add(row)
    s.flush()
    return row


def claimed(s: Session, draft_id: int) -> bool:
    return s.scalar(select(OutreachSend.id).where(OutreachSend.draft_id == draft_id)) is not None


def release(s: Session, draft_id: int) -> None:
    """Nothing went out after all (the platform refused): the text may be sent to the target later."""
    row = s.scalar(select(OutreachSend).where(OutreachSend.draft_id == draft_id))
    if row is not None:
        s.delete(row)


def drafts(s: Session, statuses: tuple[str, ...] | None = None, limit: int = 200) -> list[Any]:
    """Drafts with their post and target, newest first."""
    q = (select(OutreachDraft, DetectedPost, OutreachTarget)
         .join(DetectedPost, DetectedPost.id == OutreachDraft.post_id)
         .outerjoin(OutreachTarget, OutreachTarget.id == OutreachDraft.target_id))
    if statuses:
        q = q.where(OutreachDraft.status.in_(statuses))
    return list(s.execute(q.order_by(OutreachDraft.id.desc()).limit(limit)).all())
