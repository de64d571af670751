"""Counts in the shape of the centre's monitoring table (AI 시스템 활용 모니터링 추진 실적):
업소 유형분류 (출장/조건만남, 업소형, 구인사이트 등 기타, 해당없음) and 삭제여부 (미삭제 A, 삭제요청 B),
총계 = A + B. A post counts once a person reviewed it: confirmed posts by their category, rejected
ones as 해당없음; 삭제요청 = in a report a person approved and submitted."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detection.storage.tables import DetectedPost, DetectionReport, PostStatus, ReportStatus

REQUESTED = (ReportStatus.submitted, ReportStatus.deleted, ReportStatus.not_deleted)


def stats(s: Session) -> dict[str, Any]:
    by_status = dict(s.execute(select(DetectedPost.status, func.count()).group_by(DetectedPost.status)).all())
    approved = dict(s.execute(select(DetectedPost.category, func.count()).where(
        DetectedPost.status == PostStatus.approved).group_by(DetectedPost.category)).all())
    requested = s.scalar(select(func.count()).select_from(DetectedPost).join(
        DetectionReport, DetectedPost.report_id == DetectionReport.id).where(DetectionReport.status.in_(REQUESTED)))
    removal = dict(s.execute(select(DetectionReport.status, func.count()).group_by(DetectionReport.status)).all())
    deleted_posts = s.scalar(select(func.count()).select_from(DetectedPost).where(DetectedPost.removal == "deleted"))
    youth = s.scalar(select(func.count()).select_from(DetectedPost).where(
        DetectedPost.youth.is_(True), DetectedPost.status.in_([PostStatus.flagged, PostStatus.approved])))
    rejected = by_status.get(PostStatus.rejected, 0)
    reviewed = sum(approved.values()) + rejected
    table = {"outcall": approved.get("outcall", 0), "venue": approved.get("venue", 0),
             "recruit": approved.get("recruit", 0), "none": approved.get("none", 0) + rejected,
             "not_requested": reviewed - (requested or 0), "requested": requested or 0, "total": reviewed}
    return {"table": table,
            "pending": by_status.get(PostStatus.flagged, 0),
            "scanned": sum(by_status.values()),
            "clear": by_status.get(PostStatus.clear, 0),
            "youth_flagged": youth or 0,
            "reports": {k: removal.get(k, 0) for k in (ReportStatus.draft, *REQUESTED)},
            "posts_deleted": deleted_posts or 0}


TABLE_LABELS = [("outcall", "출장/조건만남"), ("venue", "업소형"), ("recruit", "구인사이트 등 기타"),
                ("none", "해당없음"), ("not_requested", "미삭제(A)"), ("requested", "삭제요청(B)"),
                ("total", "총계(A+B)")]
