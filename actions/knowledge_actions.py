"""Answers from the knowledge base: the matched article, or an honest "I don't know"."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.question_shape import looks_like_question
from assistant.core.settings import get_settings
from assistant.safety.youth_cues import is_minor
from knowledge import llm
from knowledge.answers import article_reply, unknown_reply

log = logging.getLogger("dasi.actions")


def warm_up() -> None:
    """Load the index and run one search when the action server starts, not on a person's first
    question (loading takes seconds; the gateway waits only 3). A missing index is logged loudly
    and the health page reports it."""
    try:
        services.knowledge().warm_up()
    except Exception as exc:  # the server still starts: safety and handoff actions do not need the index
        log.error("knowledge index not loaded: %s", exc)
    llm.warm_up()


warm_up()


async def knowledge_reply(tracker: Tracker, min_confidence: float | None = None) -> dict | None:
    """The knowledge answer to the latest message, or None when no article is a confident match.

    The reply is the best article; its buttons are the next best matches (what the person may
    have meant instead), else the article's own follow-ups, then "상담원 연결"."""
    index = services.knowledge()
    settings = get_settings()
    channel = (tracker.latest_message.get("metadata") or {}).get("channel", "web")
    wanted = next(tracker.get_latest_entity_values("article"), None)
    if wanted and wanted in index.articles:  # a follow-up button names its article
        article = index.articles[wanted]
        return article_reply(article, [index.articles[r] for r in article.related if r in index.articles], channel)
    text = tracker.latest_message.get("text") or ""
    threshold = settings.kb_min_confidence if min_confidence is None else min_confidence
    hits = [h for h in index.search(text, k=3) if h.confidence >= threshold]
    log.info("knowledge: %d confident hits", len(hits))
    if not hits:
        return None
    article = hits[0].article
    alternatives = [h.article for h in hits[1:]] or [index.articles[r] for r in article.related if r in index.articles]
    reply = article_reply(article, alternatives, channel)
    if settings.llm_enabled:  # optional rewrite from the confident hits only; None keeps the article
        rewritten = await llm.llm_answer(text, hits, channel)
        if rewritten:
            reply = {**reply, "text": rewritten}
    return reply


async def flag_if_minor(tracker: Tracker) -> None:
    if any(is_minor(age) for age in tracker.get_latest_entity_values("age")):
        await services.update_conversation(tracker.sender_id, youth=True)


class ActionAnswerFromKnowledge(Action):
    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        await flag_if_minor(tracker)
        await answer_or_admit(dispatcher, tracker)
        return []


async def answer_or_admit(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The knowledge answer, or an honest "I don't know" with the counsellor button."""
    reply = await knowledge_reply(tracker) or unknown_reply()
    dispatcher.utter_message(text=reply["text"], buttons=reply.get("buttons", []))


# Small talk and off-topic messages that still match an article this closely are answered from
# it: NLU sometimes files a real question under chitchat, and a right answer beats a polite no.
SMALLTALK_CONFIDENCE = 0.9


def strict_bar() -> float:
    return max(SMALLTALK_CONFIDENCE, get_settings().kb_min_confidence)


def question_bar(text: str) -> float:
    """The confidence an article needs to be added to a non-question intent's reply: the normal bar
    when the message is shaped like a question, else the small-talk bar."""
    return get_settings().kb_min_confidence if looks_like_question(text) else strict_bar()


class ActionSmalltalk(Action):
    """Chit-chat, off-topic, "yes" and "no": a fixed reply, unless an article answers the message."""

    def name(self) -> str:
        return "action_smalltalk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        # A "yes" or "no" may be a question in disguise ("시설 들어가면 못 나오는 거 아님?"): answered at the
        # normal bar, while a plain "네"/"아니요" never is. Chit-chat, even question-shaped ("너 이름 뭐야?"),
        # needs the strict bar, where loose matches fail.
        reply = None
        if intent in ("affirm", "deny"):
            if looks_like_question(text):
                reply = await knowledge_reply(tracker, get_settings().kb_min_confidence)
        else:
            reply = await knowledge_reply(tracker, strict_bar())
        if reply:
            dispatcher.utter_message(text=reply["text"], buttons=reply.get("buttons", []))
        else:
            fixed = {"out_of_scope": "utter_out_of_scope", "affirm": "utter_affirm", "deny": "utter_deny"}
            dispatcher.utter_message(response=fixed.get(intent or "", "utter_chitchat"))
        return []
