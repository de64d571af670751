"""Publish/subscribe for live updates, and the websocket relay the console and the web chat use.

Events are small dicts with a "type" (message, queue, state, typing, delivery_failed, ...) and the
conversation's public id; subscribers filter what they may see. No message text travels here (the pages
fetch what they may read through the JSON API, which checks roles).

In one process by default; with a shared Redis (DASI_REDIS_URL, several gateways) `RedisLiveHub` also
passes every event through Redis pub/sub, so a counsellor connected to one gateway sees at once a message
that arrived at another.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
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

    async def start(self) -> None:
        """Nothing to connect in one process (RedisLiveHub subscribes here)."""

    async def close(self) -> None:
        """Nothing to close in one process."""

    def publish(self, event: dict) -> None:
        self.deliver(event)

    def deliver(self, event: dict) -> None:
        """To this process's subscribers."""
        for q in list(self._subscribers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:  # a stuck client loses events, not the server its memory
                log.warning("live subscriber is full; dropping an event of type %s", event.get("type"))


class RedisLiveHub(LiveHub):
    """Every event to this process's subscribers at once, and over Redis pub/sub to the other gateways'.
    If Redis is down, events still reach this gateway's pages; the others see them when they next fetch."""

    CHANNEL = "dasi:live"

    def __init__(self, redis: Any, queue_size: int = 500) -> None:
        super().__init__(queue_size)
        self.redis = redis
        self.origin = secrets.token_hex(8)  # this process: its own events come back and are skipped
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(5000)
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._send())]
        with contextlib.suppress(TimeoutError):  # Redis not up yet: the receiver keeps trying
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def publish(self, event: dict) -> None:
        self.deliver(event)
        try:
            self._outgoing.put_nowait(json.dumps({"o": self.origin, "e": event}, ensure_ascii=False))
        except asyncio.QueueFull:
            log.warning("live events to other gateways are backed up; dropping one of type %s", event.get("type"))

    async def _send(self) -> None:
        while True:
            data = await self._outgoing.get()
            try:
                await self.redis.publish(self.CHANNEL, data)
            except Exception as exc:  # Redis down: this gateway's pages still got the event
                log.error("could not publish a live event to the other gateways (%s)", type(exc).__name__)

    async def _receive(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.CHANNEL)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        data = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    if isinstance(data, dict) and data.get("o") != self.origin and isinstance(data.get("e"), dict):
                        self.deliver(data["e"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: subscribe again shortly
                log.error("live events from other gateways interrupted (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


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
