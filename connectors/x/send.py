"""Render replies as X direct messages (v2 has no quick replies) and send them."""
from __future__ import annotations

import time

import aiohttp

from assistant.core.settings import Settings
from connectors.outbound import Delivery, SendError, Sent, split_text
from connectors.webhook_common import post_json

MAX_CHARS = 10000  # DM text limit


def render(d: Delivery) -> list[dict]:
    text = d.text.strip()
    titles = [str(b["title"]) for b in d.buttons if b.get("title")]
    if titles:  # no buttons in v2 DMs: the options become words the person can send back
        text += "\n\n" + "\n".join(f"· {t}" for t in titles) + "\n(위 말 중 하나를 보내 주세요)"
    return [{"text": p} for p in split_text(text, MAX_CHARS)]


class XSender:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.settings, self.http = settings, http

    async def send(self, d: Delivery) -> Sent:
        if not d.recipient.isdigit():
            raise SendError("bad_recipient", permanent=True)
        url = f"{self.settings.x_api_base}/2/dm_conversations/with/{d.recipient}/messages"
        headers = {"Authorization": f"Bearer {self.settings.x_user_access_token}"}
        bodies, pause = render(d), 0.0
        for i in range(d.parts_sent, len(bodies)):
            _, resp_headers, _ = await post_json(self.http, url, bodies[i], headers)
            d.parts_sent = i + 1
            pause = _pause(resp_headers)
        return Sent(via="send_api", pause=pause)


def _pause(headers: dict) -> float:
    """Rest until the window resets once X says none are left (the limits change; the headers don't lie)."""
    h = {k.lower(): v for k, v in headers.items()}
    if h.get("x-rate-limit-remaining", "").strip() == "0" and h.get("x-rate-limit-reset", "").strip().isdigit():
        return max(0.0, float(h["x-rate-limit-reset"]) - time.time())
    return 0.0
