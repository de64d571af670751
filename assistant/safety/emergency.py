"""Fixed emergency texts. They depend on nothing that can fail (no index, no LLM, no database),
and every number in them is from ../shared/reference/kb-facts.md (§4)."""
from __future__ import annotations

from assistant.core.settings import get_settings

COUNSELLOR_BUTTON = {"title": "상담원 연결", "payload": "/request_counsellor"}


def _centre() -> str:
    s = get_settings()
    return f"{s.centre_name} {s.centre_phone}"


def danger_text() -> str:
    return ("지금 위험하면 바로 112에 전화하세요. 전화가 어려우면 112로 문자(있는 곳 주소와 상황)를 "
            f"보내도 신고돼요.\n{_centre()}, 여성긴급전화 1366(24시간)에서도 도와드려요.")


def self_harm_text() -> str:
    return ("이야기해 줘서 고마워요. 많이 힘드셨죠. 혼자 견디지 않아도 돼요.\n"
            "자살예방상담전화 109는 24시간 언제든 받아요. 지금 위험하면 112나 119에 전화해 주세요.\n"
            f"{_centre()}도 함께할게요.")


def medical_text() -> str:
    return ("다쳤거나 몸이 위급하면 바로 119에 전화하세요. 문자나 영상통화로도 신고할 수 있어요.\n"
            f"{_centre()}에서도 도와드려요.")


def exploitation_text() -> str:
    return ("빚(선불금) 때문에 그만두지 못하게 하거나 여권·신분증을 빼앗는 건 법이 보호하는 피해예요. 성매매와 관련된 "
            "선불금 같은 빚은 법으로 무효라서 갚지 않아도 돼요.\n지금 위험하면 112에 신고하세요. "
            f"{_centre()}, 여성긴급전화 1366(24시간)에서 도와드려요.")


def minor_text() -> str:
    return ("이야기해 줘서 고마워요. 당신 잘못이 아니에요. 어른이 돈·선물·잘 곳을 주면서 만나자고 하거나 사진을 "
            "달라고 하는 건 범죄예요.\n사진이나 영상은 보내지 말고, 만나러 가지 마세요. 지금 위험하면 112, "
            "청소년상담 1388(24시간, 문자 #1388), 117에 연락하세요.\n"
            f"{_centre()}도 비밀을 지키며 함께할게요.")


def handoff_note() -> str:
    return "상담원 연결을 요청해 두었어요. 상담원이 곧 이어서 답할게요."


def holding_text() -> str:
    """While the bot is slow: its answer follows; the numbers are here meanwhile."""
    return ("잠시만요, 답변을 준비하고 있어요. 준비되는 대로 여기에 보여 드릴게요.\n지금 위험하면 바로 112"
            f"(문자 112도 돼요), 죽고 싶은 마음이 들면 109(24시간)에 연락하세요. {_centre()}")


def fallback_text() -> str:
    """When the assistant cannot answer (Rasa or the action server down or slow)."""
    return ("지금은 자동 답변이 잠시 어려워요. 위험하면 바로 112(문자 112도 돼요), 죽고 싶은 마음이 들면 "
            f"109(24시간)에 연락하세요.\n{_centre()}, 여성긴급전화 1366(24시간)에서도 도와드려요.")


# The reply for each crisis category. A medical emergency gets 119 before anything else.
SCREEN_TEXTS = {"danger": danger_text, "medical": medical_text, "self_harm": self_harm_text,
                "minor": minor_text, "exploitation": exploitation_text}


def screen_replies(categories: list[str]) -> list[dict]:
    """The reply to an alarm: the two most urgent categories' texts (SCREEN_TEXTS order), then one line for
    each further category, so every alarmed situation has its number in the reply."""
    alarmed = [c for c in SCREEN_TEXTS if c in categories]
    if not alarmed:
        return []
    texts = [SCREEN_TEXTS[c]() for c in alarmed[:2]] + [REMINDERS[c] for c in alarmed[2:]]
    return [{"text": "\n\n".join(texts)}, {"text": handoff_note(), "buttons": [COUNSELLOR_BUTTON]}]


# One line per category when a conversation already got that category's whole text: the number stays
# in view without repeating the whole reply to every message.
REMINDERS = {
    "danger": "위험하면 바로 112(문자 112도 돼요)에 연락하세요.",
    "medical": "몸이 위급하면 바로 119에 전화하세요.",
    "self_harm": "힘들면 언제든 109(24시간)에 연락하세요.",
    "minor": "위험하면 112, 청소년상담 1388(24시간)에 연락하세요.",
    "exploitation": "위험하면 112, 여성긴급전화 1366(24시간)에 연락하세요.",
}


def alarm_replies(categories: list[str], new_categories: list[str]) -> list[dict]:
    """The reply to an alarmed message: the whole texts when a category is new in the conversation,
    else a one-line reminder of the most urgent category's number."""
    if not categories:
        return []
    if new_categories:
        return screen_replies(categories)
    first = next(c for c in SCREEN_TEXTS if c in categories)
    return [{"text": REMINDERS[first]}]
