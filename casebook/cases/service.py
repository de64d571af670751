"""Case records: people, cases, workflow moves, services, entries, documents and follow-ups.

The service layer behind /api/console/cases (casebook/console/cases.py) and the statistics and
benchmark helpers; it knows nothing about HTTP. Rules that live here:

- Who may see what: supervisors every case; counsellors the cases they own or are members of;
  other roles nothing. Checked on every call, server-side.
- Every read (list, detail, document, person) writes an audit row: actor, action, record type and id,
  never names, contact details, notes or file names.
- Moves through the workflow are looked up in casebook.cases.workflow.TRANSITIONS (workflow.check); the
  step itself changes by a conditional UPDATE, so two people moving a case at once cannot both win.
- Case numbers are YYYY-NNNN, the Korean (KST) year of opened_at, allocated under a per-year lock
  (a PostgreSQL advisory lock; SQLite's single writer lock), so parallel openings get distinct numbers.
- Dates are stored in UTC. "on" values accept an ISO date (that day in Korea, at noon, never later
  than now) or an ISO datetime (naive = Korean time).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import utcnow
from assistant.store import crypto
from casebook.cases import workflow
from casebook.cases.dates import (
    add_months,
    kst_date,
    noon_kst,
    not_before_opening,
    parse_when,
)
from casebook.cases.errors import CaseError, bad_input, denied, refused
from casebook.cases.inputs import (
    CONTACT_FIELDS,
    CONTENT_TYPE,
    MAX_DOCUMENT,
    MAX_MINUTES,
    MAX_TEXT,
    OPEN_FIELDS,
    bool_input,
    check_move_data,
    clean_filename,
    entry_body,
    int_input,
    row_id,
    text_input,
)
from casebook.cases.permissions import (
    find_case,
    may_see_person,
    readable_conversation,
    require_case_role,
    staff_member,
)
from casebook.cases.reading import get_person
from casebook.models import (
    Case,
    CaseDocument,
    CaseEntry,
    CaseMember,
    CaseService,
    CaseStep,
    FollowUp,
    Person,
)
from casebook.staff import audit
from casebook.staff.accounts import SignedIn

_LOCK_KEY = 7007  # advisory lock namespace for case numbers (PostgreSQL)


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
        raise bad_input("person", "person_shape")
    unknown = set(raw) - {"name", "contact", "youth"}
    if unknown:
        raise bad_input("person", "unknown_fields", names=", ".join(sorted(unknown)))
    name = text_input(raw.get("name"), "name", 100, required=True)
    contact_raw = raw.get("contact") or {}
    if not isinstance(contact_raw, dict) or set(contact_raw) - set(CONTACT_FIELDS):
        raise bad_input("contact", "contact_fields")
    contact = {k: v for k in CONTACT_FIELDS if (v := text_input(contact_raw.get(k), k)) is not None}
    person = Person(name=name, contact=contact, youth=bool_input(raw.get("youth"), "youth"), created_by=user.user_id)
    session.add(person)
    await session.flush()
    return person


async def open_case(session: AsyncSession, user: SignedIn, *, ip: str = "", **fields: Any) -> Case:
    """Open a case for an existing person (person_id) or a new one (person), maybe from a conversation.
    The creator owns it; the first step (intake) is recorded."""
    require_case_role(user)
    unknown = set(fields) - OPEN_FIELDS
    if unknown:
        raise bad_input("body", "unknown_body_fields", names=", ".join(sorted(unknown)))
    route, channel = fields.get("route"), text_input(fields.get("channel"), "channel", 20)
    referred_by = text_input(fields.get("referred_by"), "referred_by")
    opened_at = parse_when(fields["opened_at"], "opened_at") if fields.get("opened_at") is not None else utcnow()
    person_id, new_person = fields.get("person_id"), fields.get("person")
    if person_id is not None and row_id(person_id) is None:
        raise bad_input("person_id", "not_number")
    if person_id is not None and new_person is not None:
        raise bad_input("person", "person_or_id")
    conv = None
    if fields.get("conversation_id") is not None:
        conv = await readable_conversation(session, user, fields["conversation_id"], "case.open")
        route, channel = "online", conv.channel
        if person_id is None and new_person is None and conv.person_id is not None:
            person_id = conv.person_id
    if route not in workflow.ROUTES:
        raise bad_input("route", "one_of", choices=", ".join(workflow.ROUTES))
    if person_id is None and new_person is None:
        raise bad_input("person", "person_needed")

    if person_id is not None:
        person = await session.get(Person, person_id)
        if person is None:
            raise bad_input("person_id", "no_person")
        if not await may_see_person(session, user, person.id):
            raise denied("case.open", "person", str(person.id), "person_denied")
    else:
        person = await _new_person(session, user, new_person)
        if conv is not None and conv.youth:  # the bot or the safety screen already saw signs of a minor
            person.youth = True
    if conv is not None:
        if conv.person_id not in (None, person.id):
            raise CaseError(409, "conversation_linked", "conversation_linked")
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
        raise CaseError(409, "number_conflict", "number_conflict") from None
    session.add(CaseStep(case_id=case.id, from_step=None, to_step="intake", on=opened_at, actor_id=user.user_id,
                         data={}))
    audit.record(session, user.actor, "case.open", "case", case.number, ip, route=route,
                 conversation=conv.public_id if conv else "", person_id=person.id)
    await session.flush()
    return case


async def link_conversation(session: AsyncSession, user: SignedIn, public_id: str, person_id: Any,
                            ip: str = "") -> dict:
    """Link a (new) conversation to an existing person: the counsellor must be able to read the
    conversation and see the person. Returns the person view."""
    require_case_role(user)
    conv = await readable_conversation(session, user, public_id, "conversation.link_person")
    if row_id(person_id) is None:
        raise bad_input("person_id", "not_number")
    person = await session.get(Person, person_id)
    if person is None:
        raise CaseError(404, "not_found", "no_person")
    if not await may_see_person(session, user, person.id):
        raise denied("conversation.link_person", "person", str(person.id), "person_denied")
    if conv.person_id not in (None, person.id):
        raise CaseError(409, "conversation_linked", "conversation_linked")
    conv.person_id = person.id
    audit.record(session, user.actor, "conversation.link_person", "conversation", conv.public_id, ip,
                 person_id=person.id)
    await session.flush()
    return await get_person(session, user, person.id, ip)


async def transition(session: AsyncSession, user: SignedIn, number: str, to: Any, data: Any = None,
                     on: Any = None, *, ip: str = "") -> Case:
    """Move a case one step through the workflow (workflow.TRANSITIONS), dated and attributed."""
    case = await find_case(session, user, number, "case.transition")
    if not isinstance(to, str) or to not in workflow.STEPS:
        raise bad_input("to", "one_of", choices=", ".join(workflow.STEPS))
    data = check_move_data({} if data is None else data)
    moment = parse_when(on, "on") if on is not None else utcnow()
    not_before_opening(case, moment, "on")
    last_on = await session.scalar(select(func.max(CaseStep.on)).where(CaseStep.case_id == case.id))
    if last_on is not None and kst_date(moment) < kst_date(last_on):
        raise bad_input("on", "before_last_step", day=kst_date(last_on).isoformat())
    try:
        move = workflow.check(case.step, to, data)
    except workflow.TransitionError as exc:
        raise refused(exc.reason, exc.missing, **exc.params) from None
    values: dict[str, Any] = {"step": to}
    if to == "closed":
        referred_out = bool(data.get("referred_out")) or data.get("reason") == "referred"
        if referred_out and not (isinstance(data.get("referred_to"), str) and data["referred_to"].strip()):
            raise refused("referral_needed", ("referred_to",), label=move.label)
        values.update(closed_at=moment, close_reason=data["reason"], referred_out=referred_out)
    if move.name == "reopen":
        values.update(closed_at=None, close_reason=None, referred_out=False, reopened=Case.reopened + 1)
    if data.get("support_level") in workflow.SUPPORT_LEVELS:
        values["support_level"] = data["support_level"]
    # Conditional on the step we checked: of two moves at once, only one changes the row.
    result = await session.execute(update(Case).where(Case.id == case.id, Case.step == case.step)
                                   .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise CaseError(409, "state_changed", "state_changed")
    from_step = case.step
    session.add(CaseStep(case_id=case.id, from_step=from_step, to_step=to, on=moment, actor_id=user.user_id,
                         data=data))
    if to == "closed":
        closed_on = kst_date(moment)
        for months in workflow.FOLLOW_UP_MONTHS:
            session.add(FollowUp(case_id=case.id, months=months, due_on=noon_kst(add_months(closed_on, months)),
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
        raise CaseError(409, "case_closed", "case_closed")


async def add_service(session: AsyncSession, user: SignedIn, number: str, kind: Any, on: Any, minutes: Any,
                      partner: Any = None, note: Any = None, *, ip: str = "") -> CaseService:
    """A service given (counted every time in the statistics): dated, with its counsellor and duration."""
    case = await find_case(session, user, number, "case.service")
    if not isinstance(kind, str) or kind not in workflow.SERVICE_KINDS:
        raise bad_input("kind", "one_of", choices=", ".join(workflow.SERVICE_KINDS))
    moment = parse_when(on, "on") if on is not None else utcnow()
    minutes = int_input(minutes, "minutes", 0, MAX_MINUTES)
    partner = text_input(partner, "partner", required=kind in workflow.PARTNER_KINDS)
    note = text_input(note, "note", MAX_TEXT)
    not_before_opening(case, moment, "on")
    _workable(case)
    service = CaseService(case_id=case.id, kind=kind, on=moment, counsellor_id=user.user_id, minutes=minutes,
                          partner=partner, note=note)
    session.add(service)
    await session.flush()
    audit.record(session, user.actor, "case.service", "case", case.number, ip, service_id=service.id, kind=kind)
    return service


async def add_entry(session: AsyncSession, user: SignedIn, number: str, kind: Any, body: Any,
                    *, ip: str = "") -> CaseEntry:
    """A note, referral or incident; the body is stored encrypted."""
    case = await find_case(session, user, number, "case.entry")
    clean = entry_body(kind, body)
    entry = CaseEntry(case_id=case.id, kind=kind, body=clean, author_id=user.user_id)
    session.add(entry)
    await session.flush()
    audit.record(session, user.actor, "case.entry", "case", case.number, ip, entry_id=entry.id, kind=kind)
    return entry


async def add_document(session: AsyncSession, user: SignedIn, number: str, filename: Any, content_type: Any,
                       content: bytes, *, ip: str = "") -> CaseDocument:
    """An uploaded file, name and bytes encrypted. At most MAX_DOCUMENT bytes."""
    case = await find_case(session, user, number, "case.document")
    if not isinstance(content, (bytes, bytearray)) or not content:
        raise bad_input("file", "empty_file")
    if len(content) > MAX_DOCUMENT:
        raise CaseError(413, "file_too_large", "file_too_large", mb=MAX_DOCUMENT // (1024 * 1024))
    ctype = content_type.split(";")[0].strip() if isinstance(content_type, str) else ""
    if not CONTENT_TYPE.match(ctype) or len(ctype) > 100:
        ctype = "application/octet-stream"
    doc = CaseDocument(case_id=case.id, filename=clean_filename(filename), content_type=ctype.lower(),
                       size=len(content), content=crypto.encrypt_bytes(bytes(content)), uploaded_by=user.user_id)
    session.add(doc)
    await session.flush()
    audit.record(session, user.actor, "case.document", "case", case.number, ip, document_id=doc.id, size=doc.size)
    return doc


async def followup_done(session: AsyncSession, user: SignedIn, number: str, followup_id: Any, note: Any = None,
                        on: Any = None, *, ip: str = "") -> Case:
    case = await find_case(session, user, number, "case.followup")
    note = text_input(note, "note", MAX_TEXT)
    moment = parse_when(on, "on") if on is not None else utcnow()
    followup = None
    if row_id(followup_id):
        followup = (await session.scalars(select(FollowUp).where(
            FollowUp.id == followup_id, FollowUp.case_id == case.id))).first()
    if followup is None:
        raise CaseError(404, "not_found", "no_followup")
    if case.closed_at is not None and kst_date(moment) < kst_date(case.closed_at):
        raise bad_input("on", "before_closing")
    # Conditional: a follow-up is done once, and never after it was cancelled.
    result = await session.execute(update(FollowUp).where(
        FollowUp.id == followup.id, FollowUp.done_at.is_(None), FollowUp.cancelled.is_(False))
        .values(done_at=moment, done_by=user.user_id, note=note).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise CaseError(409, "followup_closed", "followup_closed")
    audit.record(session, user.actor, "case.followup", "case", case.number, ip, followup_id=followup.id,
                 months=followup.months)
    await session.flush()
    return case


async def add_member(session: AsyncSession, user: SignedIn, number: str, login: Any, *, ip: str = "") -> Case:
    """Supervisors and the case's owner may add a counsellor to the case."""
    case = await find_case(session, user, number, "case.member")
    if user.role != "supervisor" and case.owner_id != user.user_id:
        raise denied("case.member", "case", case.number, "members_denied")
    target = await staff_member(session, login)
    exists_ = await session.scalar(select(CaseMember.id).where(CaseMember.case_id == case.id,
                                                               CaseMember.user_id == target.id))
    if exists_ is None and target.id != case.owner_id:
        session.add(CaseMember(case_id=case.id, user_id=target.id))
    audit.record(session, user.actor, "case.member", "case", case.number, ip, member=target.login)
    await session.flush()
    return case


async def set_owner(session: AsyncSession, user: SignedIn, number: str, login: Any, *, ip: str = "") -> Case:
    """Supervisors only: who owns (맡은 상담원) the case."""
    case = await find_case(session, user, number, "case.owner")
    if user.role != "supervisor":
        raise denied("case.owner", "case", case.number, "owner_denied")
    target = await staff_member(session, login)
    case.owner_id = target.id
    audit.record(session, user.actor, "case.owner", "case", case.number, ip, owner=target.login)
    await session.flush()
    return case
