"""The web chat: the page at /, its JSON API and its websocket."""
from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from connectors.web import chat, chat_live, throttle

    throttle.setup(app)  # the rate limiter and the websocket slots the two below use
    chat.setup(app)
    chat_live.setup(app)
