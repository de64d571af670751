"""Decides who answers an inbound message, after storing it and assessing its risk.

Order matters: store (a webhook is acknowledged only after this) → assess the risk (the assessor needs no
Rasa, index or LLM; the conversation's earlier messages are read when the database answers) and record it
(the queue sees it before the bot answers) → answer (bot, or nobody while a counsellor holds the
conversation) → store the replies. If storing fails, the message is assessed alone and the person still
gets the emergency numbers: never silence.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.core.clock import utcnow
from assistant.core.languages import KOREAN, SERVED
from assistant.core.risk import risk_max
from assistant.core.settings import Settings
from assistant.language.detect import choose
from assistant.safety import emergency
from assistant.safety.risk.assess import Assessment, RiskAssessor, RiskContext
from assistant.store.crypto import MissingKeyError
from assistant.web.live import LiveHub
from casebook.conversations import service as conv_service
from casebook.models import Conversation, ConversationState, Message
from connectors import languages
from connectors.claims import Claims, Pending, Turns
from connectors.inbound import InboundMessage, Outcome
from connectors.rasa_client import RasaPool, RasaUnavailable, rasa_lock_releaser

log = logging.getLogger("dasi.router")

# Button payloads the bot itself offers may reach Rasa as "/intent{...}"; anything else a user
# types that starts with "/" is plain text, so nobody can trigger intents by hand.
ALLOWED_PAYLOAD = re.compile(r'^/(request_counsellor|affirm|deny|greet|ask_kb)(\{[^{}]{0,200}\})?$')
BOT_STATES = {ConversationState.bot.value, ConversationState.waiting.value}
LIFE_CATEGORIES = ("danger", "self_harm", "medical")
CONTEXT_MESSAGES = 3  # earlier messages the assessor reads with the current one
RECOVERY_WINDOW = timedelta(hours=1)  # unanswered messages this recent are answered after a restart


def _pending_accepted(p: Pending) -> Accepted:
    m, c = p.message, p.conversation
    msg = InboundMessage(channel=c.channel, user_id="", text=m.text, attachments=tuple(m.attachments or ()))
    return Accepted(msg=msg, text=(m.text or "").strip(), conv_id=c.id, public_id=c.public_id, state=c.state,
                    risk=c.risk, inbound_id=m.id, lang=c.language)


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
    """An inbound message that is assessed and stored but not yet answered: webhooks that answer
    through a send API acknowledge at this point and answer in the background."""
    msg: InboundMessage
    text: str
    assessment: Assessment | None = None  # set when the answer starts
    conv_id: int = 0
    public_id: str = ""
    state: str = ConversationState.bot.value
    risk: str = "none"
    inbound_id: int = 0
    duplicate: Outcome | None = None  # set when the platform sent this message before
    context: list[str] = field(default_factory=list)
    lang: str = KOREAN  # the conversation's language after this message (replies are in it)


class ClaimLost(RuntimeError):
    """The claim on a message passed to another gateway (this one outlived its lease): its answer stands."""


LateAnswer = Callable[[Accepted, Outcome], Awaitable[None]]
CLAIM_LEASE = 15.0  # seconds a claim lives unless its gateway renews it (every third of that while answering)
WAIT_POLL = 0.2  # seconds between looks at a message another gateway is answering


class Router:
    def __init__(self, settings: Settings, sessions: async_sessionmaker, http: aiohttp.ClientSession,
                 assessor: RiskAssessor, live: LiveHub | None = None,
                 translated_answers: languages.TranslatedAnswers | None = None, turns: Turns | None = None) -> None:
        self.settings = settings
        # The knowledge half's answers over translated articles (connectors/languages.py): the seam.
        self.translated_answers = translated_answers or languages.default_answers(settings.translated_answers)
        self.live = live or LiveHub()
        self.sessions = sessions
        self.http = http
        self.assessor = assessor
        # Back-pressure: at most this many messages with Rasa at once; a burst waits its turn instead of
        # timing out together. A person's messages are answered one after another, in order, each once
        # (connectors/claims.py: across gateways too).
        self._rasa_slots = asyncio.Semaphore(max(1, settings.rasa_concurrency))
        self.claims = Claims(sessions, settings.instance_name, CLAIM_LEASE)
        self.turns = turns or Turns(wait=settings.bot_patience + CLAIM_LEASE)
        self.rasa = RasaPool(settings.rasa_servers, release_lock=rasa_lock_releaser(self.turns.redis))
        # A person's messages are stored one at a time in this process, so two sent at once open one
        # conversation (across gateways on PostgreSQL: an advisory lock in get_or_create_conversation).
        self._people: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # How an earlier message this gateway answered for another (or a dead) one reaches the person:
        # the channels set it to the outbox (connectors/channels.py).
        self.on_late: LateAnswer | None = None

    async def handle(self, msg: InboundMessage) -> Outcome:
        accepted = Accepted(msg=msg, text=(msg.text or "").strip())
        try:
            await self._accept(accepted)
        except (SQLAlchemyError, OSError, MissingKeyError) as exc:
            return await self._storage_failed(accepted, exc)
        return accepted.duplicate or await self.answer(accepted)

    async def accept(self, msg: InboundMessage) -> Accepted:
        """Store only. Raises on storage failure, so the caller does not acknowledge."""
        accepted = Accepted(msg=msg, text=(msg.text or "").strip())
        await self._accept(accepted)
        return accepted

    async def answer(self, accepted: Accepted) -> Outcome:
        """Assess and answer a stored message, once; never raises for storage: the emergency numbers still
        go out. A slow bot is waited for (settings.bot_patience); only a bot that is down gets the fallback.
        The conversation's earlier unanswered messages are answered first, whichever gateway stored them."""
        async with self.turns.turn(accepted.conv_id):
            try:
                await self._earlier_first(accepted)
                return await self._answer_once(accepted)
            except (SQLAlchemyError, OSError, MissingKeyError) as exc:
                return await self._storage_failed(accepted, exc)

    async def _earlier_first(self, accepted: Accepted) -> None:
        for p in await self.claims.earlier(accepted.conv_id, accepted.inbound_id, utcnow() - RECOVERY_WINDOW):
            earlier = _pending_accepted(p)
            outcome = await self._answer_once(earlier)
            if not outcome.elsewhere and self.on_late is not None:
                await self.on_late(earlier, outcome)

    async def _answer_once(self, accepted: Accepted) -> Outcome:
        """Claim the message and answer it; if another gateway has it, wait for that answer (or for its
        lease to run out, then take it over)."""
        deadline = asyncio.get_running_loop().time() + self.settings.bot_patience + 4 * CLAIM_LEASE
        while asyncio.get_running_loop().time() < deadline:
            if await self.claims.claim(accepted.inbound_id):
                try:
                    async with self.claims.kept(accepted.inbound_id):
                        return await self._answer(accepted)
                except ClaimLost:
                    log.warning("claim on message %s passed to another gateway; its answer stands", accepted.inbound_id)
            done, _ = await self.claims.answered(accepted.inbound_id)
            if done:
                return await self._stored_outcome(accepted)
            await asyncio.sleep(WAIT_POLL)
        log.error("message %s neither answered nor free to answer in time", accepted.inbound_id)
        return await self._storage_failed(accepted, TimeoutError())

    async def _stored_outcome(self, accepted: Accepted) -> Outcome:
        """The replies another gateway (or an earlier run) stored for this message."""
        async with self.sessions() as s:
            conv = await s.get(Conversation, accepted.conv_id)
            inbound = await s.get(Message, accepted.inbound_id)
            previous = await conv_service.replies_to(s, inbound) if inbound is not None else []
        replies = [{"text": m.text or "", **({"buttons": m.buttons} if m.buttons else {})} for m in previous]
        return Outcome(replies=replies, state=conv.state if conv else accepted.state,
                       risk=conv.risk if conv else accepted.risk, message_id=accepted.inbound_id,
                       reply_ids=[m.id for m in previous], elsewhere=True)

    async def unanswered(self, grace: timedelta = timedelta(0)) -> list[Accepted]:
        """Messages stored but never answered (the gateway that stored them stopped, or died while
        answering and its claim ran out), oldest first: this gateway answers them."""
        now = utcnow()
        return [_pending_accepted(p) for p in await self.claims.orphans(now - RECOVERY_WINDOW, now - grace, BOT_STATES)]

    async def _ask_bot(self, public_id: str, text: str, metadata: dict) -> list[dict]:
        async with asyncio.timeout(self.settings.bot_patience):
            async with self._rasa_slots:
                return await self.rasa.ask(self.http, public_id, rasa_text(text), metadata, self.settings.bot_patience,
                                           token=self.settings.rasa_token)

    async def assess(self, accepted: Accepted) -> Assessment:
        """The risk of the message read with the conversation so far. The earlier messages come from the
        database when it answers; without them the message is assessed alone (never not at all)."""
        if accepted.assessment is not None:
            return accepted.assessment
        context: list[str] = []
        carried = RiskContext()
        if accepted.conv_id:
            try:
                context, carried = await self._context(accepted)
            except (SQLAlchemyError, OSError, MissingKeyError) as exc:
                log.error("conversation context unavailable (%s): assessing the message alone", type(exc).__name__)
        a = await asyncio.get_running_loop().run_in_executor(None, self.assessor.assess, accepted.text, context,
                                                             carried)
        if a.alarmed:
            # Categories only: the message text never goes to the log.
            log.warning("risk %s: %s (%s)", a.level, ",".join(a.categories), accepted.msg.channel)
        accepted.assessment = a
        return a

    async def _context(self, accepted: Accepted) -> tuple[list[str], RiskContext]:
        async with self.sessions() as s:
            conv = await s.get(Conversation, accepted.conv_id)
            rows = (await s.scalars(select(Message.text).where(
                Message.conversation_id == accepted.conv_id, Message.direction == "in",
                Message.id < accepted.inbound_id, Message.text.is_not(None))
                .order_by(Message.id.desc()).limit(CONTEXT_MESSAGES))).all()
            return [r for r in reversed(rows) if r], RiskContext.from_dict(conv.risk_context if conv else None)

    async def _storage_failed(self, accepted: Accepted, exc: Exception) -> Outcome:
        log.error("storage failed for a %s message: %s", accepted.msg.channel, type(exc).__name__)
        accepted.conv_id = 0  # nothing to read the context from
        a = await self.assess(accepted)
        lang = accepted.msg.language if accepted.msg.language in SERVED else choose(accepted.text, None)[0]
        replies = emergency.screen_replies(list(a.categories), lang) or [{"text": emergency.fallback_text(lang)}]
        return Outcome(replies=replies, state=ConversationState.bot.value, risk=a.level, stored=False)

    async def _accept(self, accepted: Accepted) -> None:
        msg = accepted.msg
        person = self._people.setdefault(f"{msg.channel}\x1f{msg.user_id}", asyncio.Lock())
        # Store before answering; a retried platform message is answered from what was stored.
        async with person, self.sessions() as s, s.begin():
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
            accepted.conv_id, accepted.public_id = conv.id, conv.public_id
            accepted.state, accepted.risk, accepted.inbound_id = conv.state, conv.risk, stored.id
            accepted.lang = await self._language(s, conv, accepted)
        self.live.publish({"type": "message", "conversation": accepted.public_id, "message_id": accepted.inbound_id,
                           "direction": "in", "state": accepted.state, "risk": accepted.risk,
                           "channel": msg.channel})

    async def _language(self, s, conv: Conversation, accepted: Accepted) -> str:
        """The conversation's language after this message: the person's choice (web chat) sticks; else
        what the message is written in when that is clear (assistant/language/detect.py)."""
        chosen = accepted.msg.language
        if chosen in SERVED:
            await conv_service.set_language(s, conv, chosen, "user", chosen=True)
        if accepted.text.startswith("/"):  # a button's payload says nothing about the language
            return conv.language
        lang, _ = choose(accepted.text, conv.language, conv.language_chosen)
        if not conv.language_chosen:  # a chosen language stays; Korean written under it is answered in Korean
            await conv_service.set_language(s, conv, lang, "language_detector")
        return lang

    async def _record(self, accepted: Accepted, a: Assessment) -> None:
        """The assessment on the conversation (risk, queue, youth, what to carry), before the bot answers."""
        async with self.sessions() as s, s.begin():
            conv = await s.get(Conversation, accepted.conv_id, populate_existing=True)
            await conv_service.record_assessment(s, conv, a.level, a.as_dict(), a.context.as_dict(),
                                                 youth=a.context.minor, handoff=a.alarmed)
            accepted.state, accepted.risk = conv.state, conv.risk
        if a.alarmed:
            self.live.publish({"type": "state", "conversation": accepted.public_id, "state": accepted.state,
                               "risk": accepted.risk, "channel": accepted.msg.channel})

    async def _answer(self, accepted: Accepted) -> Outcome:
        a = await self.assess(accepted)
        await self._record(accepted, a)
        if not languages.is_korean(accepted.lang):
            return await self._answer_in_language(accepted, a)
        msg, text = accepted.msg, accepted.text
        public_id, state, risk = accepted.public_id, accepted.state, accepted.risk

        # 2. Answer. An alarm's reply needs nothing else; the bot answers only while it holds the
        #    conversation; attachments get a short text (they are kept for the counsellor).
        # An alarm's reply comes first (a category alarmed earlier in the conversation gets a short
        # reminder, not the whole text again); then the bot still answers what was asked ("협박당하면
        # 신고할 수 있어요?"), except after self-harm talk, where the 109 reply stands alone.
        # While a counsellor holds the conversation they see the raised risk live; only a threat to life
        # still gets its numbers automatically.
        said = [c for c in a.categories if state in BOT_STATES or c in LIFE_CATEGORIES]
        replies: list[dict] = emergency.alarm_replies(said, [c for c in a.new_categories if c in said])
        failed_component = None
        bot_may_answer = state in BOT_STATES and "self_harm" not in a.categories
        if bot_may_answer and text:
            try:
                answer = await self._ask_bot(public_id, text, {"channel": msg.channel, "risk": risk, "state": state,
                                                               "assessment": a.as_dict()})
                shown = {r["text"] for r in replies}  # the bot's own emergency reply would repeat the screen's
                replies += [r for r in answer if r["text"] not in shown]
            except (RasaUnavailable, TimeoutError) as exc:  # down, or slower than any patience
                failed_component = "rasa"
                log.error("assistant unavailable for conversation %s: %s", public_id, str(exc) or type(exc).__name__)
                replies = replies or [{"text": emergency.fallback_text()},
                                      {"text": emergency.handoff_note(), "buttons": [emergency.COUNSELLOR_BUTTON]}]
            if a.level == "medium" and not a.alarmed and not failed_component:
                # Not an alarm, but not nothing: the number stays in view, nobody is paged (the fallback
                # already carries every number).
                replies.append({"text": emergency.REMINDERS[a.likeliest]})
        elif bot_may_answer and msg.attachments:
            replies += [{"text": emergency.attachment_text()}]

        return await self._store_replies(accepted, a, replies, failed_component, None)

    async def _store_replies(self, accepted: Accepted, a: Assessment, replies: list[dict],
                             failed_component: str | None, queue_reason: str | None) -> Outcome:
        """3. Store the replies and read back the state (an action may have changed it)."""
        async with self.sessions() as s, s.begin():
            if not await self.claims.finish(s, accepted.inbound_id):
                raise ClaimLost(accepted.inbound_id)  # nothing of this answer is stored
            conv = await s.get(Conversation, accepted.conv_id, populate_existing=True)
            inbound = await s.get(Message, accepted.inbound_id)
            if failed_component:
                await conv_service.record_failure(s, conv, failed_component, "unavailable")
                await conv_service.request_handoff(s, conv, "system", reason=f"{failed_component}_unavailable")
            if queue_reason:
                await conv_service.request_handoff(s, conv, "system", reason=queue_reason)
            stored_replies = await conv_service.store_replies(s, conv, replies, inbound)
            state, risk = conv.state, risk_max(conv.risk, a.level)
        self.live.publish({"type": "message", "conversation": accepted.public_id, "message_id": accepted.inbound_id,
                           "direction": "out", "state": state, "risk": risk, "channel": accepted.msg.channel})
        return Outcome(replies=replies, state=state, risk=risk, message_id=accepted.inbound_id,
                       reply_ids=[m.id for m in stored_replies])

    async def _answer_in_language(self, accepted: Accepted, a: Assessment) -> Outcome:
        """A message in another language: no Korean NLU. The alarm's reply in the person's language (the
        assessment already queued the conversation); a button's payload; the translated knowledge base;
        else a counsellor answers and the conversation is queued with its language."""
        lang, text, state = accepted.lang, accepted.text, accepted.state
        said = [c for c in a.categories if state in BOT_STATES or c in LIFE_CATEGORIES]
        replies = emergency.alarm_replies(said, [c for c in a.new_categories if c in said], lang)
        queue_reason = None
        if state in BOT_STATES and "self_harm" not in a.categories:
            if text.startswith("/greet"):
                replies += languages.welcome(lang)
            elif text.startswith("/request_counsellor"):
                replies.append(languages.counsellor_will_answer(lang, state == ConversationState.waiting.value))
                queue_reason = "requested"
            elif text and not text.startswith("/"):
                answer = await languages.translated_answer(self.translated_answers, text, lang)
                if answer is not None:
                    replies.append(answer)
                elif not a.alarmed:
                    replies.append(languages.counsellor_will_answer(lang, state == ConversationState.waiting.value))
                    queue_reason = languages.QUEUE_REASON
                if a.level == "medium" and not a.alarmed:
                    replies.append({"text": emergency.reminder(a.likeliest, lang)})
            elif accepted.msg.attachments:
                replies.append({"text": emergency.attachment_text(lang)})
        if not replies and state in BOT_STATES:  # never silence (a counsellor holding it answers them)
            replies.append(languages.counsellor_will_answer(lang, True))
        return await self._store_replies(accepted, a, replies, None, queue_reason)
