"""`GET/POST /webhooks/x`: the CRC challenge and signed Account Activity events."""
from __future__ import annotations

import logging
import re
from collections import Counter

from aiohttp import web

from assistant.core.settings import Settings
from assistant.web.appkeys import SETTINGS
from assistant.web.errors import ApiError
from connectors.inbound import InboundMessage
from connectors.webhook_common import (
    accept_all,
    answer_in_background,
    b64_signature,
    get,
    id_or_none,
    json_object,
    same,
    text_or_none,
)

log = logging.getLogger("dasi.x")

USER_ID = re.compile(r"^[0-9]{1,25}$")  # X ids are numeric strings; they also go into the send URL
# The CRC answer is HMAC(secret, token) in the very format of a webhook signature, so the CRC must never
# sign anything that could be a body. X does not document the token's shape; the ones seen are short
# base64(-url) strings (base64 of a UUID, 48 characters). This alphabet has no `{`, `"` or space, so no
# JSON object (the only body `receive` accepts) can be a token.
CRC_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{1,128}")


def crc_secret(settings: Settings) -> str:
    # The docs disagree (consumer secret vs OAuth 2.0 client secret "when available"): client secret first.
    return settings.x_client_secret or settings.x_consumer_secret


def crc_response(settings: Settings, crc_token: str) -> dict:
    if not CRC_TOKEN.fullmatch(crc_token):  # checked here so that no caller can sign a body with it
        raise ApiError(400, "invalid_crc_token", "crc_token is missing or not of X's shape")
    return {"response_token": b64_signature(crc_secret(settings), crc_token.encode("utf-8"))}


def signature_ok(settings: Settings, body: bytes, oauth2: str | None, legacy: str | None) -> bool:
    """OAuth2 header first (client secret), then the legacy header (consumer secret). UNVERIFIED which
    key signs the OAuth2 header for apps without a client secret, so the CRC secret is tried too."""
    checks = [(oauth2, settings.x_client_secret), (oauth2, crc_secret(settings)), (legacy, settings.x_consumer_secret)]
    return any(secret and header and same(b64_signature(secret, body), header) for header, secret in checks)


def parse(payload: dict, bot_user_id: str) -> tuple[list[InboundMessage], Counter]:
    out: list[InboundMessage] = []
    skipped: Counter = Counter()
    for_user = id_or_none(payload.get("for_user_id"))
    events = payload.get("direct_message_events")
    if not isinstance(events, list):
        skipped["not_dm"] += 1
        return out, skipped
    if not bot_user_id or for_user != bot_user_id:
        skipped["other_account"] += len(events)  # another subscribed account's copy (or no bot id: none is ours)
        return out, skipped
    for ev in events:
        if get(ev, "type") != "message_create":
            skipped["other"] += 1
            continue
        sender = id_or_none(get(ev, "message_create", "sender_id"))
        event_id = id_or_none(get(ev, "id"))
        if sender is None or not USER_ID.match(sender) or event_id is None:
            skipped["malformed"] += 1
            continue
        if sender in (for_user, bot_user_id):
            skipped["own"] += 1  # our own sends come back as events too
            continue
        data = get(ev, "message_create", "message_data")
        text = text_or_none(get(data, "quick_reply_response", "metadata")) or text_or_none(get(data, "text"))
        media = get(data, "attachment", "media")
        attachments: tuple[dict, ...] = ()
        if isinstance(media, dict):
            url, kind = media.get("media_url_https"), media.get("type")
            attachments = ({"type": kind if isinstance(kind, str) else "media",
                            "url": url if isinstance(url, str) else None},)
        if text is None and not attachments:
            skipped["empty"] += 1
            continue
        out.append(InboundMessage(channel="x", user_id=sender, text=text, platform_message_id=event_id,
                                  attachments=attachments))
    return out, skipped


async def crc(request: web.Request) -> web.Response:
    return web.json_response(crc_response(request.app[SETTINGS], request.query.get("crc_token", "")))


async def receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    body = await request.read()
    if not signature_ok(settings, body, request.headers.get("X-Twitter-Webhooks-Signature-OAuth2"),
                        request.headers.get("X-Twitter-Webhooks-Signature")):
        raise ApiError(401, "bad_signature", "signature missing or wrong")
    messages, skipped = parse(json_object(body), settings.x_bot_user_id)
    answer_in_background(request.app, await accept_all(request.app, messages))
    if skipped:
        log.info("x events: %d stored, skipped %s", len(messages), dict(skipped))
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/webhooks/x", crc)
    app.router.add_post("/webhooks/x", receive)
