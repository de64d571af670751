"""Answers from the knowledge base: the matched article, or an honest "I don't know"."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from assistant.settings import get_settings
from assistant.youth_cues import is_minor
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


warm_up()


class ActionAnswerFromKnowledge(Action):
    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        index = services.knowledge()
        channel = (tracker.latest_message.get("metadata") or {}).get("channel", "web")
        if any(is_minor(age) for age in tracker.get_latest_entity_values("age")):
            await services.update_conversation(tracker.sender_id, youth=True)
        article = None
        wanted = next(tracker.get_latest_entity_values("article"), None)
        if wanted:  # a follow-up button names its article
            article = index.articles.get(wanted)
        if article is None:
            text = tracker.latest_message.get("text") or ""
            hits = index.search(text, k=3)
            if hits and hits[0].confidence >= get_settings().kb_min_confidence:
                article = hits[0].article
            log.info("knowledge: %d hits, best confidence %.2f", len(hits), hits[0].confidence if hits else 0.0)
        if article is None:
            reply = unknown_reply()
        else:
            related = [index.articles[r] for r in article.related if r in index.articles]
            reply = article_reply(article, related, channel)
        dispatcher.utter_message(text=reply["text"], buttons=reply.get("buttons", []))
        return []
