"""Kakao skill server: secret header, SkillResponse limits, the 5-second rule with useCallback,
next-utterance delivery, the SSRF guard, dedupe, and counsellor replies (Rasa down: fallback)."""
from __future__ import annotations

import copy
import json

import pytest

from casebook.models import Message
from connectors.kakao import callback_allowed, parse, skill_response
from connectors.kakao.render import MAX_CHARS
from tests.fakes import harness as hz
from tests.fakes.kakao import check_skill_response
from tests.fakes.server import wait_for


@pytest.fixture
def h(env, tmp_path):
    h = hz.start(env, tmp_path)
    yield h
    h.close()


@pytest.fixture
def slow(env, tmp_path):
    """The bot never answers within the budget: the late paths are taken every time."""
    h = hz.start(env, tmp_path, KAKAO_REPLY_BUDGET="0")
    yield h
    h.close()


def skill(name: str, utterance: str | None = None, user: str | None = None, callback: str | None = None) -> dict:
    p = copy.deepcopy(hz.fixture("kakao", name))
    if utterance is not None:
        p["userRequest"]["utterance"] = utterance
    if user is not None:
        p["userRequest"]["user"]["id"] = user
    p["userRequest"].pop("callbackUrl", None)
    if callback:
        p["userRequest"]["callbackUrl"] = callback
    return p


def texts(response: dict) -> str:
    return "\n".join(o["simpleText"]["text"] for o in response["template"]["outputs"] if "simpleText" in o)


@pytest.mark.parametrize("name", hz.fixtures("kakao"))
def test_every_fixture_is_parsed_as_documented(name):
    msg = parse(hz.fixture("kakao", name), now=1_700_000_000)
    [want] = hz.expected("kakao")[name]
    assert {"text": msg.text, "attachments": len(msg.attachments)} == want
    assert msg.channel == "kakao" and msg.platform_message_id.startswith("k:")


@pytest.mark.parametrize("name", [n for n in hz.fixtures("kakao") if n != "text_with_callback.json"])
def test_every_fixture_replayed_gets_a_valid_skill_response_in_time(h, name):
    status, _, body, secs = h.kakao_post(skill(name))
    response = json.loads(body)
    assert status == 200 and check_skill_response(response) is None, response
    assert secs < 5
    if hz.expected("kakao")[name][0]["text"] is None:  # an image alone: kept, short text, not sent to Rasa
        assert "파일" in texts(response)
    else:  # Rasa is down here: the fallback always carries the numbers
        assert "112" in texts(response)
    h.idle()
    assert len(h.messages(direction="in")) == 1
    assert all(m.delivery == "sent" and m.delivered_via == "kakao_response" for m in h.messages(direction="out"))


def test_the_skill_secret_is_required_and_forgeries_store_nothing(h):
    p = skill("text_no_callback.json")
    assert h.kakao_post(p, secret="wrong")[0] == 401
    assert h.post("/webhooks/kakao", json.dumps(p).encode())[0] == 401
    assert h.messages() == []


def test_the_same_utterance_within_the_bucket_is_one_message(h):
    p = skill("text_no_callback.json", utterance="도와주세요")
    first = json.loads(h.kakao_post(p)[2])
    again = json.loads(h.kakao_post(p)[2])
    h.idle()
    assert len(h.messages(direction="in")) == 1
    assert texts(first) and check_skill_response(again) is None


def test_handoff_offers_kakaos_operator_button_and_records_it(h):
    response = json.loads(h.kakao_post(skill("text_no_callback.json"))[2])
    cards = [o["textCard"] for o in response["template"]["outputs"] if "textCard" in o]
    assert cards and cards[0]["buttons"] == [{"action": "operator", "label": "상담직원 연결"}]
    assert any(q["extra"] == {"payload": "/request_counsellor"} for q in response["template"]["quickReplies"])
    h.idle()
    [event] = h.conversation_events("handoff_channel")
    assert event.detail == {"to": "kakao_1on1", "how": "operator_button"}


def test_a_late_answer_goes_through_the_callback(slow):
    url = slow.kakao.callback_url()
    status, _, body, secs = slow.kakao_post(skill("text_with_callback.json", callback=url))
    response = json.loads(body)
    assert status == 200 and response["useCallback"] is True and "template" not in response
    assert secs < 5
    wait_for(lambda: slow.kakao.sent, timeout=15)
    slow.idle()
    [sent] = slow.kakao.sent
    assert check_skill_response(sent["json"]) is None and "112" in texts(sent["json"])
    out = slow.messages(direction="out")
    assert out and all(m.delivery == "sent" and m.delivered_via == "kakao_callback" for m in out)
    assert not slow.kakao.rejected


def test_without_a_callback_the_answer_waits_for_the_next_utterance(slow):
    response = json.loads(slow.kakao_post(skill("text_no_callback.json", utterance="질문이 있어요"))[2])
    assert "112" in texts(response) and "아무 말이나" in texts(response)
    slow.idle()
    waiting = slow.messages(direction="out", delivery="stored")
    assert waiting  # the late answer is kept, not dropped
    nxt = json.loads(slow.kakao_post(skill("text_no_callback.json", utterance="네"))[2])
    assert check_skill_response(nxt) is None
    sent = {m.id for m in slow.messages(direction="out", delivered_via="kakao_response")}
    assert {m.id for m in waiting} <= sent
    assert waiting[0].text.split("\n")[0] in texts(nxt)


def test_callbacks_only_go_to_allowed_hosts(slow):
    evil = "http://169.254.169.254/v1/bots/x/callback/steal"
    response = json.loads(slow.kakao_post(skill("text_with_callback.json", callback=evil))[2])
    assert "useCallback" not in response and "112" in texts(response)
    slow.idle()
    assert slow.kakao.calls == 0
    assert callback_allowed("https://bot-api.kakao.com/v1/bots/1/callback/t", ("*.kakao.com",))
    assert not callback_allowed("https://kakao.com.evil.net/cb", ("*.kakao.com",))
    assert not callback_allowed("https://user@bot-api.kakao.com/cb", ("*.kakao.com",))
    assert not callback_allowed("http://bot-api.kakao.com/cb", ("*.kakao.com",))  # https only
    assert not callback_allowed("http://10.0.0.1/cb", ("10.0.0.1",))  # plain http only on loopback
    assert not callback_allowed("file:///etc/passwd", ("*",))


def test_a_counsellor_reply_uses_a_pending_callback_or_waits_and_the_console_can_tell(slow):
    url = slow.kakao.callback_url()
    slow.kakao.fail_next(500)  # the bot's late answer fails once, is retried, then uses the callback up
    slow.kakao_post(skill("text_with_callback.json", callback=url))
    wait_for(lambda: slow.kakao.sent, timeout=15)
    slow.idle()
    # Now no callback is pending: a counsellor's reply is queued for the next utterance.
    reply_id = _store_counsellor_reply(slow, "상담원 김이에요. 지금 안전한 곳에 계신가요?")
    assert slow.deliver(reply_id) == "stored"
    [queued] = slow.messages(id=reply_id)
    assert queued.delivered_via == "kakao_next_utterance"
    assert any(e["type"] == "delivery" and e["delivery"] == "queued" and reply_id in e["message_ids"]
               for e in slow.events)
    # A new utterance with a callback: the counsellor's words go out at once in the response.
    nxt = json.loads(slow.kakao_post(skill("text_with_callback.json", utterance="네 괜찮아요",
                                           callback=slow.kakao.callback_url()))[2])
    assert nxt.get("useCallback") is True
    wait_for(lambda: len(slow.kakao.sent) == 2, timeout=15)
    slow.idle()
    assert "상담원 김이에요" in texts(slow.kakao.sent[1]["json"])
    assert slow.messages(id=reply_id)[0].delivered_via == "kakao_callback"


def _store_counsellor_reply(h, text: str) -> int:
    from sqlalchemy.orm import Session

    from assistant.store.db import make_sync_engine

    engine = make_sync_engine(h.database_url)
    with Session(engine) as s, s.begin():
        conv = h.conversations()[0]
        m = Message(conversation_id=conv.id, direction="out", author="counsellor", text=text, channel="kakao")
        s.add(m)
        s.flush()
        mid = m.id
    engine.dispose()
    return mid


def test_long_replies_fit_kakaos_limits():
    long = "가" * 2500
    response, fitted = skill_response([{"text": long}, {"text": "다음"}])
    assert check_skill_response(response) is None and fitted == 1
    assert [len(o["simpleText"]["text"]) for o in response["template"]["outputs"]] == [MAX_CHARS, MAX_CHARS, 500]
    huge, fitted = skill_response([{"text": "나" * 5000,
                                    "buttons": [{"title": f"버튼{i}", "payload": "/x"} for i in range(15)]}],
                                  operator=True)
    assert check_skill_response(huge) is None and fitted == 1
    assert len(huge["template"]["outputs"]) == 3 and len(huge["template"]["quickReplies"]) == 10
    assert "다음 메시지" in huge["template"]["outputs"][1]["simpleText"]["text"]


def test_acknowledgement_time(h):
    times = []
    for i in range(20):
        status, _, body, secs = h.kakao_post(skill("text_no_callback.json", utterance=f"질문 {i}", user=f"u{i}"))
        assert status == 200
        times.append(secs)
    times.sort()
    print(f"kakao skill response p50={times[10] * 1000:.0f} ms p95={times[18] * 1000:.0f} ms")
    assert times[18] < 4.0


def test_danger_gets_its_numbers_at_once_even_when_the_bot_is_late(slow):
    response = json.loads(slow.kakao_post(skill("text_no_callback.json",
                                                utterance="지금 모텔 방에 갇혀 있어요 무서워요"))[2])
    assert check_skill_response(response) is None
    first = response["template"]["outputs"][0]["simpleText"]["text"]
    assert "112" in first and "02-814-3660" in first
    slow.idle()
    assert slow.conversations()[0].risk == "critical"
