"""Messages in another language than Korean, in the real gateway app with Rasa down (they never reach it):
the emergency reply in the person's language with 1577-1366, the translated-knowledge seam (a stand-in
here; the knowledge half provides the real one), "a counsellor will answer" and the queue with the
language, the language chosen in the chat, and Korean messages going to Rasa as before.

The risk assessor here is the real one (its lexicon; the model when built) with one extra floor phrase
per test, so the routing is tested whatever the model says; tests/e2e/test_languages_e2e.py runs the
trained model through the whole stack."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from assistant.core.risk import Risk
from assistant.safety.risk.assess import Assessment, RiskAssessor
from assistant.store.db import sessionmaker
from casebook.models import Conversation, ConversationEvent
from connectors.appkeys import ROUTER

CRISIS = {"vi": "chủ quán khóa cửa, em bị nhốt", "th": "เขาล็อกประตู หนูออกไม่ได้",
          "ru": "меня заперли в комнате, помогите", "tl": "kinulong nila ako sa kwarto",
          "zh": "他把我锁在房间里", "en": "he locked me in the room, help"}
CRISIS_WORD = {"vi": "Nếu bạn đang gặp nguy hiểm", "th": "ถ้าตอนนี้คุณตกอยู่ในอันตราย",
               "ru": "Если вам сейчас грозит опасность", "tl": "Kung nasa panganib ka ngayon",
               "zh": "如果你现在有危险", "en": "If you are in danger now"}


class FlooredAssessor(RiskAssessor):
    """The real assessor, plus: the CRISIS messages are danger (as a trained model would say)."""

    def __init__(self, inner: RiskAssessor) -> None:
        super().__init__(inner.model, inner.lexicon)

    def assess(self, text, context=(), carried=None, intent=None) -> Assessment:
        a = super().assess(text, context, carried, intent)
        if text in CRISIS.values():
            return replace(a, level=Risk.critical.value, categories=("danger",), reasons=("test:floor",),
                           context=replace(a.context, alarmed=("danger",)))
        return a


@pytest.fixture
def client(rasa_down_client):
    router = rasa_down_client.server.app[ROUTER]
    router.assessor = FlooredAssessor(router.assessor)
    asked: list[tuple[str, str]] = []

    def answer_in_language(question: str, lang: str):  # the stand-in for the knowledge half's seam
        asked.append((question, lang))
        if "passport" in question or "hộ chiếu" in question:
            return {"text": f"[{lang}] article: passport",
                    "buttons": [{"title": "x", "payload": "/request_counsellor"}]}
        return None

    router.translated_answers = answer_in_language
    rasa_down_client.asked = asked
    return rasa_down_client


async def say(client, session: str, text: str, **extra) -> dict:
    resp = await client.post("/api/webchat/messages", json={"session": session, "text": text, **extra})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def conversation(session_id: str) -> tuple[Conversation, list[ConversationEvent]]:
    from assistant.store.crypto import blind_index

    async with sessionmaker()() as s:
        conv = (await s.scalars(select(Conversation).order_by(Conversation.id.desc()))).first()
        events = (await s.scalars(select(ConversationEvent).where(ConversationEvent.conversation_id == conv.id)
                                  .order_by(ConversationEvent.id))).all()
    assert conv is not None and blind_index  # the latest conversation is this test's (one per test)
    return conv, list(events)


@pytest.mark.parametrize("lang", list(CRISIS))
async def test_a_crisis_in_each_language_gets_its_emergency_text_and_is_queued_with_its_language(client, lang):
    body = await say(client, f"crisis-{lang}-0001", CRISIS[lang])
    text = "\n".join(r["text"] for r in body["replies"])
    assert CRISIS_WORD[lang] in text and "112" in text and "1577-1366" in text and "02-814-3660" in text
    assert "지금 위험하면" not in text  # not the Korean
    assert body["risk"] == "critical" and body["state"] == "waiting" and body["language"] == lang
    conv, events = await conversation(f"crisis-{lang}-0001")
    assert conv.language == lang and conv.state == "waiting" and not conv.language_chosen
    assert "09:00-18:00" not in text  # an alarm is not told to wait for the hours (it is queued already)
    assert any(e.kind == "language" and e.detail["new"] == lang for e in events)


async def test_a_question_the_translated_articles_answer_gets_that_answer(client):
    body = await say(client, "question-vi-0001", "chủ giữ hộ chiếu của em có được không?")
    assert [r["text"] for r in body["replies"]] == ["[vi] article: passport"]
    assert "buttons" not in body["replies"][0]  # the seam's own counsellor button is not repeated
    assert client.asked == [("chủ giữ hộ chiếu của em có được không?", "vi")]
    conv, _ = await conversation("question-vi-0001")
    assert conv.language == "vi" and conv.state == "bot"


@pytest.mark.parametrize(("lang", "text", "words"), [
    ("th", "ฉันอยากรู้เรื่องวีซ่าค่ะ ทำงานที่ไหนได้บ้าง", "เจ้าหน้าที่ให้คำปรึกษาจะตอบคุณที่นี่"),
    ("ru", "какие документы нужны для визы", "Консультант ответит вам здесь"),
    ("tl", "paano po ako makakapag-aral ng Korean dito", "Sasagutin ka ng counsellor dito"),
])
async def test_below_the_bar_a_counsellor_will_answer_and_the_conversation_waits_with_its_language(
        client, lang, text, words):
    body = await say(client, f"ordinary-{lang}-01", text)
    reply = "\n".join(r["text"] for r in body["replies"])
    assert words in reply and "1577-1366" in reply and "09:00-18:00" in reply
    assert body["state"] == "waiting" and body["language"] == lang
    conv, events = await conversation(f"ordinary-{lang}-01")
    assert conv.language == lang and conv.state == "waiting"
    assert [e.detail.get("reason") for e in events if e.kind == "state"] == ["language"]
    again = await say(client, f"ordinary-{lang}-01", text + "?")  # while it waits: a short line, not all again
    assert "09:00-18:00" not in again["replies"][0]["text"] and again["replies"][0]["text"]


async def test_the_language_chosen_in_the_chat_is_kept_and_gets_the_welcome(client):
    body = await say(client, "chosen-th-00001", "/greet", lang="th")
    assert "สวัสดีค่ะ" in body["replies"][0]["text"] and body["replies"][0]["buttons"][0]["title"] == "เจ้าหน้าที่"
    body = await say(client, "chosen-th-00001", "what documents do I need for a visa", lang="th")
    assert "เจ้าหน้าที่ให้คำปรึกษาจะตอบคุณที่นี่" in body["replies"][0]["text"]  # English written, Thai chosen
    conv, _ = await conversation("chosen-th-00001")
    assert conv.language == "th" and conv.language_chosen


async def test_korean_still_goes_to_the_korean_assistant(client):
    body = await say(client, "korean-000000001", "선불금 꼭 갚아야 하나요?")
    text = "\n".join(r["text"] for r in body["replies"])
    assert "자동 답변이 잠시 어려워요" in text  # Rasa is down here: its Korean fallback, as before
    assert client.asked == []
    conv, events = await conversation("korean-000000001")
    assert conv.language == "ko" and [e.detail.get("reason") for e in events if e.kind == "state"] == [
        "rasa_unavailable"]


async def test_a_language_not_offered_is_refused_and_nothing_is_stored(client):
    resp = await client.post("/api/webchat/messages", json={"session": "badlang-0001", "text": "hi", "lang": "xx"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_lang"
    async with sessionmaker()() as s:
        assert (await s.scalars(select(Conversation))).first() is None


@pytest.mark.parametrize(("lang", "title", "item"), [
    ("vi", "Quyền riêng tư", "Điều 30"), ("zh", "隐私说明", "第30条"), ("ko", "개인정보 안내", "제30조")])
async def test_the_privacy_notice_in_each_language(client, lang, title, item):
    resp = await client.get("/privacy", params={"lang": lang})
    page = await resp.text()
    assert resp.status == 200 and f"<h1>{title}</h1>" in page and item in page and f'lang="{lang}"' in page
    assert "<script" not in page and "style=" not in page and "<style" not in page  # the CSP forbids them
    assert resp.headers["Content-Security-Policy"] and resp.headers["Cache-Control"] == "no-store"
    words = await (await client.get("/api/webchat/words", params={"lang": lang})).json()
    assert words["lang"] == lang and set(words["languages"]) >= {"ko", "en", "vi", "th", "zh", "ru", "tl"}


async def test_the_rate_limit_refusal_is_in_the_persons_language(make_refusing_client):
    client = await make_refusing_client()
    for _ in range(2):
        resp = await client.post("/api/webchat/messages", json={"session": "limited-00001", "text": "xin chào bạn",
                                                                "lang": "vi"})
    body = await resp.json()
    assert resp.status == 429 and body["message"].startswith("Có quá nhiều tin nhắn")
    assert "112" in " ".join(r["text"] for r in body["replies"])


@pytest.fixture
async def make_refusing_client(env):
    from aiohttp.test_utils import TestClient, TestServer

    from assistant.core.settings import get_settings
    from assistant.store.migrate import upgrade
    from connectors.gateway import create_app
    from tests.conftest import free_port
    clients = []

    async def make():
        env(DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}",
            DASI_RASA_TIMEOUT="1", DASI_WEBCHAT_RATE_PER_ADDRESS="1/minute")
        upgrade()
        c = TestClient(TestServer(create_app(get_settings())))
        await c.start_server()
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()
