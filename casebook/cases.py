"""Case records: people, cases, workflow moves, services, entries, documents and follow-ups.

The service layer behind /api/console/cases (connectors/web/console_cases.py) and the statistics and
benchmark helpers; it knows nothing about HTTP. Rules that live here:

- Who may see what: supervisors every case; counsellors the cases they own or are members of;
  other roles nothing. Checked on every call, server-side.
- Every read (list, detail, document, person) writes an audit row: actor, action, record type and id,
  never names, contact details, notes or file names.
- Moves through the workflow are looked up in casebook/workflow.TRANSITIONS (workflow.check); the
  step itself changes by a conditional UPDATE, so two people moving a case at once cannot both win.
- Case numbers are YYYY-NNNN, the Korean (KST) year of opened_at, allocated under a per-year lock
  (a PostgreSQL advisory lock; SQLite's single writer lock), so parallel openings get distinct numbers.
- Dates are stored in UTC. "on" values accept an ISO date (that day in Korea, at noon, never later
  than now) or an ISO datetime (naive = Korean time).
"""
from __future__ import annotations

import json
import re
from calendar import monthrange
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import and_, false, func, or_, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from casebook import audit, crypto, queue, workflow
from casebook.accounts import SignedIn
from casebook.hours import KST
from casebook.models import (Assignment, Case, CaseDocument, CaseEntry, CaseMember, CaseService, CaseStep,
                             Conversation, FollowUp, Person, User, utcnow)

CASE_ROLES = ("counsellor", "supervisor")
MAX_DOCUMENT = 10 * 1024 * 1024
MAX_TEXT = 10_000  # one note, one incident field
MAX_SHORT = 200  # names, partners, organisations
MAX_DATA = 20_000  # a move's data, as JSON
MAX_MINUTES = 24 * 60
MAX_LIMIT = 200
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
NUMBER = re.compile(r"^(\d{4})-(\d{4,6})$")
CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*/[A-Za-z0-9][A-Za-z0-9.+-]*$")
# What each entry kind's body may hold; the first field is required.
ENTRY_FIELDS: dict[str, tuple[str, ...]] = {
    "note": ("text",),
    "referral": ("to", "reason"),
    "incident": ("what", "when", "where", "perpetrators"),
}
CONTACT_FIELDS = ("phone", "email", "other")
OPEN_FIELDS = frozenset({"person_id", "person", "conversation_id", "route", "channel", "referred_by", "opened_at"})
_LOCK_KEY = 7007  # advisory lock namespace for case numbers (PostgreSQL)


class CaseError(Exception):
    """A refusal the console shows as is: HTTP-like status, a code, a Korean message.
    `missing` names the fields a workflow move lacks; `denied` (action, record_type, record_id)
    marks a permission refusal the caller should audit in a transaction of its own."""

    def __init__(self, status: int, code: str, message: str, missing: Optional[tuple[str, ...]] = None,
                 denied: Optional[tuple[str, str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.missing, self.denied = status, code, message, missing, denied


def _bad(field: str, message: str) -> CaseError:
    return CaseError(400, f"invalid_{field}", message)


def _forbidden(action: str, record_type: str, record_id: str, message: str) -> CaseError:
    return CaseError(403, "forbidden", message, denied=(action, record_type, record_id))


# --- input checks --------------------------------------------------------------------------------

def _text(value: Any, field: str, max_len: int = MAX_SHORT, required: bool = False) -> Optional[str]:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise _bad(field, f"'{field}' 항목을 입력해 주세요.")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(field, f"'{field}' 항목은 비어 있지 않은 문자열이어야 해요.")
    if len(value) > max_len:
        raise CaseError(413, "text_too_long", f"'{field}' 항목은 {max_len}자까지 쓸 수 있어요.")
    return value.strip()


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(field, f"'{field}' 항목은 {lo}~{hi} 사이의 정수여야 해요.")
    return value


def _id(value: Any) -> Optional[int]:
    """A row id from a client, or None: ints in the database's range only (no bools, no 10**30)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**31
    return value if ok else None


def _bool(value: Any, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(field, f"'{field}' 항목은 true 또는 false여야 해요.")
    return value


def _noon_kst(day: date) -> datetime:
    return datetime.combine(day, time(12), KST).astimezone(timezone.utc)


def _on_day(day: date, now: datetime) -> datetime:
    """A bare date means that day in Korea, at noon; today's date, though, never lies ahead of now."""
    return min(_noon_kst(day), now) if day == kst_date(now) else _noon_kst(day)


def parse_when(value: Any, field: str = "on") -> datetime:
    """An ISO date ("2025-03-01": that day in Korea) or datetime (naive = Korean time), as UTC.
    Refuses anything else, dates before 2000 and dates more than a day ahead."""
    now = utcnow()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=KST)
    elif isinstance(value, date):
        moment = _on_day(value, now)
    elif isinstance(value, str) and 10 <= len(value.strip()) <= 40:
        raw = value.strip()
        try:
            if len(raw) == 10:
                moment = _on_day(date.fromisoformat(raw), now)
            else:
                parsed = datetime.fromisoformat(raw)
                moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)
        except ValueError:
            raise _bad(field, f"'{field}' 날짜를 읽을 수 없어요. 2025-03-01 같은 형식으로 써 주세요.") from None
    else:
        raise _bad(field, f"'{field}' 항목은 2025-03-01 같은 날짜여야 해요.")
    moment = moment.astimezone(timezone.utc)
    if moment < EARLIEST or moment > now + timedelta(days=1):
        raise _bad(field, f"'{field}' 날짜가 범위를 벗어났어요 (2000년부터 오늘까지).")
    return moment


def kst_date(moment: datetime) -> date:
    return moment.astimezone(KST).date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day (31 Aug + 3 months = 30 Nov)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def due_cutoff(now: Optional[datetime] = None) -> datetime:
    """Follow-ups due on or before today (in Korea) are due: due_on < the start of tomorrow, KST."""
    tomorrow = kst_date(now or utcnow()) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), KST).astimezone(timezone.utc)


def _not_before_opening(case: Case, moment: datetime, field: str) -> None:
    if kst_date(moment) < kst_date(case.opened_at):
        raise _bad(field, f"'{field}' 날짜가 사례 접수일({kst_date(case.opened_at).isoformat()})보다 앞서요.")


# --- permissions ---------------------------------------------------------------------------------

def _require_role(user: SignedIn) -> None:
    if user.role not in CASE_ROLES:
        raise CaseError(403, "forbidden", "이 계정의 역할로는 사례 기록을 볼 수 없어요.")


def _own_or_member(user: SignedIn):
    members = select(CaseMember.case_id).where(CaseMember.user_id == user.user_id)
    return or_(Case.owner_id == user.user_id, Case.id.in_(members))


def visible(user: SignedIn):
    """The WHERE clause for the cases this user may see."""
    _require_role(user)
    return true() if user.role == "supervisor" else _own_or_member(user)


async def _case(session: AsyncSession, user: SignedIn, number: Any, action: str) -> Case:
    _require_role(user)
    if not isinstance(number, str) or not NUMBER.match(number):
        raise CaseError(404, "not_found", "그런 사례가 없어요.")
    case = (await session.scalars(select(Case).where(Case.number == number))).first()
    if case is None:
        raise CaseError(404, "not_found", "그런 사례가 없어요.")
    if user.role != "supervisor" and not await may_see(session, user, case):
        raise _forbidden(action, "case", number, "이 사례를 볼 권한이 없어요. 맡거나 함께 맡은 사례만 볼 수 있어요.")
    return case


async def check_access(session: AsyncSession, user: SignedIn, number: str, action: str) -> None:
    """Refuse (CaseError) unless this user may work on the case; nothing is recorded when allowed."""
    await _case(session, user, number, action)


async def may_see(session: AsyncSession, user: SignedIn, case: Case) -> bool:
    if user.role == "supervisor":
        return True
    if user.role != "counsellor":
        return False
    if case.owner_id == user.user_id:
        return True
    return (await session.scalar(select(CaseMember.id).where(
        CaseMember.case_id == case.id, CaseMember.user_id == user.user_id))) is not None


async def may_see_person(session: AsyncSession, user: SignedIn, person_id: int) -> bool:
    """Supervisors: everyone. Counsellors: people in one of their cases or behind a conversation they
    hold or held."""
    if user.role == "supervisor":
        return True
    if user.role != "counsellor":
        return False
    if await session.scalar(select(Case.id).where(Case.person_id == person_id, _own_or_member(user)).limit(1)):
        return True
    held = select(Assignment.conversation_id).where(Assignment.user_id == user.user_id)
    return bool(await session.scalar(select(Conversation.id).where(
        Conversation.person_id == person_id,
        or_(Conversation.assignee_id == user.user_id, Conversation.id.in_(held))).limit(1)))


async def _staff(session: AsyncSession, login: Any) -> User:
    if not isinstance(login, str) or not login:
        raise _bad("login", "'login' 항목은 상담원 아이디여야 해요.")
    target = (await session.scalars(select(User).where(User.login == login[:60]))).first()
    if target is None or target.disabled or target.role not in CASE_ROLES:
        raise _bad("login", "그 아이디의 상담원이나 슈퍼바이저를 찾을 수 없어요.")
    return target


# --- reading ---------------------------------------------------------------------------------------

def _iso(moment: Optional[datetime]) -> Optional[str]:
    return moment.isoformat() if moment else None


def _due_clause(cutoff: datetime):
    return and_(FollowUp.done_at.is_(None), FollowUp.cancelled.is_(False), FollowUp.due_on < cutoff)


async def list_cases(session: AsyncSession, user: SignedIn, *, step: Optional[str] = None, mine: bool = False,
                     due: bool = False, limit: int = 50, offset: int = 0, ip: str = "") -> tuple[list[dict], int]:
    """The cases this user may see, newest first, and how many there are in all. Audited."""
    where = [visible(user)]
    if step is not None:
        if step not in workflow.STEPS:
            raise _bad("step", f"알 수 없는 단계예요: {', '.join(workflow.STEPS)} 중 하나여야 해요.")
        where.append(Case.step == step)
    if mine:
        where.append(_own_or_member(user))
    cutoff = due_cutoff()
    if due:
        where.append(Case.id.in_(select(FollowUp.case_id).where(_due_clause(cutoff))))
    limit, offset = _int(limit, "limit", 1, MAX_LIMIT), _int(offset, "offset", 0, 10**9)
    total = await session.scalar(select(func.count()).select_from(Case).where(*where))
    # The page's ids first (an index walk on opened_at), then details for those ids only: the due
    # count and the joins are not computed for every visible case before sorting.
    ids = list((await session.scalars(select(Case.id).where(*where).order_by(Case.opened_at.desc(), Case.id.desc())
                                      .limit(limit).offset(offset))).all())
    owner = aliased(User)
    found = {r[0]: r for r in (await session.execute(
        select(Case.id, Case.number, Case.step, Case.support_level, Case.opened_at, Case.closed_at, Person.id,
               Person.name, owner.login, owner.name)
        .join(Person, Person.id == Case.person_id).outerjoin(owner, owner.id == Case.owner_id)
        .where(Case.id.in_(ids)))).all()} if ids else {}
    due_counts = dict((await session.execute(
        select(FollowUp.case_id, func.count()).where(FollowUp.case_id.in_(ids), _due_clause(cutoff))
        .group_by(FollowUp.case_id))).all()) if ids else {}
    rows = [found[i] for i in ids if i in found]
    audit.record(session, user.actor, "case.list", "case", "", ip, count=len(rows), total=total,
                 step=step or "", mine=bool(mine), due=bool(due))
    return [{"number": r[1], "person": {"id": r[6], "name": r[7]}, "step": r[2],
             "step_label": workflow.STEPS.get(r[2], r[2]), "support_level": r[3],
             "owner": {"login": r[8], "name": r[9]} if r[8] else None,
             "opened_at": _iso(r[4]), "closed_at": _iso(r[5]), "due_followups": int(due_counts.get(r[0], 0))}
            for r in rows], int(total or 0)


def person_json(person: Person) -> dict:
    return {"id": person.id, "name": person.name, "contact": person.contact or {}, "youth": person.youth}


def _conversation_json(conv: Conversation) -> dict:
    return {"id": conv.public_id, "channel": conv.channel, "created_at": _iso(conv.created_at), "state": conv.state}


def _allowed(step: str) -> list[dict]:
    return [{"to": to, "name": t.name, "label": t.label, "required": list(t.required),
             "choices": {f: {code: _choice_label(f, code) for code in codes} for f, codes in t.choices.items()}}
            for to, t in workflow.allowed_moves(step)]


def _choice_label(field: str, code: str) -> str:
    labels = {"reason": workflow.CLOSE_REASONS, "support_level": workflow.SUPPORT_LEVELS}.get(field, {})
    return labels.get(code, code)


async def _names(session: AsyncSession, ids: set[Optional[int]]) -> dict[int, User]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u for u in (await session.scalars(select(User).where(User.id.in_(ids)))).all()}


async def case_detail(session: AsyncSession, case: Case) -> dict:
    """Everything the case page shows. Not audited by itself: callers audit the read or the change."""
    now, cutoff = utcnow(), due_cutoff()
    person = await session.get(Person, case.person_id)
    # In the order recorded: a move is never dated before the one it follows (see transition).
    steps = (await session.scalars(select(CaseStep).where(CaseStep.case_id == case.id)
                                   .order_by(CaseStep.id))).all()
    services = (await session.scalars(select(CaseService).where(CaseService.case_id == case.id)
                                      .order_by(CaseService.on, CaseService.id))).all()
    entries = (await session.scalars(select(CaseEntry).where(CaseEntry.case_id == case.id)
                                     .order_by(CaseEntry.id))).all()
    # Not the content column: a document may be 10 MB.
    documents = (await session.execute(
        select(CaseDocument.id, CaseDocument.filename, CaseDocument.content_type, CaseDocument.size,
               CaseDocument.created_at).where(CaseDocument.case_id == case.id).order_by(CaseDocument.id))).all()
    followups = (await session.scalars(select(FollowUp).where(FollowUp.case_id == case.id)
                                       .order_by(FollowUp.due_on, FollowUp.id))).all()
    member_ids = list((await session.scalars(select(CaseMember.user_id).where(CaseMember.case_id == case.id)
                                             .order_by(CaseMember.id))).all())
    convs = (await session.scalars(select(Conversation).where(or_(
        Conversation.person_id == case.person_id,
        Conversation.id == case.conversation_id if case.conversation_id else false()))
        .order_by(Conversation.created_at, Conversation.id))).all()
    users = await _names(session, {case.owner_id, *member_ids, *(s.actor_id for s in steps),
                                   *(s.counsellor_id for s in services), *(e.author_id for e in entries),
                                   *(f.done_by for f in followups)})

    def name(uid: Optional[int]) -> Optional[str]:
        return users[uid].name if uid in users else None

    owner = users.get(case.owner_id) if case.owner_id else None
    return {
        "number": case.number, "step": case.step, "step_label": workflow.STEPS.get(case.step, case.step),
        "allowed": _allowed(case.step),
        "person": person_json(person) if person else None,
        "route": case.route, "channel": case.channel, "referred_by": case.referred_by,
        "support_level": case.support_level,
        "owner": {"login": owner.login, "name": owner.name} if owner else None,
        "members": [{"login": users[m].login, "name": users[m].name} for m in member_ids if m in users],
        "opened_at": _iso(case.opened_at), "closed_at": _iso(case.closed_at), "close_reason": case.close_reason,
        "referred_out": case.referred_out, "reopened": case.reopened,
        "steps": [{"from": s.from_step, "to": s.to_step, "label": _step_label(s.from_step, s.to_step),
                   "on": _iso(s.on), "actor": name(s.actor_id), "data": s.data or {}} for s in steps],
        "services": [service_json(s, name(s.counsellor_id)) for s in services],
        "entries": [entry_json(e, name(e.author_id)) for e in entries],
        "documents": [document_json(d) for d in documents],
        "followups": [followup_json(f, cutoff, name(f.done_by)) for f in followups],
        "conversations": [_conversation_json(c) for c in convs],
        "updated_at": _iso(case.updated_at), "purged_at": _iso(case.purged_at), "as_of": _iso(now),
    }


def _step_label(frm: Optional[str], to: str) -> str:
    move = workflow.TRANSITIONS.get((frm, to)) if frm else None
    return move.label if move else workflow.STEPS.get(to, to)


def followup_json(f: FollowUp, cutoff: datetime, done_by: Optional[str]) -> dict:
    return {"id": f.id, "months": f.months, "due_on": kst_date(f.due_on).isoformat(), "done_at": _iso(f.done_at),
            "done_by": done_by, "note": f.note, "cancelled": f.cancelled,
            "due": f.done_at is None and not f.cancelled and f.due_on < cutoff}


async def get_case(session: AsyncSession, user: SignedIn, number: str, ip: str = "") -> dict:
    case = await _case(session, user, number, "case.view")
    audit.record(session, user.actor, "case.view", "case", case.number, ip)
    return await case_detail(session, case)


async def get_document(session: AsyncSession, user: SignedIn, number: str, document_id: Any,
                       ip: str = "") -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of one document of the case. Audited."""
    case = await _case(session, user, number, "case.document.view")
    doc = None
    if _id(document_id):
        doc = (await session.scalars(select(CaseDocument).where(
            CaseDocument.id == document_id, CaseDocument.case_id == case.id))).first()
    if doc is None:
        raise CaseError(404, "not_found", "그런 문서가 없어요.")
    audit.record(session, user.actor, "case.document.view", "case", case.number, ip, document_id=doc.id)
    return doc.filename, doc.content_type, crypto.decrypt_bytes(doc.content)


async def due_followups(session: AsyncSession, user: SignedIn, ip: str = "") -> list[dict]:
    """Follow-ups due by today (KST) in the cases this user may see, oldest first. Audited."""
    rows = (await session.execute(
        select(FollowUp.id, FollowUp.months, FollowUp.due_on, Case.number).join(Case, Case.id == FollowUp.case_id)
        .where(visible(user), _due_clause(due_cutoff())).order_by(FollowUp.due_on, FollowUp.id).limit(500))).all()
    audit.record(session, user.actor, "followups.due", "case", "", ip, count=len(rows))
    return [{"id": r[0], "months": r[1], "due_on": kst_date(r[2]).isoformat(), "case": r[3]} for r in rows]


async def get_person(session: AsyncSession, user: SignedIn, person_id: Any, ip: str = "") -> dict:
    """A person with the numbers of their cases this user may see and every linked conversation. Audited."""
    _require_role(user)
    person = await session.get(Person, person_id) if _id(person_id) else None
    if person is None:
        raise CaseError(404, "not_found", "그런 사람이 없어요.")
    if not await may_see_person(session, user, person.id):
        raise _forbidden("person.view", "person", str(person.id), "이 사람의 기록을 볼 권한이 없어요.")
    numbers = (await session.scalars(select(Case.number).where(Case.person_id == person.id, visible(user))
                                     .order_by(Case.opened_at, Case.id))).all()
    convs = (await session.scalars(select(Conversation).where(Conversation.person_id == person.id)
                                   .order_by(Conversation.created_at, Conversation.id))).all()
    audit.record(session, user.actor, "person.view", "person", str(person.id), ip)
    return {**person_json(person), "cases": list(numbers), "conversations": [_conversation_json(c) for c in convs]}


# --- opening ---------------------------------------------------------------------------------------

async def _lock_numbers(session: AsyncSession, year: int) -> None:
    """Serialise number allocation for a year until this transaction ends."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(CAST(:k AS integer), CAST(:y AS integer))"),
                              {"k": _LOCK_KEY, "y": year})
    else:
        # SQLite has one writer: a write (even one that changes nothing) takes the lock for the
        # transaction, so the MAX below cannot be read by two openings at once.
        await session.execute(text("UPDATE cases SET seq = seq WHERE 1 = 0"))


async def _new_person(session: AsyncSession, user: SignedIn, raw: Any) -> Person:
    if not isinstance(raw, dict):
        raise _bad("person", "'person' 항목은 {name, contact, youth} 객체여야 해요.")
    unknown = set(raw) - {"name", "contact", "youth"}
    if unknown:
        raise _bad("person", f"'person'에 알 수 없는 항목이 있어요: {', '.join(sorted(unknown))}")
    name = _text(raw.get("name"), "name", 100, required=True)
    contact_raw = raw.get("contact") or {}
    if not isinstance(contact_raw, dict) or set(contact_raw) - set(CONTACT_FIELDS):
        raise _bad("contact", "'contact' 항목은 phone, email, other만 가질 수 있어요.")
    contact = {k: v for k in CONTACT_FIELDS if (v := _text(contact_raw.get(k), k)) is not None}
    person = Person(name=name, contact=contact, youth=_bool(raw.get("youth"), "youth"), created_by=user.user_id)
    session.add(person)
    await session.flush()
    return person


async def open_case(session: AsyncSession, user: SignedIn, *, ip: str = "", **fields: Any) -> Case:
    """Open a case for an existing person (person_id) or a new one (person), maybe from a conversation.
    The creator owns it; the first step (intake) is recorded."""
    _require_role(user)
    unknown = set(fields) - OPEN_FIELDS
    if unknown:
        raise _bad("body", f"알 수 없는 항목이 있어요: {', '.join(sorted(unknown))}")
    route, channel = fields.get("route"), _text(fields.get("channel"), "channel", 20)
    referred_by = _text(fields.get("referred_by"), "referred_by")
    opened_at = parse_when(fields["opened_at"], "opened_at") if fields.get("opened_at") is not None else utcnow()
    person_id, new_person = fields.get("person_id"), fields.get("person")
    if person_id is not None and _id(person_id) is None:
        raise _bad("person_id", "'person_id' 항목은 숫자여야 해요.")
    if person_id is not None and new_person is not None:
        raise _bad("person", "'person_id'와 'person' 중 하나만 보내 주세요.")
    conv = None
    if fields.get("conversation_id") is not None:
        conv = await _conversation(session, user, fields["conversation_id"], "case.open")
        route, channel = "online", conv.channel
        if person_id is None and new_person is None and conv.person_id is not None:
            person_id = conv.person_id
    if route not in workflow.ROUTES:
        raise _bad("route", f"'route' 항목은 {', '.join(workflow.ROUTES)} 중 하나여야 해요.")
    if person_id is None and new_person is None:
        raise _bad("person", "'person_id'(기존 사람) 또는 'person'(새 사람)이 필요해요.")

    if person_id is not None:
        person = await session.get(Person, person_id)
        if person is None:
            raise _bad("person_id", "그런 사람이 없어요.")
        if not await may_see_person(session, user, person.id):
            raise _forbidden("case.open", "person", str(person.id), "이 사람의 기록을 볼 권한이 없어요.")
    else:
        person = await _new_person(session, user, new_person)
        if conv is not None and conv.youth:  # the bot or the safety screen already saw signs of a minor
            person.youth = True
    if conv is not None:
        if conv.person_id not in (None, person.id):
            raise CaseError(409, "conversation_linked", "이 대화는 이미 다른 사람에게 연결되어 있어요.")
        conv.person_id = person.id

    year = kst_date(opened_at).year
    await _lock_numbers(session, year)
    seq = int(await session.scalar(select(func.coalesce(func.max(Case.seq), 0)).where(Case.year == year))) + 1
    case = Case(year=year, seq=seq, number=f"{year}-{seq:04d}", person_id=person.id,
                conversation_id=conv.id if conv else None, route=route, channel=channel, referred_by=referred_by,
                step="intake", owner_id=user.user_id, opened_at=opened_at, referred_out=False, reopened=0)
    session.add(case)
    try:
        await session.flush()
    except IntegrityError:  # only if something allocated numbers without the lock
        raise CaseError(409, "number_conflict", "사례 번호가 겹쳤어요. 다시 시도해 주세요.") from None
    session.add(CaseStep(case_id=case.id, from_step=None, to_step="intake", on=opened_at, actor_id=user.user_id,
                         data={}))
    audit.record(session, user.actor, "case.open", "case", case.number, ip, route=route,
                 conversation=conv.public_id if conv else "", person_id=person.id)
    await session.flush()
    return case


async def _conversation(session: AsyncSession, user: SignedIn, public_id: Any, action: str) -> Conversation:
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 36:
        raise _bad("conversation_id", "'conversation_id' 항목은 대화 id여야 해요.")
    conv = (await session.scalars(select(Conversation).where(Conversation.public_id == public_id))).first()
    if conv is None:
        raise CaseError(404, "not_found", "그런 대화가 없어요.")
    if not await queue.may_read(session, user, conv):
        raise _forbidden(action, "conversation", conv.public_id, "이 대화를 볼 권한이 없어요.")
    return conv


async def link_conversation(session: AsyncSession, user: SignedIn, public_id: str, person_id: Any,
                            ip: str = "") -> dict:
    """Link a (new) conversation to an existing person: the counsellor must be able to read the
    conversation and see the person. Returns the person view."""
    _require_role(user)
    conv = await _conversation(session, user, public_id, "conversation.link_person")
    if _id(person_id) is None:
        raise _bad("person_id", "'person_id' 항목은 숫자여야 해요.")
    person = await session.get(Person, person_id)
    if person is None:
        raise CaseError(404, "not_found", "그런 사람이 없어요.")
    if not await may_see_person(session, user, person.id):
        raise _forbidden("conversation.link_person", "person", str(person.id), "이 사람의 기록을 볼 권한이 없어요.")
    if conv.person_id not in (None, person.id):
        raise CaseError(409, "conversation_linked", "이 대화는 이미 다른 사람에게 연결되어 있어요.")
    conv.person_id = person.id
    audit.record(session, user.actor, "conversation.link_person", "conversation", conv.public_id, ip,
                 person_id=person.id)
    await session.flush()
    return await get_person(session, user, person.id, ip)


# --- changing a case -------------------------------------------------------------------------------

def _check_data(data: Any) -> dict:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise _bad("data", "'data' 항목은 객체여야 해요.")
    if len(json.dumps(data, ensure_ascii=False)) > MAX_DATA:
        raise CaseError(413, "data_too_large", f"'data'가 너무 커요 ({MAX_DATA}자까지).")
    # Types only: an empty value is left to workflow.check, which names it as missing.
    given = {k: v for k, v in data.items() if v not in (None, "", [])}
    for name in ("eligible", "referred_out"):
        if name in given and not isinstance(given[name], bool):
            raise _bad(name, f"'{name}' 항목은 true 또는 false여야 해요.")
    if "consent_date" in given:
        parse_when(given["consent_date"], "consent_date")
    return data


def _refused(message: str, missing: tuple[str, ...] = ()) -> CaseError:
    return CaseError(409, "transition_refused", message, missing=tuple(missing))


async def transition(session: AsyncSession, user: SignedIn, number: str, to: Any, data: Any = None,
                     on: Any = None, *, ip: str = "") -> Case:
    """Move a case one step through the workflow (workflow.TRANSITIONS), dated and attributed."""
    case = await _case(session, user, number, "case.transition")
    if not isinstance(to, str) or to not in workflow.STEPS:
        raise _bad("to", f"'to' 항목은 {', '.join(workflow.STEPS)} 중 하나여야 해요.")
    data = _check_data({} if data is None else data)
    moment = parse_when(on, "on") if on is not None else utcnow()
    _not_before_opening(case, moment, "on")
    last_on = await session.scalar(select(func.max(CaseStep.on)).where(CaseStep.case_id == case.id))
    if last_on is not None and kst_date(moment) < kst_date(last_on):
        raise _bad("on", f"'on' 날짜가 직전 단계({kst_date(last_on).isoformat()})보다 앞서요.")
    try:
        move = workflow.check(case.step, to, data)
    except workflow.TransitionError as exc:
        raise _refused(exc.message, exc.missing) from None
    values: dict[str, Any] = {"step": to}
    if to == "closed":
        referred_out = bool(data.get("referred_out")) or data.get("reason") == "referred"
        if referred_out and not (isinstance(data.get("referred_to"), str) and data["referred_to"].strip()):
            raise _refused(f"{move.label}: 의뢰한 기관(referred_to)을 적어 주세요.", ("referred_to",))
        values.update(closed_at=moment, close_reason=data["reason"], referred_out=referred_out)
    if move.name == "reopen":
        values.update(closed_at=None, close_reason=None, referred_out=False, reopened=Case.reopened + 1)
    if data.get("support_level") in workflow.SUPPORT_LEVELS:
        values["support_level"] = data["support_level"]
    # Conditional on the step we checked: of two moves at once, only one changes the row.
    result = await session.execute(update(Case).where(Case.id == case.id, Case.step == case.step)
                                   .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise CaseError(409, "state_changed", "다른 사람이 방금 이 사례의 단계를 바꿨어요. 화면을 새로 고쳐 주세요.")
    from_step = case.step
    session.add(CaseStep(case_id=case.id, from_step=from_step, to_step=to, on=moment, actor_id=user.user_id,
                         data=data))
    if to == "closed":
        closed_on = kst_date(moment)
        for months in workflow.FOLLOW_UP_MONTHS:
            session.add(FollowUp(case_id=case.id, months=months, due_on=_noon_kst(add_months(closed_on, months)),
                                 cancelled=False))
    if move.name == "reopen":
        await session.execute(update(FollowUp).where(FollowUp.case_id == case.id, FollowUp.done_at.is_(None),
                                                     FollowUp.cancelled.is_(False)).values(cancelled=True))
    audit.record(session, user.actor, "case.transition", "case", case.number, ip, frm=from_step, to=to,
                 move=move.name)
    await session.flush()
    await session.refresh(case)
    return case


def _workable(case: Case) -> None:
    if case.step not in (*workflow.OPEN_STEPS, "aftercare"):
        raise CaseError(409, "case_closed", "종결된 사례예요. 사후관리를 시작하거나 사례를 재개한 뒤 기록해 주세요.")


async def add_service(session: AsyncSession, user: SignedIn, number: str, kind: Any, on: Any, minutes: Any,
                      partner: Any = None, note: Any = None, *, ip: str = "") -> CaseService:
    """A service given (counted every time in the statistics): dated, with its counsellor and duration."""
    case = await _case(session, user, number, "case.service")
    if not isinstance(kind, str) or kind not in workflow.SERVICE_KINDS:
        raise _bad("kind", f"'kind' 항목은 {', '.join(workflow.SERVICE_KINDS)} 중 하나여야 해요.")
    moment = parse_when(on, "on") if on is not None else utcnow()
    minutes = _int(minutes, "minutes", 0, MAX_MINUTES)
    partner = _text(partner, "partner", required=kind in workflow.PARTNER_KINDS)
    note = _text(note, "note", MAX_TEXT)
    _not_before_opening(case, moment, "on")
    _workable(case)
    service = CaseService(case_id=case.id, kind=kind, on=moment, counsellor_id=user.user_id, minutes=minutes,
                          partner=partner, note=note)
    session.add(service)
    await session.flush()
    audit.record(session, user.actor, "case.service", "case", case.number, ip, service_id=service.id, kind=kind)
    return service


def service_json(service: CaseService, counsellor: Optional[str]) -> dict:
    label = workflow.SERVICE_KINDS.get(service.kind, service.kind)
    return {"id": service.id, "kind": service.kind, "kind_label": label,
            "on": _iso(service.on), "minutes": service.minutes, "partner": service.partner, "note": service.note,
            "counsellor": counsellor}


def _entry_body(kind: Any, body: Any) -> dict:
    if not isinstance(kind, str) or kind not in ENTRY_FIELDS:
        raise _bad("kind", f"'kind' 항목은 {', '.join(ENTRY_FIELDS)} 중 하나여야 해요.")
    if not isinstance(body, dict):
        raise _bad("body", "'body' 항목은 객체여야 해요.")
    fields = ENTRY_FIELDS[kind]
    unknown = set(body) - set(fields)
    if unknown:
        raise _bad("body", f"'{kind}'에 알 수 없는 항목이 있어요: {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for i, name in enumerate(fields):
        value = body.get(name)
        if name == "perpetrators" and isinstance(value, list):
            clean[name] = [_text(v, name, MAX_SHORT, required=True) for v in value[:50]]
        elif (text_ := _text(value, name, MAX_TEXT, required=i == 0)) is not None:
            clean[name] = text_
    return clean


async def add_entry(session: AsyncSession, user: SignedIn, number: str, kind: Any, body: Any,
                    *, ip: str = "") -> CaseEntry:
    """A note, referral or incident; the body is stored encrypted."""
    case = await _case(session, user, number, "case.entry")
    clean = _entry_body(kind, body)
    entry = CaseEntry(case_id=case.id, kind=kind, body=clean, author_id=user.user_id)
    session.add(entry)
    await session.flush()
    audit.record(session, user.actor, "case.entry", "case", case.number, ip, entry_id=entry.id, kind=kind)
    return entry


def clean_filename(name: Any) -> str:
    name = name if isinstance(name, str) else ""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "문서"


async def add_document(session: AsyncSession, user: SignedIn, number: str, filename: Any, content_type: Any,
                       content: bytes, *, ip: str = "") -> CaseDocument:
    """An uploaded file, name and bytes encrypted. At most MAX_DOCUMENT bytes."""
    case = await _case(session, user, number, "case.document")
    if not isinstance(content, (bytes, bytearray)) or not content:
        raise _bad("file", "빈 파일은 올릴 수 없어요.")
    if len(content) > MAX_DOCUMENT:
        raise CaseError(413, "file_too_large", f"파일은 {MAX_DOCUMENT // (1024 * 1024)}MB까지 올릴 수 있어요.")
    ctype = content_type.split(";")[0].strip() if isinstance(content_type, str) else ""
    if not CONTENT_TYPE.match(ctype) or len(ctype) > 100:
        ctype = "application/octet-stream"
    doc = CaseDocument(case_id=case.id, filename=clean_filename(filename), content_type=ctype.lower(),
                       size=len(content), content=crypto.encrypt_bytes(bytes(content)), uploaded_by=user.user_id)
    session.add(doc)
    await session.flush()
    audit.record(session, user.actor, "case.document", "case", case.number, ip, document_id=doc.id, size=doc.size)
    return doc


def entry_json(entry: CaseEntry, author: Optional[str]) -> dict:
    return {"id": entry.id, "kind": entry.kind, "body": entry.body, "author": author,
            "created_at": _iso(entry.created_at)}


def document_json(doc: CaseDocument) -> dict:
    return {"id": doc.id, "filename": doc.filename, "content_type": doc.content_type, "size": doc.size,
            "created_at": _iso(doc.created_at)}


async def followup_done(session: AsyncSession, user: SignedIn, number: str, followup_id: Any, note: Any = None,
                        on: Any = None, *, ip: str = "") -> Case:
    case = await _case(session, user, number, "case.followup")
    note = _text(note, "note", MAX_TEXT)
    moment = parse_when(on, "on") if on is not None else utcnow()
    followup = None
    if _id(followup_id):
        followup = (await session.scalars(select(FollowUp).where(
            FollowUp.id == followup_id, FollowUp.case_id == case.id))).first()
    if followup is None:
        raise CaseError(404, "not_found", "그런 사후관리 일정이 없어요.")
    if case.closed_at is not None and kst_date(moment) < kst_date(case.closed_at):
        raise _bad("on", "'on' 날짜가 종결일보다 앞서요.")
    # Conditional: a follow-up is done once, and never after it was cancelled.
    result = await session.execute(update(FollowUp).where(
        FollowUp.id == followup.id, FollowUp.done_at.is_(None), FollowUp.cancelled.is_(False))
        .values(done_at=moment, done_by=user.user_id, note=note).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise CaseError(409, "followup_closed", "이미 완료했거나 취소된 사후관리예요.")
    audit.record(session, user.actor, "case.followup", "case", case.number, ip, followup_id=followup.id,
                 months=followup.months)
    await session.flush()
    return case


async def add_member(session: AsyncSession, user: SignedIn, number: str, login: Any, *, ip: str = "") -> Case:
    """Supervisors and the case's owner may add a counsellor to the case."""
    case = await _case(session, user, number, "case.member")
    if user.role != "supervisor" and case.owner_id != user.user_id:
        raise _forbidden("case.member", "case", case.number, "사례를 맡은 상담원이나 슈퍼바이저만 함께할 사람을 정할 수 있어요.")
    target = await _staff(session, login)
    exists_ = await session.scalar(select(CaseMember.id).where(CaseMember.case_id == case.id,
                                                               CaseMember.user_id == target.id))
    if exists_ is None and target.id != case.owner_id:
        session.add(CaseMember(case_id=case.id, user_id=target.id))
    audit.record(session, user.actor, "case.member", "case", case.number, ip, member=target.login)
    await session.flush()
    return case


async def set_owner(session: AsyncSession, user: SignedIn, number: str, login: Any, *, ip: str = "") -> Case:
    """Supervisors only: who owns (맡은 상담원) the case."""
    case = await _case(session, user, number, "case.owner")
    if user.role != "supervisor":
        raise _forbidden("case.owner", "case", case.number, "슈퍼바이저만 담당자를 바꿀 수 있어요.")
    target = await _staff(session, login)
    case.owner_id = target.id
    audit.record(session, user.actor, "case.owner", "case", case.number, ip, owner=target.login)
    await session.flush()
    return case
