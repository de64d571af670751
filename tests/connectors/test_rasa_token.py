"""The gateway talks to Rasa with its API token (`?token=`, `rasa run --auth-token`): the REST channel the
router asks and the health check. A stand-in Rasa refuses anything without it, as Rasa's API does. And
when Rasa fails, neither the message nor the token reaches the gateway's log."""
from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from assistant.core.settings import get_settings
from assistant.store.migrate import upgrade
from connectors.gateway import create_app
from connectors.rasa_client import RasaUnavailable, ask_rasa
from tests.conftest import free_port, serve

TOKEN = "rasa-test-token-0123456789"


@pytest.fixture
async def fake_rasa():
    """Rasa's REST channel and /status, both refusing a request without the token (401)."""
    asked: list[str] = []
    state = {"fail": False}

    def authorised(request: web.Request) -> bool:
        return request.query.get("token") == TOKEN

    async def webhook(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"message": "User is not authenticated."}, status=401)
        asked.append((await request.json())["message"])
        if state["fail"]:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response([{"recipient_id": "x", "text": "챗봇 답변이에요."}])

    async def status(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"message": "User is not authenticated."}, status=401)
        return web.json_response({"model_file": "dasi-test.tar.gz"})

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/status", status)
    async with serve(app) as url:
        yield url, asked, state


async def test_ask_rasa_sends_the_token(fake_rasa):
    url, asked, _ = fake_rasa
    async with aiohttp.ClientSession() as http:
        with pytest.raises(RasaUnavailable, match="401"):
            await ask_rasa(http, url, "conv-1", "안녕하세요", {}, 5)
        replies = await ask_rasa(http, url, "conv-1", "안녕하세요", {}, 5, token=TOKEN)
    assert replies == [{"text": "챗봇 답변이에요."}] and asked == ["안녕하세요"]


async def test_the_gateway_sends_the_token_to_rasa_and_logs_no_text(env, tmp_path, fake_rasa, caplog):
    url, asked, state = fake_rasa
    env(DASI_DATABASE_URL=f"sqlite:///{tmp_path / 'gw.db'}", DASI_RASA_URL=url, DASI_RASA_TOKEN=TOKEN,
        DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    upgrade()
    server = TestServer(create_app(get_settings()))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/webchat/messages",
                                 json={"session": "token-session-1", "text": "선불금도 갚아야 하나요?"}) as r:
                assert r.status == 200
                assert "챗봇 답변이에요." in [x["text"] for x in (await r.json())["replies"]]
            async with http.get(f"{base}/healthz") as r:
                assert (await r.json())["components"]["rasa"] == "ok"
            state["fail"] = True
            with caplog.at_level(logging.DEBUG):
                async with http.post(f"{base}/api/webchat/messages",
                                     json={"session": "token-session-1", "text": "비밀로 해 주세요 부탁이에요"}) as r:
                    assert r.status == 200
    finally:
        await server.close()
    assert asked == ["선불금도 갚아야 하나요?", "비밀로 해 주세요 부탁이에요"]
    assert any("assistant unavailable" in rec.getMessage() for rec in caplog.records)
    assert not any("비밀로" in rec.getMessage() or TOKEN in rec.getMessage() for rec in caplog.records)
