"""The JSON API the counsellor console uses (keep it stable):

POST /api/console/login {"login","password"[,"totp"]} → {"csrf_token", "user"} + session cookie
POST /api/console/logout · GET /api/console/me
GET  /api/console/queue · GET /api/console/conversations/{id}
POST /api/console/conversations/{id}/claim|release|close|transfer · .../messages {"text"} · .../notes {"text"}
POST /api/console/conversations/{id}/typing · GET /api/console/canned?q= · GET /api/console/counsellors
GET  /api/console/audit (supervisors) · GET/POST /api/console/users, POST /api/console/users/{login}/disable (admins)

Every view and action is written to the audit log. Message text never goes to the log.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any, Optional

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from casebook import accounts, audit, queue
from casebook import conversations as conv_service
from casebook.accounts import LoginFailed, SignedIn
from casebook.models import Conversation, ConversationEvent, ConversationNote, Message, User, utcnow
from connectors.appkeys import LIVE, OUTBOX, SETTINGS
from connectors.errors import ApiError
from connectors.web.console_auth import (AUDIT_ROLES, CONSOLE_ROLES, USER_ADMIN_ROLES, audited, db, require_user,
                                         set_cookie, sign_out)
from connectors.web.console_windows import reply_window
from connectors.web.admin_html import CSP
from connectors.web.routes import MAX_TEXT

log = logging.getLogger("dasi.console")
ID_ROUTE = "{id:[0-9a-f-]{36}}"


def ok(body: dict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def read_json(request: web.Request) -> dict:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return body


def text_field(body: dict, name: str = "text", required: bool = True) -> str:
    value = body.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(400, f"invalid_{name}", f"{name} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise ApiError(413, "text_too_long", f"{name} must be at most {MAX_TEXT} characters")
    return value.strip()


def user_json(user: SignedIn | User) -> dict:
    return {"login": user.login, "name": user.name, "role": user.role}


# --- sign-in --------------------------------------------------------------------------------------

LOGIN_MESSAGES = {
    "invalid": (401, "invalid_credentials", "아이디나 비밀번호가 맞지 않아요."),
    "totp_required": (401, "totp_required", "인증 앱의 6자리 코드를 입력해 주세요."),
}


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    login_, password, code = body.get("login"), body.get("password"), body.get("totp")
    if not isinstance(login_, str) or not isinstance(password, str) or not login_ or not password:
        raise ApiError(400, "invalid_body", "login and password are required strings")
    if code is not None and not isinstance(code, str):
        raise ApiError(400, "invalid_totp", "totp must be a string")
    failure: Optional[LoginFailed] = None
    async with db(request)() as s, s.begin():  # the failure count is committed even when sign-in fails
        try:
            user = await accounts.authenticate(s, login_[:60], password, code)
        except LoginFailed as exc:
            failure = exc
            audit.record(s, f"user:{login_[:55]}", "login_failed", "user", login_[:60], request.remote or "",
                         reason=exc.reason)
        else:
            token, row = await accounts.start_session(s, user)
            audit.record(s, f"user:{user.login}", "login", "user", user.login, request.remote or "")
    if failure is not None:
        if failure.reason == "locked":
            minutes = max(1, int((failure.locked_until - utcnow()).total_seconds() // 60) + 1)
            raise ApiError(429, "account_locked", f"로그인에 여러 번 실패해 계정이 잠겼어요. {minutes}분 뒤에 다시 "
                                                  "시도하거나 관리자에게 문의하세요.")
        raise ApiError(*LOGIN_MESSAGES[failure.reason])
    response = ok({"csrf_token": row.csrf, "user": user_json(user)})
    set_cookie(request, response, token)
    return response


async def logout(request: web.Request) -> web.Response:
    await require_user(request, accounts.ROLES)
    response = ok({"ok": True})
    await sign_out(request, response)
    return response


async def me(request: web.Request) -> web.Response:
    """The signed-in user and their CSRF token (same-origin only: a JSON GET other sites cannot read)."""
    user = await require_user(request, accounts.ROLES)
    return ok({"user": user_json(user), "csrf_token": user.csrf})


# --- queue and conversations --------------------------------------------------------------------

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


def _time(value: Optional[datetime]) -> Optional[str]:
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
    if OUTBOX in request.app and message_ids:
        request.app[OUTBOX].deliver_later(message_ids)


def _stored(request: web.Request, conv: Conversation, msg: Optional[Message]) -> None:
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


# --- canned replies, colleagues, audit, users ----------------------------------------------------

async def canned(request: web.Request) -> web.Response:
    """Published knowledge articles as reply templates, to insert and edit before sending."""
    await require_user(request, CONSOLE_ROLES)
    from knowledge.articles import load_articles

    q = request.query.get("q", "").strip().lower()[:100]
    articles = await asyncio.get_running_loop().run_in_executor(
        None, load_articles, request.app[SETTINGS].knowledge_dir)
    found = [a for a in articles if not q or q in a.title.lower() or q in a.body.lower()
             or any(q in x.lower() for x in a.questions)]
    return ok({"replies": [{"id": a.id, "title": a.title, "text": a.body} for a in found[:30]]})


async def counsellors(request: web.Request) -> web.Response:
    await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s:
        users = await queue.transfer_targets(s)
    return ok({"counsellors": [user_json(u) for u in users]})


async def get_audit(request: web.Request) -> web.Response:
    await require_user(request, AUDIT_ROLES)
    q = request.query
    try:
        limit = int(q.get("limit", "200"))
        before = int(q["before"]) if "before" in q else None
    except ValueError:
        raise ApiError(400, "invalid_query", "limit and before must be numbers") from None
    async with db(request)() as s, s.begin():
        rows = await audit.entries(s, limit, before, q.get("actor") or None, q.get("record") or None)
        audited(request, s, "audit.view", "audit", "", count=len(rows))
    return ok({"entries": [audit.as_dict(r) for r in rows]})


async def list_users(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    async with db(request)() as s, s.begin():
        users = await accounts.list_users(s)
        audited(request, s, "users.view", "user", "")
    return ok({"users": [{**user_json(u), "disabled": u.disabled, "totp": bool(u.totp_secret),
                          "locked": bool(u.locked_until and u.locked_until > utcnow())} for u in users]})


async def create_user(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    body = await read_json(request)
    fields = [body.get(k) for k in ("login", "name", "role", "password")]
    if not all(isinstance(f, str) and f for f in fields):
        raise ApiError(400, "invalid_body", "login, name, role and password are required strings")
    async with db(request)() as s, s.begin():
        try:
            user = await accounts.create_user(s, *fields)
        except accounts.AccountError as exc:
            raise ApiError(400, "invalid_user", str(exc)) from None
        audited(request, s, "users.create", "user", user.login, role=user.role)
    return ok({"user": user_json(user)}, status=201)


async def disable_user(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    login_ = request.match_info["login"]
    async with db(request)() as s, s.begin():
        if not await accounts.disable_user(s, login_):
            raise ApiError(404, "not_found", "그런 계정이 없어요.")
        audited(request, s, "users.disable", "user", login_)
    return ok({"ok": True})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Console pages (/console, /console/cases, /console/stats, /console/detection) and API answers:
    never cached, never framed, scripts from this site only."""
    if request.path == "/console" or request.path.startswith(("/console/", "/api/console/")):
        response.headers["Cache-Control"] = "no-store"
        # 'self' covers same-host websockets only in newer browsers: name them explicitly.
        response.headers["Content-Security-Policy"] = (
            f"{CSP}; connect-src 'self' ws://{request.host} wss://{request.host}")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"


def setup(app: web.Application) -> None:
    from connectors.web import console_live

    app.on_response_prepare.append(security_headers)

    console_live.setup(app)  # the console's and the web chat's websockets
    r = app.router
    r.add_post("/api/console/login", login)
    r.add_post("/api/console/logout", logout)
    r.add_get("/api/console/me", me)
    r.add_get("/api/console/queue", get_queue)
    base = f"/api/console/conversations/{ID_ROUTE}"
    r.add_get(base, get_conversation)
    for name, handler in (("claim", claim), ("release", release), ("close", close), ("transfer", transfer),
                          ("messages", post_message), ("notes", post_note), ("typing", typing)):
        r.add_post(f"{base}/{name}", handler)
    r.add_get("/api/console/canned", canned)
    r.add_get("/api/console/counsellors", counsellors)
    r.add_get("/api/console/audit", get_audit)
    r.add_get("/api/console/users", list_users)
    r.add_post("/api/console/users", create_user)
    r.add_post("/api/console/users/{login}/disable", disable_user)
