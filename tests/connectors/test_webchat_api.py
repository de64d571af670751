"""The web chat API in the real gateway app, with Rasa and the action server not running:
input checks, the safety screen, storage before answering, and the fallback that is never silent."""

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from connectors.gateway import create_app
from tests.conftest import free_port


@pytest.fixture
def client(rasa_down_client):
    return rasa_down_client


async def post(client, payload, **kw):
    return await client.post("/api/webchat/messages", json=payload, **kw)


@pytest.mark.parametrize("body,status,code", [
    ({"text": "안녕"}, 400, "invalid_session"),
    ({"session": "short", "text": "안녕"}, 400, "invalid_session"),
    ({"session": "abcdefgh12"}, 400, "invalid_text"),
    ({"session": "abcdefgh12", "text": "   "}, 400, "invalid_text"),
    ({"session": "abcdefgh12", "text": 5}, 400, "invalid_text"),
    ({"session": "abcdefgh12", "text": "가" * 2001}, 413, "text_too_long"),
    ({"session": "abcdefgh12", "text": "안녕", "id": "bad id!"}, 400, "invalid_id"),
    ([1, 2], 400, "invalid_body"),
])
async def test_bad_input_is_a_json_4xx(client, body, status, code):
    resp = await post(client, body)
    assert resp.status == status
    assert (await resp.json())["error"] == code


async def test_non_json_and_wrong_content_type_and_oversize(client):
    resp = await client.post("/api/webchat/messages", data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    resp = await client.post("/api/webchat/messages", data="session=a&text=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415 and (await resp.json())["error"] == "unsupported_media_type"
    resp = await client.post("/api/webchat/messages", data=b"{" + b" " * 70000 + b"}",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413 and "error" in await resp.json()


async def test_rasa_down_still_gives_the_emergency_numbers_and_queues_for_a_person(client):
    resp = await post(client, {"session": "sess-rasa-down", "text": "선불금이 있는데 어떻게 해야 하나요"})
    assert resp.status == 200
    data = await resp.json()
    joined = " ".join(r["text"] for r in data["replies"])
    for number in ("112", "109", "02-814-3660"):
        assert number in joined
    assert data["state"] == "waiting" and data["risk"] == "none"


async def test_safety_screen_answers_without_rasa_and_raises_risk(client):
    data = await (await post(client, {"session": "sess-danger-1", "text": "ㅅㄹㅈㅅㅇ 방에 갇혀있어요"})).json()
    assert data["risk"] == "critical" and data["state"] == "waiting"
    assert "112" in data["replies"][0]["text"]
    data = await (await post(client, {"session": "sess-selfharm", "text": "다 끝내고 싶어요"})).json()
    assert data["risk"] == "critical" and "109" in data["replies"][0]["text"]


async def test_every_message_is_stored_once_and_a_retry_gets_the_same_answer(client):
    payload = {"session": "sess-retry-01", "text": "여권을 뺏겼어요", "id": "m1"}
    first = await (await post(client, payload)).json()
    second = await (await post(client, payload)).json()
    assert first["replies"] == second["replies"] and first["risk"] == "high"
    async with sessionmaker()() as s:
        inbound = await s.scalar(text("SELECT count(*) FROM messages WHERE direction = 'in'"))
        outbound = await s.scalar(text("SELECT count(*) FROM messages WHERE direction = 'out'"))
    assert inbound == 1 and outbound == len(first["replies"])


async def test_users_cannot_trigger_intents_by_typing_slash_commands():
    from connectors.router import rasa_text

    assert rasa_text("/request_counsellor") == "/request_counsellor"
    assert rasa_text('/ask_kb{"article": "centre-contact"}') == '/ask_kb{"article": "centre-contact"}'
    assert rasa_text("/emergency_danger") == "emergency_danger"
    assert rasa_text('/ask_kb{"article": oops}') == 'ask_kb{"article": oops}'
    assert rasa_text("///") == "?"


async def test_polling_returns_replies_after_an_id(client):
    await post(client, {"session": "sess-polling1", "text": "살려주세요"})
    resp = await client.get("/api/webchat/messages", params={"session": "sess-polling1", "after": "0"})
    data = await resp.json()
    assert data["state"] == "waiting" and len(data["messages"]) == 2
    last = data["messages"][-1]["id"]
    data = await (await client.get("/api/webchat/messages",
                                   params={"session": "sess-polling1", "after": str(last)})).json()
    assert data["messages"] == []
    resp = await client.get("/api/webchat/messages", params={"session": "x", "after": "0"})
    assert resp.status == 400


async def test_healthz_names_the_failing_components(client):
    resp = await client.get("/healthz")
    assert resp.status == 503
    data = await resp.json()
    assert data["components"]["db"] == "ok"
    assert data["components"]["rasa"].startswith("down") and data["components"]["actions"].startswith("down")
    assert set(data["failing"]) >= {"rasa", "actions"}


async def test_database_down_still_answers_a_person_in_danger(env, tmp_path):
    env(DASI_DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'x' / 'db.sqlite'}",
        DASI_RASA_URL=f"http://127.0.0.1:{free_port()}")
    async with TestClient(TestServer(create_app(get_settings()))) as c:
        data = await (await post(c, {"session": "sess-nodb-01", "text": "죽고 싶어요"})).json()
        assert "109" in data["replies"][0]["text"] and data["risk"] == "critical"
        data = await (await post(c, {"session": "sess-nodb-01", "text": "센터 위치가 어디예요"})).json()
        assert "112" in data["replies"][0]["text"]


async def test_the_chat_page_has_a_quick_exit(client):
    page = await (await client.get("/")).text()
    assert "빠른 나가기" in page and 'lang="ko"' in page
    script = await (await client.get("/static/chat/chat.js")).text()
    assert "location.replace" in script and "sessionStorage.clear" in script
