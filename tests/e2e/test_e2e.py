"""End to end: `dasi up` starts the real action server, Rasa server and gateway; Korean messages
go through them over HTTP. The Rasa server is then frozen and killed mid-conversation."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.stack import Stack, http

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("e2e"))
    s.start()
    yield s
    s.stop()


def texts(data: dict) -> str:
    return "\n".join(r["text"] for r in data["replies"])


def test_health_is_ok_when_everything_is_up(stack):
    status, data = http("GET", f"{stack.url}/healthz")
    assert status == 200, data
    assert data == {"status": "ok", "components": {"rasa": "ok", "actions": "ok", "db": "ok", "knowledge": "ok"}}


def test_greeting_gets_the_welcome(stack):
    data = stack.say("e2e-greeting-1", "안녕하세요")
    assert "상담 챗봇" in texts(data) and "112" in texts(data)
    assert data["state"] == "bot" and data["risk"] == "none"
    assert any(b["title"] == "상담원 연결" for r in data["replies"] for b in r.get("buttons", []))


def test_emergency_gets_112_and_the_centre_and_a_counsellor(stack):
    stack.say("e2e-emergency1", "안녕하세요")
    data = stack.say("e2e-emergency1", "지금 모텔 방에 갇혀 있어요 무서워요")
    assert "112" in texts(data) and "02-814-3660" in texts(data)
    assert data["risk"] == "critical" and data["state"] == "waiting"


def test_request_for_a_counsellor_queues_the_conversation(stack):
    stack.say("e2e-handoff-01", "안녕하세요")
    data = stack.say("e2e-handoff-01", "상담사님이랑 직접 얘기하고 싶어요")
    assert "상담원 연결을 요청했어요" in texts(data)
    assert data["state"] == "waiting"


def test_a_question_is_answered_from_the_knowledge_base(stack):
    data = stack.say("e2e-question-1", "업주가 선불금 갚으라고 하는데 꼭 갚아야 돼요?")
    assert "(출처:" in texts(data), texts(data)
    assert "선불금" in texts(data)


def test_self_harm_gets_109_with_warm_words(stack):
    data = stack.say("e2e-selfharm-1", "요즘 너무 힘들어서 그냥 죽고싶어요")
    assert "109" in texts(data) and "고마워요" in texts(data)
    assert data["risk"] == "critical" and data["state"] == "waiting"


def test_an_injury_gets_119(stack):
    data = stack.say("e2e-medical-01", "친구가 약을 너무 많이 먹고 쓰러졌어요")
    assert "119" in texts(data) and data["risk"] == "critical"


def test_what_the_bot_does_not_know_it_does_not_make_up(stack):
    data = stack.say("e2e-unknown-01", "상속세는 몇 퍼센트 내야 하나요?")
    assert "(출처:" not in texts(data)
    assert any(b["title"] == "상담원 연결" for r in data["replies"] for b in r.get("buttons", []))


def test_a_minor_gets_youth_wording(stack):
    data = stack.say("e2e-youth-0001", "저 중3인데요")
    assert "처벌하지 않아요" in texts(data) and "1388" in texts(data)


def test_a_deletion_request_is_passed_to_staff(stack):
    data = stack.say("e2e-delete-001", "제 채팅 기록 전부 삭제해 주세요")
    assert "삭제 요청" in texts(data)


def test_a_follow_up_button_opens_its_article(stack):
    data = stack.say("e2e-button-001", '/ask_kb{"article": "centre-contact"}')
    assert "02-814-3660" in texts(data) and "(출처:" in texts(data)


def test_the_eval_questions_get_the_right_article_through_the_web_chat(stack):
    """The reply (its text or its "did you mean" buttons) names a right article for the questions
    in knowledge/eval/questions.jsonl, asked through the whole stack: the knowledge issue's bar, 90%
    (measured 0.93 on 2026-11-26). And the questions no article answers (unanswerable.jsonl) mostly
    get the honest "I don't know" instead of a loosely matching article (measured 0.28 answered)."""
    from knowledge.articles import load_articles
    from knowledge.evaluate import load_questions
    from tests.conftest import ROOT

    titles = {a.id: a.title for a in load_articles(ROOT / "knowledge" / "articles")}
    questions = load_questions(ROOT / "knowledge" / "eval" / "questions.jsonl")
    wrong = []
    for i, row in enumerate(questions):
        data = stack.say(f"e2e-eval-{i:04d}", row["q"])
        reply = texts(data)
        offered = {b["title"] for r in data["replies"] for b in r.get("buttons", [])}  # "did you mean"
        if not any(f"(출처: {titles[a]}" in reply or titles[a] in offered for a in row["ids"]):
            wrong.append((row["q"], reply[:60]))
    share = 1 - len(wrong) / len(questions)
    print(f"\nright article in the web chat reply: {share:.3f} of {len(questions)}")
    for q, r in wrong:
        print("MISS", q, "→", r.replace("\n", " "))
    unanswerable = load_questions(ROOT / "knowledge" / "eval" / "unanswerable.jsonl")
    guessed = [row["q"] for i, row in enumerate(unanswerable)
               if "(출처: " in texts(stack.say(f"e2e-unanswerable-{i:04d}", row["q"]))]
    print(f"unanswerable questions given an article anyway: {len(guessed) / len(unanswerable):.3f}", guessed)
    assert share >= 0.90, wrong[:20]
    assert len(guessed) / len(unanswerable) <= 0.4, guessed


def test_rasa_frozen_then_killed_mid_conversation_still_answers_with_the_numbers(stack):
    session = "e2e-rasa-down-1"
    assert stack.say(session, "안녕하세요")["state"] == "bot"
    rasa = stack.pid("rasa")
    os.killpg(rasa, signal.SIGSTOP)  # hangs: slow is not down, so the person is told to wait, with the numbers
    try:
        started = time.monotonic()
        data = stack.say(session, "센터는 어디에 있어요?")
        assert time.monotonic() - started < 15  # DASI_RASA_TIMEOUT and a loaded machine's slack
        for number in ("112", "109", "02-814-3660"):
            assert number in texts(data)
        assert data["pending"] is True and data["state"] == "bot"  # nobody paged for a slow bot
    finally:
        os.killpg(rasa, signal.SIGCONT)
    os.killpg(rasa, signal.SIGKILL)  # gone mid-answer: the waiting question gets the fallback and a person
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, polled = http("GET", f"{stack.url}/api/webchat/messages?session={session}&after=0")
        if polled["state"] == "waiting":
            break
        time.sleep(0.5)
    assert polled["state"] == "waiting" and "02-814-3660" in polled["messages"][-2]["text"]
    data = stack.say("e2e-rasa-down-2", "도와주세요 어떻게 해야 할지 모르겠어요")  # refused at once: down
    assert "112" in texts(data) and "109" in texts(data) and data["state"] == "waiting"
    status, health = http("GET", f"{stack.url}/healthz")
    assert status == 503 and "rasa" in health["failing"]
    assert "rasa exited" in stack.output()  # the supervisor saw it and restarts it


def test_ctrl_c_stops_every_process(stack):
    pids = [stack.pid(n) for n in ("actions", "rasa", "gateway")]
    stack.proc.send_signal(signal.SIGINT)
    assert stack.proc.wait(60) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
