"""The console's queue and conversations (thin: casebook.conversations does the work).

GET  /api/console/queue · GET /api/console/conversations/{id}
POST /api/console/conversations/{id}/claim|release|close|transfer · .../messages {"text"} · .../notes {"text"}
POST /api/console/conversations/{id}/typing · GET /api/console/counsellors

Every view and action is written to the audit log. Message text never goes to the log.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import utcnow
from assistant.core.languages import KOREAN_NAMES
from assistant.core.risk import RISK_ORDER
from assistant.web.appkeys import DELIVERY, LIVE
from assistant.web.errors import ApiError
from assistant.web.responses import ok, read_json, text_field
from casebook.console.auth import CONSOLE_ROLES, audited, db, require_user
from casebook.console.staff import user_json
from casebook.conversations import queue
from casebook.conversations import service as conv_service
from casebook.conversations.windows import reply_window
from casebook.models import Conversation, ConversationEvent, ConversationNote, Message, User
from casebook.staff.accounts import SignedIn

ID_ROUTE = "{id:[0-9a-f-]{36}}"


async def get_queue(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    now = utcnow()
    async with db(request)() as s, s.begin():
        waiting = await queue.waiting(s)
        held = await queue.held(s, user)
        audited(request, s, "queue.view", "queue", "", waiting=len(waiting))
    return ok({"waiting": [i.as_dict(now) for i in waiting], "held": [i.as_dict(now) for i in held]})


async def _readable(request: web.Request, s: AsyncSession, user: SignedIn, action: str) -> Conversation:
    conv = await conv_service.get_conversation(s, request.match_info["id"])
    if conv is None:
        raise ApiError(404, "not_found", "그런 대화가 없어요.")
    if action == "conversation.claim" and conv.state == "counsellor" and user.role == "counsellor":
        raise ApiError(*LOST["claim"])  # it was in their queue a moment ago: they lost the race
    if not await queue.may_read(s, user, conv):
        async with db(request)() as own, own.begin():  # its own transaction: the refusal is kept
            audited(request, own, f"{action}.denied", "conversation", conv.public_id)
        raise ApiError(403, "forbidden", "이 대화를 볼 권한이 없어요. 맡고 있거나 맡았던 대화만 볼 수 있어요.")
    return conv


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def conversation_json(s: AsyncSession, conv: Conversation, user: SignedIn) -> dict:
    now = utcnow()
    assignee = await s.get(User, conv.assignee_id) if conv.assignee_id else None
    messages = (await s.scalars(select(Message).where(Message.conversation_id == conv.id)
                                .order_by(Message.id).limit(2000))).all()
    events = (await s.scalars(select(ConversationEvent).where(ConversationEvent.conversation_id == conv.id)
                              .order_by(ConversationEvent.id))).all()
    notes = (await s.execute(select(ConversationNote, User.name).outerjoin(User, User.id == ConversationNote.author_id)
                             .where(ConversationNote.conversation_id == conv.id).order_by(ConversationNote.id))).all()
    last_in = max((m.created_at for m in messages if m.direction == "in"), default=None)
    return {
        "conversation": {
            "id": conv.public_id, "channel": conv.channel, "state": conv.state, "risk": conv.risk,
            "youth": conv.youth, "created_at": _time(conv.created_at), "waiting_since": _time(conv.waiting_since),
            "language": conv.language, "language_name": KOREAN_NAMES.get(conv.language, conv.language),
            "language_chosen": conv.language_chosen,
            "assignee": user_json(assignee) if assignee else None,
            "mine": conv.assignee_id == user.user_id and conv.state == "counsellor",
            "reply_window": reply_window(conv.channel, last_in, now),
        },
        "messages": [{"id": m.id, "direction": m.direction, "author": m.author, "text": m.text,
                      "buttons": m.buttons or [], "delivery": m.delivery, "created_at": _time(m.created_at)}
                     for m in messages],
        "events": [{"kind": e.kind, "actor": e.actor, "detail": e.detail, "created_at": _time(e.created_at)}
                   for e in events],
        "notes": [{"id": n.id, "author": name, "text": n.text, "created_at": _time(n.created_at)} for n, name in notes],
    }


async def get_conversation(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s, s.begin():
        conv = await _readable(request, s, user, "conversation.view")
        audited(request, s, "conversation.view", "conversation", conv.public_id)
        body = await conversation_json(s, conv, user)
    return ok(body)


def _publish(request: web.Request, conv: Conversation, kind: str = "state", **extra: Any) -> None:
    request.app[LIVE].publish({"type": kind, "conversation": conv.public_id, "state": conv.state, "risk": conv.risk,
                               "channel": conv.channel, **extra})


def _deliver(request: web.Request, message_ids: list[int]) -> None:
    """Other channels send through the connectors' outbox; the web chat picks messages up itself."""
    if DELIVERY in request.app and message_ids:
        request.app[DELIVERY].deliver_later(message_ids)


def _stored(request: web.Request, conv: Conversation, msg: Message | None) -> None:
    """After commit: tell the console and the web chat, and hand the message to the outbox."""
    if msg is not None:
        _publish(request, conv, "message", message_id=msg.id, direction="out")
        _deliver(request, [msg.id])
    _publish(request, conv, "state")


LOST = {
    "claim": (409, "already_claimed", "다른 상담원이 먼저 맡았거나 더 이상 대기 중이 아니에요."),
    "release": (409, "state_changed", "대화 상태가 바뀌어 챗봇에게 돌려보내지 못했어요. 화면을 새로 고쳐 주세요."),
    "close": (409, "state_changed", "대화 상태가 바뀌어 종료하지 못했어요. 화면을 새로 고쳐 주세요."),
    "transfer": (409, "state_changed", "대화 상태가 바뀌어 전달하지 못했어요. 화면을 새로 고쳐 주세요."),
}


def _may_act(user: SignedIn, conv: Conversation) -> None:
    if not queue.may_act(user, conv):
        raise ApiError(403, "not_yours", "지금 이 대화를 맡은 상담원(또는 슈퍼바이저)만 할 수 있어요.")


async def claim(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s, s.begin():
        conv = await _readable(request, s, user, "conversation.claim")
        notice = await queue.claim(s, conv, user)
        audited(request, s, "conversation.claim" if notice else "conversation.claim_lost", "conversation",
                conv.public_id)
    if notice is None:
        raise ApiError(*LOST["claim"])
    _stored(request, conv, notice)
    return ok({"conversation": {"id": conv.public_id, "state": conv.state}})


async def _hand_over(request: web.Request, action: str) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request) if action == "transfer" else {}
    async with db(request)() as s, s.begin():
        conv = await _readable(request, s, user, f"conversation.{action}")
        _may_act(user, conv)
        if action == "transfer":
            target = await _transfer_target(s, body)
            notice = await queue.transfer(s, conv, user, target, text_field(body, "note", required=False))
            audited(request, s, "conversation.transfer", "conversation", conv.public_id, to=target.login)
        else:
            notice = await (queue.release if action == "release" else queue.close)(s, conv, user)
            audited(request, s, f"conversation.{action}", "conversation", conv.public_id, done=notice is not None)
    if notice is None:
        raise ApiError(*LOST[action])
    _stored(request, conv, notice)
    return ok({"conversation": {"id": conv.public_id, "state": conv.state}})


async def _transfer_target(s: AsyncSession, body: dict) -> User:
    login_ = body.get("to")
    target = (await s.scalars(select(User).where(User.login == login_))).first() if isinstance(login_, str) else None
    if target is None or target.disabled or target.role not in CONSOLE_ROLES:
        raise ApiError(400, "invalid_target", "전달할 상담원을 찾을 수 없어요.")
    return target


async def release(request: web.Request) -> web.Response:
    return await _hand_over(request, "release")


async def close(request: web.Request) -> web.Response:
    return await _hand_over(request, "close")


async def transfer(request: web.Request) -> web.Response:
    return await _hand_over(request, "transfer")


async def post_message(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    text = text_field(await read_json(request))
    async with db(request)() as s, s.begin():
        conv = await _readable(request, s, user, "conversation.reply")
        if conv.state != "counsellor":
            raise ApiError(409, "not_claimed", "먼저 대화를 맡아 주세요. 지금은 상담원이 연결된 상태가 아니에요.")
        if conv.assignee_id != user.user_id:
            raise ApiError(403, "not_yours", "이 대화를 맡은 상담원만 답장할 수 있어요.")
        msg = await queue.counsellor_reply(s, conv, text)
        audited(request, s, "conversation.reply", "conversation", conv.public_id, message_id=msg.id)
    _publish(request, conv, "message", message_id=msg.id, direction="out")
    _deliver(request, [msg.id])
    return ok({"message": {"id": msg.id, "author": "counsellor", "delivery": msg.delivery}}, status=201)


async def post_note(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    text = text_field(await read_json(request))
    async with db(request)() as s, s.begin():
        conv = await _readable(request, s, user, "conversation.note")
        _may_act(user, conv)
        note = await queue.add_note(s, conv, user, text)
        audited(request, s, "conversation.note", "conversation", conv.public_id, note_id=note.id)
    _publish(request, conv, "note", note_id=note.id)
    return ok({"note": {"id": note.id}}, status=201)


async def correct_risk(request: web.Request) -> web.Response:
    """A counsellor sets the risk the assessor got wrong (up or down); kept as labelled data."""
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    level, categories = body.get("level"), body.get("categories", [])
    if level not in RISK_ORDER:
        raise ApiError(400, "invalid_level", f"level must be one of {', '.join(RISK_ORDER)}")
    if not isinstance(categories, list) or not set(categories) <= set(conv_service.RISK_CATEGORIES):
        raise ApiError(400, "invalid_categories",
                       f"categories must be a list of {', '.join(conv_service.RISK_CATEGORIES)}")
    async with db(request)() as s, s.begin():
        conv = await _readable(request, s, user, "conversation.risk")
        _may_act(user, conv)
        label = await conv_service.correct_risk(s, conv, user.actor, user.user_id, level, categories)
        audited(request, s, "conversation.risk", "conversation", conv.public_id, level=level,
                categories=label.categories)
    _publish(request, conv)
    return ok({"risk": level, "categories": label.categories})


async def typing(request: web.Request) -> web.Response:
    """The person sees "상담원이 입력하고 있어요"; not audited (it is not a view or a change)."""
    user = await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s:
        conv = await conv_service.get_conversation(s, request.match_info["id"])
    if conv is None:
        raise ApiError(404, "not_found", "그런 대화가 없어요.")
    if conv.assignee_id != user.user_id:
        raise ApiError(403, "not_yours", "이 대화를 맡은 상담원만 할 수 있어요.")
    _publish(request, conv, "typing", who="counsellor")
    return ok({"ok": True})


async def counsellors(request: web.Request) -> web.Response:
    await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s:
        users = await queue.transfer_targets(s)
    return ok({"counsellors": [user_json(u) for u in users]})



def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/console/queue", get_queue)
    base = f"/api/console/conversations/{ID_ROUTE}"
    r.add_get(base, get_conversation)
    for name, handler in (("claim", claim), ("release", release), ("close", close), ("transfer", transfer),
                          ("messages", post_message), ("notes", post_note), ("typing", typing),
                          ("risk", correct_risk)):
        r.add_post(f"{base}/{name}", handler)
    r.add_get("/api/console/counsellors", counsellors)
