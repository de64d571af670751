"""With DASI_REDIS_URL: live events reach the other gateways' subscribers (assistant/web/live.py), the
rate limits count in Redis (assistant/web/limits.py) and a conversation's turn is one at a time across
gateways (connectors/claims.py Turns). Against a private redis-server."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_asyncio

from assistant.web.limits import Limit, RateLimiter
from assistant.web.live import LiveHub, RedisLiveHub
from connectors.claims import Turns
from tests.shared_services import redis_server


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


async def test_an_event_published_on_one_gateway_reaches_the_others_once(redis_url):
    a_client, b_client = redis_asyncio.from_url(redis_url), redis_asyncio.from_url(redis_url)
    a, b = RedisLiveHub(a_client), RedisLiveHub(b_client)
    await a.start()
    await b.start()
    try:
        on_a, on_b = a.subscribe(), b.subscribe()
        a.publish({"type": "message", "conversation": "c-1", "direction": "in"})
        assert await asyncio.wait_for(on_b.get(), 5) == {"type": "message", "conversation": "c-1", "direction": "in"}
        assert await asyncio.wait_for(on_a.get(), 1) == {"type": "message", "conversation": "c-1", "direction": "in"}
        await asyncio.sleep(0.3)
        assert on_a.empty() and on_b.empty()  # its own event is not delivered twice
        lonely = LiveHub()  # without Redis, another process sees nothing
        mine = lonely.subscribe()
        a.publish({"type": "queue"})
        await asyncio.sleep(0.3)
        assert mine.empty()
    finally:
        await a.close()
        await b.close()
        await a_client.aclose()
        await b_client.aclose()


async def test_rate_limits_are_shared_through_redis(redis_url):
    one, two = RateLimiter(redis_url, "secret"), RateLimiter(redis_url, "secret")
    limit = Limit("test-shared", "3/minute")
    assert [await (one if i % 2 else two).hit((limit, "10.0.0.1")) for i in range(3)] == [0, 0, 0]
    assert await one.hit((limit, "10.0.0.1")) > 0 and await two.hit((limit, "10.0.0.1")) > 0
    assert await one.hit((limit, "10.0.0.2")) == 0


async def test_a_conversations_turn_is_one_at_a_time_across_gateways(redis_url):
    a_client, b_client = redis_asyncio.from_url(redis_url), redis_asyncio.from_url(redis_url)
    a, b = Turns(a_client, wait=10, ttl=1.0), Turns(b_client, wait=10, ttl=1.0)
    inside: list[str] = []
    overlap = False

    async def work(turns: Turns, name: str) -> None:
        nonlocal overlap
        async with turns.turn(42):
            overlap = overlap or bool(inside)
            inside.append(name)
            await asyncio.sleep(1.5)  # longer than the lock's life: renewed while held
            inside.remove(name)

    try:
        await asyncio.gather(work(a, "a"), work(b, "b"))
        assert not overlap
    finally:
        await a_client.aclose()
        await b_client.aclose()


async def test_a_rasa_server_that_dies_holding_a_conversations_lock_does_not_stall_the_next(redis_url):
    """The dead server's ticket in Rasa's Redis lock store is dropped before the message goes on, so
    the next Rasa server takes the conversation at once instead of waiting out a ticket that may end
    after its own (rasa/core/lock_store.py then waits for ever)."""
    import aiohttp
    from aiohttp import web

    from connectors.rasa_client import RasaPool, rasa_lock_releaser
    from tests.conftest import serve

    client = redis_asyncio.from_url(redis_url)
    key = "dasi:lock:conv-7"  # what assistant/cli/supervisor.py's lock store settings make Rasa write
    seen: list[bool] = []

    async def dies(request: web.Request) -> web.StreamResponse:
        await client.set(key, '{"conversation_id": "conv-7", "tickets": [{"number": 0, "expires": 9e9}]}')
        assert request.transport is not None
        request.transport.close()  # killed mid-request: the connection drops, the lock stays
        return web.Response()

    async def answers(request: web.Request) -> web.Response:
        seen.append(bool(await client.exists(key)))
        return web.json_response([{"text": "답변"}])

    def app(handler) -> web.Application:
        a = web.Application()
        a.router.add_post("/webhooks/rest/webhook", handler)
        return a

    try:
        async with serve(app(dies)) as dead, serve(app(answers)) as alive, aiohttp.ClientSession() as http:
            kept = RasaPool([dead, alive])  # without the release: the next server finds the lock
            assert await kept.ask(http, "conv-7", "안녕", {}, 5) == [{"text": "답변"}]
            released = RasaPool([dead, alive], release_lock=rasa_lock_releaser(client))
            assert await released.ask(http, "conv-7", "안녕", {}, 5) == [{"text": "답변"}]
        assert seen == [True, False]
    finally:
        await client.aclose()
