"""Conversation service: who a conversation is with, what was said, and its state and risk.

The casebook owns conversation state (not Rasa); every change is a dated event with its actor.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import utcnow
from assistant.core.risk import RISK_ORDER, risk_max
from assistant.store import crypto
from casebook.models import Conversation, ConversationEvent, ConversationState, Message, RiskLabel

S = ConversationState
# Allowed state changes, as data: the console and actions ask `change_state`, which checks here.
TRANSITIONS: dict[str, set[str]] = {
    S.bot.value: {S.waiting.value, S.counsellor.value, S.closed.value},
    S.waiting.value: {S.counsellor.value, S.bot.value, S.closed.value},
    S.counsellor.value: {S.bot.value, S.closed.value, S.waiting.value},
    S.closed.value: {S.bot.value},
}


class TransitionError(ValueError):
    pass


async def find_open_conversation(session: AsyncSession, channel: str, user_id: str) -> Conversation | None:
    key = crypto.blind_index(channel, user_id)
    return (await session.scalars(
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.user_key == key,
               Conversation.state != S.closed.value)
        .order_by(Conversation.id.desc()).limit(1))).first()


async def find_latest_conversation(session: AsyncSession, channel: str, user_id: str) -> Conversation | None:
    """The person's most recent conversation, closed or not (a closed one still shows its last words)."""
    key = crypto.blind_index(channel, user_id)
    return (await session.scalars(
        select(Conversation).where(Conversation.channel == channel, Conversation.user_key == key)
        .order_by(Conversation.id.desc()).limit(1))).first()


async def get_or_create_conversation(session: AsyncSession, channel: str, user_id: str) -> Conversation:
    user_key = crypto.blind_index(channel, user_id)
    if session.get_bind().dialect.name == "postgresql":
        # Several gateways may store a person's first two messages at once: one opens the conversation,
        # the other waits (until this transaction ends) and then finds it.
        await session.execute(sql("SELECT pg_advisory_xact_lock(:k)"), {"k": int(user_key[:15], 16)})
    conv = await find_open_conversation(session, channel, user_id)
    if conv is None:
        conv = Conversation(channel=channel, user_key=user_key, user_ref=user_id)
        session.add(conv)
        await session.flush()
        session.add(ConversationEvent(conversation_id=conv.id, kind="opened", actor="system",
                                      detail={"channel": channel}))
    return conv


async def get_conversation(session: AsyncSession, public_id: str) -> Conversation | None:
    return (await session.scalars(select(Conversation).where(Conversation.public_id == public_id))).first()


async def store_inbound(session: AsyncSession, conv: Conversation, text: str | None,
                        platform_message_id: str | None,
                        attachments: list[dict] | None = None) -> tuple[Message, bool]:
    """Store a user's message once. Returns (message, created); a retry returns the stored one."""
    if platform_message_id:
        existing = (await session.scalars(select(Message).where(
            Message.channel == conv.channel, Message.platform_message_id == platform_message_id))).first()
        if existing is not None:
            return existing, False
    msg = Message(conversation_id=conv.id, direction="in", author="user", text=text,
                  platform_message_id=platform_message_id, channel=conv.channel,
                  attachments=attachments or None)
    try:
        async with session.begin_nested():
            session.add(msg)
    except IntegrityError:  # the same id raced in from a concurrent retry
        existing = (await session.scalars(select(Message).where(
            Message.channel == conv.channel, Message.platform_message_id == platform_message_id))).one()
        return existing, False
    conv.updated_at = utcnow()
    return msg, True


async def store_replies(session: AsyncSession, conv: Conversation, replies: Iterable[dict],
                        reply_to: Message | None, author: str = "bot") -> list[Message]:
    out = []
    for r in replies:
        m = Message(conversation_id=conv.id, direction="out", author=author, text=r.get("text"),
                    buttons=r.get("buttons") or None, channel=conv.channel,
                    reply_to_id=reply_to.id if reply_to is not None else None)
        session.add(m)
        out.append(m)
    await session.flush()
    return out


async def replies_to(session: AsyncSession, message: Message) -> list[Message]:
    return list((await session.scalars(
        select(Message).where(Message.reply_to_id == message.id).order_by(Message.id))).all())


def add_event(session: AsyncSession, conv: Conversation, kind: str, actor: str, **detail) -> None:
    session.add(ConversationEvent(conversation_id=conv.id, kind=kind, actor=actor, detail=detail))


async def raise_risk(session: AsyncSession, conv: Conversation, risk: str, actor: str, **detail) -> bool:
    """Risk only goes up automatically; lowering it is a counsellor's decision."""
    if risk not in RISK_ORDER:
        raise ValueError(f"unknown risk {risk!r}")
    new = risk_max(conv.risk, risk)
    if new == conv.risk:
        return False
    add_event(session, conv, "risk", actor, old=conv.risk, new=new, **detail)
    conv.risk = new
    return True


async def record_assessment(session: AsyncSession, conv: Conversation, level: str, assessment: dict,
                            carried: dict, *, youth: bool, handoff: bool) -> None:
    """One message's risk assessment: the conversation's risk goes up (never down by itself), the
    assessment is an event when it raised the risk or alarmed a category for the first time (the console
    shows its reasons), youth is flagged, and an alarm queues the conversation for a counsellor."""
    before = set((conv.risk_context or {}).get("alarmed", []))
    raised = await raise_risk(session, conv, level, "risk_assessor", **assessment)
    if not raised and set(assessment.get("categories", [])) - before:
        add_event(session, conv, "risk", "risk_assessor", old=conv.risk, new=conv.risk, **assessment)
    conv.risk_context = carried
    if youth:
        await flag_youth(session, conv, "risk_assessor")
    if handoff:
        await request_handoff(session, conv, "risk_assessor", reason="risk_assessor")


RISK_CATEGORIES = ("danger", "self_harm", "medical", "minor", "exploitation")


async def correct_risk(session: AsyncSession, conv: Conversation, actor: str, author_id: int | None,
                       level: str, categories: list[str]) -> RiskLabel:
    """A counsellor's correction (it may lower the risk): the conversation takes the level, and the last
    message with the ones before it is kept as labelled data for the next training run."""
    if level not in RISK_ORDER:
        raise ValueError(f"unknown risk {level!r}")
    if set(categories) - set(RISK_CATEGORIES):
        raise ValueError("unknown risk category")
    texts = list((await session.scalars(select(Message.text).where(
        Message.conversation_id == conv.id, Message.direction == "in", Message.text.is_not(None))
        .order_by(Message.id.desc()).limit(4))).all())[::-1]
    last_id = await session.scalar(select(Message.id).where(
        Message.conversation_id == conv.id, Message.direction == "in").order_by(Message.id.desc()).limit(1))
    was = {"level": conv.risk, "categories": list((conv.risk_context or {}).get("alarmed", []))}
    label = RiskLabel(conversation_id=conv.id, message_id=last_id, text=texts[-1] if texts else None,
                      context=texts[:-1], categories=[c for c in RISK_CATEGORIES if c in categories],
                      level=level, was=was, author_id=author_id)
    session.add(label)
    add_event(session, conv, "risk_corrected", actor, old=conv.risk, new=level, categories=label.categories)
    conv.risk = level
    await session.flush()
    return label


async def change_state(session: AsyncSession, conv: Conversation, state: str, actor: str, **detail) -> bool:
    if state == conv.state:
        return False
    if state not in TRANSITIONS.get(conv.state, set()):
        raise TransitionError(f"{conv.state} → {state} is not allowed")
    add_event(session, conv, "state", actor, old=conv.state, new=state, **detail)
    conv.state = state
    conv.waiting_since = utcnow() if state == S.waiting.value else None
    return True


async def request_handoff(session: AsyncSession, conv: Conversation, actor: str, reason: str) -> bool:
    """Queue the conversation for a counsellor, unless one already has it or it already waits."""
    if conv.state in (S.waiting.value, S.counsellor.value):
        return False
    return await change_state(session, conv, S.waiting.value, actor, reason=reason)


async def set_language(session: AsyncSession, conv: Conversation, lang: str, actor: str,
                       chosen: bool = False) -> bool:
    """The conversation's language (a code from assistant.core.languages); the change is an event (a
    person's choice sticks: later detection does not override it, see assistant.language.detect.choose)."""
    if conv.language == lang and (conv.language_chosen or not chosen):
        return False
    add_event(session, conv, "language", actor, old=conv.language, new=lang, chosen=chosen or conv.language_chosen)
    conv.language = lang
    conv.language_chosen = chosen or conv.language_chosen
    return True


async def flag_youth(session: AsyncSession, conv: Conversation, actor: str) -> bool:
    if conv.youth:
        return False
    conv.youth = True
    add_event(session, conv, "youth", actor)
    return True


async def record_failure(session: AsyncSession, conv: Conversation, component: str, error: str) -> None:
    add_event(session, conv, "failure", "system", component=component, error=error)


async def queue_position(session: AsyncSession, conv: Conversation) -> int:
    """How many waiting conversations a counsellor will take before this one (risk first, then time)."""
    from sqlalchemy import func

    rank = RISK_ORDER.index(conv.risk)
    higher = [r for r in RISK_ORDER if RISK_ORDER.index(r) > rank]
    since = conv.waiting_since or utcnow()
    stmt = select(func.count()).select_from(Conversation).where(
        Conversation.state == S.waiting.value, Conversation.id != conv.id,
        (Conversation.risk.in_(higher)) | ((Conversation.risk == conv.risk) & (Conversation.waiting_since < since)))
    return int(await session.scalar(stmt) or 0)


async def last_inbound_at(session: AsyncSession, conv: Conversation):
    """When the person last wrote (Meta's 24-hour / 7-day reply windows count from here)."""
    from sqlalchemy import func

    return await session.scalar(select(func.max(Message.created_at)).where(
        Message.conversation_id == conv.id, Message.direction == "in"))


async def undelivered(session: AsyncSession, conv: Conversation) -> list[Message]:
    """Outbound messages stored but not yet sent, oldest first (Kakao delivers them on the next utterance)."""
    return list((await session.scalars(select(Message).where(
        Message.conversation_id == conv.id, Message.direction == "out", Message.delivery == "stored")
        .order_by(Message.id))).all())
