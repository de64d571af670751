"""Retention and erasure: what a person wrote or told us is erased once it is no longer needed, while the
rows the yearly statistics count (dates, step codes, service kinds, minutes, channel, support level,
message authors and times) stay, marked purged_at / erased_at.

What expires (settings, see assistant/core/settings.py):
- a closed case (step closed or aftercare) DASI_RETENTION_CASE_DAYS after closure (default 1825 = 5 years:
  a person often comes back or is followed up years later, and the centre reports and is audited per
  year; five years is the usual keeping period for counselling and case records of Korean social-welfare
  facilities — an operator should confirm it against the centre's own rules);
- a conversation linked to no person and no case DASI_RETENTION_CONVERSATION_DAYS after its last activity
  (default 180: long enough for a person to come back and a counsellor to link it to a case, short
  for text that never became a case);
- a conversation linked to a person or case follows the case rule: it is purged when every case of
  that person (and every case it belongs to) has expired and it has been idle for the case period;
- a person is erased (name, contact) once nothing of theirs is left unpurged.

Rasa keeps its own copy of each conversation, in plain text: by default in its memory only (forgotten
when idle, nothing to purge); in a SQL database when DASI_RASA_TRACKER_URL is set (assistant/cli/
supervisor.py tracker_store), or in var/rasa-tracker.db left by older versions. The trackers of purged
conversations are deleted there first, so a failure there leaves the database untouched and the run can
simply be repeated.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import delete, exists, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from assistant.core.settings import Settings, get_settings
from assistant.store.db import sync_url
from casebook.cases import workflow
from casebook.models import (
    Case,
    CaseDocument,
    CaseEntry,
    CaseService,
    CaseStep,
    Conversation,
    ConversationEvent,
    ConversationNote,
    ConversationState,
    FollowUp,
    KakaoCallback,
    Message,
    Person,
    RiskLabel,
)
from casebook.staff import audit

BATCH = 200


class TrackerError(RuntimeError):
    """Rasa's tracker store could not be purged; the message is Korean, for the operator."""


# --- what expires ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseItem:
    id: int
    number: str
    person_id: int
    closed_at: datetime


@dataclass(frozen=True)
class ConversationItem:
    id: int
    public_id: str
    channel: str
    linked: bool


@dataclass
class Plan:
    now: datetime
    case_days: int
    conversation_days: int
    cases: list[CaseItem] = field(default_factory=list)
    conversations: list[ConversationItem] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)

    def age_days(self, item: CaseItem) -> int:
        return (self.now - item.closed_at).days


def _idle_conversations(session: Session, cutoff: datetime) -> list[sa.Row]:
    """Unpurged conversations with no activity (row or message) after `cutoff`."""
    recent = exists().where(Message.conversation_id == Conversation.id, Message.created_at > cutoff)
    return list(session.execute(
        select(Conversation.id, Conversation.public_id, Conversation.channel, Conversation.person_id)
        .where(Conversation.purged_at.is_(None), Conversation.created_at <= cutoff,
               Conversation.updated_at <= cutoff, ~recent)
        .order_by(Conversation.id)).all())


def plan(session: Session, case_days: int, conversation_days: int, now: datetime | None = None) -> Plan:
    now = now or utcnow()
    result = Plan(now, case_days, conversation_days)
    case_cutoff, conv_cutoff = now - timedelta(days=case_days), now - timedelta(days=conversation_days)

    cases = session.execute(select(Case.id, Case.number, Case.person_id, Case.conversation_id, Case.step,
                                   Case.closed_at, Case.purged_at)).all()
    expiring = {c.id for c in cases if c.purged_at is None and c.step in workflow.ENDED_STEPS
                and c.closed_at is not None and c.closed_at <= case_cutoff}
    result.cases = sorted((CaseItem(c.id, c.number, c.person_id, c.closed_at) for c in cases if c.id in expiring),
                          key=lambda c: (c.closed_at, c.id))
    # A case is "live" after this run if it is neither purged already nor expiring now.
    live_persons = {c.person_id for c in cases if c.purged_at is None and c.id not in expiring}
    live_case_conversations = {c.conversation_id for c in cases
                               if c.conversation_id and c.purged_at is None and c.id not in expiring}
    case_conversations = {c.conversation_id for c in cases if c.conversation_id}

    chosen: dict[int, ConversationItem] = {}
    for row in _idle_conversations(session, conv_cutoff):
        if row.person_id is None and row.id not in case_conversations:
            chosen[row.id] = ConversationItem(row.id, row.public_id, row.channel, linked=False)
    for row in _idle_conversations(session, case_cutoff):
        linked = row.person_id is not None or row.id in case_conversations
        if linked and row.person_id not in live_persons and row.id not in live_case_conversations:
            chosen[row.id] = ConversationItem(row.id, row.public_id, row.channel, linked=True)
    result.conversations = [chosen[k] for k in sorted(chosen)]

    # Persons with nothing left once this run is done: no live case, no unpurged conversation.
    linked = session.execute(select(Conversation.id, Conversation.person_id, Conversation.purged_at)
                             .where(Conversation.person_id.is_not(None))).all()
    left = {r.person_id for r in linked if r.purged_at is None and r.id not in chosen}
    had = {c.person_id for c in cases} | {r.person_id for r in linked}
    for pid, created_at in session.execute(select(Person.id, Person.created_at).where(Person.erased_at.is_(None))
                                           .order_by(Person.id)).all():
        if pid in live_persons or pid in left:
            continue
        if pid in had or created_at <= case_cutoff:  # a fresh person with no record yet stays
            result.persons.append(pid)
    return result


# --- erasing --------------------------------------------------------------------------------------

def _no_sync(stmt):
    return stmt.execution_options(synchronize_session=False)


def purge_cases(session: Session, case_ids: Sequence[int], now: datetime) -> None:
    """Erase a case's content; its row, steps (codes, dates), services (kind, date, minutes), entry kinds
    and follow-up dates stay for the statistics. Documents have no statistical use and are deleted."""
    if not case_ids:
        return
    ids = list(case_ids)
    session.execute(_no_sync(update(Case).where(Case.id.in_(ids)).values(referred_by=None)))
    session.execute(_no_sync(update(Case).where(Case.id.in_(ids), Case.purged_at.is_(None)).values(purged_at=now)))
    session.execute(_no_sync(update(CaseStep).where(CaseStep.case_id.in_(ids)).values(data=None)))
    session.execute(_no_sync(update(CaseService).where(CaseService.case_id.in_(ids)).values(partner=None, note=None)))
    session.execute(_no_sync(update(CaseEntry).where(CaseEntry.case_id.in_(ids)).values(body={})))
    session.execute(_no_sync(update(FollowUp).where(FollowUp.case_id.in_(ids)).values(note=None)))
    session.execute(_no_sync(delete(CaseDocument).where(CaseDocument.case_id.in_(ids))))


def purge_conversations(session: Session, conv_ids: Sequence[int], now: datetime) -> None:
    """Erase what was said and who said it; messages keep direction, author, channel and times."""
    if not conv_ids:
        return
    ids = list(conv_ids)
    session.execute(_no_sync(update(Message).where(Message.conversation_id.in_(ids)).values(
        text=None, buttons=None, attachments=None, platform_message_id=None)))
    session.execute(_no_sync(delete(ConversationNote).where(ConversationNote.conversation_id.in_(ids))))
    session.execute(_no_sync(delete(KakaoCallback).where(KakaoCallback.conversation_id.in_(ids))))
    session.execute(_no_sync(delete(RiskLabel).where(RiskLabel.conversation_id.in_(ids))))  # they quote messages
    session.execute(_no_sync(update(Conversation).where(Conversation.id.in_(ids)).values(risk_context=None)))
    # user_key is a keyed hash of the platform id: replaced by a random value, so nobody can find the
    # row again from a platform id, and a person writing again starts a fresh conversation.
    session.execute(update(Conversation), [{"id": cid, "user_ref": "", "user_key": f"purged:{uuid.uuid4().hex}"}
                                           for cid in ids])
    session.execute(_no_sync(update(Conversation).where(Conversation.id.in_(ids), Conversation.purged_at.is_(None))
                             .values(purged_at=now)))
    # Nobody can be answered any more (user_ref is gone): a purged conversation leaves the queue, as a
    # dated state event like any other close.
    open_ones = session.execute(select(Conversation.id, Conversation.state).where(
        Conversation.id.in_(ids), Conversation.state != ConversationState.closed.value)).all()
    for cid, state in open_ones:
        session.add(ConversationEvent(conversation_id=cid, kind="state", actor="retention", created_at=now,
                                      detail={"old": state, "new": ConversationState.closed.value,
                                              "reason": "purged"}))
    if open_ones:
        session.execute(_no_sync(update(Conversation).where(Conversation.id.in_([r.id for r in open_ones]))
                                 .values(state=ConversationState.closed.value, waiting_since=None)))


def erase_persons(session: Session, person_ids: Sequence[int], now: datetime) -> None:
    if not person_ids:
        return
    ids = list(person_ids)
    session.execute(_no_sync(update(Person).where(Person.id.in_(ids)).values(name=None, contact=None)))
    session.execute(_no_sync(update(Person).where(Person.id.in_(ids), Person.erased_at.is_(None))
                             .values(erased_at=now)))


# --- Rasa's tracker store -------------------------------------------------------------------------

def tracker_url(settings: Settings) -> str | None:
    """The SQL tracker store: DASI_RASA_TRACKER_URL, else an old var/rasa-tracker.db, else None."""
    if not settings.rasa_tracker_url:
        path = settings.var_dir / "rasa-tracker.db"
        return f"sqlite:///{path}" if path.exists() else None
    url = settings.rasa_tracker_url
    scheme = url.split("://", 1)[0]
    if scheme.startswith("postgres") or scheme.startswith("sqlite"):
        return sync_url(url)
    raise TrackerError(f"Rasa tracker store '{scheme}'는 지원하지 않아 대화 기록을 지울 수 없습니다 "
                       "(PostgreSQL 또는 SQLite만 지원).")


def purge_trackers(sender_ids: Iterable[str], settings: Settings | None = None) -> int:
    """Delete Rasa's events (they hold the message text) for these conversations. Returns rows deleted."""
    ids = list(sender_ids)
    url = tracker_url(settings or get_settings()) if ids else None
    if not url:
        return 0
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        if "events" not in sa.inspect(engine).get_table_names():
            return 0
        events = sa.table("events", sa.column("sender_id", sa.String))
        deleted = 0
        with engine.begin() as conn:
            for i in range(0, len(ids), 500):
                deleted += conn.execute(delete(events).where(events.c.sender_id.in_(ids[i:i + 500]))).rowcount or 0
        return deleted
    except sa.exc.SQLAlchemyError as exc:
        raise TrackerError(f"Rasa tracker store에 연결하거나 지울 수 없습니다 ({type(exc).__name__}). "
                           "데이터베이스는 바뀌지 않았습니다; 다시 실행하세요.") from exc
    finally:
        engine.dispose()


# --- running it -----------------------------------------------------------------------------------

@dataclass
class RunResult:
    cases: int = 0
    conversations: int = 0
    persons: int = 0
    tracker_events: int = 0


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def apply(engine: Engine, the_plan: Plan, actor: str = "cli", batch: int = BATCH,
          progress: Callable[[str, int, int], None] = lambda what, done, total: None,
          skip_trackers: bool = False) -> RunResult:
    """Carry out a plan, a transaction per batch: an interrupted run is finished by running again
    (everything purged is marked, and the next plan leaves it out)."""
    now, result = the_plan.now, RunResult()
    for chunk in _chunks(the_plan.cases, batch):
        with Session(engine) as s, s.begin():
            purge_cases(s, [c.id for c in chunk], now)
            for c in chunk:
                audit.record(s, actor, "retention.purge", "case", c.number, closed_days=the_plan.age_days(c))
        result.cases += len(chunk)
        progress("cases", result.cases, len(the_plan.cases))
    for chunk in _chunks(the_plan.conversations, batch):
        if not skip_trackers:
            result.tracker_events += purge_trackers([c.public_id for c in chunk])
        with Session(engine) as s, s.begin():
            purge_conversations(s, [c.id for c in chunk], now)
        result.conversations += len(chunk)
        progress("conversations", result.conversations, len(the_plan.conversations))
    for chunk in _chunks(the_plan.persons, batch):
        with Session(engine) as s, s.begin():
            erase_persons(s, chunk, now)
        result.persons += len(chunk)
        progress("persons", result.persons, len(the_plan.persons))
    with Session(engine) as s, s.begin():
        audit.record(s, actor, "retention.run", "", "", case_days=the_plan.case_days,
                     conversation_days=the_plan.conversation_days, cases=result.cases,
                     conversations=result.conversations, persons=result.persons,
                     tracker_events=result.tracker_events, trackers_skipped=skip_trackers)
    return result


# --- a deletion request ---------------------------------------------------------------------------

@dataclass
class ErasePlan:
    person_id: int
    case_ids: list[int]
    case_numbers: list[str]
    conversations: list[ConversationItem]


class UnknownPerson(LookupError):
    pass


def erase_plan(session: Session, person_id: int) -> ErasePlan:
    if session.scalar(select(Person.id).where(Person.id == person_id)) is None:  # no decryption needed
        raise UnknownPerson(person_id)
    cases = session.execute(select(Case.id, Case.number, Case.conversation_id)
                            .where(Case.person_id == person_id).order_by(Case.id)).all()
    case_convs = [c.conversation_id for c in cases if c.conversation_id]
    convs = session.execute(select(Conversation.id, Conversation.public_id, Conversation.channel).where(
        sa.or_(Conversation.person_id == person_id, Conversation.id.in_(case_convs or [0])))
        .order_by(Conversation.id)).all()
    return ErasePlan(person_id, [c.id for c in cases], [c.number for c in cases],
                     [ConversationItem(c.id, c.public_id, c.channel, linked=True) for c in convs])


def erase_person(engine: Engine, person_id: int, actor: str = "cli", skip_trackers: bool = False,
                 **who: str) -> tuple[ErasePlan, int]:
    """Honour a deletion request: the person's content goes everywhere (every case, open or not, and
    every conversation of theirs); anonymous rows stay. One audit entry says it happened."""
    with Session(engine) as s:
        ep = erase_plan(s, person_id)
    events = 0 if skip_trackers else purge_trackers([c.public_id for c in ep.conversations])
    now = utcnow()
    with Session(engine) as s, s.begin():
        purge_cases(s, ep.case_ids, now)
        purge_conversations(s, [c.id for c in ep.conversations], now)
        erase_persons(s, [person_id], now)
        audit.record(s, actor, "person.erase", "person", str(person_id), cases=len(ep.case_ids),
                     conversations=len(ep.conversations), tracker_events=events,
                     trackers_skipped=skip_trackers, **who)
    return ep, events


def channel_counts(items: Iterable[ConversationItem]) -> Counter:
    return Counter(c.channel for c in items)
