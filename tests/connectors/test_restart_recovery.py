"""A message stored but not answered when the gateway stopped is answered after the restart, exactly once
(issue 18); answered messages, old ones and conversations a counsellor holds are left alone."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from assistant.core.clock import utcnow
from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.conversations import service as conv_service
from casebook.models import Message
from connectors.gateway import create_app
from tests.conftest import free_port, serve


async def _store(user: str, text: str, answered: bool = False, age: timedelta = timedelta(0),
                 state: str | None = None) -> int:
    async with sessionmaker()() as s, s.begin():
        conv = await conv_service.get_or_create_conversation(s, "web", user)
        msg, _ = await conv_service.store_inbound(s, conv, text, None)
        msg.created_at = utcnow() - age
        if answered:
            await conv_service.store_replies(s, conv, [{"text": "이미 답했어요."}], msg)
        if state:
            conv.state = state
        return msg.id


async def _replies(message_id: int) -> list[str]:
    async with sessionmaker()() as s:
        return [m.text for m in (await s.scalars(select(Message).where(Message.reply_to_id == message_id)))]


async def _run_gateway_until(asked: list[str], want: int) -> None:
    server = TestServer(create_app(get_settings()))
    await server.start_server()
    try:
        for _ in range(100):
            if len(asked) >= want:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything more it would ask has had its time
    finally:
        await server.close()


async def test_unanswered_messages_are_answered_once_after_a_restart(env):
    asked: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        asked.append((await request.json())["message"])
        return web.json_response([{"recipient_id": "x", "text": "늦었지만 답변이에요."}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    async with serve(app) as rasa_url:
        env(DASI_RASA_URL=rasa_url, DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}", DASI_RASA_TIMEOUT="2")
        upgrade()
        lost = await _store("person-lost", "상담 시간이 궁금해요")
        done = await _store("person-done", "이미 답을 받은 질문", answered=True)
        old = await _store("person-old", "어제 보낸 질문", age=timedelta(hours=3))
        held = await _store("person-held", "상담원에게 한 말", state="counsellor")

        await _run_gateway_until(asked, want=1)
        assert asked == ["상담 시간이 궁금해요"]
        assert await _replies(lost) == ["늦었지만 답변이에요."]
        assert await _replies(done) == ["이미 답했어요."]
        assert await _replies(old) == [] and await _replies(held) == []

        await _run_gateway_until(asked, want=2)  # a second restart answers nothing again
        assert asked == ["상담 시간이 궁금해요"]
        assert await _replies(lost) == ["늦었지만 답변이에요."]
