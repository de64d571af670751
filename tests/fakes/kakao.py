"""A fake Kakao callback endpoint: one-time URLs valid for a minute, and a checker for
SkillResponse 2.0 as Kakao documents it (also used on the skill server's own HTTP responses)."""
from __future__ import annotations

import secrets
import time
import uuid

from aiohttp import web

from tests.fakes.base import FakePlatform

OUTPUT_KINDS = {"simpleText", "simpleImage", "textCard", "basicCard", "commerceCard", "listCard", "itemCard",
                "carousel"}
BUTTON_ACTIONS = {"webLink", "message", "phone", "block", "share", "operator"}


def check_skill_response(body: object) -> str | None:
    """Why Kakao would refuse this SkillResponse, or None."""
    if not isinstance(body, dict) or body.get("version") != "2.0":
        return "version must be 2.0"
    if body.get("useCallback") is True:
        return "template not allowed with useCallback" if "template" in body else None
    t = body.get("template")
    outputs = t.get("outputs") if isinstance(t, dict) else None
    if not isinstance(outputs, list) or not 1 <= len(outputs) <= 3:
        return "1-3 outputs"
    for o in outputs:
        if not isinstance(o, dict) or len(o) != 1 or next(iter(o)) not in OUTPUT_KINDS:
            return "one known component per output"
        if "simpleText" in o:
            text = o["simpleText"].get("text")
            if not isinstance(text, str) or not text or len(text) > 1000:
                return "simpleText.text 1-1000 characters"
        if "textCard" in o:
            card = o["textCard"]
            if len(card.get("title", "")) > 50 or len(card.get("description", "")) > 400:
                return "textCard too long"
            buttons = card.get("buttons", [])
            if len(buttons) > 3 or any(b.get("action") not in BUTTON_ACTIONS or not b.get("label")
                                       or len(b["label"]) > 14 for b in buttons):
                return "bad textCard buttons"
    qrs = t.get("quickReplies", [])
    if not isinstance(qrs, list) or len(qrs) > 10:
        return "at most 10 quickReplies"
    for q in qrs:
        if not isinstance(q.get("label"), str) or not q["label"] or q.get("action") not in ("message", "block"):
            return "quickReply label and action"
        if q["action"] == "message" and not isinstance(q.get("messageText"), str):
            return "quickReply message needs messageText"
    return None


class FakeKakao(FakePlatform):
    LIFE = 60.0

    def __init__(self, bot_id: str = "5a548e36aea1a43fa851ecd9") -> None:
        super().__init__()
        self.bot_id = bot_id
        self.base = ""
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/bots/{bot}/callback/{token}", self.callback)
        return app

    def callback_url(self) -> str:
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + self.LIFE
        return f"{self.base}/v1/bots/{self.bot_id}/callback/{token}"

    async def callback(self, request: web.Request) -> web.Response:
        path = request.path
        token = request.match_info["token"]
        expiry = self._tokens.pop(token, None)  # once only
        if expiry is None or expiry < time.monotonic():
            self.rejected.append((path, "invalid token"))
            return web.json_response({"taskId": str(uuid.uuid4()), "status": "FAIL", "timestamp": int(time.time()),
                                      "message": "Invalid callback token … 만료된 상태(1분이내 요청 필요)"})
        try:
            body = await request.json()
        except ValueError:
            return self.reject(path, "not json")
        why = check_skill_response(body)
        if why or body.get("useCallback"):
            self.rejected.append((path, why or "useCallback in a callback"))
            return web.json_response({"taskId": str(uuid.uuid4()), "status": "ERROR", "timestamp": int(time.time()),
                                      "message": "Invalid json response from bot-skill."})
        failure = self.scripted()
        if failure is not None:
            self._tokens[token] = expiry  # a 5xx did not use the token up
            return failure
        self.sent.append({"path": path, "json": body, "headers": dict(request.headers)})
        return web.json_response({"taskId": str(uuid.uuid4()), "status": "SUCCESS", "message": "",
                                  "timestamp": int(time.time())})
