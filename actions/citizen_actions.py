"""The citizen report from the chat: "광고 신고하고 싶어요" → the type → the link or text → a receipt code.
Thin: the report is checked and stored by detection.citizen (the same service as the /report page), the
gateway's citizen worker puts it into the review queue. A question about reporting still gets its
knowledge answer first; screenshots go through the page (/report), which the bot links to."""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from assistant.core.errors import DomainError
from assistant.core.settings import get_settings

log = logging.getLogger("dasi.actions.citizen")

TYPES = {"온라인 광고": "online", "업소": "venue", "스팸 문자": "sms", "전단지·지면": "print", "학교 주변": "school",
         "기타": "other"}
CANCEL = "그만할래요"
CANCEL_WORDS = re.compile(r"^(그만|취소|안\s*할래|됐어|괜찮아요|아니요?)", re.I)
URL = re.compile(r"https?://\S+|\b(?:www\.)?[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|kr|me|io|ly|co|xyz)(?:/\S*)?", re.I)
ASK_TYPE = ("여기서 바로 제보를 받을게요. 이름이나 연락처는 묻지 않아요.\n어떤 광고인가요?")
ASK_CONTENT = ("광고 링크(URL)나 광고 내용을 그대로 보내 주세요. 본 곳, 미성년자와 관련된 일이면 함께 적어 주세요.\n"
               "화면 캡처가 있으면 제보 페이지(/report)에서 사진과 함께 보낼 수도 있어요.")
CANCELLED = "제보를 멈췄어요. 언제든 다시 '광고 신고하고 싶어요'라고 보내거나 제보 페이지(/report)를 이용해 주세요."
FAILED = ("지금은 제보를 저장하지 못했어요. 잠시 뒤에 다시 보내 주시거나 제보 페이지(/report)를 이용해 주세요. "
          "지금 위험하면 112에 연락하세요.")
RECEIPT = ("제보가 접수됐어요. 고마워요.\n접수 번호: {code}\n이 번호로 제보 처리 상황 페이지(/report/status)에서 "
           "진행 상황(접수됨 → 검토 완료 → 신고함 → 삭제됨/삭제되지 않음)을 볼 수 있어요. 번호는 다시 보여 드릴 수 "
           "없으니 적어 두세요.\n화면 캡처가 있으면 제보 페이지(/report)에서 따로 보내 주세요.")


def _type_of(text: str) -> str | None:
    text = " ".join((text or "").split())
    if text in TYPES:
        return TYPES[text]
    for label, code in TYPES.items():  # typed instead of tapped: "업소요", "문자", "전단지"
        if label.split()[0].split("·")[0] in text:
            return code
    if "문자" in text:
        return "sms"
    if "학교" in text:
        return "school"
    return None


class ActionAskReportType(Action):
    def name(self) -> str:
        return "action_ask_report_type"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        from actions.conversation_actions import answer_too

        await answer_too(dispatcher, tracker, questions_only=True)  # "신고 어떻게 해요?" still gets its answer
        dispatcher.utter_message(text=ASK_TYPE, buttons=[{"title": t, "payload": t} for t in [*TYPES, CANCEL]])
        return []


class ActionAskReportContent(Action):
    def name(self) -> str:
        return "action_ask_report_content"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=ASK_CONTENT, buttons=[{"title": CANCEL, "payload": CANCEL}])
        return []


class ValidateCitizenReportForm(FormValidationAction):
    def name(self) -> str:
        return "validate_citizen_report_form"

    def validate_report_type(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        text = str(value or "")
        if CANCEL_WORDS.match(text.strip()):
            return {"report_type": "cancel", "report_content": "-"}
        code = _type_of(text)
        if code is None:
            dispatcher.utter_message(text="아래 버튼에서 골라 주세요.")
            return {"report_type": None}
        return {"report_type": code}

    def validate_report_content(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        if CANCEL_WORDS.match(text) and len(text) < 12:
            return {"report_type": "cancel", "report_content": "-"}
        if len(text) < 2:
            dispatcher.utter_message(text="링크나 광고 내용을 한 줄 이상 보내 주세요.")
            return {"report_content": None}
        return {"report_content": text[:3000]}


def _store(kind: str, content: str, conversation: str) -> str:
    """Runs in a thread: the citizen service's sync session (the same `save` the page uses)."""
    from detection.citizen.service import Submission, check, save

    found = URL.search(content)
    url = found.group(0).rstrip(".,)") if found else ""
    text = (content.replace(found.group(0), " ") if found else content).strip()
    sub = check(Submission(kind=kind, url=url, text=text if len(text) >= 2 else "", channel="chat",
                           conversation=conversation))
    return save(get_settings(), sub).code


class ActionSubmitCitizenReport(Action):
    def name(self) -> str:
        return "action_submit_citizen_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        kind, content = tracker.get_slot("report_type"), tracker.get_slot("report_content")
        reset = [SlotSet("report_type", None), SlotSet("report_content", None)]
        if kind in (None, "cancel") or not content:
            dispatcher.utter_message(text=CANCELLED)
            return reset
        try:
            code = await asyncio.to_thread(_store, kind, content, tracker.sender_id)
        except DomainError as exc:  # e.g. a link that is not one: its Korean text
            dispatcher.utter_message(text=exc.message + " 다시 '광고 신고하고 싶어요'라고 보내 주세요.")
            return reset
        except Exception as exc:  # the database down: say so, never pretend it was stored
            log.error("citizen report from the chat not stored: %s", type(exc).__name__)
            dispatcher.utter_message(text=FAILED)
            return reset
        dispatcher.utter_message(text=RECEIPT.format(code=code))
        return reset
