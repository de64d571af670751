"""Shared by the console API tests (test_console_sign_in_and_roles,
test_console_queue_and_conversations): a conversation left waiting in the queue, the conversation API's
paths, and reading an error's code. Not a test module: imported by them."""
from __future__ import annotations

from datetime import timedelta

import aiohttp

from assistant.core.clock import utcnow
from assistant.store.db import sessionmaker
from casebook.conversations import service as conv_service

TEXT = "선불금 때문에 일을 그만두지 못하고 있어요"


async def queued(risk: str = "none", user: str = "person-1", channel: str = "web", youth: bool = False,
                 waited: int = 0, text_: str = TEXT) -> str:
    """A conversation waiting for a counsellor, as the router and the actions leave it."""
    async with sessionmaker()() as s, s.begin():
        conv = await conv_service.get_or_create_conversation(s, channel, user)
        await conv_service.store_inbound(s, conv, text_, None)
        if risk != "none":
            await conv_service.raise_risk(s, conv, risk, "safety_screen")
        if youth:
            await conv_service.flag_youth(s, conv, "bot")
        await conv_service.request_handoff(s, conv, "bot", reason="requested")
        conv.waiting_since = utcnow() - timedelta(seconds=waited)
        return conv.public_id


def path(conv: str, action: str = "") -> str:
    return f"/api/console/conversations/{conv}" + (f"/{action}" if action else "")


async def error(resp: aiohttp.ClientResponse) -> str:
    body = await resp.json()
    assert body["message"], body  # every error says what went wrong
    return body["error"]
