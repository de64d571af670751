"""What a citizen report is and what happens to it: checking the form, merging duplicates, the receipt,
the status lookup, and turning a reported item into a `citizen` post in the review queue (the link
fetched only through the safe fetcher, screenshots OCR'd by the classifier, evidence, clusters)."""
from __future__ import annotations

import hashlib
import html
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from yarl import URL

from assistant.core.clock import utcnow
from assistant.core.errors import DomainError
from assistant.store import crypto
from detection.citizen import store
from detection.citizen.images import CleanImage
from detection.citizen.tables import CitizenItem, CitizenReport
from detection.pipeline import clusters
from detection.pipeline.evidence import EvidenceStore, kst
from detection.storage import queries
from detection.storage.tables import DetectedPost, PostStatus

KINDS = {"online": "온라인 광고", "venue": "업소", "sms": "스팸 문자", "print": "전단지·지면", "school": "학교 주변",
         "other": "기타"}
CHANNELS = ("web", "chat")
LIMITS = {"url": 2000, "text": 3000, "place": 100, "when": 60, "description": 1000}
FIELD_NAMES = {"url": "링크", "text": "내용", "place": "장소", "when": "시간", "description": "설명"}
STATUS_LABELS = {"received": "접수됨", "reviewed": "검토 완료", "reported": "신고함", "deleted": "삭제됨",
                 "not_deleted": "삭제되지 않음"}
STATUS_NOTES = {
    "received": "제보를 받았어요. 담당자가 확인하기 전이에요.",
    "reviewed": "담당자가 제보를 확인했어요.",
    "dismissed": "담당자가 확인했지만, 지금 자료로는 신고 대상으로 보기 어려웠어요. 알려 주셔서 고마워요.",
    "reported": "담당자가 확인하고 관계 기관(방송통신심의위원회·경찰·플랫폼)에 신고했어요.",
    "deleted": "신고한 게시물이 삭제된 것을 확인했어요.",
    "not_deleted": "신고했지만 다시 확인했을 때 게시물이 아직 남아 있었어요. 계속 살펴볼게요.",
}
# Receipt codes: 12 characters from 31 that cannot be mistaken for one another (no 0/O, 1/I/L): ~59 bits,
# far beyond guessing through a lookup limited to a few tries an hour per address.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
_MINOR_WORDS = re.compile(r"미성년|청소년|초등학생|중학생|고등학생|초딩|중딩|고딩|잼민|여중생|여고생|남중생|남고생")
_AGE = re.compile(r"(\d{1,2})\s*(?:살|세)")
_TAGS = re.compile(r"<(script|style|noscript)\b.*?</\1>|<[^>]+>", re.S | re.I)
PAGE_CHARS = 4000  # of a fetched page's text, classified with the report


class CitizenError(DomainError):
    status = 400
    MESSAGES = {
        "type_required": "제보 유형을 골라 주세요.",
        "content_required": "링크(URL)나 내용 중 하나는 꼭 적어 주세요.",
        "bad_url": "링크는 http:// 또는 https:// 로 시작하는 인터넷 주소여야 해요.",
        "too_long": "{name}이(가) 너무 길어요. {limit}자 이내로 적어 주세요.",
        "bad_form": "제보 양식을 읽을 수 없어요. 페이지를 새로 고친 뒤 다시 보내 주세요.",
        "not_found": "이 접수 번호로 찾은 제보가 없어요. 번호를 다시 확인해 주세요.",
        "rate_limited": ("요청이 너무 많아요. 잠시 뒤에 다시 시도해 주세요. "
                         "지금 위험하면 112, 청소년은 1388에 연락하세요."),
    }


@dataclass
class Submission:
    kind: str
    url: str = ""
    text: str = ""
    place: str = ""
    when: str = ""
    description: str = ""
    minor: bool = False
    channel: str = "web"
    conversation: str | None = None  # a chat report: the conversation's public id
    images: list[CleanImage] = field(default_factory=list)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", code or "")).upper()[:40]


def receipt_key(code: str) -> str:
    return crypto.blind_index("citizen-receipt", normalise_code(code))


def normalise_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").lower().split())


def normalise_url(url: str) -> str:
    u = URL(url.strip())
    host = (u.host or "").lower().removeprefix("www.")
    query = [(k, v) for k, v in u.query.items() if not k.lower().startswith(("utm_", "fbclid", "igshid"))]
    path = u.path.rstrip("/") or "/"
    return str(URL.build(scheme="https", host=host, path=path, query=query, encoded=False))


def minor_hint(*texts: str) -> bool:
    """A reporter's own words about a minor: school words or an age under 19."""
    joined = " ".join(texts)
    if _MINOR_WORDS.search(joined):
        return True
    return any(0 < int(m.group(1)) < 19 for m in _AGE.finditer(joined))


def check(sub: Submission) -> Submission:
    """Refuse what cannot be a report (CitizenError); returns it trimmed."""
    if sub.kind not in KINDS:
        raise CitizenError("type_required")
    if sub.channel not in CHANNELS:
        raise CitizenError("bad_form")
    for name, limit in LIMITS.items():
        value = (getattr(sub, name) or "").strip()
        if len(value) > limit:
            raise CitizenError("too_long", name=FIELD_NAMES[name], limit=limit, status=413)
        setattr(sub, name, value)
    if not sub.url and not sub.text and not sub.images:
        raise CitizenError("content_required")
    if sub.url:
        if not re.match(r"^https?://", sub.url, re.I):
            sub.url = "https://" + sub.url if re.match(r"^[\w.-]+\.[a-z]{2,}(/|$)", sub.url, re.I) else sub.url
        try:
            u = URL(sub.url)
        except ValueError:
            raise CitizenError("bad_url") from None
        if u.scheme not in ("http", "https") or not u.host or " " in sub.url:
            raise CitizenError("bad_url")
    sub.minor = bool(sub.minor) or minor_hint(sub.text, sub.description)
    return sub


@dataclass(frozen=True)
class Receipt:
    code: str
    report_id: int
    item_id: int
    merged: bool  # the same link or text was reported before: counted on that item


def submit(s: Session, sub: Submission, evidence: EvidenceStore) -> Receipt:
    """Store one checked report in `s`'s open transaction; the screenshots (already cleaned) are written
    to the encrypted evidence files first and removed again if the transaction fails (the caller calls
    `discard_files` on any exception)."""
    url_key = crypto.blind_index("citizen-url", normalise_url(sub.url)) if sub.url else None
    text = normalise_text(sub.text)
    text_key = crypto.blind_index("citizen-text", text) if len(text) >= 8 else None  # "광고" alone is no key
    item = store.find_item(s, url_key, text_key)
    merged = item is not None
    if item is None:
        item = CitizenItem(kind=sub.kind, url_key=url_key,
                           text_key=text_key if text_key and not store.key_taken(s, text_key) else None,
                           report_count=1, minor=sub.minor, created_at=utcnow())
        s.add(item)
    else:
        item.report_count += 1
        item.minor = item.minor or sub.minor
    shots = [{"sha256": evidence.put_file(img.data), "type": img.kind, "bytes": len(img.data)} for img in sub.images]
    code = new_code()
    report = CitizenReport(receipt_key=receipt_key(code), kind=sub.kind, channel=sub.channel,
                           minor=sub.minor, screenshots=shots or None, conversation=sub.conversation,
                           content={"url": sub.url, "text": sub.text, "place": sub.place, "when": sub.when,
                                    "description": sub.description}, created_at=utcnow())
    s.flush()  # the item's id
    report.item_id = item.id
    s.add(report)
    s.flush()
    return Receipt(code, report.id, item.id, merged)


def new_files(sub: Submission, evidence: EvidenceStore) -> list[str]:
    """The screenshots' names that are not on disk yet: what a failed submit must remove again."""
    return [d for d in (hashlib.sha256(img.data).hexdigest() for img in sub.images)
            if not evidence.blob_path(d).exists()]


def discard_files(digests: list[str], evidence: EvidenceStore) -> None:
    for d in digests:
        evidence.blob_path(d).unlink(missing_ok=True)


def save(settings: Any, sub: Submission, attempts: int = 2) -> Receipt:
    """One transaction; screenshots new on disk are removed again when it fails (nothing half-stored).
    The page and the chat's action both store through here."""
    evidence = EvidenceStore.for_settings(settings)
    for attempt in range(attempts):
        fresh = new_files(sub, evidence)
        try:
            with queries.session(settings) as s, s.begin():
                return submit(s, sub, evidence)
        except IntegrityError as exc:
            discard_files(fresh, evidence)
            if attempt + 1 >= attempts or not duplicate_race(exc):
                raise
        except BaseException:
            discard_files(fresh, evidence)
            raise
    raise AssertionError("unreachable")


def status(s: Session, code: str) -> dict[str, Any]:
    """The receipt's status; a wrong, malformed or unknown code gets the one same refusal."""
    found = store.report_by_receipt(s, receipt_key(code)) if len(normalise_code(code)) == CODE_LENGTH else None
    if found is None:
        raise CitizenError("not_found", status=404)
    report, outcome = found
    shown = "reviewed" if outcome == "dismissed" else outcome
    return {"status": shown, "label": STATUS_LABELS[shown], "note": STATUS_NOTES[outcome],
            "kind": KINDS.get(report.kind, report.kind), "received_on": (kst(report.created_at) or "")[:10],
            "steps": [{"status": k, "label": v} for k, v in STATUS_LABELS.items()]}


# --- into the detection pipeline ------------------------------------------------------------------------

@dataclass
class Work:
    """One item's material, read from the database, for the fetch and the classifier."""

    item_id: int
    url: str | None
    text: str
    screenshots: list[tuple[str, bytes]]
    minor: bool
    fetched: bytes = b""
    fetch_status: str = "none"
    page_text: str = ""


def load_work(s: Session, item_id: int, evidence: EvidenceStore) -> Work | None:
    item = s.get(CitizenItem, item_id)
    if item is None or item.processed_at is not None:
        return None
    reports = store.reports_of(s, item_id)
    parts: list[str] = []
    url = None
    shots: list[tuple[str, bytes]] = []
    for r in reports:
        c = r.content or {}
        url = url or c.get("url") or None
        for value in (c.get("text"), c.get("description")):
            if value and value not in parts:
                parts.append(value)
        for shot in r.screenshots or []:
            if shot["sha256"] not in {d for d, _ in shots}:
                shots.append((shot["sha256"], evidence.read_file(shot["sha256"])))
    return Work(item_id, url, "\n".join(parts), shots, item.minor)


def page_text(body: bytes) -> str:
    """Visible text of a fetched page (scripts and tags dropped), for the classifier."""
    raw = body[:1_000_000].decode("utf-8", errors="replace")
    return " ".join(html.unescape(_TAGS.sub(" ", raw)).split())[:PAGE_CHARS]


def store_post(s: Session, work: Work, verdict: Any, evidence: EvidenceStore) -> DetectedPost | None:
    """The item as a `citizen` post, always waiting for a person (a citizen thought it an ad: staff
    decide, not the classifier), with its evidence entry; clusters recomputed with the scanner's posts."""
    item = s.get(CitizenItem, work.item_id)
    if item is None or item.processed_at is not None:
        return None  # another worker got there first
    text = work.text + (("\n" + work.page_text) if work.page_text else "")
    host = (URL(work.url).host or "") if work.url else ""
    post = DetectedPost(
        source="citizen", platform=(host.removeprefix("www.") or "citizen")[:30], post_key=f"citizen:{item.id}",
        content_hash=hashlib.sha256(f"citizen\x1f{item.id}".encode()).hexdigest(), url=work.url,
        text=text or "(사진만 제보)", image_urls=None, fetched_at=utcnow(), category=verdict.category,
        youth=bool(verdict.youth), score=float(verdict.score), verdict=verdict.as_dict(), status=PostStatus.flagged)
    s.add(post)
    s.flush()
    files = [("screenshot", data, {}) for _, data in work.screenshots]
    if work.fetched:
        files.append(("capture", work.fetched, {"type": "html"}))
    payload = {"platform": post.platform, "url": work.url, "text": post.text, "source": "citizen",
               "citizen_item": item.id, "reports": item.report_count, "normalised": verdict.normalised,
               "ocr_text": verdict.ocr_text, "indicators": verdict.indicators, "reasons": verdict.reasons,
               "category": verdict.category, "youth": verdict.youth, "score": verdict.score,
               "fetch": work.fetch_status, "fetched_at_kst": kst(post.fetched_at),
               "text_sha256": hashlib.sha256(post.text.encode("utf-8")).hexdigest()}
    post.evidence_seq = evidence.record(s, post.id, payload, files)
    item.post_id, item.processed_at, item.fetch = post.id, utcnow(), work.fetch_status[:20]
    clusters.assign(s)
    return post


def review_context(s: Session, post_id: int) -> dict[str, Any] | None:
    """What the reviewer sees of a citizen post: how many reported it and what each wrote (no reporter data)."""
    item = store.item_of_post(s, post_id)
    if item is None:
        return None
    reports = [{"kind": KINDS.get(r.kind, r.kind), "channel": r.channel, "minor": r.minor,
                "received_at": kst(r.created_at), "screenshots": len(r.screenshots or []),
                **{k: (r.content or {}).get(k, "") for k in ("url", "text", "place", "when", "description")}}
               for r in store.reports_of(s, item.id)]
    return {"item": item.id, "kind": KINDS.get(item.kind, item.kind), "count": item.report_count,
            "minor": item.minor, "fetch": item.fetch, "reports": reports}


def duplicate_race(exc: IntegrityError) -> bool:
    """Two identical reports at the same moment: one insert loses on the unique keys and is retried."""
    return "citizen_items" in str(exc.orig) or "url_key" in str(exc.orig) or "text_key" in str(exc.orig)
