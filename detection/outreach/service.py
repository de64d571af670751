"""Watcher outreach: drafting for youth-flagged posts, escalation of repeat accounts and contacts, and the
approve → send path with its guards. The database work is synchronous (shared with the CLI); `send` is
the async part, run by the review pages with the gateway's senders and rate limiter.

Guards, each checked where it cannot be raced:
- nothing leaves without a named person's approval; with DASI_OUTREACH_DRY_RUN=1 (the default) an
  approval records what would have been sent and nothing is sent;
- an account believed to belong to a minor is only ever sent guidance (checked at drafting, approval
  and send);
- the same text never reaches the same target twice (detection_outreach_sends' unique constraint,
  written in the transaction that hands the message over);
- sends are rate-limited per platform and per target (the `limits` library, assistant/web/limits.py).
Every draft, approval, rejection and send is in the audit log: who, what, which record, never the text."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from assistant.core.errors import DomainError
from assistant.store.crypto import blind_index
from assistant.web.limits import Limit, RateLimiter
from casebook.staff import audit
from detection.outreach import contacts, minors, store, templates
from detection.outreach.sending import API_PLATFORMS, Outgoing, Sender, SendFailed
from detection.outreach.tables import OPEN, DraftStatus, OutreachDraft, OutreachTarget
from detection.pipeline import reports
from detection.storage import queries
from detection.storage.tables import DetectedPost

RECORD = "outreach_draft"


class OutreachError(DomainError):
    status = 409
    MESSAGES = {
        "not_found": "없는 초안이에요.",
        "not_open": "이미 처리된 초안이에요 (상태: {state}). 목록을 새로 고쳐 주세요.",
        "minor_guidance_only": "미성년자로 보이는 계정에는 안내 문구만 보낼 수 있어요. 이 초안은 보낼 수 없어요.",
        "no_sender": "이 플랫폼으로 보내는 설정이 꺼져 있어요(X 채널). 직접 게시하려면 관리자에게 문의하세요.",
        "not_approved": "승인된 초안만 보낼 수 있어요.",
        "not_manual": "직접 게시하는 초안이 아니에요.",
        "rate_limited": "보내는 한도에 걸렸어요. {seconds}초 뒤에 '보내기'를 다시 눌러 주세요.",
        "send_failed": "플랫폼이 보내기를 거절했어요({reason}). 초안은 다시 승인할 수 있어요.",
        "target_not_found": "없는 대상이에요.",
    }


# --- drafting ----------------------------------------------------------------------------------------

@dataclass
class DraftRun:
    posts: int = 0
    drafts: list[int] = field(default_factory=list)
    repeats: int = 0  # the same text was already drafted for the same target
    reports: list[int] = field(default_factory=list)  # escalations

    def as_dict(self) -> dict[str, Any]:
        return {"posts": self.posts, "drafts": len(self.drafts), "repeats": self.repeats, "reports": self.reports}


def draft_pending(s: Session, settings: Any, actor: str = "system", ip: str = "") -> DraftRun:
    """Read every youth-flagged post outreach has not read yet: flag its account and contacts, draft the
    messages, escalate targets flagged `outreach_escalate_after` times. In the caller's transaction."""
    run = DraftRun()
    for post in store.unprocessed_youth_posts(s):
        run.posts += 1
        minor = minors.believed_minor(post.text)
        store.mark_processed(s, post.id, minor)
        name = contacts.account(post.platform, post.account)
        account = store.target(s, "account", post.platform, name) if name else None
        if account is not None and minor and not account.minor:
            account.minor, account.minor_by = True, "classifier"
        found = ((post.verdict or {}).get("indicators") or {}).get("contacts") or []
        targets = [t for t in [account] if t is not None]
        targets += [store.target(s, kind, "", value) for kind, value in contacts.extract(post.text, found)]
        for t in targets:
            store.flag(s, t.id, post.id)
        author_minor = minor or bool(account is not None and account.minor)
        for key in (("guidance_self",) if author_minor else ("warning", "guidance_readers")):
            _draft(s, settings, post, account, key, run, actor, ip)
        crossed = [t for t in targets if t.escalated_at is None
                   and store.flag_count(s, t.id) >= settings.outreach_escalate_after]
        if crossed:
            _escalate(s, settings, crossed, run, actor, ip)
    return run


def _draft(s: Session, settings: Any, post: DetectedPost, account: OutreachTarget | None, key: str, run: DraftRun,
           actor: str, ip: str) -> None:
    tpl = templates.get(key)
    if tpl.kind != "guidance" and account is not None and account.minor:
        return  # never anything but guidance to a minor
    text = tpl.render(settings)
    # Whom it reaches: a reply notifies the post's author, so the account (or, without one, the post).
    target_hash = account.key_hash if account else blind_index("outreach-post", post.platform, post.post_key)
    text_hash = templates.text_hash(text)
    if store.same_text_drafted(s, target_hash, text_hash):
        run.repeats += 1
        return
    can_reply = post.platform in API_PLATFORMS and bool(post.post_id and post.post_id.isdigit())
    draft = OutreachDraft(post_id=post.id, target_id=account.id if account else None, kind=tpl.kind, template=key,
                          platform=post.platform, via="reply" if can_reply else "manual",
                          recipient=post.post_id if can_reply else post.url, text=text, text_hash=text_hash,
                          target_hash=target_hash, status=DraftStatus.draft, created_at=utcnow())
    s.add(draft)
    s.flush()
    run.drafts.append(draft.id)
    audit.record(s, actor, "outreach.draft", RECORD, str(draft.id), ip,  # type: ignore[arg-type]
                 kind=draft.kind, template=key, platform=draft.platform, via=draft.via, post=post.id)


def _escalate(s: Session, settings: Any, crossed: list[OutreachTarget], run: DraftRun, actor: str, ip: str) -> None:
    """One report draft for every post of the targets that just reached the threshold."""
    posts = store.flagged_posts(s, [t.id for t in crossed])
    fresh = [p for p in posts if p.report_id is None]
    if fresh:
        report_id = reports.draft_posts(s, settings, fresh, label="outreach").id
        run.reports.append(report_id)
    else:  # every post is already in a report: the escalation points at it
        report_id = min(p.report_id for p in posts if p.report_id is not None)
    now = utcnow()
    for t in crossed:
        t.escalated_at, t.report_id = now, report_id
    audit.record(s, actor, "outreach.escalate", "detection_report", str(report_id), ip,  # type: ignore[arg-type]
                 targets=len(crossed), kinds=sorted({t.kind for t in crossed}), posts=len(posts))


# --- decisions ---------------------------------------------------------------------------------------

def _get(s: Session, draft_id: int, lock: bool = False) -> OutreachDraft:
    draft = s.get(OutreachDraft, draft_id, with_for_update=lock)
    if draft is None:
        raise OutreachError("not_found", status=404)
    return draft


def status_of(s: Session, draft_id: int) -> str:
    return _get(s, draft_id).status


def _check_minor(s: Session, draft: OutreachDraft) -> None:
    target = s.get(OutreachTarget, draft.target_id) if draft.target_id else None
    if draft.kind != "guidance" and target is not None and target.minor:
        raise OutreachError("minor_guidance_only", status=403)


def approve(s: Session, settings: Any, draft_id: int, actor: str, senders: Collection[str], ip: str = "") -> bool:
    """A named person approves. Returns True when the draft should now be sent by `send`."""
    draft = _get(s, draft_id, lock=True)
    if draft.status not in OPEN:
        raise OutreachError("not_open", state=draft.status)
    _check_minor(s, draft)
    if store.already_sent(s, draft.target_hash, draft.text_hash):
        draft.status = DraftStatus.duplicate
        audit.record(s, actor, "outreach.duplicate", RECORD, str(draft_id), ip)  # type: ignore[arg-type]
        return False
    if draft.via == "reply" and not settings.outreach_dry_run and draft.platform not in senders:
        raise OutreachError("no_sender")
    draft.decided_by, draft.decided_at, draft.error = actor[:60], utcnow(), None
    if draft.via == "reply" and settings.outreach_dry_run:
        draft.status = DraftStatus.dry_run  # what would have been sent stays in the draft itself
        audit.record(s, actor, "outreach.approve", RECORD, str(draft_id), ip,  # type: ignore[arg-type]
                     kind=draft.kind, platform=draft.platform, via=draft.via, dry_run=True)
        return False
    draft.status = DraftStatus.approved
    audit.record(s, actor, "outreach.approve", RECORD, str(draft_id), ip,  # type: ignore[arg-type]
                 kind=draft.kind, platform=draft.platform, via=draft.via, dry_run=False)
    return draft.via == "reply"


def reject(s: Session, draft_id: int, actor: str, ip: str = "") -> OutreachDraft:
    draft = _get(s, draft_id, lock=True)
    if draft.status not in (*OPEN, DraftStatus.approved) or store.claimed(s, draft_id):
        raise OutreachError("not_open", state=draft.status)
    draft.status, draft.decided_by, draft.decided_at = DraftStatus.rejected, actor[:60], utcnow()
    audit.record(s, actor, "outreach.reject", RECORD, str(draft_id), ip, kind=draft.kind)  # type: ignore[arg-type]
    return draft


def posted_by_hand(s: Session, draft_id: int, actor: str, ip: str = "") -> OutreachDraft:
    """Staff posted an approved manual draft themselves; the send guard applies as to any send."""
    draft = _get(s, draft_id, lock=True)
    if draft.via != "manual":
        raise OutreachError("not_manual")
    if draft.status != DraftStatus.approved:
        raise OutreachError("not_approved")
    _check_minor(s, draft)
    try:
        with s.begin_nested():
            store.claim(s, draft)
    except IntegrityError:
        draft.status = DraftStatus.duplicate
        return draft
    draft.status, draft.sent_at = DraftStatus.posted_by_hand, utcnow()
    audit.record(s, actor, "outreach.posted_by_hand", RECORD, str(draft_id), ip,  # type: ignore[arg-type]
                 kind=draft.kind, platform=draft.platform)
    return draft


def mark_minor(s: Session, target_id: int, actor: str, ip: str = "") -> OutreachTarget:
    """Staff believe this account belongs to a minor: from now on only guidance may reach it."""
    target = s.get(OutreachTarget, target_id)
    if target is None:
        raise OutreachError("target_not_found", status=404)
    if not target.minor:
        target.minor, target.minor_by = True, actor[:60]
        audit.record(s, actor, "outreach.minor", "outreach_target", str(target_id), ip)  # type: ignore[arg-type]
    return target


# --- sending -----------------------------------------------------------------------------------------

async def _db(settings: Any, fn: Callable[[Session], Any]) -> Any:
    """fn(session) in one transaction, in the default executor (the database calls are synchronous)."""
    def work() -> Any:
        with queries.session(settings) as s, s.begin():
            return fn(s)
    return await asyncio.get_running_loop().run_in_executor(None, work)


async def send(settings: Any, senders: dict[str, Sender], limiter: RateLimiter, draft_id: int, actor: str,
               ip: str = "") -> str:
    """Send one approved draft through its platform's sender. Returns the draft's new status."""
    def prepare(s: Session) -> tuple[Outgoing, str]:
        draft = _get(s, draft_id)
        if draft.status != DraftStatus.approved or draft.via != "reply":
            raise OutreachError("not_approved")
        _check_minor(s, draft)
        if draft.platform not in senders:
            raise OutreachError("no_sender")
        return Outgoing(draft.platform, draft.via, draft.recipient or "", draft.text), draft.target_hash
    message, target_hash = await _db(settings, prepare)
    wait = await limiter.hit((Limit("outreach-platform", settings.outreach_rate_per_platform), message.platform),
                             (Limit("outreach-target", settings.outreach_rate_per_target), target_hash))
    if wait:
        def note(s: Session) -> None:
            _get(s, draft_id).error = "rate_limited"
            audit.record(s, actor, "outreach.rate_limited", RECORD, str(draft_id), ip,  # type: ignore[arg-type]
                         wait=wait)
        await _db(settings, note)
        raise OutreachError("rate_limited", status=429, seconds=wait)

    def take(s: Session) -> bool:
        draft = _get(s, draft_id, lock=True)
        if draft.status != DraftStatus.approved or store.claimed(s, draft_id):
            return False  # decided otherwise meanwhile, or another request is sending it
        _check_minor(s, draft)
        try:
            with s.begin_nested():
                store.claim(s, draft)
        except IntegrityError:  # the same text already went to this target (or this draft is being sent)
            draft.status = DraftStatus.duplicate
            audit.record(s, actor, "outreach.duplicate", RECORD, str(draft_id), ip)  # type: ignore[arg-type]
            return False
        return True
    if not await _db(settings, take):
        return await _db(settings, lambda s: status_of(s, draft_id))
    try:
        remote_id = await senders[message.platform].send(message)
    except SendFailed as exc:
        reason = exc.reason[:80]

        def failed(s: Session) -> None:
            draft = _get(s, draft_id)
            store.release(s, draft_id)
            draft.status, draft.error = DraftStatus.failed, reason
            audit.record(s, actor, "outreach.send_failed", RECORD, str(draft_id), ip,  # type: ignore[arg-type]
                         platform=message.platform, reason=reason)
        await _db(settings, failed)
        raise OutreachError("send_failed", status=502, reason=reason[:40]) from None

    def sent(s: Session) -> str:
        draft = _get(s, draft_id)
        draft.status, draft.sent_at, draft.remote_id, draft.error = DraftStatus.sent, utcnow(), remote_id[:64], None
        audit.record(s, actor, "outreach.send", RECORD, str(draft_id), ip,  # type: ignore[arg-type]
                     kind=draft.kind, platform=message.platform, via=message.via, remote_id=remote_id[:64])
        return draft.status
    return await _db(settings, sent)
