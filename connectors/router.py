"""Decides who answers an inbound message, after storing it and screening it for danger.

Order matters: screen (depends on nothing) → store → answer (bot or nobody while a counsellor
holds the conversation) → store the replies. A failure anywhere after the screen still ends with
the emergency numbers in the reply: never silence.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.core.risk import risk_max
from assistant.core.settings import Settings
from assistant.safety import emergency
from assistant.safety.screen import Lexicon, ScreenResult
from assistant.store.crypto import MissingKeyError
from assistant.web.live import LiveHub
from casebook.conversations import service as conv_service
from casebook.models import Conversation, ConversationState, Message
from connectors.inbound import InboundMessage, Outcome
from connectors.rasa_client import RasaUnavailable, ask_rasa

log = logging.getLogger("dasi.router")

# Button payloads the bot itself offers may reach Rasa as "/intent{...}"; anything else a user
# types that starts with "/" is plain text, so nobody can trigger intents by hand.
ALLOWED_PAYLOAD = re.compile(r'^/(request_counsellor|affirm|deny|greet|ask_kb)(\{[^{}]{0,200}\})?$')
BOT_STATES = {ConversationState.bot.value, ConversationState.waiting.value}


def rasa_text(text: str) -> str:
    text = text.strip()
    if text.startswith("/"):
        m = ALLOWED_PAYLOAD.match(text)
        if m and (m.group(2) is None or _valid_json(m.group(2))):
            return text
        return text.lstrip("/").strip() or "?"
    return text


def _valid_json(s: str) -> bool:
    try:
        return isinstance(json.loads(s), dict)
    except ValueError:
        return False


@dataclass
class Accepted:
    """An inbound message that is stored (and screened) but not yet answered: webhooks that answer
    through a send API acknowledge at this point and answer in the background."""
    msg: InboundMessage
    text: str
    screened: ScreenResult
    conv_id: int = 0
    public_id: str = ""
    state: str = ConversationState.bot.value
    risk: str = "none"
    inbound_id: int = 0
    duplicate: Outcome | None = None  # set when the platform sent this message before


class Router:
    def __init__(self, settings: Settings, sessions: async_sessionmaker, http: aiohttp.ClientSession,
                 lexicon: Lexicon, live: LiveHub | None = None) -> None:
        self.settings = settings
        self.live = live or LiveHub()
        self.sessions = sessions
        self.http = http
        self.lexicon = lexicon

    async def handle(self, msg: InboundMessage) -> Outcome:
        accepted = self.screen(msg)
        try:
            await self._accept(accepted)
        except (SQLAlchemyError, OSError, MissingKeyError) as exc:
            return self._storage_failed(accepted, exc)
        return accepted.duplicate or await self.answer(accepted)

    def screen(self, msg: InboundMessage) -> Accepted:
        text = (msg.text or "").strip()
        screened = self.lexicon.screen(text) if text else ScreenResult()
        if screened.alarmed:
            # Categories only: the message text never goes to the log.
            log.warning("safety screen: %s (%s)", ",".join(screened.categories), msg.channel)
        return Accepted(msg=msg, text=text, screened=screened)

    async def accept(self, msg: InboundMessage) -> Accepted:
        """Screen and store only. Raises on storage failure, so the caller does not acknowledge."""
        accepted = self.screen(msg)
        await self._accept(accepted)
        return accepted

    async def answer(self, accepted: Accepted) -> Outcome:
        """Answer a stored message; never raises for storage: the emergency numbers still go out."""
        try:
            return await self._answer(accepted)
        except (SQLAlchemyError, OSError, MissingKeyError) as exc:
            return self._storage_failed(accepted, exc)

    def _storage_failed(self, accepted: Accepted, exc: Exception) -> Outcome:
        log.error("storage failed for a %s message: %s", accepted.msg.channel, type(exc).__name__)
        screened = accepted.screened
        replies = emergency.screen_replies(screened.categories) or [{"text": emergency.fallback_text()}]
        return Outcome(replies=replies, state=ConversationState.bot.value, risk=screened.risk, stored=False)

    async def _accept(self, accepted: Accepted) -> None:
        msg, screened = accepted.msg, accepted.screened
        # 1. Store before answering; a retried platform message is answered from what was stored.
        async with self.sessions() as s, s.begin():
            conv = await conv_service.get_or_create_conversation(s, msg.channel, msg.user_id)
            stored, created = await conv_service.store_inbound(s, conv, msg.text, msg.platform_message_id,
                                                               list(msg.attachments) or None)
            if not created:
                previous = await conv_service.replies_to(s, stored)
                replies = [{"text": m.text or "", **({"buttons": m.buttons} if m.buttons else {})} for m in previous]
                accepted.duplicate = Outcome(
                    replies=replies or [{"text": "메시지를 받았어요. 잠시만 기다려 주세요."}],
                    state=conv.state, risk=conv.risk, message_id=stored.id, reply_ids=[m.id for m in previous])
                return
            if screened.alarmed:
                await conv_service.raise_risk(s, conv, screened.risk, "safety_screen",
                                              categories=screened.categories)
                await conv_service.request_handoff(s, conv, "safety_screen", reason="safety_screen")
            accepted.conv_id, accepted.public_id = conv.id, conv.public_id
            accepted.state, accepted.risk, accepted.inbound_id = conv.state, conv.risk, stored.id
        self.live.publish({"type": "message", "conversation": accepted.public_id, "message_id": accepted.inbound_id,
                           "direction": "in", "state": accepted.state, "risk": accepted.risk,
                           "channel": msg.channel})

    async def _answer(self, accepted: Accepted) -> Outcome:
        msg, text, screened = accepted.msg, accepted.text, accepted.screened
        conv_id, public_id, state, risk = accepted.conv_id, accepted.public_id, accepted.state, accepted.risk
        inbound_id = accepted.inbound_id

        # 2. Answer. The screen's reply needs nothing else; the bot answers only while it holds
        #    the conversation; attachments get a short text (they are kept for the counsellor).
        # An alarm's reply comes first; then the bot still answers what was asked ("협박당하면
        # 신고할 수 있어요?"), except after self-harm talk, where the 109 reply stands alone.
        replies: list[dict] = emergency.screen_replies(screened.categories) if screened.alarmed else []
        failed_component = None
        bot_may_answer = state in BOT_STATES and "self_harm" not in screened.categories
        if bot_may_answer and text:
            try:
                answer = await ask_rasa(self.http, self.settings.rasa_url, public_id, rasa_text(text),
                                        {"channel": msg.channel, "risk": risk, "state": state},
                                        self.settings.reply_timeout)
                said = {r["text"] for r in replies}  # the bot's own emergency reply would repeat the screen's
                replies += [r for r in answer if r["text"] not in said]
            except RasaUnavailable as exc:
                failed_component = "rasa"
                log.error("assistant unavailable for conversation %s: %s", public_id, exc)
                replies = replies or [{"text": emergency.fallback_text()},
                                      {"text": emergency.handoff_note(), "buttons": [emergency.COUNSELLOR_BUTTON]}]
        elif bot_may_answer and msg.attachments:
            replies += [{"text": "보내 주신 파일은 상담원이 확인할 수 있게 저장했어요. "
                                 "글로도 상황을 알려 주시면 도와드릴게요."}]

        # 3. Store the replies and read back the state (an action may have changed it).
        async with self.sessions() as s, s.begin():
            conv = await s.get(Conversation, conv_id, populate_existing=True)
            inbound = await s.get(Message, inbound_id)
            if failed_component:
                await conv_service.record_failure(s, conv, failed_component, "unavailable")
                await conv_service.request_handoff(s, conv, "system", reason=f"{failed_component}_unavailable")
            stored_replies = await conv_service.store_replies(s, conv, replies, inbound)
            state, risk = conv.state, risk_max(conv.risk, screened.risk)
        self.live.publish({"type": "message", "conversation": public_id, "message_id": inbound_id,
                           "direction": "out", "state": state, "risk": risk, "channel": msg.channel})
        return Outcome(replies=replies, state=state, risk=risk, message_id=inbound_id,
                       reply_ids=[m.id for m in stored_replies])
