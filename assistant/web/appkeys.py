"""Typed keys for what every part of the gateway app may use: settings, the HTTP client, the live hub and
a way to deliver stored replies. Channel-only keys (the router, the outbox) live in connectors.appkeys."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from assistant.core.settings import Settings
from assistant.web.live import LiveHub


class Delivery(Protocol):
    """What the console needs of the channels' outbox: send these stored replies soon."""

    def deliver_later(self, message_ids: Iterable[int]) -> Any: ...


SETTINGS = web.AppKey("settings", Settings)
HTTP = web.AppKey("http", aiohttp.ClientSession)
LIVE = web.AppKey("live", LiveHub)
DELIVERY = web.AppKey("delivery", Delivery)  # the outbox (connectors/outbound.py), set at startup
