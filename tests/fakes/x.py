"""A fake X API v2 DM endpoint (`POST /2/dm_conversations/with/:participant_id/messages`) with
x-rate-limit-* headers, checked as X documents it."""
from __future__ import annotations

import itertools
import time

from aiohttp import web

from tests.fakes.base import FakePlatform


class FakeX(FakePlatform):
    def __init__(self, token: str, bot_user_id: str, limit: int = 15) -> None:
        super().__init__()
        self.token, self.bot, self.limit = token, bot_user_id, limit
        self.remaining = limit
        self.reset_in = 900  # seconds until the window resets, as sent in x-rate-limit-reset
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2/dm_conversations/with/{participant_id}/messages", self.send)
        return app

    def rate_headers(self) -> dict:
        return {"x-rate-limit-limit": str(self.limit), "x-rate-limit-remaining": str(max(self.remaining, 0)),
                "x-rate-limit-reset": str(int(time.time()) + self.reset_in)}

    async def send(self, request: web.Request) -> web.Response:
        path = request.path
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.reject(path, "bad token", 401, {"title": "Unauthorized", "status": 401})
        pid = request.match_info["participant_id"]
        if not pid.isdigit():
            return self.reject(path, "participant_id must be numeric")
        try:
            body = await request.json()
        except ValueError:
            return self.reject(path, "not json")
        if (not isinstance(body, dict) or set(body) - {"text", "attachments"}
                or not (body.get("text") or body.get("attachments"))):
            return self.reject(path, "text and/or attachments only")
        if "text" in body and (not isinstance(body["text"], str) or not 1 <= len(body["text"]) <= 10000):
            return self.reject(path, "text 1-10000 characters")
        failure = self.scripted()
        if failure is not None:
            return failure
        self.remaining -= 1
        self.sent.append({"path": path, "json": body, "headers": dict(request.headers), "at": time.monotonic()})
        return web.json_response({"data": {"dm_conversation_id": f"{pid}-{self.bot}",
                                           "dm_event_id": str(next(self._ids))}},
                                 status=201, headers=self.rate_headers())
