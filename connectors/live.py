"""In-process publish/subscribe for live updates: the console's websocket and the web chat's.

Events are small dicts with a "type" (message, queue, state, typing, delivery_failed, ...) and the
conversation's public id; subscribers filter what they may see. Text never travels here unless the
subscriber is allowed to read it (the console checks roles before forwarding).
"""
from __future__ import annotations

import asyncio
import logging

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
