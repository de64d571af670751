"""`GET/POST /webhooks/meta`: verification handshake, signed event batches."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from assistant.core.settings import Settings
from assistant.web.appkeys import SETTINGS
from assistant.web.errors import ApiError
from connectors.inbound import InboundMessage
from connectors.webhook_common import (
    accept_all,
    answer_in_background,
    get,
    hex_signature,
    id_or_none,
    json_object,
    same,
    text_or_none,
)

log = logging.getLogger("dasi.meta")

CHANNELS = {"instagram": "instagram", "page": "messenger"}
MAX_CHALLENGE = 200
# Meta batches up to 1,000 events in one POST, which can exceed the gateway's 64 KiB cap.
MAX_BATCH_BODY = 1024 * 1024


@dataclass(frozen=True)
class Parsed:
    message: InboundMessage
    answer: bool  # False for standby events: another app (e.g. the Inbox) owns the thread


def signature_ok(settings: Settings, body: bytes, header: str | None) -> bool:
    """`sha256=<hex HMAC of the raw body>`. Which secret signs Instagram-Login webhooks is UNVERIFIED,
    so the Instagram app secret is accepted too when it is configured."""
    secrets = [s for s in (settings.meta_app_secret, settings.meta_instagram_app_secret) if s]
    return any(same(hex_signature(secret, body), header) for secret in secrets)


def parse(payload: dict) -> tuple[list[Parsed], Counter]:
    """Every user message in a batch, in order; echoes, reads, reactions and typing are counted, not kept."""
    out: list[Parsed] = []
    skipped: Counter = Counter()
    obj = payload.get("object")
    channel = CHANNELS.get(obj) if isinstance(obj, str) else None
    entries = payload.get("entry")
    if channel is None or not isinstance(entries, list):
        skipped["not_messaging"] += 1
        return out, skipped
    for entry in entries:
        for key in ("messaging", "standby"):
            items = get(entry, key)
            for item in items if isinstance(items, list) else []:
                parsed = _parse_item(channel, item, answer=key == "messaging")
                if isinstance(parsed, Parsed):
                    out.append(parsed)
                else:
                    skipped[parsed] += 1
    return out, skipped


def _parse_item(channel: str, item: object, answer: bool) -> Parsed | str:
    sender = id_or_none(get(item, "sender", "id"))
    if sender is None:
        return "no_sender"
    message, postback = get(item, "message"), get(item, "postback")
    if isinstance(message, dict):
        if message.get("is_echo") is True or message.get("is_self") is True:
            return "echo"  # our own sends (and the page's) come back as echoes
        if message.get("is_deleted") is True:
            return "deleted"
        mid = id_or_none(message.get("mid"))
        payload = get(message, "quick_reply", "payload")
        text = text_or_none(payload) or text_or_none(message.get("text"))
        raw = message.get("attachments")
        attachments = tuple(a for a in map(_attachment, raw) if a) if isinstance(raw, list) else ()
        if text is None and not attachments:
            return "empty"
        return Parsed(InboundMessage(channel=channel, user_id=sender, text=text, platform_message_id=mid,
                                     attachments=attachments), answer)
    if isinstance(postback, dict):
        text = text_or_none(postback.get("payload")) or text_or_none(postback.get("title"))
        if text is None:
            return "empty"
        mid = id_or_none(postback.get("mid"))
        if mid is None:  # older postbacks carry no mid: the event's time identifies it
            ts = id_or_none(get(item, "timestamp"))
            mid = f"postback:{sender}:{ts}" if ts else None
        return Parsed(InboundMessage(channel=channel, user_id=sender, text=text, platform_message_id=mid), answer)
    for kind in ("read", "reaction", "delivery", "typing", "pass_thread_control", "take_thread_control",
                 "referral", "optin"):
        if kind in item:  # type: ignore[operator]
            return kind
    return "other"


def _attachment(a: object) -> dict | None:
    kind, url = get(a, "type"), get(a, "payload", "url")
    if not isinstance(kind, str) or len(kind) > 30:
        return None
    return {"type": kind, "url": url if isinstance(url, str) and len(url) <= 2000 else None}


async def verify(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    q = request.query
    challenge = q.get("hub.challenge", "")
    if q.get("hub.mode") != "subscribe" or not same(settings.meta_verify_token, q.get("hub.verify_token")) \
            or not challenge or len(challenge) > MAX_CHALLENGE:
        raise ApiError(403, "forbidden", "verification failed")
    return web.Response(text=challenge, content_type="text/plain")


async def receive(request: web.Request) -> web.Response:
    body = await request.clone(client_max_size=MAX_BATCH_BODY).read()
    if not signature_ok(request.app[SETTINGS], body, request.headers.get("X-Hub-Signature-256")):
        raise ApiError(403, "bad_signature", "signature missing or wrong")
    parsed, skipped = parse(json_object(body))
    accepted = await accept_all(request.app, [p.message for p in parsed])
    # Standby messages are kept for the counsellors but not answered: we do not own that thread.
    answer_in_background(request.app, [a for a, p in zip(accepted, parsed, strict=True) if p.answer])
    if skipped:
        log.info("meta batch: %d stored, skipped %s", len(parsed), dict(skipped))
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/webhooks/meta", verify)
    app.router.add_post("/webhooks/meta", receive)
