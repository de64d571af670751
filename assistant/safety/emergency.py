"""Fixed emergency texts, in the person's language. They depend on nothing that can fail (no index, no LLM,
no database): the words are data in assistant/safety/texts/<lang>.yml (Korean the source), and every number
in them is from ../shared/reference/kb-facts.md (§4). A reply in another language than Korean ends with the
24-hour interpretation line (다누리콜센터 1577-1366)."""
from __future__ import annotations

from assistant.core.languages import KOREAN, SERVED
from assistant.safety.texts import text

COUNSELLOR_BUTTON = {"title": "상담원 연결", "payload": "/request_counsellor"}


def counsellor_button(lang: str = KOREAN) -> dict:
    return {"title": text(lang, "counsellor_button"), "payload": "/request_counsellor"}


def _foreign(lang: str) -> bool:
    return lang != KOREAN


def _with_interpretation(body: str, lang: str) -> str:
    return f"{body}\n{text(lang, 'interpretation')}" if _foreign(lang) else body


def danger_text(lang: str = KOREAN) -> str:
    return text(lang, "danger")


def self_harm_text(lang: str = KOREAN) -> str:
    return text(lang, "self_harm")


def medical_text(lang: str = KOREAN) -> str:
    return text(lang, "medical")


def exploitation_text(lang: str = KOREAN) -> str:
    return text(lang, "exploitation")


def minor_text(lang: str = KOREAN) -> str:
    return text(lang, "minor")


def handoff_note(lang: str = KOREAN) -> str:
    return text(lang, "handoff_note")


def holding_text(lang: str = KOREAN) -> str:
    """While the bot is slow: its answer follows; the numbers are here meanwhile."""
    return _with_interpretation(text(lang, "holding"), lang)


def fallback_text(lang: str = KOREAN) -> str:
    """When the assistant cannot answer (Rasa or the action server down or slow)."""
    return _with_interpretation(text(lang, "fallback"), lang)


def counsellor_will_answer(lang: str) -> str:
    """A message no automatic answer fits (a language without one): a counsellor answers, in their hours."""
    return _with_interpretation(text(lang, "counsellor_will_answer"), lang)


def rate_limited_text(lang: str = KOREAN) -> str:
    return text(lang, "rate_limited")


def attachment_text(lang: str = KOREAN) -> str:
    return text(lang, "attachment")


def welcome_text(lang: str = KOREAN) -> str:
    return text(lang, "welcome")


# The reply for each crisis category. A medical emergency gets 119 before anything else.
SCREEN_TEXTS = {"danger": danger_text, "medical": medical_text, "self_harm": self_harm_text,
                "minor": minor_text, "exploitation": exploitation_text}


def reminder(category: str, lang: str = KOREAN) -> str:
    return text(lang, f"reminders.{category}")


def screen_replies(categories: list[str], lang: str = KOREAN) -> list[dict]:
    """The reply to an alarm: the two most urgent categories' texts (SCREEN_TEXTS order), then one line for
    each further category, so every alarmed situation has its number in the reply. In another language:
    the interpretation line (1577-1366) too, and a language not served also gets the Korean text (whoever
    helps them, a neighbour or the police, can read it)."""
    alarmed = [c for c in SCREEN_TEXTS if c in categories]
    if not alarmed:
        return []
    texts = [SCREEN_TEXTS[c](lang) for c in alarmed[:2]] + [reminder(c, lang) for c in alarmed[2:]]
    body = _with_interpretation("\n\n".join(texts), lang)
    if lang not in SERVED:
        body += "\n\n" + "\n\n".join(SCREEN_TEXTS[c](KOREAN) for c in alarmed[:2])
    return [{"text": body}, {"text": handoff_note(lang), "buttons": [counsellor_button(lang)]}]


# One line per category when a conversation already got that category's whole text: the number stays
# in view without repeating the whole reply to every message. (Korean; other languages: reminder().)
REMINDERS = {c: reminder(c) for c in SCREEN_TEXTS}


def alarm_replies(categories: list[str], new_categories: list[str], lang: str = KOREAN) -> list[dict]:
    """The reply to an alarmed message: the whole texts when a category is new in the conversation,
    else a one-line reminder of the most urgent category's number."""
    if not categories:
        return []
    if new_categories:
        return screen_replies(categories, lang)
    first = next(c for c in SCREEN_TEXTS if c in categories)
    return [{"text": _with_interpretation(reminder(first, lang), lang)}]
