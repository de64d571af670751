"""Kakao's one-time callback URLs: kept briefly so a late answer (the bot's or a counsellor's) can
still reach the person; otherwise replies wait for the person's next utterance.

Callbacks go only to hosts in KAKAO_CALLBACK_HOSTS (SSRF guard: the URL comes from the request)."""
from __future__ import annotations

import fnmatch
import ipaddress
import logging
from datetime import timedelta

import aiohttp
from sqlalchemy import select
from yarl import URL

from assistant.core.clock import utcnow
from assistant.core.settings import Settings
from casebook.conversations import service as conv_service
from casebook.models import Conversation, ConversationEvent, KakaoCallback
from connectors.kakao.render import skill_response
from connectors.outbound import Delivery, SendError, Sent
from connectors.webhook_common import get, post_json

log = logging.getLogger("dasi.kakao")

# "callbackUrl valid time: 1min"; keep a margin for the POST itself.
CALLBACK_LIFE = timedelta(seconds=55)
MIN_LEFT = timedelta(seconds=2)


def callback_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """https to a host matching one of the patterns (`*.kakao.com`); plain http only to a host named
    exactly in the list and on a loopback address (local tests)."""
    try:
        u = URL(url, encoded=True)
    except (ValueError, TypeError):
        return False
    host = (u.host or "").lower()
    if not host or u.user or u.password or u.scheme not in ("https", "http"):
        return False
    if u.scheme == "http":
        try:
            return host in hosts and ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in hosts)


async def remember(session, conv: Conversation, url: str) -> None:
    session.add(KakaoCallback(conversation_id=conv.id, url=url, expires_at=utcnow() + CALLBACK_LIFE))


async def pending(session, conversation_id: int) -> KakaoCallback | None:
    return (await session.scalars(select(KakaoCallback).where(
        KakaoCallback.conversation_id == conversation_id, KakaoCallback.used_at.is_(None),
        KakaoCallback.expires_at > utcnow() + MIN_LEFT).order_by(KakaoCallback.id.desc()).limit(1))).first()


async def offer_operator_once(session, conv: Conversation) -> None:
    """Record that the person was offered Kakao's 1:1 chat (we cannot see whether they pressed it)."""
    seen = (await session.scalars(select(ConversationEvent.id).where(
        ConversationEvent.conversation_id == conv.id, ConversationEvent.kind == "handoff_channel"))).first()
    if seen is None:
        conv_service.add_event(session, conv, "handoff_channel", "system", to="kakao_1on1", how="operator_button")


class KakaoSender:
    """The outbox's sender for Kakao: through a pending callback (bundling everything not yet
    delivered), or queued for the next utterance."""

    def __init__(self, settings: Settings, sessions, http: aiohttp.ClientSession) -> None:
        self.settings, self.sessions, self.http = settings, sessions, http

    async def send(self, d: Delivery) -> Sent:
        async with self.sessions() as s, s.begin():
            cb = await pending(s, d.conversation_id)
            conv = await s.get(Conversation, d.conversation_id)
            waiting = await conv_service.undelivered(s, conv)
            if cb is None or not callback_allowed(cb.url, self.settings.kakao_callback_hosts):
                return Sent(via="kakao_next_utterance", queued=True)
            cb_id, url = cb.id, cb.url
            replies = [{"text": m.text or "", "buttons": m.buttons or []} for m in waiting]
            ids = [m.id for m in waiting]
        response, fitted = skill_response(replies)
        _, _, body = await post_json(self.http, URL(url, encoded=True), response, {})
        status = get(body, "status")
        async with self.sessions() as s, s.begin():
            cb = await s.get(KakaoCallback, cb_id)
            cb.used_at = utcnow()  # one use only, whatever Kakao answered
        if status not in (None, "SUCCESS"):  # an expired or refused token: the next utterance carries it
            log.warning("kakao callback refused: %s", status if isinstance(status, str) else "?")
            return Sent(via="kakao_next_utterance", queued=True)
        included = ids[:fitted]
        if d.message_id not in included:
            raise SendError("not_rendered")  # retried: the next bundle starts with it
        return Sent(via="kakao_callback", message_ids=included)
