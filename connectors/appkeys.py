"""Typed keys for what only the channels use: the router, the outbox and the Redis several gateways share
(shared keys: assistant.web.appkeys)."""
from __future__ import annotations

import redis.asyncio as redis_asyncio
from aiohttp import web

from connectors.outbound import Outbox
from connectors.router import Router

ROUTER = web.AppKey("router", Router)
OUTBOX = web.AppKey("outbox", Outbox)  # connectors/outbound.py: store, send, retry, report
REDIS = web.AppKey("redis", redis_asyncio.Redis)  # only with DASI_REDIS_URL
