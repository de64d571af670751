"""Typed keys for what the gateway app holds, shared by its route modules."""
from __future__ import annotations

import aiohttp
from aiohttp import web

from assistant.settings import Settings
from connectors.live import LiveHub
from connectors.outbound import Outbox
from connectors.router import Router

ROUTER = web.AppKey("router", Router)
SETTINGS = web.AppKey("settings", Settings)
HTTP = web.AppKey("http", aiohttp.ClientSession)
LIVE = web.AppKey("live", LiveHub)
OUTBOX = web.AppKey("outbox", Outbox)  # connectors/outbound.py: store, send, retry, report
