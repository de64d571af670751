"""Each stored message is answered by one gateway only (connectors/claims.py), on SQLite and PostgreSQL;
several Rasa servers are used in turn and past one that is down (connectors/rasa_client.py)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from assistant.core.clock import utcnow
from assistant.store.db import close_engines, sessionmaker
from assistant.store.migrate import upgrade
from casebook.conversations import service as conv_service
from casebook.models import Message
from connectors.claims import Claims
from connectors.rasa_client import RasaPool, RasaUnavailable
from tests.conftest import free_port, serve


async def _stored(user: str, text: str) -> int:
    async with sessionmaker()() as s, s.begin():
        conv = await conv_service.get_or_create_conversation(s, "web", user)
        msg, _ = await conv_service.store_inbound(s, conv, text, None)
        return msg.id


async def test_one_gateway_claims_a_message_and_a_dead_ones_claim_runs_out(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade()
    try:
        mid = await _stored("claims-1", "상담 시간이 궁금해요")
        a, b = Claims(sessionmaker(), "gateway-a", 0.5), Claims(sessionmaker(), "gateway-b", 0.5)
        results = await asyncio.gather(*(c.claim(mid) for c in (a, b, a, b)))
        assert sum(results) == 1  # raced: exactly one won
        winner, loser = (a, b) if results[0] or results[2] else (b, a)
        assert (await loser.answered(mid))[1] is not None  # it sees the live lease and waits
        await asyncio.sleep(0.7)  # the winner died: its lease runs out, the other takes over
        assert await loser.claim(mid)
        async with sessionmaker()() as s, s.begin():
            assert not await winner.finish(s, mid)  # the late winner's answer is not stored
        async with sessionmaker()() as s, s.begin():
            assert await loser.finish(s, mid)
        assert await a.answered(mid) == (True, None)
        assert not await a.claim(mid) and not await b.claim(mid)  # answered: nobody again
    finally:
        await close_engines()


async def test_a_renewed_claim_stays_and_a_restarted_gateway_takes_its_own_back(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade()
    try:
        first, second = await _stored("claims-2", "첫 번째"), await _stored("claims-2", "두 번째")
        a, b = Claims(sessionmaker(), "gateway-a", 0.6), Claims(sessionmaker(), "gateway-b", 0.6)
        assert await a.claim(first)
        async with a.kept(first):
            await asyncio.sleep(1.0)  # longer than the lease, but renewed
            assert not await b.claim(first)
        assert await a.claim(second)
        now = utcnow()
        async with sessionmaker()() as s:
            conv_id = (await s.get(Message, second)).conversation_id
        earlier = await b.earlier(conv_id, second, now - timedelta(hours=1))
        assert [p.message.id for p in earlier] == [first] and earlier[0].claimed_until is not None
        assert await a.forget_own() == 2  # a restarted gateway-a: nothing of it is in flight any more
        assert [p.message.id for p in await b.orphans(now - timedelta(hours=1), utcnow(), {"bot"})] == [first, second]
        assert await b.claim(first)
    finally:
        await close_engines()


async def test_several_rasa_servers_take_turns_and_one_that_is_down_is_passed():
    asked: list[str] = []

    def server(name: str) -> web.Application:
        async def webhook(request: web.Request) -> web.Response:
            asked.append(name)
            return web.json_response([{"text": f"{name} 답변"}])
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", webhook)
        return app

    import aiohttp

    async with serve(server("one")) as one, serve(server("two")) as two, aiohttp.ClientSession() as http:
        pool = RasaPool([one, two])
        for _ in range(4):
            await pool.ask(http, "c", "안녕", {}, 5)
        assert asked == ["one", "two", "one", "two"]
        down = RasaPool([f"http://127.0.0.1:{free_port()}", two], rest=60)
        replies = [await down.ask(http, "c", "안녕", {}, 5) for _ in range(3)]
        assert all(r == [{"text": "two 답변"}] for r in replies) and asked[-3:] == ["two"] * 3
        try:
            await RasaPool([f"http://127.0.0.1:{free_port()}"]).ask(http, "c", "안녕", {}, 5)
            raise AssertionError("a pool with every server down must raise")
        except RasaUnavailable:
            pass
