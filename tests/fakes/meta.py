"""A fake Graph API Send endpoint (`POST /v25.0/me/messages`), checked as Meta documents it."""
from __future__ import annotations

import itertools

from aiohttp import web

from tests.fakes.base import FakePlatform

MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}


class FakeMeta(FakePlatform):
    def __init__(self, token: str, version: str = "v25.0") -> None:
        super().__init__()
        self.token, self.version = token, version
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/{self.version}/me/messages", self.messages)
        return app

    async def messages(self, request: web.Request) -> web.Response:
        path = request.path
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}" and request.query.get("access_token") != self.token:
            return self.reject(path, "bad token", 401, {"error": {"message": "Invalid OAuth access token",
                                                                   "type": "OAuthException", "code": 190}})
        try:
            body = await request.json()
        except ValueError:
            return self.reject(path, "not json")
        why = _check(body)
        if why:
            return self.reject(path, why, 400, {"error": {"message": why, "type": "OAuthException", "code": 100}})
        failure = self.scripted()
        if failure is not None:
            return failure
        self.sent.append({"path": path, "json": body, "headers": dict(request.headers)})
        return web.json_response({"recipient_id": body["recipient"]["id"], "message_id": f"m_{next(self._ids)}"})


def _check(body: object) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    if not isinstance(body.get("recipient"), dict) or not isinstance(body["recipient"].get("id"), str):
        return "recipient.id required"
    mt = body.get("messaging_type")
    if mt is not None and mt not in MESSAGING_TYPES:
        return "bad messaging_type"
    if mt == "MESSAGE_TAG" and body.get("tag") != "HUMAN_AGENT":
        return "MESSAGE_TAG needs a tag"
    if "tag" in body and body["tag"] != "HUMAN_AGENT":
        return "unknown tag"
    msg = body.get("message")
    if not isinstance(msg, dict) or not isinstance(msg.get("text"), str) or not msg["text"]:
        return "message.text required"
    if len(msg["text"].encode("utf-8")) > 1000:
        return "text over 1000 bytes"
    qr = msg.get("quick_replies")
    if qr is not None:
        if not isinstance(qr, list) or not 1 <= len(qr) <= 13:
            return "1-13 quick replies"
        for q in qr:
            if q.get("content_type") != "text" or not isinstance(q.get("title"), str) or len(q["title"]) > 20 \
                    or not q["title"] or not isinstance(q.get("payload"), str):
                return "bad quick reply"
    if set(msg) - {"text", "quick_replies", "attachment", "metadata"}:
        return "unknown message field"
    return None
