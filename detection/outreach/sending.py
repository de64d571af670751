"""What outreach needs of a platform sender, and where the gateway puts the senders it has.

Senders live with the channels (connectors/x/outreach.py sends through the outbox's retries); the
channels register them in `app[SENDERS]` at startup, keyed by platform. A platform without a sender
there is posted by hand."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

API_PLATFORMS = ("x",)  # platforms whose API lets the centre reply to a post (X: POST /2/tweets)


@dataclass(frozen=True)
class Outgoing:
    platform: str
    via: str  # reply
    recipient: str  # the platform's id of the post replied to
    text: str


class SendFailed(Exception):
    """The platform refused or could not be reached after the outbox's retries; `reason` is a code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    async def send(self, message: Outgoing) -> str:
        """Send; return the platform's id for what was created. Raises SendFailed."""
        ...


SENDERS = web.AppKey("outreach_senders", dict)  # platform -> Sender
