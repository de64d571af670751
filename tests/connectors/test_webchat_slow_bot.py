"""Slow is not down (issue 18): a bot that answers late is waited for, its answer reaches the page later,
and nobody is paged; a bot that is down still gets the fallback and the queue. Messages of one person are
answered in order, and no more than DASI_RASA_CONCURRENCY go to Rasa at once."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.models import Conversation
from connectors.gateway import create_app
from tests.conftest import free_port, serve


class SlowRasa:
    """Rasa's REST channel answering after `delay` seconds; records the order and the overlap of calls."""

    def __init__(self, delay: float) -> None:
        self.delay, self.asked, self.busy, self.most_busy = delay, [], 0, 0

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.asked.append(body["message"])
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            # The first question is the slowest: without per-person order its answer would come last.
            await asyncio.sleep(self.delay * (2 if body["message"] == "질문 0" else 1))
        finally:
            self.busy -= 1
        return web.json_response([{"recipient_id": body["sender"], "text": f"답변: {body['message']}"}])


@pytest.fixture
async def slow_chat(env):
    rasa = SlowRasa(delay=1.5)
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    async with serve(app) as url:
        env(DASI_RASA_URL=url, DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}", DASI_RASA_TIMEOUT="0.3",
            DASI_RASA_PATIENCE="20", DASI_RASA_CONCURRENCY="2")
        upgrade()
        async with TestClient(TestServer(create_app(get_settings()))) as client:
            yield client, rasa


async def _poll(client, session: str, want: int, timeout: float = 15.0, prefix: str = "") -> list[dict]:
    """The bot's messages (those starting with `prefix`) once there are `want` of them, or at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        data = await (await client.get("/api/webchat/messages", params={"session": session, "after": "0"})).json()
        bot = [m for m in data["messages"] if m["author"] == "bot" and m["text"].startswith(prefix)]
        if len(bot) >= want or asyncio.get_running_loop().time() > deadline:
            return bot
        await asyncio.sleep(0.2)


async def _conversations() -> list[Conversation]:
    async with sessionmaker()() as s:
        return list((await s.scalars(select(Conversation))).all())


async def test_a_slow_bot_answers_later_and_nobody_is_paged(slow_chat):
    client, rasa = slow_chat
    data = await (await client.post("/api/webchat/messages",
                                    json={"session": "slow-session-1", "text": "상담 시간이 어떻게 되나요"})).json()
    assert data["pending"] is True and "잠시만요" in data["replies"][-1]["text"]
    assert "112" in data["replies"][-1]["text"]  # never silence, even in the holding note
    [late] = await _poll(client, "slow-session-1", want=1)
    assert late["text"] == "답변: 상담 시간이 어떻게 되나요"
    [conv] = await _conversations()
    assert conv.state == "bot" and conv.waiting_since is None  # not queued for a counsellor


async def test_danger_gets_its_numbers_at_once_while_the_bot_is_slow(slow_chat):
    client, _ = slow_chat
    data = await (await client.post("/api/webchat/messages",
                                    json={"session": "slow-session-2", "text": "모텔에 갇혀 있어요 살려주세요"})).json()
    assert data["pending"] is True and "112" in data["replies"][0]["text"]
    assert "02-814-3660" in data["replies"][0]["text"]


async def test_one_persons_messages_are_answered_in_order_and_concurrency_is_bounded(slow_chat):
    client, rasa = slow_chat
    sent = []
    for i in range(3):  # one after another, as fast as a person taps: each arrives before the last is answered
        sent.append(asyncio.create_task(client.post("/api/webchat/messages",
                                                    json={"session": "order-session", "text": f"질문 {i}"})))
        await asyncio.sleep(0.05)
    sent += [asyncio.create_task(client.post("/api/webchat/messages",
                                             json={"session": f"other-session-{i}", "text": "안내해 주세요"}))
             for i in range(3)]
    await asyncio.gather(*sent)
    # Only the bot's answers: the risk model may add a one-line number to a message it rates "medium".
    answers = await _poll(client, "order-session", want=3, timeout=30, prefix="답변:")
    assert [a["text"] for a in answers] == ["답변: 질문 0", "답변: 질문 1", "답변: 질문 2"]
    assert [q for q in rasa.asked if q.startswith("질문")] == ["질문 0", "질문 1", "질문 2"]
    assert rasa.most_busy <= 2  # DASI_RASA_CONCURRENCY


async def test_a_bot_that_is_down_still_gets_the_fallback_at_once(env):
    env(DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}",
        DASI_RASA_TIMEOUT="2", DASI_RASA_PATIENCE="60")
    upgrade()
    async with TestClient(TestServer(create_app(get_settings()))) as client:
        t0 = asyncio.get_running_loop().time()
        data = await (await client.post("/api/webchat/messages",
                                        json={"session": "down-session", "text": "상담 시간이 어떻게 되나요"})).json()
        assert asyncio.get_running_loop().time() - t0 < 2  # refused at once: not waited for
        assert "pending" not in data and "112" in data["replies"][0]["text"]
        [conv] = await _conversations()
        assert conv.state == "waiting"  # a person is needed
