"""`POST /webhooks/kakao`: the Open Builder skill server.

Kakao waits 5 s for the answer in the HTTP response. The message is stored first; the bot gets
KAKAO_REPLY_BUDGET (3.5 s) to answer. Later than that, the answer goes through the request's
callbackUrl (`useCallback: true`) if the block has one, or waits for the person's next utterance.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from assistant.safety import emergency
from assistant.store.crypto import MissingKeyError
from assistant.web.appkeys import SETTINGS
from assistant.web.errors import ApiError
from casebook.conversations import service as conv_service
from casebook.models import Conversation, ConversationState
from connectors.appkeys import OUTBOX, ROUTER
from connectors.inbound import InboundMessage, Outcome
from connectors.kakao import callbacks
from connectors.kakao.render import NEXT_UTTERANCE_TEXT, skill_response, use_callback
from connectors.router import Accepted
from connectors.webhook_common import get, id_or_none, json_object, same, text_or_none

log = logging.getLogger("dasi.kakao")

DEDUPE_BUCKET = 10  # seconds: the same utterance from the same person within it is one message
# How user images arrive is UNVERIFIED: a CDN URL as the utterance, or URLs in a plugin's params
# (보안 이미지 plugin). Both are kept as attachments, never sent to Rasa.
IMAGE_URL = re.compile(r"https?://[^\s'\",()]+\.(?:kakaocdn\.net|kakao\.com)/[^\s'\",()]*", re.I)
MIN_CALLBACK_DELAY = 1.0  # Kakao rejected callbacks POSTed right after the ack (Hermes' notes)


def parse(payload: dict, now: float | None = None) -> InboundMessage:
    user = id_or_none(get(payload, "userRequest", "user", "id"))
    utterance = get(payload, "userRequest", "utterance")
    if user is None or not isinstance(utterance, str):
        raise ApiError(400, "invalid_skill_payload", "userRequest.user.id and userRequest.utterance are required")
    attachments = _attachments(payload, utterance)
    text = text_or_none(get(payload, "action", "clientExtra", "payload")) or text_or_none(utterance)
    if attachments and text and IMAGE_URL.fullmatch(text.strip()):
        text = None  # the utterance was only the image's address
    bucket = int((time.time() if now is None else now) // DEDUPE_BUCKET)
    # No message id in Kakao's payload, and X-Request-Id is UNVERIFIED (a re-POST might get a new one):
    # the same person saying the same thing within the bucket is one message.
    key = hashlib.sha256(f"{user}\x1f{utterance}\x1f{bucket}".encode()).hexdigest()
    return InboundMessage(channel="kakao", user_id=user, text=text, platform_message_id=f"k:{key}"[:200],
                          attachments=attachments)


def _attachments(payload: dict, utterance: str) -> tuple[dict, ...]:
    urls = []
    if IMAGE_URL.fullmatch(utterance.strip()):
        urls.append(utterance.strip())
    params = get(payload, "action", "params")
    if isinstance(params, dict):
        for name, value in params.items():
            if isinstance(name, str) and "image" in name.lower() and isinstance(value, str):
                urls += IMAGE_URL.findall(value)
    return tuple({"type": "image", "url": u[:2000]} for u in dict.fromkeys(urls))


async def receive(request: web.Request) -> web.Response:
    started = time.monotonic()
    app = request.app
    settings, router, outbox = app[SETTINGS], app[ROUTER], app[OUTBOX]
    if not same(settings.kakao_skill_secret, request.headers.get("X-Skill-Secret")):
        raise ApiError(401, "bad_secret", "X-Skill-Secret missing or wrong")
    payload = json_object(await request.read())
    msg = parse(payload)
    callback_url = get(payload, "userRequest", "callbackUrl")

    try:
        accepted = await router.accept(msg)
    except (SQLAlchemyError, OSError, MissingKeyError):
        # One more try through the whole router: it answers the emergency text even if storage stays down.
        return _json(skill_response((await router.handle(msg)).replies)[0])
    if accepted.duplicate is not None:
        return _json(skill_response(accepted.duplicate.replies)[0])

    await router.assess(accepted)  # before any wait: a late bot never delays the emergency numbers
    answering = outbox.spawn(router.answer(accepted))
    budget = max(0.0, settings.kakao_reply_budget - (time.monotonic() - started))
    done, _ = await asyncio.wait({answering}, timeout=budget)
    if done:
        outcome = answering.result()
        try:
            return _json(await _respond_now(app, accepted, outcome))
        except (SQLAlchemyError, OSError, MissingKeyError):  # the answer itself still goes out
            return _json(skill_response(outcome.replies)[0])

    if isinstance(callback_url, str) and callbacks.callback_allowed(callback_url, settings.kakao_callback_hosts):
        async with router.sessions() as s, s.begin():
            conv = await s.get(Conversation, accepted.conv_id)
            await callbacks.remember(s, conv, callback_url)
        outbox.spawn(_deliver_late(app, answering, time.monotonic()))
        return _json(use_callback())
    if isinstance(callback_url, str):
        log.warning("kakao callbackUrl host not allowed; answer waits for the next utterance")
    # No callback: whatever was waiting goes now with a holding note; this answer goes next time.
    return _json(await _respond_now(app, accepted, None))


async def _respond_now(app: web.Application, accepted: Accepted, outcome: Outcome | None) -> dict:
    """Everything not yet delivered to this person (earlier late answers, counsellor replies, and this
    answer) as one SkillResponse; what fits is marked sent, the rest waits for the next utterance."""
    router, outbox = app[ROUTER], app[OUTBOX]
    if outcome is not None and not outcome.stored:
        return skill_response(outcome.replies)[0]  # storage failed: the emergency text, unrecorded
    async with router.sessions() as s, s.begin():
        conv = await s.get(Conversation, accepted.conv_id)
        waiting = await conv_service.undelivered(s, conv)
        operator = conv.state == ConversationState.waiting.value
        if operator:
            await callbacks.offer_operator_once(s, conv)
    # The bot is late: danger still gets its numbers now, first; then what waited; then a holding note.
    alarmed = list(accepted.assessment.categories) if accepted.assessment else []  # assessed before Rasa is asked
    head = emergency.screen_replies(alarmed, accepted.lang)[:1] if outcome is None else []
    tail = [{"text": NEXT_UTTERANCE_TEXT}] if outcome is None else []
    replies = head + [{"text": m.text or "", "buttons": m.buttons or []} for m in waiting] + tail
    response, fitted = skill_response(replies, operator=operator)
    await outbox.mark_sent([m.id for m in waiting[:max(0, fitted - len(head))]], via="kakao_response")
    return response


async def _deliver_late(app: web.Application, answering: asyncio.Task, acked_at: float) -> None:
    outcome: Outcome = await answering
    if outcome.elsewhere:
        return  # another gateway answered it and sends the replies
    await asyncio.sleep(max(0.0, MIN_CALLBACK_DELAY - (time.monotonic() - acked_at)))
    for mid in outcome.reply_ids:  # the Kakao sender bundles them into the one callback
        await app[OUTBOX].deliver(mid)


def _json(body: dict) -> web.Response:
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def setup(app: web.Application) -> None:
    app.router.add_post("/webhooks/kakao", receive)
