"""The counsellor queue and who holds a conversation.

Ordering: risk (critical, high, medium, low, none), then the longest wait first. Claiming is one
conditional UPDATE ("... WHERE state IN (claimable)"): the database decides, so of two counsellors
claiming at once exactly one changes a row and wins; the other gets False, never a read-then-write
race. Release, close and transfer are guarded the same way by the current assignee.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import utcnow
from assistant.core.languages import KOREAN, KOREAN_NAMES
from assistant.core.risk import RISK_ORDER
from casebook.conversations import service as conv_service
from casebook.models import Assignment, Conversation, ConversationNote, ConversationState, Message, User, UserSession
from casebook.staff.accounts import SignedIn

S = ConversationState
# Claimable = every state the transition table lets go to "counsellor" (bot and waiting).
CLAIMABLE = tuple(s for s, targets in conv_service.TRANSITIONS.items() if S.counsellor.value in targets)
RISK_RANK = case({r: i for i, r in enumerate(reversed(RISK_ORDER))}, value=Conversation.risk, else_=len(RISK_ORDER))
PREVIEW_CHARS = 60
CONSOLE_ROLES = ("counsellor", "supervisor")

# What the person is told at each change, so they always know who they are talking to.
NOTICE_CLAIMED = "상담원이 연결되었습니다. 편하게 이야기해 주세요."
NOTICE_TRANSFERRED = "다른 상담원이 이어서 도와드릴게요. 잠시만 기다려 주세요."
NOTICE_RELEASED = ("상담원과의 대화가 끝나 이제 챗봇이 답해요. 상담원이 다시 필요하면 언제든 '상담원 연결'이라고 "
                   "보내 주세요.")
NOTICE_CLOSED = ("상담이 종료되었어요. 이야기해 주셔서 고마워요. 다시 필요하면 언제든 메시지를 보내 주세요. "
                 "위험하면 112에 연락하세요.")


@dataclass(frozen=True)
class QueueItem:
    id: str
    channel: str
    state: str
    risk: str
    youth: bool
    waiting_since: datetime | None
    updated_at: datetime
    assignee: str | None
    preview: str
    language: str = "ko"
    suggested: tuple[dict, ...] = ()  # counsellors who speak the language, signed-in first

    def as_dict(self, now: datetime) -> dict:
        since = self.waiting_since
        return {"id": self.id, "channel": self.channel, "state": self.state, "risk": self.risk,
                "youth": self.youth, "assignee": self.assignee, "preview": self.preview,
                "language": self.language, "language_name": KOREAN_NAMES.get(self.language, self.language),
                "suggested": list(self.suggested),
                "waiting_since": since.isoformat() if since else None,
                "wait_seconds": int((now - since).total_seconds()) if since else None,
                "updated_at": self.updated_at.isoformat()}


def preview(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1] + "…"


async def _items(session: AsyncSession, where, order) -> list[QueueItem]:
    last_user = (select(Message.conversation_id, func.max(Message.id).label("mid"))
                 .where(Message.author == "user").group_by(Message.conversation_id).subquery())
    rows = (await session.execute(
        select(Conversation, User.login, Message.text)
        .outerjoin(User, User.id == Conversation.assignee_id)
        .outerjoin(last_user, last_user.c.conversation_id == Conversation.id)
        .outerjoin(Message, Message.id == last_user.c.mid)
        .where(where).order_by(*order).limit(500))).all()
    return [QueueItem(c.public_id, c.channel, c.state, c.risk, c.youth, c.waiting_since, c.updated_at, login,
                      preview(text), c.language) for c, login, text in rows]


async def waiting(session: AsyncSession) -> list[QueueItem]:
    """The queue; a conversation in another language than Korean names the counsellors who speak it."""
    items = await _items(session, Conversation.state == S.waiting.value,
                         (RISK_RANK, Conversation.waiting_since, Conversation.id))
    if any(i.language != KOREAN for i in items):
        speakers = await speakers_by_language(session)
        items = [replace(i, suggested=tuple(speakers.get(i.language, ()))) if i.language != KOREAN else i
                 for i in items]
    return items


async def speakers_by_language(session: AsyncSession) -> dict[str, list[dict]]:
    """Language → the active console accounts that speak it, signed-in ones first (then by name). A
    handful of staff: read once and grouped here rather than queried per language in JSON."""
    online = set((await session.scalars(select(UserSession.user_id).where(UserSession.expires_at > utcnow()))).all())
    out: dict[str, list[dict]] = {}
    for user in await transfer_targets(session):
        for lang in user.languages or []:
            out.setdefault(lang, []).append({"login": user.login, "name": user.name, "online": user.id in online})
    for people in out.values():
        people.sort(key=lambda p: (not p["online"], p["name"]))
    return out


async def held(session: AsyncSession, user: SignedIn) -> list[QueueItem]:
    """Conversations with a counsellor: a counsellor's own; a supervisor sees everyone's."""
    where = Conversation.state == S.counsellor.value
    if user.role != "supervisor":
        where = where & (Conversation.assignee_id == user.user_id)
    return await _items(session, where, (RISK_RANK, Conversation.updated_at.desc()))


async def may_read(session: AsyncSession, user: SignedIn, conv: Conversation) -> bool:
    """Supervisors read everything; a counsellor the queue and what they hold or held."""
    if user.role == "supervisor":
        return True
    if user.role != "counsellor":
        return False
    if conv.state == S.waiting.value or conv.assignee_id == user.user_id:
        return True
    return bool(await session.scalar(select(exists().where(
        Assignment.conversation_id == conv.id, Assignment.user_id == user.user_id))))


def may_act(user: SignedIn, conv: Conversation) -> bool:
    """Reply, note, release, close, transfer: the holder, or a supervisor (who may reassign)."""
    return user.role == "supervisor" or (conv.assignee_id == user.user_id and conv.state == S.counsellor.value)


async def _notice(session: AsyncSession, conv: Conversation, text: str) -> Message:
    [msg] = await conv_service.store_replies(session, conv, [{"text": text}], None, author="system")
    return msg


async def _end_assignment(session: AsyncSession, conv_id: int) -> None:
    await session.execute(update(Assignment).where(Assignment.conversation_id == conv_id,
                                                   Assignment.ended_at.is_(None)).values(ended_at=utcnow()))


async def claim(session: AsyncSession, conv: Conversation, user: SignedIn) -> Message | None:
    """Take the conversation if it is still claimable; None when someone else was first."""
    old = conv.state
    result = await session.execute(
        update(Conversation).where(Conversation.id == conv.id, Conversation.state.in_(CLAIMABLE))
        .values(state=S.counsellor.value, assignee_id=user.user_id, waiting_since=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    await session.refresh(conv)
    conv_service.add_event(session, conv, "state", user.actor, old=old, new=S.counsellor.value, reason="claim")
    session.add(Assignment(conversation_id=conv.id, user_id=user.user_id))
    return await _notice(session, conv, NOTICE_CLAIMED)


async def _hand_over(session: AsyncSession, conv: Conversation, user: SignedIn, values: dict) -> bool:
    """A guarded UPDATE from the assignee we saw: a concurrent transfer or release makes it lose."""
    result = await session.execute(
        update(Conversation).where(Conversation.id == conv.id, Conversation.state == conv.state,
                                   Conversation.assignee_id.is_(None) if conv.assignee_id is None
                                   else Conversation.assignee_id == conv.assignee_id)
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    await session.refresh(conv)
    return True


async def release(session: AsyncSession, conv: Conversation, user: SignedIn) -> Message | None:
    old = conv.state
    if old != S.counsellor.value or not await _hand_over(
            session, conv, user, {"state": S.bot.value, "assignee_id": None, "waiting_since": None}):
        return None
    conv_service.add_event(session, conv, "state", user.actor, old=old, new=S.bot.value, reason="release")
    await _end_assignment(session, conv.id)
    return await _notice(session, conv, NOTICE_RELEASED)


async def close(session: AsyncSession, conv: Conversation, user: SignedIn) -> Message | None:
    old = conv.state
    if old == S.closed.value or not await _hand_over(
            session, conv, user, {"state": S.closed.value, "assignee_id": None, "waiting_since": None}):
        return None
    conv_service.add_event(session, conv, "state", user.actor, old=old, new=S.closed.value, reason="close")
    await _end_assignment(session, conv.id)
    return await _notice(session, conv, NOTICE_CLOSED)


async def transfer(session: AsyncSession, conv: Conversation, user: SignedIn, to: User,
                   note: str) -> Message | None:
    old_state = conv.state
    if not await _hand_over(session, conv, user, {"state": S.counsellor.value, "assignee_id": to.id,
                                                  "waiting_since": None}):
        return None
    await _end_assignment(session, conv.id)
    session.add(Assignment(conversation_id=conv.id, user_id=to.id))
    note_row = await add_note(session, conv, user, note) if note.strip() else None
    conv_service.add_event(session, conv, "transfer", user.actor, to=f"user:{to.login}",
                           note_id=note_row.id if note_row else None)
    if old_state != S.counsellor.value:
        conv_service.add_event(session, conv, "state", user.actor, old=old_state, new=S.counsellor.value,
                               reason="transfer")
    return await _notice(session, conv, NOTICE_TRANSFERRED)


async def add_note(session: AsyncSession, conv: Conversation, user: SignedIn, text: str) -> ConversationNote:
    note = ConversationNote(conversation_id=conv.id, author_id=user.user_id, text=text)
    session.add(note)
    await session.flush()
    return note


async def counsellor_reply(session: AsyncSession, conv: Conversation, text: str) -> Message:
    [msg] = await conv_service.store_replies(session, conv, [{"text": text}], None, author="counsellor")
    conv.updated_at = utcnow()
    return msg


async def transfer_targets(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).where(User.role.in_(CONSOLE_ROLES), User.disabled.is_(False))
                                       .order_by(User.name))).all())
