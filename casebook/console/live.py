"""The console's live feed (websocket).

It carries only small notices ("conversation X has a new message", "the queue changed", typing,
delivery failures); the page then fetches what it may see through the JSON API, so message text
never travels over the hub and role checks stay in one place. A console user gets full events only
for conversations they may read; for others just {"type": "queue"} (refresh the list), which says nothing.
"""
from __future__ import annotations

import logging
import time

from aiohttp import web

from assistant.web.appkeys import LIVE
from assistant.web.errors import ApiError
from assistant.web.live import pump, same_origin
from casebook.console.auth import CONSOLE_ROLES, COOKIE, audited, db, require_user
from casebook.conversations import queue
from casebook.conversations import service as conv_service
from casebook.staff import accounts

log = logging.getLogger("dasi.live")
RECHECK_SESSION = 30.0  # seconds: a disabled account or ended session loses the feed this quickly


async def console_ws(request: web.Request) -> web.WebSocketResponse:
    user = await require_user(request, CONSOLE_ROLES)
    if not same_origin(request):
        raise ApiError(403, "bad_origin", "다른 사이트에서는 연결할 수 없어요.")
    token = request.cookies.get(COOKIE, "")
    async with db(request)() as s, s.begin():
        audited(request, s, "console.live", "queue", "")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    checked = time.monotonic()

    async def forward(event: dict) -> dict | None | bool:
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

    await pump(request.app[LIVE], ws, forward)
    return ws


def setup(app: web.Application) -> None:
    app.router.add_get("/api/console/ws", console_ws)
