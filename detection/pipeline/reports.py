"""Report drafts for the three channels, their export, approval and the deletion re-check.

One report per campaign (cluster) of posts a person confirmed. Each names the legal basis and lists
the explicit indicators (price, act terms, age cues, contacts): KCSC rules slang-only posts
"해당없음". A person approves each report before it counts as submitted; a re-check by URL then
marks it deleted or not deleted."""
from __future__ import annotations

import csv
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.cells import as_text, neutralise
from assistant.core.clock import KST, utcnow
from assistant.core.errors import DomainError
from detection.pipeline import clusters
from detection.pipeline.evidence import EvidenceStore
from detection.storage.tables import DetectedPost, DetectionReport, PostStatus, ReportStatus

CATEGORY_LABELS = {"outcall": "출장/조건만남", "venue": "업소형", "recruit": "구인사이트 등 기타", "none": "해당없음"}
INDICATOR_LABELS = {"price": "가격", "act": "성행위·서비스 표현", "age": "연령 단서", "contacts": "연락처"}
CHANNELS = {"kcsc": "방송통신심의위원회 시정요구 신청", "ecrm": "경찰청 사이버범죄 신고(제보)",
            "platform": "플랫폼 신고"}

# Wording from ../shared/reference/detection-notes.md §4.
LAW_PROSTITUTION_AD = ("성매매알선 등 행위의 처벌에 관한 법률(성매매처벌법) 제20조(성매매 광고) — "
                       "성매매알선등행위를 목적으로 한 광고의 게재·배포 금지(제4조)")
LAW_NETWORK = ("정보통신망 이용촉진 및 정보보호 등에 관한 법률(정보통신망법) 제44조의7 제1항 제9호 — "
               "범죄를 목적으로 하거나 교사 또는 방조하는 내용의 정보")
LAW_YOUTH_13 = ("아동·청소년의 성보호에 관한 법률(청소년성보호법) 제13조 — 아동·청소년의 성을 사는 행위, "
                "이를 위하여 아동·청소년을 유인하거나 성을 팔도록 권유하는 행위")
LAW_YOUTH_15_2 = "아동·청소년의 성보호에 관한 법률(청소년성보호법) 제15조의2 — 아동·청소년에 대한 성착취 목적 대화 등"
LAW_KCSC = "방송통신위원회의 설치 및 운영에 관한 법률 제21조 제4호 — 불법정보에 대한 심의 및 시정요구"


class ReportError(DomainError):
    status = 409
    MESSAGES = {
        "not_found": "없는 신고서예요.",
        "not_draft": "이미 처리된 신고서예요 (상태: {state}). 목록을 새로 고쳐 주세요.",
        "reviewer_required": "승인한 사람을 적어 주세요.",
        "slang_only": ("명시적 지표(가격, 성행위 표현, 연령 단서, 연락처)가 없어 승인할 수 없어요. "
                       "보강한 뒤 다시 시도하세요."),
    }


def legal_basis(youth: bool, channel: str = "kcsc") -> list[str]:
    laws = [LAW_PROSTITUTION_AD, LAW_NETWORK]
    if youth:
        laws += [LAW_YOUTH_13, LAW_YOUTH_15_2]
    if channel == "kcsc":
        laws.append(LAW_KCSC)
    return laws


def explicit_indicators(post: DetectedPost) -> dict[str, list[str]]:
    found = (post.verdict or {}).get("indicators", {})
    out: dict[str, list[str]] = {}
    for kind in INDICATOR_LABELS:
        values = []
        for item in found.get(kind, []) or []:
            value = str(item.get("value", "")) if isinstance(item, dict) else str(item)
            if kind == "contacts" and isinstance(item, dict) and item.get("kind"):
                value = f"{item['kind']}: {value}"
            if value and value not in values:
                values.append(value)
        if values:
            out[kind] = values
    return out


def when(moment: datetime | None) -> str:
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST") if moment else "알 수 없음"


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in (text or "").splitlines() or [""])


class _Entries:
    """The evidence log read once per batch, by seq (drafting must not re-read it per post)."""

    def __init__(self, store: EvidenceStore) -> None:
        self.store = store
        self._by_seq: dict[int, dict[str, Any]] | None = None

    def get(self, seq: int | None) -> dict[str, Any]:
        if self._by_seq is None:
            self._by_seq = {e["seq"]: e for e in self.store.entries()}
        return self._by_seq.get(seq, {}) if seq is not None else {}


def render(report: DetectionReport, posts: list[DetectedPost], channel: str, entries: _Entries,
           settings: Any) -> str:
    title = CHANNELS[channel]
    kind = CATEGORY_LABELS.get(report.category, report.category) + (" · 아동·청소년 대상" if report.youth else "")
    platforms = sorted({p.platform for p in posts})
    lines = [f"# {title} (초안)", "",
             f"- 신고 번호: DASI-{report.batch}-{report.id}",
             f"- 작성: {when(report.created_at)} · 작성 기관: {settings.centre_name} ({settings.centre_phone})",
             "- 상태: 담당자 승인 전 초안 — 승인하기 전에는 제출된 것으로 보지 않음",
             f"- 위반 유형: 불법정보 — 성매매 알선·광고 ({kind})",
             f"- 플랫폼: {', '.join(platforms)} · 대상 게시물 {len(posts)}건 (같은 연락처·문구로 묶인 캠페인)"]
    if channel == "kcsc":
        lines.append("- 요청 조치: 게시물 삭제, 반복 게시 계정 이용해지, 접속차단(시정요구)")
    elif channel == "ecrm":
        lines.append("- 신고 구분: 제보(피해 당사자가 아닌 기관의 신고) · 범죄 유형: 사이버 성매매 알선·광고")
        accounts = sorted({p.account for p in posts if p.account})
        contacts = sorted({v for p in posts for v in explicit_indicators(p).get("contacts", [])})
        lines.append(f"- 피의자 정보: 계정 {', '.join(accounts) or '알 수 없음'} "
                     f"/ 연락처 {', '.join(contacts) or '없음'}")
        first = min((p.posted_at or p.fetched_at for p in posts), default=None)
        lines.append(f"- 발생 일시(최초 게시): {when(first)}")
    else:
        lines.append("- 신고 사유: 성매매·성적 착취 광고(불법 콘텐츠) / Illegal content: advertising prostitution"
                     + (" involving minors" if report.youth else ""))
    lines += ["", "## 법적 근거", *[f"- {law}" for law in legal_basis(report.youth, channel)], "",
              f"## 대상 게시물 ({len(posts)}건)"]
    missing = 0
    for n, p in enumerate(posts, start=1):
        verdict = p.verdict or {}
        found = explicit_indicators(p)
        if not found:
            missing += 1
        entry = entries.get(p.evidence_seq)
        lines += ["", f"### {n}. {p.url or '(URL 없음)'}",
                  f"- 플랫폼: {p.platform} · 게시물 ID: {p.post_id or '-'} · 계정: {p.account or '-'}",
                  f"- 게시 시각: {when(p.posted_at)} · 수집 시각: {when(p.fetched_at)}",
                  f"- 분류: {CATEGORY_LABELS.get(p.category, p.category)}{' · 청소년' if p.youth else ''} "
                  f"· 점수 {p.score:.2f}", "", "원문:", _quote(p.text)]
        if verdict.get("normalised") and verdict["normalised"] != p.text:
            lines += ["", "정규화한 글:", _quote(verdict["normalised"])]
        if verdict.get("ocr_text"):
            lines += ["", "이미지 속 글자(OCR):", _quote(verdict["ocr_text"])]
        lines += ["", "명시적 지표:"]
        lines += [f"- {INDICATOR_LABELS[k]}: {', '.join(v)}" for k, v in found.items()] or ["- (없음)"]
        if entry:
            lines += ["", f"증거 기록: 제{entry['seq']}호 · {entry['at']} · 기록 해시 {entry['hash']}"]
            lines += [f"- {f['kind']} SHA-256 {f['sha256']}" for f in entry.get("files", [])]
            lines.append(f"- 기록 내용 SHA-256 {entry['payload_sha256']}")
    if missing:
        lines += ["", f"⚠ 명시적 지표가 없는 게시물 {missing}건: "
                      "은어만으로는 '해당없음' 처리될 수 있어 제출 전 보강이 필요해요."]
    lines += ["", "## 판단 근거(자동 분류)",
              *sorted({f"- {r.get('rule') or r.get('feature') or r.get('kind')}" for p in posts
                       for r in (p.verdict or {}).get("reasons", [])[:8]}), ""]
    return "\n".join(lines)


@dataclass
class Batch:
    batch: str
    directory: Path
    reports: list[int] = field(default_factory=list)
    csv_path: Path | None = None
    xlsx_path: Path | None = None


COLUMNS = ["신고번호", "유형", "청소년", "URL", "플랫폼", "게시물ID", "계정", "게시시각(KST)", "수집시각(KST)",
           "가격", "성행위·서비스 표현", "연령 단서", "연락처", "법적 근거", "증거 기록 해시", "상태"]


def _rows(report: DetectionReport, posts: list[DetectedPost], entries: _Entries) -> list[list[str]]:
    rows = []
    for p in posts:
        found = explicit_indicators(p)
        entry = entries.get(p.evidence_seq)
        rows.append([f"DASI-{report.batch}-{report.id}", CATEGORY_LABELS.get(report.category, report.category),
                     "예" if p.youth else "아니오", p.url or "", p.platform, p.post_id or "", p.account or "",
                     when(p.posted_at), when(p.fetched_at), *[" | ".join(found.get(k, [])) for k in INDICATOR_LABELS],
                     " / ".join(law.split(" — ")[0] for law in legal_basis(report.youth)),
                     entry.get("hash", ""), report.status])
    return rows


def draft_batch(s: Session, settings: Any) -> Batch:
    """Drafts for every confirmed post not yet in a report, one report per cluster, and the exports."""
    clusters.assign(s)
    posts = s.scalars(select(DetectedPost).where(DetectedPost.status == PostStatus.approved,
                                                 DetectedPost.report_id.is_(None)).order_by(DetectedPost.id)).all()
    stamp = utcnow().astimezone(KST).strftime("%Y%m%d%H%M%S")
    batch = Batch(f"{stamp}-{uuid.uuid4().hex[:4]}", Path(settings.var_dir) / "detection" / "reports")
    batch.directory = batch.directory / batch.batch
    if not posts:
        return batch
    batch.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(batch.directory, 0o700)  # drafts name accounts and quote posts
    entries = _Entries(EvidenceStore.for_settings(settings))
    groups: dict[int, list[DetectedPost]] = {}
    for p in posts:
        groups.setdefault(p.cluster_id or p.id, []).append(p)
    rows: list[list[str]] = []
    for cluster_id, members in groups.items():
        youth = any(p.youth for p in members)
        cats = [p.category for p in members if p.category != "none"]
        report = DetectionReport(batch=batch.batch, cluster_id=cluster_id, youth=youth, post_count=len(members),
                                 category=max(set(cats), key=cats.count) if cats else "none", created_at=utcnow())
        s.add(report)
        s.flush()
        docs = {}
        for channel in CHANNELS:
            path = batch.directory / f"DASI-{report.id}-{channel}.md"
            path.write_text(render(report, members, channel, entries, settings), encoding="utf-8")
            docs[channel] = str(path.relative_to(Path(settings.var_dir)))
        report.documents = docs
        for p in members:
            p.report_id = report.id
        rows += _rows(report, members, entries)
        batch.reports.append(report.id)
    batch.csv_path = batch.directory / "batch.csv"
    # Accounts and URLs come from the posts: no cell may reach a spreadsheet as a formula.
    rows = [[neutralise(v) for v in row] for row in rows]
    with batch.csv_path.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel opens Korean right
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    wb = Workbook()
    ws = wb.active
    ws.title = "신고 목록"
    ws.append(COLUMNS)
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            as_text(cell)
    batch.xlsx_path = batch.directory / "batch.xlsx"
    wb.save(batch.xlsx_path)
    return batch


def draft_posts(s: Session, settings: Any, posts: list[DetectedPost], label: str = "repeat") -> DetectionReport:
    """One report draft for the given posts (not yet in a report), however they were chosen: outreach
    escalates an account or contact flagged again and again (detection/outreach). Documents as above."""
    stamp = utcnow().astimezone(KST).strftime("%Y%m%d%H%M%S")
    batch = f"{stamp}-{label[:12]}-{uuid.uuid4().hex[:4]}"
    directory = Path(settings.var_dir) / "detection" / "reports" / batch
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # drafts name accounts and quote posts
    entries = _Entries(EvidenceStore.for_settings(settings))
    cats = [p.category for p in posts if p.category != "none"]
    report = DetectionReport(batch=batch, cluster_id=min(p.cluster_id or p.id for p in posts),
                             youth=any(p.youth for p in posts), post_count=len(posts),
                             category=max(set(cats), key=cats.count) if cats else "outcall", created_at=utcnow())
    s.add(report)
    s.flush()
    docs = {}
    for channel in CHANNELS:
        path = directory / f"DASI-{report.id}-{channel}.md"
        path.write_text(render(report, posts, channel, entries, settings), encoding="utf-8")
        docs[channel] = str(path.relative_to(Path(settings.var_dir)))
    report.documents = docs
    for p in posts:
        p.report_id = report.id
    return report


def approve(s: Session, report_id: int, reviewer: str, allow_without_indicators: bool = False) -> DetectionReport:
    """A person approved and sent it: only now does it count as submitted."""
    report = s.get(DetectionReport, report_id)
    if report is None:
        raise ReportError("not_found", status=404)
    if report.status != ReportStatus.draft:
        raise ReportError("not_draft", state=report.status)
    if not reviewer:
        raise ReportError("reviewer_required", status=400)
    posts = s.scalars(select(DetectedPost).where(DetectedPost.report_id == report_id)).all()
    if not allow_without_indicators and not any(explicit_indicators(p) for p in posts):
        raise ReportError("slang_only")
    report.status, report.approved_by, report.submitted_at = ReportStatus.submitted, reviewer[:60], utcnow()
    return report


Fetch = Callable[[str], "tuple[int, str]"]


def _gone(status: int, body: str, text: str) -> bool:
    if status in (404, 410):
        return True
    if status != 200:
        return False  # 403, 5xx, timeouts: unknown, so not counted as deleted
    squash = lambda t: re.sub(r"\s+", "", t)  # noqa: E731 - compare ignoring spacing
    probe = squash(text)[:40]
    return bool(probe) and probe not in squash(body)


async def recheck(s: Session, fetch: Callable[[str], Any], report_ids: list[int] | None = None) -> dict[str, int]:
    """Fetch each submitted post's URL: 404/410 or the text gone → deleted. `fetch(url)` is an async
    function returning (status, body text)."""
    query = select(DetectionReport).where(DetectionReport.status.in_([ReportStatus.submitted,
                                                                      ReportStatus.not_deleted]))
    if report_ids:
        query = query.where(DetectionReport.id.in_(report_ids))
    counts = {"deleted": 0, "not_deleted": 0}
    for report in s.scalars(query).all():
        posts = s.scalars(select(DetectedPost).where(DetectedPost.report_id == report.id)).all()
        for p in posts:
            if p.removal == "deleted" or not p.url:
                continue
            try:
                status, body = await fetch(p.url)
            except Exception:
                status, body = 0, ""
            p.removal, p.checked_at = ("deleted" if _gone(status, body, p.text) else "live"), utcnow()
        report.checked_at = utcnow()
        report.status = (ReportStatus.deleted if all(p.removal == "deleted" for p in posts if p.url)
                         else ReportStatus.not_deleted)
        counts[report.status] += 1
    return counts
