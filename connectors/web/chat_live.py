"""The web chat's live nudge (websocket): a counsellor replied, is typing, or the state changed.

The chat then fetches its messages from GET /api/webchat/messages (also its fallback when this is down);
no message text travels here.
"""
from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from assistant.store.db import sessionmaker
from assistant.web.appkeys import LIVE, SETTINGS
from assistant.web.errors import ApiError
from assistant.web.limits import client_address
from assistant.web.live import pump, same_origin
from casebook.conversations import service as conv_service
from connectors.web import throttle
from connectors.web.chat import SESSION

FORWARD_TO_CHAT = ("message", "typing", "state")


async def webchat_ws(request: web.Request) -> web.WebSocketResponse:
    """The web chat's live nudge: a counsellor replied, is typing, or the state changed. The chat
    then fetches its messages from GET /api/webchat/messages (also its fallback when this is down)."""
    session = request.query.get("session", "")
    if not SESSION.match(session):
        raise ApiError(400, "invalid_session", "session must be 8–128 letters, digits, '-' or '_'")
    if not same_origin(request):
        raise ApiError(403, "bad_origin", "other sites may not connect")
    # Anyone may open one without signing in: a bounded number, so nobody can hold them all.
    address, sockets = client_address(request), request.app[throttle.SOCKETS]
    if not sockets.acquire(address):
        raise ApiError(429, "too_many_connections", throttle.TOO_MANY_SOCKETS)
    try:
        return await _relay(request, session)
    finally:
        sockets.release(address)


async def _relay(request: web.Request, session: str) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    mine: dict[str, Any] = {"id": None, "looked": 0.0}

    async def conversation_id() -> str | None:
        # Looked up lazily and at most every 2 s: the chat may open before its first message.
        if mine["id"] is None and time.monotonic() - mine["looked"] > 2:
            mine["looked"] = time.monotonic()
            async with sessionmaker(request.app[SETTINGS].database_url)() as s:
                conv = await conv_service.find_open_conversation(s, "web", session)
            mine["id"] = conv.public_id if conv else None
        return mine["id"]

    async def forward(event: dict) -> dict | None:
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
    await pump(request.app[LIVE], ws, forward, on_text)
    return ws


def setup(app: web.Application) -> None:
    app.router.add_get("/api/webchat/ws", webchat_ws)
