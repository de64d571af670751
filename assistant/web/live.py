"""In-process publish/subscribe for live updates, and the websocket relay the console and the web chat use.

Events are small dicts with a "type" (message, queue, state, typing, delivery_failed, ...) and the
conversation's public id; subscribers filter what they may see. Text never travels here unless the
subscriber is allowed to read it (the console checks roles before forwarding).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

log = logging.getLogger("dasi.live")


class LiveHub:
    def __init__(self, queue_size: int = 500) -> None:
        self._subscribers: set[asyncio.Queue] = set()
        self._queue_size = queue_size

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._subscribers.discard(q)

    def publish(self, event: dict) -> None:
        for q in list(self._subscribers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:  # a stuck client loses events, not the server its memory
                log.warning("live subscriber is full; dropping an event of type %s", event.get("type"))


def same_origin(request: web.Request) -> bool:
    """Browsers always send Origin on websockets: refuse other sites (cross-site websocket hijacking)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


Forward = Callable[[dict], Awaitable[Any]]  # event -> dict to send, None to skip, False to hang up


async def pump(hub: LiveHub, ws: web.WebSocketResponse, forward: Forward,
               on_text: Callable[[str], Awaitable[None]] | None = None) -> None:
    """Relay hub events through `forward` until the socket closes; short client texts go to `on_text`."""
    events = hub.subscribe()

    async def reader() -> None:  # also notices when the client leaves
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
            if msg.type == WSMsgType.TEXT and on_text is not None and len(msg.data) < 200:
                await on_text(msg.data)

    reading = asyncio.create_task(reader())
    try:
        while not reading.done():
            getter = asyncio.create_task(events.get())
            done, _ = await asyncio.wait({getter, reading}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            out = await forward(getter.result())
            if out is False:
                break
            if out:
                await ws.send_json(out)
    finally:
        hub.unsubscribe(events)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await ws.close()
