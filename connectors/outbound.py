"""The outbox: every outbound message is stored first, then sent through its channel's sender with
retries and exponential backoff that honour 429 / Retry-After / x-rate-limit-* headers. A message
that finally fails is marked failed and announced on the live hub (the console shows it): nothing
is dropped silently.

The console calls `await app[OUTBOX].deliver(message_id)` after storing a counsellor's reply;
webhooks call `deliver_later(ids)` for the bot's replies.
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.core.clock import utcnow
from assistant.core.settings import Settings
from assistant.web.live import LiveHub
from casebook.conversations import service as conv_service
from casebook.models import Conversation, Message

log = logging.getLogger("dasi.outbound")

T = TypeVar("T")
RESUME_WITHIN = timedelta(days=7)  # after a restart, unsent messages younger than this are sent again


class SendError(Exception):
    """A failed send. `permanent` errors are not retried; `retry_after` overrides the backoff."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after, self.permanent = reason, status, retry_after, permanent


@dataclass
class Delivery:
    """What a channel sender needs to send one stored message (and its conversation's context)."""
    message_id: int | None
    conversation_id: int
    conversation: str  # public id
    channel: str
    recipient: str  # the platform's user id
    author: str
    text: str
    buttons: list[dict] = field(default_factory=list)
    last_inbound_at: datetime | None = None
    parts_sent: int = 0  # a sender that splits a message records progress here, so retries don't repeat parts


@dataclass
class Sent:
    via: str  # send_api | kakao_callback | kakao_next_utterance (queued) | ...
    pause: float = 0.0  # seconds the channel must rest before its next send (rate limit exhausted)
    message_ids: list[int] = field(default_factory=list)  # others delivered with it (Kakao bundles)
    queued: bool = False  # not sent yet: waits for the person's next message (Kakao without a callback)


class ChannelSender(Protocol):
    async def send(self, delivery: Delivery) -> Sent: ...


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait as the platform asks: Retry-After (seconds or HTTP date), else an exhausted
    x-rate-limit window's reset time (epoch seconds, as X sends it)."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - now)
        except (TypeError, ValueError, IndexError):
            pass
    remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
    if remaining is not None and reset and remaining.strip() == "0" and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def http_error(status: int, headers: Mapping[str, str], reason: str = "") -> SendError:
    """The one rule for HTTP failures: 429, 5xx and 408 are retried, other 4xx are not."""
    retryable = status == 429 or status >= 500 or status == 408
    return SendError(reason or f"http_{status}", status=status, retry_after=retry_after(headers) if retryable else None,
                     permanent=not retryable)


def split_text(text: str, limit: int, measure=len) -> list[str]:
    """Split at paragraph, line or word boundaries so each part measures at most `limit`."""
    parts: list[str] = []
    rest = text.strip()
    while rest and measure(rest) > limit:
        cut = _fit(rest, limit, measure)
        for sep in ("\n\n", "\n", " "):
            i = rest.rfind(sep, 0, cut)
            if i > cut // 2:
                cut = i
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def _fit(text: str, limit: int, measure) -> int:
    lo, hi = 1, len(text)  # the longest prefix that fits (binary search; measure may count bytes)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


class Outbox:
    def __init__(self, settings: Settings, sessions: async_sessionmaker, live: LiveHub) -> None:
        self.settings, self.sessions, self.live = settings, sessions, live
        self.senders: dict[str, ChannelSender] = {}
        self._tasks: set[asyncio.Task] = set()
        self._locks: dict[int, asyncio.Lock] = {}
        self._rested_until: dict[str, float] = {}  # per channel, monotonic time

    def register(self, channel: str, sender: ChannelSender) -> None:
        self.senders[channel] = sender

    # --- background work -------------------------------------------------------------------
    def spawn(self, coro) -> asyncio.Task:
        """Run in the background but keep a reference, so the task is neither collected nor lost at shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background delivery task failed: %s", type(task.exception()).__name__)

    def deliver_later(self, message_ids: Iterable[int]) -> asyncio.Task:
        ids = list(message_ids)

        async def run() -> None:
            for mid in ids:  # in order: one conversation's replies arrive as written
                await self.deliver(mid)
        return self.spawn(run())

    async def close(self, timeout: float = 30.0) -> None:
        """Let pending deliveries finish (at app cleanup); cancel what is still waiting after `timeout`."""
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for t in pending:
                t.cancel()

    async def resume(self) -> int:
        """After a restart: send again what was stored but never sent (Kakao waits for the person instead)."""
        channels = [c for c in self.senders if c != "kakao"]
        if not channels:
            return 0
        async with self.sessions() as s:
            ids = list((await s.scalars(select(Message.id).where(
                Message.direction == "out", Message.delivery == "stored", Message.channel.in_(channels),
                Message.created_at > utcnow() - RESUME_WITHIN).order_by(Message.id))).all())
        if ids:
            log.info("resuming delivery of %d stored messages", len(ids))
            self.deliver_later(ids)
        return len(ids)

    # --- delivery ---------------------------------------------------------------------------
    async def deliver(self, message_id: int) -> str:
        """Send one stored outbound message. Returns its delivery: sent | failed | stored (queued)."""
        async with self.sessions() as s:
            msg = await s.get(Message, message_id)
            if msg is None or msg.direction != "out":
                raise LookupError(f"no outbound message {message_id}")
            conv = await s.get(Conversation, msg.conversation_id)
            if msg.channel == "web":  # the web chat polls for its messages: stored is delivered
                await self._mark(message_id, "sent", via="web_poll")
                return "sent"
            delivery = Delivery(message_id=msg.id, conversation_id=conv.id, conversation=conv.public_id,
                                channel=msg.channel, recipient=conv.user_ref, author=msg.author,
                                text=msg.text or "", buttons=list(msg.buttons or []),
                                last_inbound_at=await conv_service.last_inbound_at(s, conv))
        lock = self._locks.setdefault(delivery.conversation_id, asyncio.Lock())
        async with lock:
            async with self.sessions() as s:  # re-read under the lock: a bundle may have sent it already
                current = await s.get(Message, message_id, populate_existing=True)
                if current.delivery != "stored":
                    return current.delivery
            return await self._send_with_retries(delivery)

    async def _send_with_retries(self, d: Delivery) -> str:
        sender = self.senders.get(d.channel)
        if sender is None:
            await self._fail(d, "channel_off", attempts=0)
            return "failed"
        attempts = self.settings.outbound_attempts
        for attempt in range(1, attempts + 1):
            await self._rest(d.channel)
            try:
                result = await sender.send(d)
            except SendError as exc:
                log.warning("%s send failed (attempt %d/%d): %s", d.channel, attempt, attempts, exc.reason)
                if exc.permanent or attempt == attempts:
                    await self._fail(d, exc.reason, attempts=attempt)
                    return "failed"
                wait = exc.retry_after if exc.retry_after is not None else \
                    self.settings.outbound_backoff * 2 ** (attempt - 1)
                wait = min(wait, self.settings.outbound_max_wait)
                if exc.status == 429:  # the whole channel is limited, not just this conversation
                    self._rested_until[d.channel] = time.monotonic() + wait
                await self._mark(d.message_id, "stored", attempts=attempt, error=exc.reason,
                                 next_at=utcnow() + timedelta(seconds=wait))
                await asyncio.sleep(wait)
                continue
            if result.pause:
                self._rested_until[d.channel] = time.monotonic() + min(result.pause, self.settings.outbound_max_wait)
            ids = [d.message_id, *[i for i in result.message_ids if i != d.message_id]]
            if result.queued:
                for mid in ids:
                    await self._mark(mid, "stored", attempts=attempt, via=result.via)
                self.live.publish({"type": "delivery", "conversation": d.conversation, "message_ids": ids,
                                   "delivery": "queued", "via": result.via, "channel": d.channel})
                return "stored"
            for mid in ids:
                await self._mark(mid, "sent", attempts=attempt, via=result.via)
            self.live.publish({"type": "delivery", "conversation": d.conversation, "message_ids": ids,
                               "delivery": "sent", "via": result.via, "channel": d.channel})
            return "sent"
        return "failed"  # not reached: the loop returns on its last attempt

    async def send_once(self, channel: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Send something that is not a conversation's message (detection's outreach replies) with the same
        channel rest, retries and backoff as a reply; no message row. The last SendError is raised."""
        attempts = self.settings.outbound_attempts
        for n in range(1, attempts + 1):
            await self._rest(channel)
            try:
                return await attempt()
            except SendError as exc:
                log.warning("%s send failed (attempt %d/%d): %s", channel, n, attempts, exc.reason)
                if exc.permanent or n == attempts:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else \
                    self.settings.outbound_backoff * 2 ** (n - 1)
                wait = min(wait, self.settings.outbound_max_wait)
                if exc.status == 429:
                    self._rested_until[channel] = time.monotonic() + wait
                await asyncio.sleep(wait)
        raise SendError("no_attempts", permanent=True)  # only when outbound_attempts < 1

    def rest(self, channel: str, seconds: float) -> None:
        """The platform said its window is used up: the channel's next send waits (capped as any wait)."""
        until = time.monotonic() + min(seconds, self.settings.outbound_max_wait)
        self._rested_until[channel] = max(self._rested_until.get(channel, 0.0), until)

    async def _rest(self, channel: str) -> None:
        wait = self._rested_until.get(channel, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _fail(self, d: Delivery, reason: str, attempts: int) -> None:
        log.error("%s message not delivered after %d attempts: %s", d.channel, attempts, reason)
        await self._mark(d.message_id, "failed", attempts=attempts, error=reason)
        async with self.sessions() as s, s.begin():
            conv = await s.get(Conversation, d.conversation_id)
            await conv_service.record_failure(s, conv, f"send_{d.channel}", reason)
        self.live.publish({"type": "delivery_failed", "conversation": d.conversation, "message_id": d.message_id,
                           "channel": d.channel, "error": reason})

    async def _mark(self, message_id: int | None, delivery: str, *, attempts: int | None = None,
                    error: str | None = None, via: str | None = None,
                    next_at: datetime | None = None) -> None:
        if message_id is None:
            return
        async with self.sessions() as s, s.begin():
            msg = await s.get(Message, message_id)
            msg.delivery = delivery
            if attempts is not None:
                msg.attempts = attempts
            if error is not None:
                msg.delivery_error = error[:200]
            if via is not None:
                msg.delivered_via = via
            msg.next_attempt_at = next_at
            if delivery == "sent":
                msg.delivered_at = utcnow()

    async def mark_sent(self, message_ids: Iterable[int], via: str) -> None:
        """For replies that went out another way (in Kakao's own HTTP response)."""
        for mid in message_ids:
            await self._mark(mid, "sent", via=via)

    async def send_unstored(self, channel: str, recipient: str, replies: list[dict]) -> None:
        """Storage is down: still try to get the emergency text out, once per reply, without records."""
        sender = self.senders.get(channel)
        if sender is None:
            return
        for r in replies:
            d = Delivery(message_id=None, conversation_id=0, conversation="", channel=channel, recipient=recipient,
                         author="system", text=r.get("text") or "", buttons=list(r.get("buttons") or []),
                         last_inbound_at=datetime.now(UTC))
            try:
                await sender.send(d)
            except SendError as exc:
                log.error("%s unstored send failed: %s", channel, exc.reason)
