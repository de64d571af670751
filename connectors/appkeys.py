"""Typed keys for what only the channels use: the router and the outbox (shared keys: assistant.web.appkeys)."""
from __future__ import annotations

from aiohttp import web

from connectors.outbound import Outbox
from connectors.router import Router

ROUTER = web.AppKey("router", Router)
OUTBOX = web.AppKey("outbox", Outbox)  # connectors/outbound.py: store, send, retry, report
