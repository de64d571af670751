"""Reading case records, each read audited, and the JSON shapes the console shows."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from assistant.core.clock import utcnow
from assistant.store import crypto
from casebook.cases import workflow
from casebook.cases.dates import due_cutoff, kst_date
from casebook.cases.errors import CaseError, bad_input, denied
from casebook.cases.inputs import MAX_LIMIT, int_input, row_id
from casebook.cases.permissions import (
    find_case,
    may_see_person,
    own_or_member,
    require_case_role,
    visible,
)
from casebook.models import (
    Case,
    CaseDocument,
    CaseEntry,
    CaseMember,
    CaseService,
    CaseStep,
    Conversation,
    FollowUp,
    Person,
    User,
)
from casebook.staff import audit
from casebook.staff.accounts import SignedIn


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _due_clause(cutoff: datetime):
    return and_(FollowUp.done_at.is_(None), FollowUp.cancelled.is_(False), FollowUp.due_on < cutoff)


async def list_cases(session: AsyncSession, user: SignedIn, *, step: str | None = None, mine: bool = False,
                     due: bool = False, limit: int = 50, offset: int = 0, ip: str = "") -> tuple[list[dict], int]:
    """The cases this user may see, newest first, and how many there are in all. Audited."""
    where = [visible(user)]
    if step is not None:
        if step not in workflow.STEPS:
            raise bad_input("step", "unknown_step", choices=", ".join(workflow.STEPS))
        where.append(Case.step == step)
    if mine:
        where.append(own_or_member(user))
    cutoff = due_cutoff()
    if due:
        where.append(Case.id.in_(select(FollowUp.case_id).where(_due_clause(cutoff))))
    limit, offset = int_input(limit, "limit", 1, MAX_LIMIT), int_input(offset, "offset", 0, 10**9)
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


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, User]:
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

    def name(uid: int | None) -> str | None:
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


def _step_label(frm: str | None, to: str) -> str:
    move = workflow.TRANSITIONS.get((frm, to)) if frm else None
    return move.label if move else workflow.STEPS.get(to, to)


def followup_json(f: FollowUp, cutoff: datetime, done_by: str | None) -> dict:
    return {"id": f.id, "months": f.months, "due_on": kst_date(f.due_on).isoformat(), "done_at": _iso(f.done_at),
            "done_by": done_by, "note": f.note, "cancelled": f.cancelled,
            "due": f.done_at is None and not f.cancelled and f.due_on < cutoff}


async def get_case(session: AsyncSession, user: SignedIn, number: str, ip: str = "") -> dict:
    case = await find_case(session, user, number, "case.view")
    audit.record(session, user.actor, "case.view", "case", case.number, ip)
    return await case_detail(session, case)


async def get_document(session: AsyncSession, user: SignedIn, number: str, document_id: Any,
                       ip: str = "") -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of one document of the case. Audited."""
    case = await find_case(session, user, number, "case.document.view")
    doc = None
    if row_id(document_id):
        doc = (await session.scalars(select(CaseDocument).where(
            CaseDocument.id == document_id, CaseDocument.case_id == case.id))).first()
    if doc is None:
        raise CaseError(404, "not_found", "no_document")
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
    require_case_role(user)
    person = await session.get(Person, person_id) if row_id(person_id) else None
    if person is None:
        raise CaseError(404, "not_found", "no_person")
    if not await may_see_person(session, user, person.id):
        raise denied("person.view", "person", str(person.id), "person_denied")
    numbers = (await session.scalars(select(Case.number).where(Case.person_id == person.id, visible(user))
                                     .order_by(Case.opened_at, Case.id))).all()
    convs = (await session.scalars(select(Conversation).where(Conversation.person_id == person.id)
                                   .order_by(Conversation.created_at, Conversation.id))).all()
    audit.record(session, user.actor, "person.view", "person", str(person.id), ip)
    return {**person_json(person), "cases": list(numbers), "conversations": [_conversation_json(c) for c in convs]}


def service_json(service: CaseService, counsellor: str | None) -> dict:
    label = workflow.SERVICE_KINDS.get(service.kind, service.kind)
    return {"id": service.id, "kind": service.kind, "kind_label": label,
            "on": _iso(service.on), "minutes": service.minutes, "partner": service.partner, "note": service.note,
            "counsellor": counsellor}


def entry_json(entry: CaseEntry, author: str | None) -> dict:
    return {"id": entry.id, "kind": entry.kind, "body": entry.body, "author": author,
            "created_at": _iso(entry.created_at)}


def document_json(doc: CaseDocument) -> dict:
    return {"id": doc.id, "filename": doc.filename, "content_type": doc.content_type, "size": doc.size,
            "created_at": _iso(doc.created_at)}
