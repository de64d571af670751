"""Messages in another language than Korean: what the router says instead of asking the Korean assistant.

The Korean NLU would misread them, so they never reach Rasa. The risk assessor (multilingual embeddings)
has already screened the message; an alarm gets the emergency text in the person's language. Otherwise
the translated knowledge base is asked through one seam, `answer_in_language(question, lang)` (built in
knowledge/; settings.translated_answers names it): an answer when it is confident, None below its bar or when the
translation is stale; then a counsellor answers, and the conversation waits in the queue with its language.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from assistant.core.languages import KOREAN, reply_language
from assistant.safety import emergency

log = logging.getLogger("dasi.languages")

# (question, lang) → an answer (an object with .text, or a dict with "text"; optional buttons) or None.
TranslatedAnswers = Callable[[str, str], Any | Awaitable[Any]]
QUEUE_REASON = "language"


def default_answers(where: str) -> TranslatedAnswers | None:
    """The function named by settings.translated_answers ("module:function", by default the knowledge
    package's); None when it is not there (then a counsellor answers every such message)."""
    module, _, name = where.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name or "answer_in_language", None)
    except ImportError:
        log.warning("no translated answers (%s): counsellors answer messages in other languages", module)
        return None
    return fn if callable(fn) else None


def as_reply(answer: Any) -> dict | None:
    """An answer of the seam as a chat reply; None when it carries no text."""
    if answer is None:
        return None
    get = answer.get if isinstance(answer, dict) else lambda k, d=None: getattr(answer, k, d)
    body = get("text")
    if not isinstance(body, str) or not body.strip():
        return None
    title = get("title")
    if isinstance(title, str) and title.strip():  # where it comes from, as the Korean answers say (출처)
        body = f"{body}\n\n({title.strip()})"
    buttons = [b for b in (get("buttons") or []) if isinstance(b, dict) and b.get("payload") != "/request_counsellor"]
    return {"text": body, **({"buttons": buttons} if buttons else {})}


async def translated_answer(answers: TranslatedAnswers | None, question: str, lang: str) -> dict | None:
    """Ask the seam; anything that goes wrong there is "no answer" (a counsellor answers), never an error."""
    if answers is None or not question.strip():
        return None
    try:
        if inspect.iscoroutinefunction(answers):
            result = await answers(question, lang)
        else:  # retrieval embeds the question: off the event loop
            result = await asyncio.get_running_loop().run_in_executor(None, answers, question, lang)
            if inspect.isawaitable(result):
                result = await result
        return as_reply(result)
    except Exception as exc:  # the seam is another package's code: its failure must not silence the reply
        log.error("translated answers failed (%s): a counsellor will answer", type(exc).__name__)
        return None


def is_korean(lang: str | None) -> bool:
    return (lang or KOREAN) == KOREAN


def welcome(lang: str) -> list[dict]:
    return [{"text": emergency.welcome_text(reply_language(lang)),
             "buttons": [emergency.counsellor_button(reply_language(lang))]}]


def counsellor_will_answer(lang: str, already_waiting: bool) -> dict:
    """The full note (with the hours and 1577-1366) once; a short line while the conversation waits."""
    lang = reply_language(lang)
    return {"text": emergency.handoff_note(lang) if already_waiting else emergency.counsellor_will_answer(lang)}
