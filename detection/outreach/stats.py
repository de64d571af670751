"""Outreach counts: warnings and guidance sent (by the API or by hand), dry-run approvals, repeat accounts
and contacts escalated to a report, and what became of the posts (deleted / still live / not checked, from
the reports' removal re-check, `dasi detect recheck`). Clear columns only: nothing is decrypted.

`stats(s)` is all-time (the review page, `dasi detect stats`); `tables(session, period)` is the period's
table for the centre's statistics (`/console/stats`, `dasi stats`), added as a section
(casebook.console.stats.add_section, casebook.cli.stats.add_section)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from detection.outreach.tables import DraftStatus, OutreachDraft, OutreachTarget
from detection.storage.tables import DetectedPost

DELIVERED = (DraftStatus.sent, DraftStatus.posted_by_hand)


def _outcome(s: Session, post_ids: Any) -> dict[str, int]:
    rows = dict(s.execute(select(DetectedPost.removal, func.count()).where(DetectedPost.id.in_(post_ids))
                          .group_by(DetectedPost.removal)).all())
    return {"deleted": rows.get("deleted", 0), "live": rows.get("live", 0),
            "unchecked": sum(v for k, v in rows.items() if k not in ("deleted", "live"))}


def _counts(s: Session, lo: datetime | None = None, hi: datetime | None = None) -> dict[str, Any]:
    def within(col: Any) -> Any:
        return and_(col >= lo, col < hi) if lo is not None and hi is not None else col.is_not(None)

    sent = dict(s.execute(select(OutreachDraft.kind, func.count()).where(
        OutreachDraft.status.in_(DELIVERED), within(OutreachDraft.sent_at)).group_by(OutreachDraft.kind)).all())
    by_hand = s.scalar(select(func.count()).select_from(OutreachDraft).where(
        OutreachDraft.status == DraftStatus.posted_by_hand, within(OutreachDraft.sent_at))) or 0
    dry = s.scalar(select(func.count()).select_from(OutreachDraft).where(
        OutreachDraft.status == DraftStatus.dry_run, within(OutreachDraft.decided_at))) or 0
    escalated = dict(s.execute(select(OutreachTarget.kind, func.count()).where(
        within(OutreachTarget.escalated_at)).group_by(OutreachTarget.kind)).all())
    warned_posts = select(OutreachDraft.post_id).where(
        OutreachDraft.kind == "warning", OutreachDraft.status.in_(DELIVERED), within(OutreachDraft.sent_at))
    reports = select(OutreachTarget.report_id).where(within(OutreachTarget.escalated_at),
                                                     OutreachTarget.report_id.is_not(None))
    escalated_posts = select(DetectedPost.id).where(DetectedPost.report_id.in_(reports))
    return {"warnings_sent": sent.get("warning", 0), "guidance_sent": sent.get("guidance", 0),
            "posted_by_hand": by_hand, "dry_run_approvals": dry,
            "accounts_escalated": escalated.get("account", 0),
            "contacts_escalated": sum(v for k, v in escalated.items() if k != "account"),
            "reports": s.scalar(select(func.count(func.distinct(OutreachTarget.report_id))).where(
                within(OutreachTarget.escalated_at), OutreachTarget.report_id.is_not(None))) or 0,
            "warned_posts": _outcome(s, warned_posts), "escalated_posts": _outcome(s, escalated_posts)}


def stats(s: Session) -> dict[str, Any]:
    pending = dict(s.execute(select(OutreachDraft.status, func.count()).group_by(OutreachDraft.status)).all())
    return {**_counts(s), "drafts": pending}


def rows(c: dict[str, Any]) -> list[list[Any]]:
    w, e = c["warned_posts"], c["escalated_posts"]
    return [["경고 발송", c["warnings_sent"], "건"], ["안내 발송", c["guidance_sent"], "건"],
            ["그중 직접 게시", c["posted_by_hand"], "건"], ["모의 발송 승인(dry run)", c["dry_run_approvals"], "건"],
            ["반복 계정 신고서 전환", c["accounts_escalated"], "계정"],
            ["반복 연락처 신고서 전환", c["contacts_escalated"], "연락처"], ["전환된 신고서", c["reports"], "건"],
            ["경고한 글 · 삭제 확인", w["deleted"], "건"], ["경고한 글 · 아직 게시", w["live"], "건"],
            ["경고한 글 · 확인 전", w["unchecked"], "건"], ["신고 전환 글 · 삭제 확인", e["deleted"], "건"],
            ["신고 전환 글 · 아직 게시", e["live"], "건"], ["신고 전환 글 · 확인 전", e["unchecked"], "건"]]


async def tables(session: Any, period: Any) -> list[Any]:
    """The period's outreach table for casebook's statistics (an AsyncSession; the queries run sync)."""
    from casebook.stats.queries import Table

    counts = await session.run_sync(lambda s: _counts(s, period.lo, period.hi))
    return [Table("outreach", "왓쳐 아웃리치(청소년 유인 글 대응)", ["구 분", "값", "단위"], rows(counts),
                  "발송 = 플랫폼 API로 보냈거나 담당자가 직접 게시한 것. 삭제 여부는 `dasi detect recheck` 결과.")]
