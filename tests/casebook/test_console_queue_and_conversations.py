"""The console's JSON API and websockets in the real gateway app, on SQLite and PostgreSQL: the claim
race, the queue order, the whole handoff (reply, note, transfer, release, close) as the person sees it,
replies through the outbox, canned replies, the live websockets, and the router keeping Rasa quiet while
a counsellor holds the conversation."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.conversations import service as conv_service
from casebook.models import Assignment, AuditEntry, ConversationEvent, User
from casebook.staff import accounts
from connectors.gateway import create_app
from tests.casebook.console_helpers import error, path, queued
from tests.conftest import free_port, serve
from tests.console_client import PASSWORD, Staff

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost


# --- the claim race ----------------------------------------------------------------------------------

async def test_two_counsellors_claiming_at_once_exactly_one_wins(gateway):
    _, staff = gateway
    kim, lee = await staff("kim"), await staff("lee")
    for round_ in range(5):
        conv = await queued(user=f"race-{round_}")
        first, second = await asyncio.gather(kim.post(path(conv, "claim")), lee.post(path(conv, "claim")))
        assert sorted([first.status, second.status]) == [200, 409], round_
        loser = second if first.status == 200 else first
        assert await error(loser) == "already_claimed"
        winner = "kim" if first.status == 200 else "lee"
        async with sessionmaker()() as s:
            c = await conv_service.get_conversation(s, conv)
            assert c.state == "counsellor"
            assert (await s.get(User, c.assignee_id)).login == winner
            assert await s.scalar(select(func.count()).select_from(Assignment)
                                  .where(Assignment.conversation_id == c.id)) == 1
            events = (await s.scalars(select(ConversationEvent).where(
                ConversationEvent.conversation_id == c.id, ConversationEvent.kind == "state"))).all()
            assert [e.detail["new"] for e in events] == ["waiting", "counsellor"]
            assert events[-1].actor == f"user:{winner}"


async def test_claim_race_in_the_service_with_separate_sessions(gateway):
    """The same race one level down: two database sessions, one conditional UPDATE each."""
    from casebook.conversations import queue

    conv_id = await queued(user="service-race")
    async with sessionmaker()() as s:
        kim = await s.scalar(select(User).where(User.login == "kim"))
        lee = await s.scalar(select(User).where(User.login == "lee"))

    async def claim(user: User):
        async with sessionmaker()() as s, s.begin():
            conv = await conv_service.get_conversation(s, conv_id)
            signed = accounts.SignedIn(user.id, user.login, user.name, user.role, "", "")
            return await queue.claim(s, conv, signed)

    results = await asyncio.gather(claim(kim), claim(lee))
    assert sum(r is not None for r in results) == 1


# --- the queue ---------------------------------------------------------------------------------------

async def test_queue_orders_by_risk_then_waiting_time(gateway):
    _, staff = gateway
    ids = {
        "none-old": await queued("none", "p1", waited=900),
        "none-new": await queued("none", "p2", waited=60),
        "high": await queued("high", "p3", channel="instagram", waited=120),
        "critical": await queued("critical", "p4", youth=True, waited=5, text_="살려주세요 " + "가" * 100),
        "medium": await queued("medium", "p5", channel="kakao", waited=30),
    }
    kim = await staff("kim")
    body = await (await kim.get("/api/console/queue")).json()
    order = [next(k for k, v in ids.items() if v == item["id"]) for item in body["waiting"]]
    assert order == ["critical", "high", "medium", "none-old", "none-new"]
    top = body["waiting"][0]
    assert top["youth"] is True and top["channel"] == "web" and top["risk"] == "critical"
    assert 0 <= top["wait_seconds"] < 60 and top["preview"].startswith("살려주세요") and len(top["preview"]) == 60
    assert body["waiting"][1]["channel"] == "instagram" and body["waiting"][3]["wait_seconds"] >= 900
    assert body["held"] == []


# --- the whole handoff, as the person on the web chat sees it ----------------------------------------

async def test_claim_reply_note_transfer_release_close(gateway):
    server, staff = gateway
    session = "webchat-session-1"
    person = aiohttp.ClientSession()
    base = str(server.make_url("")).rstrip("/")

    async def say(text_: str) -> dict:
        async with person.post(f"{base}/api/webchat/messages", json={"session": session, "text": text_}) as r:
            return await r.json()

    async def seen() -> list[dict]:
        async with person.get(f"{base}/api/webchat/messages", params={"session": session, "after": "0"}) as r:
            return (await r.json())["messages"]

    try:
        assert (await say("사람이랑 이야기하고 싶어요"))["state"] == "waiting"  # the bot is down: queued
        kim, lee, park = await staff("kim"), await staff("lee"), await staff("park")
        conv = (await (await kim.get("/api/console/queue")).json())["waiting"][0]["id"]

        assert (await kim.post(path(conv, "messages"), {"text": "안녕하세요"})).status == 409  # claim first
        assert (await kim.post(path(conv, "claim"))).status == 200
        resp = await kim.post(path(conv, "messages"), {"text": "상담원 김입니다. 지금 안전한 곳에 계신가요?"})
        assert resp.status == 201
        assert (await kim.post(path(conv, "notes"), {"text": "선불금 문제, 법률지원 연계 검토"})).status == 201
        assert (await kim.post(path(conv, "messages"), {"text": " "})).status == 400

        texts = [(m["author"], m["text"]) for m in await seen()]
        assert ("system", "상담원이 연결되었습니다. 편하게 이야기해 주세요.") in texts
        assert ("counsellor", "상담원 김입니다. 지금 안전한 곳에 계신가요?") in texts
        assert not any("법률지원" in t for _, t in texts)  # a private note never reaches the person

        answered = await say("네 집이에요")
        assert answered["state"] == "counsellor" and answered["replies"] == []  # the bot stays quiet

        detail = await (await kim.get(path(conv))).json()
        assert [m["author"] for m in detail["messages"]][-3:] == ["system", "counsellor", "user"]
        assert detail["notes"][0]["text"] == "선불금 문제, 법률지원 연계 검토"
        assert detail["conversation"]["mine"] and detail["conversation"]["reply_window"]["kind"] == "open"

        resp = await kim.post(path(conv, "transfer"), {"to": "lee", "note": "야간 담당에게 전달"})
        assert resp.status == 200
        assert (await kim.post(path(conv, "messages"), {"text": "아직 저예요"})).status == 403
        assert (await kim.get(path(conv))).status == 200  # held before: still readable
        assert (await lee.post(path(conv, "messages"), {"text": "이어서 도와드릴게요"})).status == 201
        bad = await lee.post(path(conv, "transfer"), {"to": "choi"})  # an editor takes no conversations
        assert bad.status == 400 and await error(bad) == "invalid_target"

        assert (await lee.post(path(conv, "release"))).status == 200
        assert (await lee.post(path(conv, "release"))).status == 403  # no longer holds it
        assert (await park.post(path(conv, "close"))).status == 200  # a supervisor may close any
        assert (await park.post(path(conv, "close"))).status == 409
        texts = [m["text"] for m in await seen()]
        assert any(t.startswith("다른 상담원이 이어서") for t in texts)
        assert any(t.startswith("상담원과의 대화가 끝나 이제 챗봇이 답해요") for t in texts)
        assert any(t.startswith("상담이 종료되었어요") for t in texts)  # shown even though it is closed

        async with sessionmaker()() as s:
            c = await conv_service.get_conversation(s, conv)
            states = [(e.detail.get("old"), e.detail.get("new"), e.actor) for e in (await s.scalars(
                select(ConversationEvent).where(ConversationEvent.conversation_id == c.id,
                                                ConversationEvent.kind == "state").order_by(ConversationEvent.id)))]
            assert states[1:] == [("waiting", "counsellor", "user:kim"), ("counsellor", "bot", "user:lee"),
                                  ("bot", "closed", "user:park")]
            actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.record_id == conv)
                                       .order_by(AuditEntry.id))).all()
            assert {"queue.view"} <= set((await s.scalars(select(AuditEntry.action))).all())
            assert {"conversation.claim", "conversation.reply", "conversation.note", "conversation.transfer",
                    "conversation.release", "conversation.close", "conversation.view"} <= set(actions)
            entries = (await s.scalars(select(AuditEntry))).all()
            dumped = json.dumps([e.detail for e in entries], ensure_ascii=False)
            assert "안전한 곳" not in dumped and "법률지원" not in dumped  # no text in the audit log
            assert all(e.at and e.actor for e in entries) and any(e.ip == "127.0.0.1" for e in entries)

        audit = await (await park.get("/api/console/audit?limit=500")).json()
        assert any(e["action"] == "conversation.claim" and e["actor"] == "user:kim" for e in audit["entries"])
    finally:
        await person.close()


async def test_replies_on_other_channels_go_through_the_outbox(gateway):
    """Instagram is not configured here, so the outbox cannot send: the reply is marked failed and the
    console hears of it live, never dropped silently."""
    server, staff = gateway
    conv = await queued(channel="instagram", user="insta-user-1")
    kim = await staff("kim")
    ws = await kim.http.ws_connect(kim.base + "/api/console/ws")
    try:
        assert (await kim.post(path(conv, "claim"))).status == 200
        sent = await kim.post(path(conv, "messages"), {"text": "상담원입니다"})
        assert sent.status == 201
        mine = (await sent.json())["message"]["id"]
        # Other messages of the conversation (a notice on claiming) may fail first: wait for this one's.
        failed = await asyncio.wait_for(_next(ws, "delivery_failed", message_id=mine), 10)
        assert failed["conversation"] == conv and failed["channel"] == "instagram"
        detail = await (await kim.get(path(conv))).json()
        reply = next(m for m in detail["messages"] if m["id"] == mine)
        assert reply["delivery"] == "failed"
        assert detail["conversation"]["reply_window"]["kind"] == "open"  # the person wrote just now
    finally:
        await ws.close()


async def test_canned_replies_come_from_the_knowledge_base(gateway):
    _, staff = gateway
    kim = await staff("kim")
    body = await (await kim.get("/api/console/canned?q=선불금")).json()
    assert body["replies"] and all(r["title"] and r["text"] for r in body["replies"])
    assert any("선불금" in r["text"] or "선불금" in r["title"] for r in body["replies"])


# --- live: websockets and the router ----------------------------------------------------------------

async def test_websockets_need_a_session_and_carry_only_what_the_user_may_see(gateway):
    server, staff = gateway
    base = str(server.make_url("")).rstrip("/")
    signed_out = await staff()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await signed_out.http.ws_connect(f"{base}/api/console/ws")
    assert refused.value.status == 401
    choi = await staff("choi")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await choi.http.ws_connect(f"{base}/api/console/ws")
    assert refused.value.status == 403
    kim, lee = await staff("kim"), await staff("lee")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await kim.http.ws_connect(f"{base}/api/console/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403

    kim_ws = await kim.http.ws_connect(f"{base}/api/console/ws")
    lee_ws = await lee.http.ws_connect(f"{base}/api/console/ws")
    person = aiohttp.ClientSession()
    try:
        async with person.post(f"{base}/api/webchat/messages",
                               json={"session": "live-session-1", "text": "도와주세요"}):
            pass
        first = await asyncio.wait_for(_next(kim_ws, "message"), 5)  # queued (the bot is down)
        assert first["state"] == "waiting" and "text" not in first
        conv = first["conversation"]
        chat_ws = await person.ws_connect(f"{base}/api/webchat/ws?session=live-session-1")
        assert (await kim.post(path(conv, "claim"))).status == 200
        await _drain(lee_ws)
        assert (await kim.post(path(conv, "messages"), {"text": "상담원입니다"})).status == 201
        nudge = await asyncio.wait_for(_next(chat_ws, "message"), 5)
        assert nudge == {"type": "message", "state": "counsellor"}  # a nudge, no text
        # Lee may not read Kim's conversation: only "the queue changed", nothing about it.
        for event in await _drain(lee_ws):
            assert event == {"type": "queue"}
        await chat_ws.send_str(json.dumps({"type": "typing"}))
        typing = await asyncio.wait_for(_next(kim_ws, "typing"), 5)
        assert typing["who"] == "user" and typing["conversation"] == conv
        await chat_ws.close()
    finally:
        await kim_ws.close()
        await lee_ws.close()
        await person.close()


async def _next(ws, kind: str, **match) -> dict:
    while True:
        event = await ws.receive_json()
        if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
            return event


async def _drain(ws, wait: float = 0.5) -> list[dict]:
    events = []
    while True:
        try:
            events.append(await asyncio.wait_for(ws.receive_json(), wait))
        except TimeoutError:
            return events


@pytest.fixture
async def fake_rasa():
    """A stand-in Rasa REST channel that counts what it is asked."""
    asked: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        asked.append((await request.json())["message"])
        return web.json_response([{"recipient_id": "x", "text": "챗봇 답변이에요."}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    async with serve(app) as url:
        yield url, asked


async def test_rasa_is_not_asked_while_a_counsellor_holds_the_conversation(env, database_url, fake_rasa):
    rasa_url, asked = fake_rasa
    env(DASI_DATABASE_URL=database_url, DASI_RASA_URL=rasa_url, DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    upgrade()
    async with sessionmaker()() as s, s.begin():
        await accounts.create_user(s, "kim", "김", "counsellor", PASSWORD)
    server = TestServer(create_app(get_settings()))
    await server.start_server()
    kim = Staff(str(server.make_url("")).rstrip("/"))
    try:
        conv = await queued(user="quiet-session-1")
        assert (await kim.login("kim")).status == 200 and (await kim.post(path(conv, "claim"))).status == 200
        async with kim.http.post(kim.base + "/api/webchat/messages",
                                 json={"session": "quiet-session-1", "text": "혹시 선불금도 갚아야 하나요?"}) as r:
            assert (await r.json())["replies"] == []  # the counsellor sees the raised risk; no bot text
        async with kim.http.post(kim.base + "/api/webchat/messages",
                                 json={"session": "quiet-session-1", "text": "모텔에 갇혀 있어요 살려주세요"}) as r:
            assert "112" in (await r.json())["replies"][0]["text"]  # a threat to life still gets its number
        assert asked == []
        assert (await kim.post(path(conv, "release"))).status == 200
        async with kim.http.post(kim.base + "/api/webchat/messages",
                                 json={"session": "quiet-session-1", "text": "고마워요"}) as r:
            # the bot answers again (after a one-line reminder of 112, which the conversation still carries)
            assert [m["text"] for m in (await r.json())["replies"]][-1] == "챗봇 답변이에요."
        assert asked == ["고마워요"]
    finally:
        await kim.http.close()
        await server.close()
