"""Detection's outreach on X: a reply to the flagged post (POST /2/tweets with reply.in_reply_to_tweet_id),
sent through the outbox's retries with the X channel's user access token (it needs tweet.write).
Registered in app[detection.outreach.sending.SENDERS] by connectors/channels.py when X is on."""
from __future__ import annotations

import aiohttp

from assistant.core.settings import Settings
from connectors.outbound import Outbox, SendError
from connectors.webhook_common import post_json
from connectors.x.send import _pause
from detection.outreach.sending import Outgoing, SendFailed

MAX_WEIGHT = 280  # a post's weighted length; the templates are checked against it (detection/outreach)


class XOutreachSender:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession, outbox: Outbox) -> None:
        self.settings, self.http, self.outbox = settings, http, outbox

    async def send(self, message: Outgoing) -> str:
        if message.via != "reply" or not message.recipient.isdigit():
            raise SendFailed("bad_recipient")
        url = f"{self.settings.x_api_base}/2/tweets"
        body = {"text": message.text, "reply": {"in_reply_to_tweet_id": message.recipient}}
        headers = {"Authorization": f"Bearer {self.settings.x_user_access_token}"}

        async def attempt() -> str:
            _, resp_headers, data = await post_json(self.http, url, body, headers)
            pause = _pause(resp_headers)
            if pause:  # X said the window is used up: the channel rests, as after a DM
                self.outbox.rest("x", pause)
            created = (data or {}).get("data") if isinstance(data, dict) else None
            if not isinstance(created, dict) or not created.get("id"):
                raise SendError("no_post_id", permanent=True)
            return str(created["id"])
        try:
            return await self.outbox.send_once("x", attempt)
        except SendError as exc:
            raise SendFailed(exc.reason) from None
