"""Websockets: the console's live feed and the web chat's.

Both carry only small notices ("conversation X has a new message", "the queue changed", typing,
delivery failures); the page then fetches what it may see through the JSON API, so message text
never travels over the hub and role checks stay in one place. A console user gets full events only
for conversations they may read; for others just {"type": "queue"} (refresh the list), which says nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Optional
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from casebook import accounts, queue
from casebook import conversations as conv_service
from connectors.appkeys import LIVE
from connectors.errors import ApiError
from connectors.web.console_auth import COOKIE, CONSOLE_ROLES, audited, db, require_user
from connectors.web.routes import SESSION

log = logging.getLogger("dasi.live")
RECHECK_SESSION = 30.0  # seconds: a disabled account or ended session loses the feed this quickly
FORWARD_TO_CHAT = ("message", "typing", "state")


def _same_origin(request: web.Request) -> bool:
    """Browsers always send Origin on websockets: refuse other sites (cross-site websocket hijacking)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


async def _pump(request: web.Request, ws: web.WebSocketResponse, forward, on_text=None) -> None:
    """Relay hub events through `forward(event) -> dict | None` until the socket closes."""
    hub = request.app[LIVE]
    events = hub.subscribe()

    async def reader() -> None:  # also notices when the client leaves
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
            if msg.type == WSMsgType.TEXT and on_text is not None and len(msg.data) < 200:
                await on_text(msg.data)

    reading = asyncio.create_task(reader())
    try:
        while not reading.done():
            getter = asyncio.create_task(events.get())
            done, _ = await asyncio.wait({getter, reading}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            out = await forward(getter.result())
            if out is False:
                break
            if out:
                await ws.send_json(out)
    finally:
        hub.unsubscribe(events)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await ws.close()


async def console_ws(request: web.Request) -> web.WebSocketResponse:
    user = await require_user(request, CONSOLE_ROLES)
    if not _same_origin(request):
        raise ApiError(403, "bad_origin", "다른 사이트에서는 연결할 수 없어요.")
    token = request.cookies.get(COOKIE, "")
    async with db(request)() as s, s.begin():
        audited(request, s, "console.live", "queue", "")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    checked = time.monotonic()

    async def forward(event: dict) -> Optional[dict] | bool:
        nonlocal checked
        async with db(request)() as s:
            if time.monotonic() - checked > RECHECK_SESSION:
                if await accounts.signed_in(s, token) is None:
                    return False
                checked = time.monotonic()
            pid = event.get("conversation")
            conv = await conv_service.get_conversation(s, pid) if pid else None
            if conv is None or not await queue.may_read(s, user, conv):
                return {"type": "queue"}
            return {**event, "state": conv.state, "risk": conv.risk, "youth": conv.youth,
                    "mine": conv.assignee_id == user.user_id}

    await _pump(request, ws, forward)
    return ws


async def webchat_ws(request: web.Request) -> web.WebSocketResponse:
    """The web chat's live nudge: a counsellor replied, is typing, or the state changed. The chat
    then fetches its messages from GET /api/webchat/messages (also its fallback when this is down)."""
    session = request.query.get("session", "")
    if not SESSION.match(session):
        raise ApiError(400, "invalid_session", "session must be 8–128 letters, digits, '-' or '_'")
    if not _same_origin(request):
        raise ApiError(403, "bad_origin", "other sites may not connect")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    mine: dict[str, object] = {"id": None, "looked": 0.0}

    async def conversation_id() -> Optional[str]:
        # Looked up lazily and at most every 2 s: the chat may open before its first message.
        if mine["id"] is None and time.monotonic() - float(mine["looked"]) > 2:
            mine["looked"] = time.monotonic()
            async with db(request)() as s:
                conv = await conv_service.find_open_conversation(s, "web", session)
            mine["id"] = conv.public_id if conv else None
        return mine["id"]  # type: ignore[return-value]

    async def forward(event: dict) -> Optional[dict]:
        if event.get("type") not in FORWARD_TO_CHAT or event.get("conversation") != await conversation_id():
            return None
        if event.get("state") == "closed":
            mine["id"] = None  # the next message opens a new conversation
        if event["type"] == "message" and event.get("direction") != "out":
            return None
        if event["type"] == "typing" and event.get("who") != "counsellor":
            return None  # its own typing, echoed back
        return {"type": event["type"], "state": event.get("state")}

    last_typing = 0.0

    async def on_text(data: str) -> None:
        """The person is typing: the console shows it (at most every 2 s, and only the notice)."""
        nonlocal last_typing
        pid = await conversation_id()
        if pid and '"typing"' in data and time.monotonic() - last_typing > 2:
            last_typing = time.monotonic()
            request.app[LIVE].publish({"type": "typing", "conversation": pid, "who": "user"})

    await conversation_id()
    await _pump(request, ws, forward, on_text)
    return ws


def setup(app: web.Application) -> None:
    app.router.add_get("/api/console/ws", console_ws)
    app.router.add_get("/api/webchat/ws", webchat_ws)
