"""End to end per platform: `dasi up` (real Rasa + action server + gateway) with every channel on,
the platforms replaced by local fakes. A signed webhook goes in; the bot's Korean answer comes out
at the fake send API (or in Kakao's response / callback). One stack for all three platforms."""
from __future__ import annotations

import json
import time

import pytest

from connectors.webhook_common import b64_signature, hex_signature
from tests.fakes import harness as hz
from tests.fakes.kakao import FakeKakao, check_skill_response
from tests.fakes.meta import FakeMeta
from tests.fakes.server import ServerThread, dumps, request, wait_for
from tests.fakes.x import FakeX
from tests.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    loop = ServerThread()
    kakao, meta, x = FakeKakao(), FakeMeta(hz.META_TOKEN), FakeX(hz.X_TOKEN, hz.X_BOT)
    kakao.base = loop.serve(kakao.app())
    meta_url, x_url = loop.serve(meta.app()), loop.serve(x.app())
    stack = Stack(tmp_path_factory.mktemp("channels-e2e"))
    stack.env.update(hz.channel_env(kakao.base, meta_url, x_url))
    stack.start()
    yield stack, kakao, meta, x
    stack.stop()
    loop.stop()


def all_text(bodies: list[dict]) -> str:
    return "\n".join(b["message"]["text"] for b in bodies)


def test_startup_says_which_channels_are_on(world):
    stack, *_ = world
    assert "channels on: web, kakao, meta, x" in (stack.var / "log" / "gateway.log").read_text()


def test_instagram_greeting_is_answered_through_the_send_api(world):
    stack, _, meta, _ = world
    payload = hz.fixture("meta", "instagram_text_and_image.json")
    payload["entry"][0]["messaging"] = payload["entry"][0]["messaging"][:1]  # "안녕하세요"
    body = dumps(payload)
    status, _, _, secs = request("POST", f"{stack.url}/webhooks/meta", body,
                                 {"Content-Type": "application/json",
                                  "X-Hub-Signature-256": hex_signature(hz.META_SECRET, body)})
    assert status == 200 and secs < 5
    wait_for(lambda: any("상담 챗봇" in s["json"]["message"]["text"] for s in meta.sent), timeout=30)
    mine = [s["json"] for s in meta.sent if s["json"]["recipient"]["id"] == "1254477777772919"]
    assert "112" in all_text(mine)
    assert any(q["title"] == "상담원 연결" for b in mine for q in b["message"].get("quick_replies", []))
    assert not meta.rejected


def test_messenger_emergency_gets_112_and_the_centre(world):
    stack, _, meta, _ = world
    payload = hz.fixture("meta", "messenger_batched_entries.json")
    payload["entry"] = payload["entry"][:1]
    payload["entry"][0]["messaging"][0]["message"].update(mid="m-e2e-danger",
                                                          text="지금 모텔 방에 갇혀 있어요 무서워요")
    body = dumps(payload)
    assert request("POST", f"{stack.url}/webhooks/meta", body, {"Content-Type": "application/json",
                   "X-Hub-Signature-256": hex_signature(hz.META_SECRET, body)})[0] == 200
    wait_for(lambda: any("02-814-3660" in s["json"]["message"]["text"] for s in meta.sent
                         if s["json"]["recipient"]["id"] == "2400000000000001"), timeout=30)


def test_x_question_is_answered_from_the_knowledge_base(world):
    stack, _, _, x = world
    payload = hz.fixture("x", "dm_text.json")
    payload["direct_message_events"][0]["message_create"]["message_data"]["text"] = (
        "업주가 선불금 갚으라고 하는데 꼭 갚아야 돼요?")
    body = dumps(payload)
    status, _, _, secs = request("POST", f"{stack.url}/webhooks/x", body, {
        "Content-Type": "application/json", "X-Twitter-Webhooks-Signature-OAuth2": b64_signature(hz.X_CLIENT, body)})
    assert status == 200 and secs < 5
    wait_for(lambda: any("선불금" in s["json"]["text"] for s in x.sent), timeout=30)
    assert all(s["path"] == "/2/dm_conversations/with/3001969357/messages" for s in x.sent)
    assert not x.rejected


def test_kakao_greeting_is_answered_in_time_or_through_the_callback(world):
    stack, kakao, _, _ = world
    payload = hz.fixture("kakao", "text_with_callback.json")
    payload["userRequest"]["utterance"] = "안녕하세요"
    payload["userRequest"]["callbackUrl"] = kakao.callback_url()
    status, _, raw, secs = request("POST", f"{stack.url}/webhooks/kakao", dumps(payload),
                                   {"Content-Type": "application/json", "X-Skill-Secret": hz.KAKAO_SECRET})
    response = json.loads(raw)
    assert status == 200 and secs < 5 and check_skill_response(response) is None, response
    if response.get("useCallback"):
        wait_for(lambda: kakao.sent, timeout=30)
        response = kakao.sent[0]["json"]
    text = "\n".join(o["simpleText"]["text"] for o in response["template"]["outputs"] if "simpleText" in o)
    assert "상담 챗봇" in text and "112" in text
    assert not kakao.rejected


def test_kakao_slow_answers_use_the_callback(world):
    """Asking twice in a row: the knowledge answer takes a moment; either way it arrives."""
    stack, kakao, _, _ = world
    before = len(kakao.sent)
    payload = hz.fixture("kakao", "text_with_callback.json")
    payload["userRequest"]["user"]["id"] = "kakao-e2e-question"
    payload["userRequest"]["utterance"] = "신고하면 저도 처벌받나요?"
    payload["userRequest"]["callbackUrl"] = kakao.callback_url()
    started = time.monotonic()
    status, _, raw, secs = request("POST", f"{stack.url}/webhooks/kakao", dumps(payload),
                                   {"Content-Type": "application/json", "X-Skill-Secret": hz.KAKAO_SECRET})
    response = json.loads(raw)
    assert status == 200 and secs < 5 and check_skill_response(response) is None
    if response.get("useCallback"):
        wait_for(lambda: len(kakao.sent) > before, timeout=55 - (time.monotonic() - started))
        response = kakao.sent[-1]["json"]
    assert check_skill_response(response) is None
    assert response["template"]["outputs"]
