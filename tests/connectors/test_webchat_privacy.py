"""What the web chat leaves behind and who may frame it, in the real gateway app (security review,
findings 7 and 9): message ids are keyed hashes, not session tokens; no web chat answer is cached; the
session id comes only from the browser's CSPRNG; the pages carry a strict CSP they satisfy."""

import re

import pytest
from sqlalchemy import text

from assistant.core.settings import get_settings
from assistant.store.db import make_sync_engine, sessionmaker
from assistant.store.migrate import upgrade
from connectors.web.chat import STATIC

SESSION = "a3f9c2d17e4b4f0a9c1d2e3f4a5b6c7d"


@pytest.fixture
def client(rasa_down_client):
    return rasa_down_client


async def test_a_copy_of_the_database_holds_no_session_token(client):
    payload = {"session": SESSION, "text": "여권을 뺏겼어요", "id": "m1"}
    first = await (await client.post("/api/webchat/messages", json=payload)).json()
    second = await (await client.post("/api/webchat/messages", json=payload)).json()
    assert first["replies"] == second["replies"]  # a retry is still recognised and stored once
    async with sessionmaker()() as s:
        ids = (await s.scalars(text("SELECT platform_message_id FROM messages WHERE direction = 'in'"))).all()
        every_value = " ".join(str(v) for row in (await s.execute(text("SELECT * FROM messages"))).all() for v in row)
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{64}", ids[0])
    assert SESSION not in every_value and SESSION[:12] not in every_value


def test_the_session_ids_stored_before_are_forgotten(env):
    upgrade(revision="0007")  # before the web chat keys were hashed
    engine = make_sync_engine(get_settings().database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO conversations (id, public_id, channel, user_key, user_ref, state, risk, "
                              "youth, created_at, updated_at) VALUES (1, 'p1', 'web', 'k', 'r', 'bot', 'none', "
                              "0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            for i, (channel, key) in enumerate([("web", f"{SESSION}:m1"), ("kakao", "k:abc:1"), ("web", "f" * 64)]):
                conn.execute(text("INSERT INTO messages (id, conversation_id, direction, author, channel, "
                                  "platform_message_id, delivery, attempts, created_at) VALUES "
                                  "(:id, 1, 'in', 'user', :channel, :key, 'stored', 0, CURRENT_TIMESTAMP)"),
                             {"id": i + 1, "channel": channel, "key": key})
        upgrade()
        with engine.connect() as conn:
            keys = conn.execute(text("SELECT platform_message_id FROM messages ORDER BY id")).scalars().all()
    finally:
        engine.dispose()
    assert keys == [None, "k:abc:1", "f" * 64]  # only the web chat's raw session ids go


async def test_no_web_chat_answer_may_be_cached(client):
    answers = [
        await client.post("/api/webchat/messages", json={"session": SESSION, "text": "안녕하세요"}),
        await client.get("/api/webchat/messages", params={"session": SESSION, "after": "0"}),
        await client.get("/api/webchat/messages", params={"session": "x", "after": "0"}),  # an error
        await client.post("/api/webchat/messages", data="{not json", headers={"Content-Type": "application/json"}),
        await client.get("/api/webchat/ws", params={"session": SESSION}),  # not a websocket handshake
    ]
    for resp in answers:
        assert resp.headers.get("Cache-Control") == "no-store", (resp.url, resp.status)


async def test_the_session_id_comes_only_from_the_browsers_csprng(client):
    script = await (await client.get("/static/chat/chat.js")).text()
    assert "Math.random" not in script
    assert "crypto.getRandomValues" in script and "crypto.randomUUID" in script
    assert "안전한" in script  # without either, the chat says so (in Korean) and does not start


@pytest.mark.parametrize("path", ["/", "/privacy", "/static/chat/chat.js", "/static/chat/chat.css", "/healthz",
                                  "/no-such-page"])
async def test_the_victim_facing_pages_cannot_be_framed_or_sniffed(client, path):
    """Every answer, in fact (ASVS 3.4.3, 3.4.4, 3.4.6): the chat's pages and files, errors, the rest."""
    resp = await client.get(path)
    assert resp.status in {"/healthz": (200, 503), "/no-such-page": (404,)}.get(path, (200,))  # Rasa is down
    csp = resp.headers["Content-Security-Policy"]
    directives = dict((d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in csp.split(";")) if d)
    assert directives["frame-ancestors"] == "'none'" and directives["default-src"] == "'self'"
    assert directives["object-src"] == directives["base-uri"] == "'none'"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    host = resp.url.host + (f":{resp.url.port}" if resp.url.port else "")
    assert f"ws://{host}" in directives["connect-src"] and f"wss://{host}" in directives["connect-src"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("page", sorted(STATIC.glob("*.html")), ids=lambda p: p.name)
def test_the_pages_satisfy_their_csp(page):
    """No inline script, style, event handler or javascript: URL: the CSP would block them."""
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I)
    assert not re.search(r"<style\b", html, re.I)
    assert not re.search(r"\sstyle\s*=", html, re.I)
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert "javascript:" not in html.lower()
