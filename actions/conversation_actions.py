"""Actions for safety, handoff, youth and data requests. Texts come from knowledge/."""
from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.question_shape import looks_like_question
from assistant.core.clock import Hours, korean_when
from assistant.core.settings import get_settings
from assistant.safety import emergency
from assistant.safety.risk.assess import Assessment, default_assessor
from assistant.safety.risk.text import CONTEXT_MESSAGES
from assistant.store.db import sessionmaker
from casebook.conversations import service as conv_service

Events = list[dict[str, Any]]


def _send(dispatcher: CollectingDispatcher, replies: list[dict]) -> None:
    for r in replies:
        dispatcher.utter_message(text=r.get("text"), buttons=r.get("buttons") or [])


async def answer_too(dispatcher: CollectingDispatcher, tracker: Tracker, questions_only: bool = False) -> None:
    """After a handoff, an emergency or a youth reply, a question asked in the same message still
    gets its answer when an article matches it. Shaped like a question, the normal bar applies
    (NLU may have filed a real question under this intent); otherwise only a very close match.
    `questions_only`: say nothing more unless it is a question (the self-harm reply stays focused)."""
    from actions.knowledge_actions import knowledge_reply, question_bar

    text = tracker.latest_message.get("text") or ""
    if questions_only and not looks_like_question(text):
        return
    answer = await knowledge_reply(tracker, question_bar(text))
    if answer:
        dispatcher.utter_message(text=answer["text"], buttons=answer.get("buttons", []))


class ActionWelcome(Action):
    def name(self) -> str:
        return "action_welcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        # The text is data (assistant/safety/texts/ko.yml), the source of its translations.
        dispatcher.utter_message(text=emergency.welcome_text(), buttons=[emergency.COUNSELLOR_BUTTON])
        return []


async def reassess(tracker: Tracker, intent: str) -> Assessment:
    """The message assessed again with the NLU intent as one more signal (never enough on its own)."""
    texts = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    text = tracker.latest_message.get("text") or ""
    earlier = [t for t in texts[:-1] if t][-CONTEXT_MESSAGES:]
    assessor = default_assessor(get_settings().models_dir)
    return await asyncio.get_running_loop().run_in_executor(None, assessor.assess, text, earlier, None, intent)


async def alarm_or_answer(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str, reminder: str,
                          questions_only: bool = False) -> None:
    """An emergency intent: the emergency reply and a counsellor when the assessment with the intent
    alarms; otherwise (an idiom NLU misfiled) the question's answer and the number in one line."""
    a = await reassess(tracker, intent)
    gateway = (tracker.latest_message.get("metadata") or {}).get("assessment") or {}
    if a.alarmed:
        if not set(a.categories) <= set(gateway.get("categories", [])):  # the gateway did not say it already
            _send(dispatcher, emergency.screen_replies(list(a.categories)))
        await services.update_conversation(tracker.sender_id, risk=a.level, handoff=intent,
                                           youth=a.context.minor, assessment=a.as_dict())
        await answer_too(dispatcher, tracker, questions_only=questions_only)
        return
    await services.update_conversation(tracker.sender_id, risk=a.level, assessment=a.as_dict())
    from actions.knowledge_actions import knowledge_reply, question_bar

    text = tracker.latest_message.get("text") or ""
    answer = await knowledge_reply(tracker, question_bar(text))
    if answer:
        dispatcher.utter_message(text=answer["text"], buttons=answer.get("buttons", []))
    dispatcher.utter_message(text=reminder, buttons=[emergency.COUNSELLOR_BUTTON])


class ActionEmergency(Action):
    def name(self) -> str:
        return "action_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        await alarm_or_answer(dispatcher, tracker, "emergency_danger", emergency.REMINDERS["danger"])
        return []


class ActionSelfHarm(Action):
    def name(self) -> str:
        return "action_self_harm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        await alarm_or_answer(dispatcher, tracker, "self_harm", emergency.REMINDERS["self_harm"],
                              questions_only=True)  # "109로 바뀐 거 맞죠?"
        return []


async def handoff_message(public_id: str, now: datetime | None = None) -> str:
    """What the person is told after asking for a counsellor: the queue, or when the centre opens."""
    now = now or datetime.now(UTC)
    hours = Hours(get_settings().centre_hours)
    if not hours.is_open(now):
        return ("상담원 연결을 요청했어요. 지금은 상담 시간이 아니라서 "
                f"{korean_when(hours.next_opening(now), now)}부터 "
                "상담원이 이어서 답할게요.\n그 사이 급하면 여성긴급전화 1366(24시간), 위험하면 112에 연락하세요.")
    ahead = None
    async with sessionmaker()() as s:
        conv = await conv_service.get_conversation(s, public_id)
        if conv is not None:
            ahead = await conv_service.queue_position(s, conv)
    queue = f" 지금 앞에 {ahead}명이 기다리고 있어요." if ahead else " 곧 상담원이 답할게요."
    return "상담원 연결을 요청했어요." + queue + "\n기다리는 동안 위험해지면 바로 112에 연락하세요."


class ActionRequestCounsellor(Action):
    def name(self) -> str:
        return "action_request_counsellor"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        await services.update_conversation(tracker.sender_id, handoff="requested")
        try:
            text = await handoff_message(tracker.sender_id)
        except Exception:  # the queue position is a courtesy; the handoff itself is already stored
            text = "상담원 연결을 요청했어요. 곧 상담원이 답할게요."
        dispatcher.utter_message(text=text)
        await answer_too(dispatcher, tracker)  # "상담받고 싶은데 선불금 얘기도 돼요?"
        return []


class ActionYouth(Action):
    def name(self) -> str:
        return "action_youth"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        await services.update_conversation(tracker.sender_id, youth=True)
        dispatcher.utter_message(
            text=("알려 줘서 고마워요. 19세 미만이면 법에서 피해아동·청소년으로 보고, 처벌하지 않아요.\n"
                  "청소년상담 1388(24시간, 문자 #1388도 돼요)에서도 도와줘요. 학교폭력 신고센터는 117이에요.\n"
                  "위험하면 바로 112에 연락하세요. 궁금한 걸 편하게 물어봐 주세요."),
            buttons=[emergency.COUNSELLOR_BUTTON])
        await answer_too(dispatcher, tracker)  # "저 17살인데 선불금 갚아야 돼요?": the age, and a question
        return []


# A deletion request is recorded for staff, so NLU's guess alone is not enough: the message must say
# "delete" in some form. A disclosure NLU misfiled here ("…이제 속옷 사진 달래요") gets an answer instead.
DELETE_WORDS = re.compile(r"삭제|지우|지워|지운|없애|없던|파기|초기화|탈퇴|흔적|delete|erase|remove", re.IGNORECASE)


class ActionDeleteMyData(Action):
    def name(self) -> str:
        return "action_delete_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> Events:
        if not DELETE_WORDS.search(tracker.latest_message.get("text") or ""):
            from actions.knowledge_actions import answer_or_admit

            await answer_or_admit(dispatcher, tracker)
            return []
        await services.update_conversation(tracker.sender_id, event="deletion_requested")
        dispatcher.utter_message(
            text=("삭제 요청을 담당자에게 전달했어요. 이 대화 내용은 암호화해서 보관하고, 담당자가 확인한 뒤 "
                  "삭제해요. 법에 따라 남겨야 하는 기록이 있으면 상담원이 무엇이 남는지 설명해 드릴게요."))
        return []
