"""What every platform webhook shares: signature helpers, strict JSON reading, store-then-ack, and
answering in the background through the outbox."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from assistant.store.crypto import MissingKeyError
from assistant.web.errors import ApiError
from connectors.appkeys import OUTBOX, ROUTER
from connectors.inbound import InboundMessage
from connectors.outbound import SendError, http_error
from connectors.router import Accepted

log = logging.getLogger("dasi.webhooks")

MAX_TEXT = 5000  # longer user text is cut (platforms allow less; this is a guard, not a rule)
SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def hex_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret, body).hex()


def b64_signature(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac_sha256(secret, body)).decode("ascii")


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of header values (ASCII only; anything else simply fails)."""
    if not given or not expected:
        return False
    try:
        return hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii"))
    except UnicodeEncodeError:
        return False


def json_object(body: bytes) -> dict:
    """Parse a webhook body that must be a JSON object; anything else is a 400."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return data


def get(obj: Any, *path: str) -> Any:
    """Walk nested dicts; None as soon as a step is missing or not a dict (payloads are untrusted)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text_or_none(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value.strip() else None


def id_or_none(value: Any, max_len: int = 200) -> str | None:
    """Platform ids are strings (sometimes numbers); anything else, or too long, is no id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    return value if isinstance(value, str) and 0 < len(value) <= max_len else None


async def accept_all(app: web.Application, messages: Iterable[InboundMessage]) -> list[Accepted]:
    """Store every message before the platform gets its 200. If storage fails, answer 503 so the
    platform delivers again later (each message is stored once: dedupe on its id)."""
    accepted = []
    try:
        for m in messages:
            accepted.append(await app[ROUTER].accept(m))
    except (SQLAlchemyError, OSError, MissingKeyError) as exc:
        log.error("storing a webhook batch failed: %s", type(exc).__name__)
        # Those already stored are answered now: the redelivery will find them stored and skip them.
        answer_in_background(app, accepted)
        raise ApiError(503, "storage_unavailable", "try again later") from exc
    return accepted


def answer_in_background(app: web.Application, accepted: list[Accepted]) -> None:
    """Answer each new message and send the replies through the outbox, after the ack."""
    outbox = app[OUTBOX]
    for a in accepted:
        if a.duplicate is None:
            outbox.spawn(_answer_and_send(app, a))


async def _answer_and_send(app: web.Application, accepted: Accepted) -> None:
    outcome = await app[ROUTER].answer(accepted)
    outbox = app[OUTBOX]
    if outcome.elsewhere:
        return  # another gateway answered it and sends the replies
    if outcome.stored:
        for mid in outcome.reply_ids:
            await outbox.deliver(mid)
    else:  # storage failed after the ack: the emergency text still goes out
        await outbox.send_unstored(accepted.msg.channel, accepted.msg.user_id, outcome.replies)


async def post_json(http: aiohttp.ClientSession, url, payload: dict, headers: dict) -> tuple[int, dict, Any]:
    """POST JSON; returns (status, headers, parsed body or None). Network trouble is a retryable SendError;
    HTTP errors are turned into SendErrors by `http_error`."""
    try:
        async with http.post(url, json=payload, headers=headers, timeout=SEND_TIMEOUT) as resp:
            raw = await resp.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            if resp.status >= 400:
                raise http_error(resp.status, resp.headers, _error_reason(resp.status, body))
            return resp.status, dict(resp.headers), body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SendError(f"network_{type(exc).__name__}") from exc


def _error_reason(status: int, body: Any) -> str:
    # The platform's error code says why (never the message text, which may echo user data).
    code = get(body, "error", "code")
    sub = get(body, "error", "error_subcode")
    if isinstance(code, int):
        return f"http_{status}_code_{code}" + (f"_{sub}" if isinstance(sub, int) else "")
    return f"http_{status}"
