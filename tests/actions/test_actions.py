"""Actions run directly (as the action server runs them) against a real database and index."""
from datetime import UTC, datetime

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from assistant.store.db import close_engines, sessionmaker
from assistant.store.migrate import upgrade
from casebook.conversations import service as cs

MONDAY_10_KST = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
FRIDAY_20_KST = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


@pytest.fixture
async def conversation(env):
    env(DASI_CENTRE_HOURS="mon-fri 09:00-18:00")
    upgrade()
    async with sessionmaker()() as s, s.begin():
        conv = await cs.get_or_create_conversation(s, "web", "session-actions1")
    yield conv.public_id
    await close_engines()


def tracker(sender: str, text: str, intent: str, entities=()) -> Tracker:
    return Tracker(sender, {}, {"text": text, "intent": {"name": intent}, "entities": list(entities),
                                "metadata": {"channel": "web"}}, [], False, None, None, "action_listen")


async def test_handoff_outside_hours_says_when_and_gives_24h_numbers(conversation):
    from actions.conversation_actions import handoff_message

    text = await handoff_message(conversation, FRIDAY_20_KST)
    assert "월요일" not in text and "11월 30일(월) 오전 9시" in text
    assert "1366" in text and "112" in text


async def test_handoff_inside_hours_gives_the_queue(conversation):
    from actions.conversation_actions import ActionRequestCounsellor, handoff_message

    dispatcher = CollectingDispatcher()
    await ActionRequestCounsellor().run(dispatcher, tracker(conversation, "상담원 연결", "request_counsellor"), {})
    async with sessionmaker()() as s:
        conv = await cs.get_conversation(s, conversation)
        assert conv.state == "waiting"
    text = await handoff_message(conversation, MONDAY_10_KST)
    assert text.startswith("상담원 연결을 요청했어요.") and "곧 상담원이 답할게요" in text


async def test_youth_disclosure_flags_the_conversation_and_says_minors_are_not_punished(conversation):
    from actions.conversation_actions import ActionYouth

    dispatcher = CollectingDispatcher()
    await ActionYouth().run(dispatcher, tracker(conversation, "저 고2예요", "youth_disclosure"), {})
    reply = dispatcher.messages[0]["text"]
    assert "처벌하지 않아요" in reply and "1388" in reply and "117" in reply
    async with sessionmaker()() as s:
        assert (await cs.get_conversation(s, conversation)).youth


async def test_emergency_action_gives_112_and_queues_at_the_top(conversation):
    from actions.conversation_actions import ActionEmergency

    dispatcher = CollectingDispatcher()
    message = tracker(conversation, "사장이 방에 가둬놓고 못 나가게 해요", "emergency_danger")
    await ActionEmergency().run(dispatcher, message, {})
    assert "112" in dispatcher.messages[0]["text"]
    async with sessionmaker()() as s:
        conv = await cs.get_conversation(s, conversation)
        assert conv.risk in ("high", "critical") and conv.state == "waiting"


async def test_an_idiom_nlu_files_as_an_emergency_is_answered_not_queued(conversation):
    """The NLU intent is one signal: alone it does not page a counsellor (it keeps the number in view)."""
    from actions.conversation_actions import ActionEmergency, ActionSelfHarm

    for action, intent, number in ((ActionEmergency, "emergency_danger", "112"), (ActionSelfHarm, "self_harm", "109")):
        dispatcher = CollectingDispatcher()
        await action().run(dispatcher, tracker(conversation, "시험 망해서 웃겨 죽겠다 ㅋㅋㅋ", intent), {})
        assert number in dispatcher.messages[-1]["text"]
        async with sessionmaker()() as s:
            conv = await cs.get_conversation(s, conversation)
            assert conv.risk not in ("high", "critical") and conv.state == "bot", intent


async def test_deletion_request_is_recorded_for_staff(conversation):
    from sqlalchemy import select

    from actions.conversation_actions import ActionDeleteMyData
    from casebook.models import ConversationEvent

    dispatcher = CollectingDispatcher()
    await ActionDeleteMyData().run(dispatcher, tracker(conversation, "제 기록 지워주세요", "delete_my_data"), {})
    assert "삭제 요청" in dispatcher.messages[0]["text"]
    async with sessionmaker()() as s:
        kinds = (await s.scalars(select(ConversationEvent.kind))).all()
    assert "deletion_requested" in kinds


async def test_a_disclosure_misfiled_as_a_deletion_request_is_answered_not_recorded(conversation):
    from sqlalchemy import select

    from actions.conversation_actions import ActionDeleteMyData
    from casebook.models import ConversationEvent

    dispatcher = CollectingDispatcher()
    text = "기프티콘 계속 보내주던 언니가 이제 속옷 사진 보내래요"
    await ActionDeleteMyData().run(dispatcher, tracker(conversation, text, "delete_my_data"), {})
    reply = dispatcher.messages[0]
    assert "삭제 요청" not in reply["text"] and reply["buttons"][-1]["title"] == "상담원 연결"
    async with sessionmaker()() as s:
        kinds = (await s.scalars(select(ConversationEvent.kind))).all()
    assert "deletion_requested" not in kinds


async def test_unknown_question_is_answered_honestly(conversation):
    from actions.knowledge_actions import ActionAnswerFromKnowledge

    dispatcher = CollectingDispatcher()
    await ActionAnswerFromKnowledge().run(dispatcher, tracker(conversation, "비트코인 시세 어때요", "nlu_fallback"), {})
    reply = dispatcher.messages[0]
    assert "잘 모르겠어요" in reply["text"] and reply["buttons"][-1]["title"] == "상담원 연결"


async def test_age_entity_flags_youth_while_answering(conversation):
    from actions.knowledge_actions import ActionAnswerFromKnowledge

    dispatcher = CollectingDispatcher()
    await ActionAnswerFromKnowledge().run(dispatcher, tracker(
        conversation, "저 17살인데 경찰 가면 처벌받아요?", "ask_rights", [{"entity": "age", "value": "17살"}]), {})
    assert "(출처:" in dispatcher.messages[0]["text"]
    async with sessionmaker()() as s:
        assert (await cs.get_conversation(s, conversation)).youth


@pytest.mark.parametrize("text, asked", [
    ("그냥 나가도 되나여", True), ("신고하면 저도 처벌받아요?", True), ("여기서 어떻게 나가요 ㅠㅠ", True),
    ("지워달라고 할 수 있나요😭", True), ("이거 신고되는거임", True), ("처벌 가능", True),
    ("맞고 있어요", False), ("살려주세요", False), ("고1임", False), ("무서워요 ㅠㅠ", False), ("아니요", False),
])
def test_question_shape(text, asked):
    from actions.question_shape import looks_like_question

    assert looks_like_question(text) is asked


async def test_a_no_that_is_a_question_gets_its_answer_and_a_plain_no_does_not(conversation):
    """NLU may file "…그런 거 아님?" under deny: a question-shaped "no" gets the article; "아니요" the fixed reply."""
    from actions.knowledge_actions import ActionSmalltalk

    asked = CollectingDispatcher()
    await ActionSmalltalk().run(
        asked, tracker(conversation, "시설 들어가면 맘대로 나오지도 못하고 그런거 아님?", "deny"), {})
    assert "(출처:" in asked.messages[0]["text"]
    plain = CollectingDispatcher()
    await ActionSmalltalk().run(plain, tracker(conversation, "아니요 괜찮아요", "deny"), {})
    assert [m["response"] for m in plain.messages] == ["utter_deny"]
