"""Database access for citizen reports (sync sessions: the gateway runs them in its executor, the
action server in a thread). The receipt status is never stored: it is read from the review queue's own
records (the post, its report draft, the removal re-check), so every staff decision shows at once."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from detection.citizen.tables import CitizenItem, CitizenReport
from detection.storage.tables import DetectedPost, DetectionReport, PostStatus, ReportStatus

# What became of a report, in order; `dismissed` (staff found no ad) shows as `reviewed` on the receipt.
OUTCOMES = ("received", "reviewed", "dismissed", "reported", "deleted", "not_deleted")


def outcome_column() -> Any:
    """A SQL CASE over citizen_items ⟕ detection_posts ⟕ detection_reports (see `outcome_query`)."""
    return case(
        (or_(DetectedPost.removal == "deleted", DetectionReport.status == ReportStatus.deleted), "deleted"),
        (or_(DetectedPost.removal == "live", DetectionReport.status == ReportStatus.not_deleted), "not_deleted"),
        (DetectionReport.status == ReportStatus.submitted, "reported"),
        (DetectedPost.status == PostStatus.approved, "reviewed"),
        (DetectedPost.status == PostStatus.rejected, "dismissed"),
        else_="received")


def with_outcome(stmt: Any) -> Any:
    """Join what `outcome_column()` reads onto a statement selecting from citizen_items."""
    return (stmt.outerjoin(DetectedPost, DetectedPost.id == CitizenItem.post_id)
            .outerjoin(DetectionReport, DetectionReport.id == DetectedPost.report_id))


def report_by_receipt(s: Session, receipt_key: str) -> tuple[CitizenReport, str] | None:
    stmt = with_outcome(select(CitizenReport, outcome_column())
                        .join(CitizenItem, CitizenItem.id == CitizenReport.item_id)
                        .where(CitizenReport.receipt_key == receipt_key))
    row = s.execute(stmt).first()
    return (row[0], row[1]) if row else None


def find_item(s: Session, url_key: str | None, text_key: str | None) -> CitizenItem | None:
    """The item a new report duplicates: the same link first, else the same text."""
    for column, key in ((CitizenItem.url_key, url_key), (CitizenItem.text_key, text_key)):
        if key:
            item = s.scalar(select(CitizenItem).where(column == key).with_for_update())
            if item is not None:
                return item
    return None


def key_taken(s: Session, text_key: str) -> bool:
    return s.scalar(select(CitizenItem.id).where(CitizenItem.text_key == text_key)) is not None


def reports_of(s: Session, item_id: int) -> list[CitizenReport]:
    return list(s.scalars(select(CitizenReport).where(CitizenReport.item_id == item_id).order_by(CitizenReport.id)))


def pending_items(s: Session, limit: int = 20) -> list[int]:
    return list(s.scalars(select(CitizenItem.id).where(CitizenItem.processed_at.is_(None))
                          .order_by(CitizenItem.id).limit(limit)))


def items_for_counsellors(s: Session, limit: int = 20) -> list[int]:
    """Processed items about a minor (a reporter said so, or the classifier's youth flag) not yet queued."""
    stmt = (select(CitizenItem.id).outerjoin(DetectedPost, DetectedPost.id == CitizenItem.post_id)
            .where(CitizenItem.processed_at.is_not(None), CitizenItem.conversation_id.is_(None),
                   or_(CitizenItem.minor.is_(True), and_(DetectedPost.id.is_not(None), DetectedPost.youth.is_(True))))
            .order_by(CitizenItem.id).limit(limit))
    return list(s.scalars(stmt))


def item_of_post(s: Session, post_id: int) -> CitizenItem | None:
    return s.scalar(select(CitizenItem).where(CitizenItem.post_id == post_id))
