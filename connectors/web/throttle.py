"""Flood limits on the anonymous web chat: nobody may drown the counsellors' queue in made-up
conversations, and a person who is refused still gets the emergency numbers.

The numbers, per gateway process (or per shared storage, see DASI_RATE_LIMIT_STORAGE):
- 20 messages a minute per session: a fast typist pressing buttons sends fewer than 10.
- 60 messages a minute per address: a few people behind one address (a shelter's wifi, a mobile carrier's
  NAT) chatting at full speed (DASI_WEBCHAT_RATE_PER_ADDRESS).
- 10 new conversations an hour per address: the quick exit and a fresh tab start a new session, a few times
  (DASI_WEBCHAT_NEW_SESSIONS_PER_ADDRESS).
- 10 open chat websockets per address, 500 in all; a chat without one falls back to polling.
- a refused message is assessed by the model two at a time, beyond that by the lexicon alone.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from assistant.safety import emergency
from assistant.store.crypto import MissingKeyError
from assistant.web import limits
from assistant.web.appkeys import SETTINGS
from assistant.web.limits import Limit, Slots, client_address
from assistant.web.responses import dumps
from casebook.conversations import service as conv_service
from connectors.appkeys import ROUTER

log = logging.getLogger("dasi.webchat")

PER_SESSION = Limit("webchat-session", "20/minute")
PER_IP = web.AppKey("webchat_per_ip", Limit)  # from settings: DASI_WEBCHAT_RATE_PER_ADDRESS
NEW_SESSIONS_PER_IP = web.AppKey("webchat_new_sessions_per_ip", Limit)  # DASI_WEBCHAT_NEW_SESSIONS_PER_ADDRESS
SOCKETS_TOTAL = 500
SOCKETS_PER_IP = 10

SOCKETS = web.AppKey("webchat_sockets", Slots)
# Refused messages get the full risk assessment two at a time: a flood must not take the CPU, or the
# executor the router assesses accepted messages with. Beyond that the lexicon screen (no model) decides.
ASSESSING = web.AppKey("webchat_refused_assessing", asyncio.Semaphore)
REFUSED_ASSESSMENTS = 2

LIMITED = emergency.rate_limited_text()  # the Korean; every language: assistant/safety/texts/<lang>.yml
TOO_MANY_SOCKETS = ("연결이 너무 많아요. 메시지는 그대로 보낼 수 있어요. "
                    "지금 위험하면 바로 112, 죽고 싶은 마음이 들면 109에 연락하세요.")


async def _opens_conversation(request: web.Request, session: str) -> bool:
    """Would this message open a conversation (a new session, or one whose conversation was closed)?"""
    try:
        async with request.app[ROUTER].sessions() as s:
            return await conv_service.find_open_conversation(s, "web", session) is None
    except (SQLAlchemyError, OSError, MissingKeyError):
        return False  # nothing can be stored either: the router answers with the emergency text


async def refused(request: web.Request, session: str) -> int:
    """0 when this message may go on, else the seconds until it may (counted against every limit)."""
    address = client_address(request)
    checks = [(PER_SESSION, session), (request.app[PER_IP], address)]
    if await _opens_conversation(request, session):
        checks.append((request.app[NEW_SESSIONS_PER_IP], address))
    return await request.app[limits.LIMITER].hit(*checks)


async def limited_reply(request: web.Request, text: str, retry_after: int, lang: str = "ko") -> web.Response:
    """429, nothing stored or queued, but the risk assessment's emergency text (never silence), in the
    language the person chose or wrote."""
    categories, level = await _assess(request, text)
    log.warning("web chat message refused by a rate limit (risk %s)", level)  # never the text
    replies = emergency.screen_replies(categories, lang) or [{"text": emergency.fallback_text(lang)}]
    refusal = emergency.rate_limited_text(lang)
    # No "state": the conversation's own state is unchanged, and the chat keeps what it knows.
    body = {"error": "rate_limited", "message": refusal, "replies": [{"text": refusal}, *replies], "risk": level}
    return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)}, dumps=dumps)


async def _assess(request: web.Request, text: str) -> tuple[list[str], str]:
    """(categories, level) of the message alone: the router's assessor, or its lexicon when busy."""
    assessor, busy = request.app[ROUTER].assessor, request.app[ASSESSING]
    if busy.locked():
        screened = assessor.lexicon.screen(text)
        return screened.categories, screened.risk
    async with busy:
        a = await asyncio.get_running_loop().run_in_executor(None, assessor.assess, text)
    return list(a.categories), a.level


def setup(app: web.Application) -> None:
    limits.setup(app)
    settings = app[SETTINGS]
    app[PER_IP] = Limit("webchat-ip", settings.webchat_rate_per_address)
    app[NEW_SESSIONS_PER_IP] = Limit("webchat-new-session", settings.webchat_new_sessions_per_address)
    app[SOCKETS] = Slots(SOCKETS_TOTAL, SOCKETS_PER_IP)
    app[ASSESSING] = asyncio.Semaphore(REFUSED_ASSESSMENTS)
