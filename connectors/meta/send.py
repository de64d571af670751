"""Render replies for Meta's Send API and send them, inside the 24-hour / 7-day reply windows."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from assistant.core.settings import Settings
from connectors.outbound import Delivery, SendError, Sent, split_text, utf8_len
from connectors.webhook_common import post_json

MAX_BYTES = 1000  # "Message text must be UTF-8 and be a 1000 bytes or less"
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Graph error codes that mean "slow down" (answered as HTTP 400, not 429) and "outside the window".
RATE_LIMIT_CODES = {"4", "17", "32", "613"}
ERROR_CODE = re.compile(r"_code_(\d+)(?:_(\d+))?$")


def reply_window(author: str, last_inbound_at: datetime | None, now: datetime | None = None) -> str:
    """open (24 h) | human_agent (a counsellor, up to 7 days, with the HUMAN_AGENT tag) | closed.
    The console can show this before a counsellor writes."""
    if last_inbound_at is None:
        return "closed"
    age = (now or datetime.now(UTC)) - last_inbound_at
    if age <= STANDARD_WINDOW:
        return "open"
    if author == "counsellor" and age <= HUMAN_AGENT_WINDOW:
        return "human_agent"
    return "closed"


def quick_replies(buttons: list[dict]) -> list[dict]:
    return [{"content_type": "text", "title": str(b.get("title", ""))[:MAX_TITLE],
             "payload": str(b.get("payload") or b.get("title"))[:1000]}
            for b in buttons if b.get("title")][:MAX_QUICK_REPLIES]


def render(d: Delivery, window: str) -> list[dict]:
    """One Send API body per part; quick replies ride on the last part."""
    text = d.text.strip() or ("아래에서 골라 주세요." if d.buttons else "")
    parts = split_text(text, MAX_BYTES, utf8_len)
    # Both forms of the tag, as third-party code does: UNVERIFIED which one graph.instagram.com needs.
    mode = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"} if window == "human_agent" \
        else {"messaging_type": "RESPONSE"}
    bodies: list[dict[str, Any]] = [{"recipient": {"id": d.recipient}, **mode, "message": {"text": p}} for p in parts]
    qr = quick_replies(d.buttons)
    if qr:
        bodies[-1]["message"]["quick_replies"] = qr
    return bodies


class MetaSender:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.settings, self.http = settings, http

    async def send(self, d: Delivery) -> Sent:
        window = reply_window(d.author, d.last_inbound_at)
        if window == "closed":
            raise SendError("window_closed", permanent=True)
        bodies = render(d, window)
        # The token goes in a header, not the URL, so it never lands in access logs.
        headers = {"Authorization": f"Bearer {self.settings.meta_page_access_token}"}
        for i in range(d.parts_sent, len(bodies)):
            try:
                await post_json(self.http, f"{self.settings.meta_graph_base}/me/messages", bodies[i], headers)
            except SendError as exc:
                raise _classify(exc) from exc
            d.parts_sent = i + 1
        return Sent(via="send_api")


def _classify(exc: SendError) -> SendError:
    m = ERROR_CODE.search(exc.reason)
    if m and m.group(1) in RATE_LIMIT_CODES:
        return SendError(exc.reason, status=429, retry_after=exc.retry_after)
    if m and m.group(1) == "10" and m.group(2) == "2534022":
        return SendError("window_closed", status=exc.status, permanent=True)
    return exc
