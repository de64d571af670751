"""A fake X API v2: the DM endpoint (`POST /2/dm_conversations/with/:participant_id/messages`) and post
creation (`POST /2/tweets`, here as a reply: {"text", "reply": {"in_reply_to_tweet_id"}} → 201
{"data": {"id", "text"}}), with x-rate-limit-* headers, checked as X documents them."""
from __future__ import annotations

import itertools
import time

from aiohttp import web

from tests.fakes.base import FakePlatform


def weighted_length(text: str) -> int:
    """twitter-text's default config: these ranges weigh 1, every other code point 2 (Korean included)."""
    light = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    return sum(1 if any(lo <= ord(c) <= hi for lo, hi in light) else 2 for c in text)


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
        app.router.add_post("/2/tweets", self.tweet)
        return app

    @property
    def replies(self) -> list[dict]:
        return [s["json"] for s in self.sent if s["path"] == "/2/tweets"]

    async def tweet(self, request: web.Request) -> web.Response:
        path = request.path
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.reject(path, "bad token", 401, {"title": "Unauthorized", "status": 401})
        try:
            body = await request.json()
        except ValueError:
            return self.reject(path, "not json")
        allowed = {"text", "reply", "media", "poll", "quote_tweet_id", "reply_settings", "for_super_followers_only",
                   "direct_message_deep_link", "geo", "nullcast", "community_id", "card_uri"}
        if not isinstance(body, dict) or set(body) - allowed or not isinstance(body.get("text"), str):
            return self.reject(path, "unknown fields or no text")
        if not 1 <= weighted_length(body["text"]) <= 280:
            return self.reject(path, "text must be 1-280 weighted characters")
        reply = body.get("reply")
        if reply is not None and (not isinstance(reply, dict) or set(reply) - {"in_reply_to_tweet_id",
                                                                              "exclude_reply_user_ids"}
                                  or not str(reply.get("in_reply_to_tweet_id", "")).isdigit()):
            return self.reject(path, "reply.in_reply_to_tweet_id must be a post id")
        failure = self.scripted()
        if failure is not None:
            return failure
        self.remaining -= 1
        self.sent.append({"path": path, "json": body, "headers": dict(request.headers), "at": time.monotonic()})
        return web.json_response({"data": {"id": str(10**18 + next(self._ids)), "text": body["text"]}},
                                 status=201, headers=self.rate_headers())

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
