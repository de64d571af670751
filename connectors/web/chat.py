"""Web chat API and pages. Inputs are checked strictly; bad input is a 4xx JSON error, never a 500."""
from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from assistant.core.languages import KOREAN, SERVED
from assistant.language.detect import choose
from assistant.safety import emergency, texts
from assistant.store.crypto import MissingKeyError, blind_index
from assistant.web.errors import ApiError
from assistant.web.responses import MAX_TEXT, ok, read_json
from casebook.conversations import service as conv_service
from casebook.models import Message
from connectors.appkeys import OUTBOX, ROUTER
from connectors.inbound import InboundMessage, Outcome
from connectors.web import throttle

STATIC = Path(__file__).with_name("static")
SESSION = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


async def post_message(request: web.Request) -> web.Response:
    body = await read_json(request)
    session, text, client_id = body.get("session"), body.get("text"), body.get("id")
    if not isinstance(session, str) or not SESSION.match(session):
        raise ApiError(400, "invalid_session", "session must be 8–128 letters, digits, '-' or '_'")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "invalid_text", "text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ApiError(413, "text_too_long", f"text must be at most {MAX_TEXT} characters")
    if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID.match(client_id)):
        raise ApiError(400, "invalid_id", "id must be 1–100 letters, digits, '-' or '_'")
    lang = body.get("lang")  # the language the person chose on the page; absent: detected
    if lang is not None and lang not in SERVED:
        raise ApiError(400, "invalid_lang", f"lang must be one of {', '.join(SERVED)}")
    retry_after = await throttle.refused(request, session)
    if retry_after:
        return await throttle.limited_reply(request, text, retry_after, lang or choose(text, None)[0])
    router = request.app[ROUTER]
    msg = InboundMessage(channel="web", user_id=session, text=text,
                         platform_message_id=_message_key(session, client_id), language=lang)
    try:
        accepted = await router.accept(msg)
    except (SQLAlchemyError, OSError, MissingKeyError):
        # One more try through the whole router: it answers the emergency text even if storage stays down.
        return _answer(await router.handle(msg))
    if accepted.duplicate is not None:
        return _answer(accepted.duplicate)
    assessment = await router.assess(accepted)  # before any wait: a slow bot never delays the numbers
    answering = request.app[OUTBOX].spawn(router.answer(accepted))
    done, _ = await asyncio.wait({answering}, timeout=router.settings.reply_timeout)
    if done:
        return _answer(answering.result(), accepted.lang)
    # Slow is not down: the answer is stored when it comes and reaches the page by its websocket or poll.
    head = emergency.screen_replies(list(assessment.categories), accepted.lang)[:1]
    return ok({"replies": head + [{"text": emergency.holding_text(accepted.lang)}], "pending": True,
               "state": accepted.state, "risk": accepted.risk, "language": accepted.lang})


def _answer(outcome: Outcome, lang: str | None = None) -> web.Response:
    """The replies with their message ids, so the page does not show them again when it polls; the
    conversation's language, so the page can follow it."""
    ids = outcome.reply_ids if len(outcome.reply_ids) == len(outcome.replies) else [None] * len(outcome.replies)
    return ok({"replies": [{**r, "id": i} for r, i in zip(outcome.replies, ids, strict=True)],
               "state": outcome.state, "risk": outcome.risk, **({"language": lang} if lang else {})})


def _message_key(session: str, client_id: str | None) -> str | None:
    """The retry key stored with the message: a keyed hash, since the session id is what reads the
    replies (GET below) and a copy of the database must not hand it out."""
    if not client_id:
        return None
    try:
        return blind_index("web-message", session, client_id)
    except MissingKeyError:
        return None  # nothing can be stored without the key: the router answers with the emergency text


async def get_messages(request: web.Request) -> web.Response:
    """Polling fallback: messages for this session after a given id (counsellor replies arrive here)."""
    session, after = request.query.get("session", ""), request.query.get("after", "0")
    if not SESSION.match(session):
        raise ApiError(400, "invalid_session", "session must be 8–128 letters, digits, '-' or '_'")
    if not after.isdigit():
        raise ApiError(400, "invalid_after", "after must be a message id")
    router = request.app[ROUTER]
    async with router.sessions() as s:
        # The latest, even if closed: the closing notice must still reach the person.
        conv = await conv_service.find_latest_conversation(s, "web", session)
        if conv is None:
            return ok({"messages": [], "state": "bot"})
        rows = (await s.scalars(select(Message).where(
            Message.conversation_id == conv.id, Message.id > int(after), Message.direction == "out")
            .order_by(Message.id).limit(100))).all()
        messages = [{"id": m.id, "author": m.author, "text": m.text, "buttons": m.buttons or []} for m in rows]
        return ok({"messages": messages, "state": conv.state})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _page_language(request: web.Request) -> str:
    lang = request.query.get("lang", KOREAN)
    return lang if lang in SERVED else KOREAN


async def privacy(request: web.Request) -> web.Response:
    """The privacy notice in the language asked for (?lang=vi), from the same texts as the chat."""
    lang = _page_language(request)
    esc = html.escape
    title = esc(texts.text(lang, "privacy.title"))
    items = "\n".join(f"<li>{esc(item)}</li>" for item in texts.items(lang, "privacy.items"))
    back = f'/?lang={lang}' if lang != KOREAN else "/"
    page = (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{title}</title><link rel="stylesheet" href="/static/chat/chat.css"></head>\n'
            f'<body class="page">\n<h1>{title}</h1>\n<ul>\n{items}\n</ul>\n'
            f'<p><a href="{back}">{esc(texts.text(lang, "privacy.back"))}</a></p>\n</body></html>\n')
    return web.Response(text=page, content_type="text/html")


async def words(request: web.Request) -> web.Response:
    """The chat page's own words in a language, and the languages offered (for the page's choice)."""
    lang = _page_language(request)
    return ok({"lang": lang, "ui": texts.ui(lang), "languages": SERVED})


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/privacy", privacy)
    app.router.add_get("/api/webchat/words", words)
    app.router.add_post("/api/webchat/messages", post_message)
    app.router.add_get("/api/webchat/messages", get_messages)
    app.router.add_static("/static/chat/", STATIC)
