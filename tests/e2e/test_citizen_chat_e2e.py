"""A citizen report started in the web chat, end to end: `dasi up` runs the real action server, Rasa
(retrained with the report form) and the gateway with its citizen worker. "광고 신고하고 싶어요" → the
type → the link and text → a receipt code → the report waits in the review queue as a citizen post;
the receipt's status page answers; a minor mentioned in it puts the conversation in the counsellor queue."""
from __future__ import annotations

import re
import time

import pytest
import requests

from tests.stack import Stack, running_with_counsellor

pytestmark = pytest.mark.e2e
PASSWORD = "시민제보-채팅-테스트-비밀번호"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("citizen-chat"))
    s.env["DASI_RASA_TIMEOUT"] = "20"  # a shared CI machine: the bot, not its fallback, should answer
    with running_with_counsellor(s, PASSWORD):
        yield s


def texts(data: dict) -> str:
    return "\n".join(r.get("text") or "" for r in data["replies"])


def test_a_report_from_the_chat_gets_a_receipt_and_reaches_the_review_queue(stack):
    session = "citizen-chat-e2e-0001"
    stack.say(session, "안녕하세요")
    data = stack.say(session, "광고 신고하고 싶어요")
    assert "어떤 광고인가요" in texts(data), texts(data)
    assert {"온라인 광고", "업소", "스팸 문자", "전단지·지면", "학교 주변", "기타"} <= {
        b["title"] for r in data["replies"] for b in r.get("buttons", [])}
    data = stack.say(session, "온라인 광고")  # the button's payload
    assert "링크(URL)나 광고 내용" in texts(data), texts(data)
    started = time.monotonic()
    data = stack.say(session, "https://ads.example.invalid/p/77 강남 출장 조건만남 카톡 mimi22 중딩 환영 10만")
    found = re.search(r"접수 번호: ([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})", texts(data))
    assert found, texts(data)
    code = found.group(1)

    status = requests.post(f"{stack.url}/api/report/status", json={"code": code}, timeout=10)
    assert status.status_code == 200 and status.json()["label"] in ("접수됨", "검토 완료"), status.text

    staff = requests.Session()
    login = staff.post(f"{stack.url}/api/console/login", json={"login": "kim", "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    posts: list = []
    deadline = time.monotonic() + 60  # the gateway's worker polls every 5 s; the link cannot be fetched
    while time.monotonic() < deadline and not posts:
        posts = staff.get(f"{stack.url}/api/detection/queue?source=citizen", timeout=10).json()["posts"]
        time.sleep(0.5)
    print(f"\nchat report → review queue: {time.monotonic() - started:.1f} s")
    assert len(posts) == 1 and posts[0]["citizen"] and posts[0]["platform"] == "ads.example.invalid"
    detail = staff.get(f"{stack.url}/api/detection/posts/{posts[0]['id']}", timeout=10).json()
    assert detail["citizen_report"]["reports"][0]["channel"] == "chat"
    assert "mimi22" in detail["text"] and detail["citizen_report"]["fetch"].startswith(("failed", "refused"))

    # "중딩" in the report: the reporter's own conversation waits for a counsellor, flagged as a minor.
    waiting: list = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not waiting:
        queue = staff.get(f"{stack.url}/api/console/queue", timeout=10).json()
        waiting = [q for q in queue.get("waiting", []) if q["channel"] == "web" and q["youth"]]
        time.sleep(0.5)
    assert len(waiting) == 1, queue


def test_a_question_about_reporting_is_still_answered_and_the_report_can_be_stopped(stack):
    session = "citizen-chat-e2e-0002"
    data = stack.say(session, "불법 광고 신고 접수하고 싶어요")
    assert "어떤 광고인가요" in texts(data), texts(data)
    data = stack.say(session, "그만할래요")
    assert "제보를 멈췄어요" in texts(data), texts(data)
    data = stack.say(session, "안녕하세요")
    assert "어떤 광고인가요" not in texts(data)
