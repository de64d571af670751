"""Flood limits on the anonymous web chat, in the real gateway app (security review, finding 2): per
session, per address, new conversations per address, open websockets; a refused message still gets
the emergency numbers and nothing is stored or queued."""

import asyncio

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from connectors.gateway import create_app
from connectors.web import throttle
from tests.conftest import free_port


@pytest.fixture
async def make_client(env):
    """A gateway with Rasa down; extra settings (e.g. DASI_TRUSTED_PROXIES) as keyword arguments."""
    clients: list[TestClient] = []

    async def make(**settings: str) -> TestClient:
        env(DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}",
            DASI_RASA_TIMEOUT="1", **settings)
        upgrade()
        c = TestClient(TestServer(create_app(get_settings())))
        await c.start_server()
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()


async def post(client, session: str, text_: str = "도와주세요", **kw):
    return await client.post("/api/webchat/messages", json={"session": session, "text": text_}, **kw)


async def count(table: str) -> int:
    async with sessionmaker()() as s:
        return await s.scalar(text(f"SELECT count(*) FROM {table}"))


async def until_open(client, n: int) -> None:
    """The server lets a slot go when it notices the close: wait for that (at most 2 s)."""
    for _ in range(200):
        if len(client.app[throttle.SOCKETS]) == n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(client.app[throttle.SOCKETS])} websockets still open, expected {n}")


def assert_emergency(body: dict) -> None:
    assert "112" in body["message"] and "109" in body["message"]
    joined = " ".join(r["text"] for r in body["replies"])
    assert "112" in joined and "109" in joined


async def test_a_flood_of_new_sessions_opens_only_a_few_conversations(make_client):
    client = await make_client()
    allowed = client.app[throttle.NEW_SESSIONS_PER_IP].rate.amount
    statuses = []
    for i in range(60):
        resp = await post(client, f"flood-session-{i:03d}", "살려주세요 감금당했어요")
        statuses.append(resp.status)
        if resp.status == 429:
            body = await resp.json()
            assert body["error"] == "rate_limited" and int(resp.headers["Retry-After"]) > 0
            assert_emergency(body)
    assert statuses.count(200) == allowed and statuses.count(429) == 60 - allowed
    assert await count("conversations") == allowed  # the refused ones are not in the queue
    # An existing conversation can still write: its session is not new.
    assert (await post(client, "flood-session-000", "아직 여기 있어요")).status == 200


async def test_a_refused_message_still_gets_the_risk_assessments_emergency_text(make_client):
    client = await make_client()
    for i in range(client.app[throttle.NEW_SESSIONS_PER_IP].rate.amount):
        assert (await post(client, f"opener-session-{i:02d}")).status == 200
    before = await count("messages")
    resp = await post(client, "late-session-01", "다 끝내고 싶어요")
    assert resp.status == 429
    body = await resp.json()
    assert_emergency(body)
    assert body["risk"] == "critical"
    assert any("자살예방상담전화 109" in r["text"] for r in body["replies"])  # the self-harm text itself
    assert await count("messages") == before  # nothing stored

    # A flood keeps the model busy: then the lexicon alone picks the text, still without a pause.
    busy = client.app[throttle.ASSESSING]
    for _ in range(throttle.REFUSED_ASSESSMENTS):
        await busy.acquire()
    body = await (await post(client, "late-session-02", "죽고 싶어요")).json()
    assert any("자살예방상담전화 109" in r["text"] for r in body["replies"]) and body["risk"] != "none"
    assert await count("messages") == before


async def test_one_session_may_send_only_so_many_messages_a_minute(make_client):
    client = await make_client()
    allowed = throttle.PER_SESSION.rate.amount
    for _ in range(allowed):
        assert (await post(client, "chatty-session-1", "안녕하세요")).status == 200
    stored = await count("messages")
    resp = await post(client, "chatty-session-1", "안녕하세요")
    assert resp.status == 429
    assert_emergency(await resp.json())
    assert await count("messages") == stored


async def test_one_address_may_send_only_so_many_messages_a_minute(make_client):
    client = await make_client()
    per_ip, per_session = client.app[throttle.PER_IP].rate.amount, throttle.PER_SESSION.rate.amount
    sent = 0
    for i in range(per_ip // per_session + 1):
        for _ in range(min(per_session, per_ip - sent)):
            assert (await post(client, f"shared-wifi-{i:02d}")).status == 200
            sent += 1
    assert sent == per_ip
    assert (await post(client, "shared-wifi-00")).status == 429


async def test_addresses_behind_a_trusted_proxy_are_counted_apart_and_spoofing_does_not_help(make_client):
    client = await make_client()  # no trusted proxy: X-Forwarded-For is ignored
    allowed = client.app[throttle.NEW_SESSIONS_PER_IP].rate.amount
    for i in range(allowed):
        assert (await post(client, f"spoofed-session-{i:02d}",
                           headers={"X-Forwarded-For": f"203.0.113.{i}"})).status == 200
    assert (await post(client, "spoofed-session-xx", headers={"X-Forwarded-For": "203.0.113.99"})).status == 429

    client = await make_client(DASI_TRUSTED_PROXIES="127.0.0.1")
    one = {"X-Forwarded-For": "198.51.100.7"}
    for i in range(allowed):
        assert (await post(client, f"proxied-session-{i:02d}", headers=one)).status == 200
    assert (await post(client, "proxied-session-xx", headers=one)).status == 429
    # Someone else behind the same proxy is not refused: the hop the proxy added counts, not what the
    # client wrote before it.
    assert (await post(client, "proxied-other-01",
                       headers={"X-Forwarded-For": "198.51.100.7, 198.51.100.8"})).status == 200


async def test_open_websockets_are_bounded_per_address_and_in_total(make_client):
    client = await make_client()
    per_ip = throttle.SOCKETS_PER_IP
    sockets = [await client.ws_connect(f"/api/webchat/ws?session=socket-session-{i:02d}") for i in range(per_ip)]
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/api/webchat/ws?session=socket-session-xx")
    assert refused.value.status == 429
    await sockets.pop().close()
    await until_open(client, per_ip - 1)
    sockets.append(await client.ws_connect("/api/webchat/ws?session=socket-session-yy"))  # a slot is free again
    for ws in sockets:
        await ws.close()
    await until_open(client, 0)

    client.app[throttle.SOCKETS].total = 2
    sockets = [await client.ws_connect(f"/api/webchat/ws?session=socket-total-{i:02d}") for i in range(2)]
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/api/webchat/ws?session=socket-total-xx")
    assert refused.value.status == 429
    for ws in sockets:
        await ws.close()


async def test_the_per_address_limits_are_settings(make_client):
    """A shelter's wifi puts many people behind one address: the operator raises the limits."""
    client = await make_client(DASI_WEBCHAT_RATE_PER_ADDRESS="3/minute", DASI_WEBCHAT_NEW_SESSIONS_PER_ADDRESS="2/hour")
    assert [(await post(client, f"config-session-{i}")).status for i in range(3)] == [200, 200, 429]
